"""Real SIP user agents for tests: pyVoIP phones that register with Asterisk and exchange real RTP.

pyVoIP is threaded and has quirks (see ../shared/notes/environment.md): its incoming-call callback
fires about 1 s after the INVITE, and a call's state may never reach ENDED after the far end hangs
up. Every wait here is bounded, and tests judge outcomes by server-side facts.

Audio in pyVoIP is 8 kHz, 8-bit unsigned linear, 160 bytes per 20 ms frame; silence is 0x80.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

# isort: off
# pyVoIP.VoIP first: importing pyVoIP.SIP before it fails on pyVoIP's own circular import.
from pyVoIP import RTP
from pyVoIP.VoIP import CallState, InvalidStateError, PhoneStatus, VoIPCall, VoIPPhone
from pyVoIP import SIP
# isort: on

T = TypeVar("T")
RATE = 8000
FRAME = 160


def _start_once(start: Callable[[RTP.RTPClient], None]) -> Callable[[RTP.RTPClient], None]:
    """pyVoIP starts a call's RTP client again when a re-INVITE is answered (``gen_ms``): a second
    transmitter thread then drains the same buffer, and the phone sends twice the packets, every
    other one padding silence (a recording of it is twice as long, half silence). Start once."""

    def once(client: RTP.RTPClient) -> None:
        if getattr(client, "_started_once", False):
            return
        client._started_once = True  # type: ignore[attr-defined]
        start(client)

    return once


RTP.RTPClient.start = _start_once(RTP.RTPClient.start)  # type: ignore[method-assign]


@contextlib.contextmanager
def _unblocked_under_lock(lock: threading.Lock, sock: socket.socket) -> Iterator[None]:
    """pyVoIP's receiving thread makes the SIP socket non-blocking while it holds ``recvLock``,
    and blocking again only after releasing it: an INVITE sent in between (``SIP.invite`` reads
    its answer under the same lock) read the still non-blocking socket and failed at once with
    ``BlockingIOError`` (seen in a whole suite: "the INVITE to *24 failed"). Blocking again before
    the lock is released."""
    with lock:
        sock.setblocking(False)
        try:
            yield
        finally:
            sock.setblocking(True)


SIP.acquired_lock_and_unblocked_socket = _unblocked_under_lock  # type: ignore[attr-defined]


class ReceiveBuffer:
    """What a phone's jitter buffer does, in place of pyVoIP's receive buffer.

    pyVoIP places received audio at its RTP timestamp minus the smallest timestamp it ever saw.
    When Asterisk hands the call to another source (a new bridge; or, a moment later, the native
    RTP bridge forwarding the other phone's own packets: new SSRC, new timestamps), the timestamps
    jump. pyVoIP then writes the new audio behind what it has already read (silence for the rest
    of the call) or seconds ahead of it, depending on two random starting timestamps. A phone
    re-synchronises on such a jump, and so does this buffer: audio that would land behind the
    reader or more than ``MAX_AHEAD`` ahead of it re-anchors the timeline, and plays next.

    Holds only audio not yet read; ``read`` pads with silence (0x80) as pyVoIP's does."""

    MAX_AHEAD = 8000  # 1 s at 8 kHz

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unread = bytearray()
        self._head_ts: int | None = None  # the RTP timestamp of _unread[0]
        self.resyncs = 0

    def write(self, timestamp: int, data: bytes) -> None:
        with self._lock:
            if self._head_ts is None:
                self._head_ts = timestamp
            at = (timestamp - self._head_ts + 2**31) % 2**32 - 2**31  # signed, across wrap-around
            if at < 0 or at > len(self._unread) + self.MAX_AHEAD:
                self.resyncs += 1
                at = len(self._unread)
                self._head_ts = (timestamp - at) % 2**32
            if at > len(self._unread):
                self._unread.extend(b"\x80" * (at - len(self._unread)))
            self._unread[at : at + len(data)] = data

    def read(self, length: int = FRAME) -> bytes:
        with self._lock:
            out = bytes(self._unread[:length])
            del self._unread[:length]
            if self._head_ts is not None:
                self._head_ts = (self._head_ts + length) % 2**32
        return out + b"\x80" * (length - len(out))


def _with_receive_buffer(init: Callable[..., None]) -> Callable[..., None]:
    def init_then_replace(client: RTP.RTPClient, *args: object, **kwargs: object) -> None:
        init(client, *args, **kwargs)
        client.pmin = ReceiveBuffer()  # type: ignore[assignment]

    return init_then_replace


RTP.RTPClient.__init__ = _with_receive_buffer(RTP.RTPClient.__init__)  # type: ignore[method-assign]


def _without_telephone_event(gen: Callable[..., str]) -> Callable[..., str]:
    """pyVoIP offers and accepts RFC 4733 telephone-event in its SDP, yet sends its keys as audio
    tones (``Phone.press``). A phone that offers telephone-event gets RFC 4733 from Asterisk
    (``dtmf_mode = auto``, as real softphones and carriers need) and its tones are not listened
    for. So the test phone says what it does: no telephone-event, and Asterisk detects its tones."""

    def gen_without(
        self: SIP.SIPClient,
        request: object,
        sess_id: str,
        ms: dict[int, dict[int, RTP.PayloadType]],
        *args: object,
    ) -> str:
        audio_only = {
            port: {pt: kind for pt, kind in codecs.items() if kind != RTP.PayloadType.EVENT}
            for port, codecs in ms.items()
        }
        return gen(self, request, sess_id, audio_only, *args)

    return gen_without


SIP.SIPClient.gen_answer = _without_telephone_event(SIP.SIPClient.gen_answer)  # type: ignore[method-assign]
SIP.SIPClient.gen_invite = _without_telephone_event(SIP.SIPClient.gen_invite)  # type: ignore[method-assign]
# DTMF frequency pairs (low, high).
DTMF = {
    "1": (697, 1209),
    "2": (697, 1336),
    "3": (697, 1477),
    "4": (770, 1209),
    "5": (770, 1336),
    "6": (770, 1477),
    "7": (852, 1209),
    "8": (852, 1336),
    "9": (852, 1477),
    "*": (941, 1209),
    "0": (941, 1336),
    "#": (941, 1477),
}


def tone(freqs: tuple[float, ...], seconds: float, amplitude: float = 0.35) -> bytes:
    n = int(RATE * seconds)
    out = bytearray(n)
    for k in range(n):
        v = sum(math.sin(2 * math.pi * f * k / RATE) for f in freqs) / len(freqs)
        out[k] = max(0, min(255, int(128 + 127 * amplitude * v)))
    return bytes(out)


def silence(seconds: float) -> bytes:
    return b"\x80" * int(RATE * seconds)


def level(frame: bytes) -> float:
    """RMS deviation from silence, 0..128."""
    if not frame:
        return 0.0
    return math.sqrt(sum((b - 128) ** 2 for b in frame) / len(frame))


def goertzel(samples: bytes, freq: float) -> float:
    """Power of one frequency in 8-bit unsigned audio (normalised by length)."""
    coeff = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for b in samples:
        s0 = (b - 128) + coeff * s1 - s2
        s2, s1 = s1, s0
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


@dataclass
class CallAudio:
    """Plays a fixed tone into a call and keeps what it hears, frame by frame, with timestamps."""

    call: VoIPCall
    send_freq: float | None
    heard: list[tuple[float, bytes]] = field(default_factory=list)
    _pending: bytearray = field(default_factory=bytearray)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="test-audio").start()

    def stop(self) -> None:
        self._stop.set()

    def send(self, audio: bytes) -> None:
        """Queue audio to play before the background tone resumes (e.g. DTMF)."""
        with self._lock:
            self._pending.extend(audio)

    def _run(self) -> None:
        background = tone((self.send_freq,), 1.0) if self.send_freq else silence(1.0)
        offset = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self.call.state != CallState.ANSWERED:
                time.sleep(0.02)
                next_at = time.monotonic()
                continue
            with self._lock:
                if self._pending:
                    frame = bytes(self._pending[:FRAME])
                    del self._pending[:FRAME]
                else:
                    frame = background[offset : offset + FRAME]
                    offset = (offset + FRAME) % len(background)
            try:
                self.call.write_audio(frame)
                got = self.call.read_audio(FRAME, blocking=False)
            except (InvalidStateError, OSError, AttributeError):
                break
            self.heard.append((time.monotonic(), got))
            next_at += FRAME / RATE
            time.sleep(max(0.0, next_at - time.monotonic()))

    def heard_since(self, t0: float) -> bytes:
        return b"".join(frame for t, frame in list(self.heard) if t >= t0)


class Phone:
    def __init__(
        self,
        server_port: int,
        user: str,
        password: str,
        sip_port: int,
        rtp_low: int,
        rtp_high: int,
        *,
        answer: bool = False,
        send_freq: float | None = None,
    ) -> None:
        self.answer_calls = answer
        self.send_freq = send_freq
        self.incoming: list[VoIPCall] = []
        self.audio: dict[int, CallAudio] = {}
        self.phone = VoIPPhone(
            "127.0.0.1",
            server_port,
            user,
            password,
            myIP="127.0.0.1",
            callCallback=self._on_call,
            sipPort=sip_port,
            rtpPortLow=rtp_low,
            rtpPortHigh=rtp_high,
        )
        unique_call_ids(self.phone)
        dialog_acks(self.phone)

    def start(self, timeout: float = 15.0) -> Phone:
        # pyVoIP registers synchronously with blocking socket reads: bound it like every wait.
        bounded(self.phone.start, timeout, "pyVoIP registration")
        wait_for(lambda: self.phone.get_status() == PhoneStatus.REGISTERED, timeout, "registration")
        return self

    def stop(self) -> None:
        for audio in self.audio.values():
            audio.stop()
        try:
            # Deregistering blocks on a socket read that may never return: bounded, and a phone
            # that does not stop in time is left to its daemon threads.
            bounded(self.phone.stop, 5.0, "pyVoIP stop", required=False)
        except Exception:  # pyVoIP may raise while tearing down half-dead calls
            pass

    def _on_call(self, call: VoIPCall) -> None:
        self.incoming.append(call)
        if self.answer_calls:
            try:
                call.answer()
            except InvalidStateError:
                return
            self.audio_for(call).start()

    def audio_for(self, call: VoIPCall) -> CallAudio:
        key = id(call)
        if key not in self.audio:
            self.audio[key] = CallAudio(call, self.send_freq)
        return self.audio[key]

    def dial(self, number: str, timeout: float = 15.0) -> tuple[VoIPCall, CallAudio]:
        # pyVoIP's call() blocks on a socket read until Asterisk answers the INVITE: bound it.
        call: VoIPCall = bounded(lambda: self.phone.call(number), timeout, f"the INVITE to {number}")
        # A short call (a feature code: answer, act, hang up) may be over before the first look.
        answered = (CallState.ANSWERED, CallState.ENDED)
        wait_for(lambda: call.state in answered and bool(call.RTPClients), timeout, f"answer of {number}")
        audio = self.audio_for(call)
        audio.start()
        return call, audio

    def press(self, audio: CallAudio, digits: str) -> None:
        for d in digits:
            audio.send(tone(DTMF[d], 0.25, amplitude=0.5) + silence(0.15))


def unique_call_ids(phone: VoIPPhone) -> None:
    """pyVoIP derives Call-IDs and Via branches from a counter starting at 1 in every phone, so two
    phones (or two test runs) send the same branch, and Asterisk answers the second INVITE "400
    Retransmission with different CSeq" (pyVoIP then waits forever). A random start fixes that."""
    counter = type(phone.sip.callID)
    phone.sip.callID = counter(secrets.randbelow(2**40) + 1)


def dialog_acks(phone: VoIPPhone) -> None:
    """pyVoIP's ACK carries a To tag of its own making instead of the response's, so Asterisk does
    not match the ACK of a 200 OK to the dialog: it retransmits the 200 OK and, 64*T1 (32 s) later,
    hangs the call up ("pyVoIP ended long calls"). The ACK with the response's To tag keeps the call."""
    generate = phone.sip.gen_ack

    def gen_ack(response: Any) -> str:
        ack: str = generate(response)
        tag = response.headers["To"].get("tag")
        if not tag:
            return ack
        to = f"To: {response.headers['To']['raw']};tag={tag}"
        return "\r\n".join(to if line.startswith("To: ") else line for line in ack.split("\r\n"))

    phone.sip.gen_ack = gen_ack


def ended_by_far_end(call: VoIPCall, timeout: float = 15.0) -> None:
    """Wait for a call that the dialplan ends by itself (a feature code: answer, act, hang up).
    Since the ACKs match their dialog (:func:`dialog_acks`), Asterisk's BYE comes at once."""
    wait_for(lambda: call.state == CallState.ENDED, timeout, "the far end to hang up")


def bounded(fn: Callable[[], T], timeout: float, what: str, *, required: bool = True) -> T:
    """Run a blocking pyVoIP call in a daemon thread; fail (or give up) after ``timeout``."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as err:  # re-raised in the test's thread
            errors.append(err)

    worker = threading.Thread(target=run, daemon=True, name=f"bounded: {what}")
    worker.start()
    worker.join(timeout)
    if errors:
        raise AssertionError(f"{what} failed: {errors[0]!r}") from errors[0]
    if not result and required:
        raise AssertionError(f"{what} did not finish in {timeout:.0f} s")
    return result[0] if result else None  # type: ignore[return-value]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
