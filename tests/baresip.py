"""baresip (Debian's baresip-core) as a second, independent SIP user agent beside pyVoIP.

It sends its keys the way softphones do by default: RFC 4733 telephone events (pyVoIP sends audio
tones). It runs headless: its own config directory (one account, no sound card: the microphone is a
WAV file of a tone, and nothing plays what it hears), driven over its ``ctrl_tcp`` module, which
takes netstring-framed JSON commands (``{"command": "dial", "params": "5000", "token": ...}``) and
sends back responses and events (``CALL_ESTABLISHED``, ``CALL_CLOSED``...). Every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import socket
import struct
import subprocess
import threading
import time
import wave
from pathlib import Path
from typing import Any

from tests.conftest import port

BARESIP = "/usr/bin/baresip"
MODULES = "/usr/lib/baresip/modules"

# Each agent of a session gets ports no earlier one had (a lingering socket must not catch the new
# one's packets). baresip also binds SIP over TCP and TLS (SIP port + 1).
_agents = itertools.count()


def _ports() -> tuple[int, int, int]:
    n = next(_agents) % 10
    return port(25300 + 4 * n), port(25302 + 4 * n), port(29000 + 20 * n)


def _tone_wav(path: Path, freq: float, seconds: float = 120.0, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(9000 * math.sin(2 * math.pi * freq * k / rate)))
                for k in range(int(rate * seconds))
            )
        )


class Baresip:
    """One baresip process with one account registered at the sandbox Asterisk."""

    def __init__(
        self, workdir: Path, sip_server_port: int, user: str, password: str, *, send_freq: float = 440.0
    ) -> None:
        if shutil.which(BARESIP) is None:
            raise AssertionError(f"{BARESIP} is missing: run scripts/setup.sh --test (baresip-core)")
        self.dir = workdir
        self.user = user
        self.server = f"127.0.0.1:{sip_server_port}"
        self.password = password
        self.dir.mkdir(parents=True, exist_ok=True)
        _tone_wav(self.dir / "tone.wav", send_freq)
        self.sip_port = self.ctrl_port = 0
        self.log_path = self.dir / "baresip.log"
        self.events: list[dict[str, Any]] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._tokens = itertools.count()
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._call_from = 0  # the index in ``events`` where the current call's events start

    def _configure(self) -> None:
        self.sip_port, self.ctrl_port, rtp = _ports()
        config = {
            "poll_method": "epoll",
            "net_interface": "127.0.0.1",
            "sip_listen": f"127.0.0.1:{self.sip_port}",
            "audio_source": f"aufile,{self.dir / 'tone.wav'}",
            "audio_player": "aufile,/dev/null",  # no player module: what it hears is not played
            "audio_alert": "aufile,/dev/null",
            "rtp_ports": f"{rtp}-{rtp + 18}",
            "module_path": MODULES,
            "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
            "statmode_default": "off",
        }
        lines = [f"{k}\t{v}" for k, v in config.items()]
        lines += [f"module\t{m}.so" for m in ("g711", "aufile")]
        lines += [f"module_app\t{m}.so" for m in ("account", "menu", "ctrl_tcp")]
        (self.dir / "config").write_text("\n".join(lines) + "\n")
        (self.dir / "accounts").write_text(
            f"<sip:{self.user}@{self.server}>;auth_pass={self.password};regint=60;answermode=manual\n"
        )

    def start(self, timeout: float = 15.0) -> Baresip:
        # The test ports of a high slot lie in the kernel's ephemeral range: a port may be taken
        # by some client connection of the moment. Then take the next ports.
        for _attempt in range(5):
            self._configure()
            try:
                return self._start(timeout)
            except AssertionError:
                if "Address already in use" not in self.log():
                    raise
                self.stop()
                self.log_path.write_text("")
        return self._start(timeout)

    def _start(self, timeout: float) -> Baresip:
        self._sock = None
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [BARESIP, "-f", str(self.dir)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while self._sock is None:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"baresip did not start; its log:\n{self.log()}")
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                time.sleep(0.1)
        self._sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True, name=f"baresip-{self.user}").start()
        self.wait(
            lambda: "OK" in self.command("reginfo").get("data", ""),
            deadline - time.monotonic(),
            "baresip's registration",
        )
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                self.command("quit", timeout=5)  # deregisters first
                self._proc.wait(5)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(5)
        if self._sock is not None:
            self._sock.close()
        self._proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    # -- commands -----------------------------------------------------------------------------------
    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one command and wait for its response."""
        assert self._sock is not None, "baresip is not started"
        token = str(next(self._tokens))
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(str(len(data)).encode() + b":" + data + b",")
        self.wait(lambda: token in self._responses, timeout, f"baresip's answer to {command}")
        with self._cond:
            response = self._responses.pop(token)
        if not response.get("ok"):
            raise AssertionError(f"baresip refused {command} {params}: {response}")
        return response

    def dial(self, number: str, timeout: float = 15.0) -> None:
        """Call ``number`` and wait until the call is established (answered)."""
        seen = self._call_from = len(self.events)
        self.command("dial", number)
        self.wait(
            lambda: self.event("CALL_ESTABLISHED", since=seen) or self.event("CALL_CLOSED", since=seen),
            timeout,
            f"the call to {number}",
        )
        closed = self.event("CALL_CLOSED", since=seen)
        if closed is not None:
            raise AssertionError(f"the call to {number} was closed: {closed.get('param')}")

    def press(self, digits: str) -> None:
        """Send keys as RFC 4733 telephone events, one at a time."""
        for digit in digits:
            self.command("sndcode", digit)
            time.sleep(0.3)

    def hangup(self, timeout: float = 10.0) -> None:
        """Hang up the call and wait until it is over."""
        self.command("hangup")
        self.wait(lambda: self.event("CALL_CLOSED", since=self._call_from), timeout, "the call to end")

    def event(self, kind: str, since: int = 0) -> dict[str, Any] | None:
        with self._cond:
            return next((e for e in self.events[since:] if e.get("type") == kind), None)

    def wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; baresip log tail:\n{self.log()}")
            if self._proc is not None and self._proc.poll() is not None:
                raise AssertionError(f"baresip exited waiting for {what}:\n{self.log()}")
            time.sleep(0.05)

    def _read(self) -> None:
        buffer = b""
        assert self._sock is not None
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                size, _, rest = buffer.partition(b":")
                if len(rest) < int(size) + 1:
                    break
                message = json.loads(rest[: int(size)])
                buffer = rest[int(size) + 1 :]
                with self._cond:
                    if message.get("response"):
                        self._responses[str(message.get("token"))] = message
                    elif message.get("event"):
                        self.events.append(message)
