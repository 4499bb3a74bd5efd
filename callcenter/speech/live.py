"""Live transcription: each answered call's two directions, forked while the call runs, recognised
in worker processes, shown on the screens, checked by the QA rules.

How the audio is forked (docs/qa.md, "Live transcription", says why this way): when the agent
answers, two channels are originated over AMI, ``AudioSocket/<this server>/<stream uuid>``, each
running ``ChanSpy(<channel>,qoE)`` — one spies the caller's channel, one the agent's leg. ``o``
takes only what that channel's phone sends (one speaker per stream), ``q`` keeps it silent, ``E``
ends it with the spied channel. A spy is an audiohook beside the call: the call's own audio path
(bridge, MixMonitor, hold, transfers) is not touched, and a failed fork costs the call nothing.
Asterisk connects to :class:`~callcenter.asterisk.audiosocket.AudioSocketServer` and streams 8 kHz
frames; a stream id is a random UUID we chose, so a connection nobody expects is refused.

Invariants:

- The event loop never recognises, never waits for a worker: audio goes to
  :class:`~callcenter.speech.live_pool.LivePool` with non-blocking sends; a worker behind real
  time gets the stream cut (``live.stream_dropped``), the call is transcribed after it anyway.
- PCI: from the moment a recording pause is asked for (the core's ``PauseRecording`` command, before
  Asterisk mutes the recording) until the resume is confirmed, the call's audio is dropped here:
  nothing of it reaches a worker. Words leave the worker redacted (live_worker.py).
- Bounded cost: a call is transcribed live only if its queue's limit (``live:`` in the queues file,
  else ``live.calls_per_queue``) and the workers' capacity allow; otherwise it is skipped, logged
  (``live.skipped``) and counted, and transcribed after the call as always.
- Runs on the routing owner (it hears the service's commands and drives Asterisk); its results
  reach people's sockets on any node through the Socket.IO fan-out (web/live.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from callcenter import metrics
from callcenter.aio import Background, cancel_and_wait
from callcenter.asterisk.asterisk_port import AmiError, Application, AsteriskPort, OriginateRequest
from callcenter.core.acd.engine import Acd
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.interaction import Channel, Interaction
from callcenter.core.qa.live import (
    ChecklistItem,
    LiveCall,
    LiveQa,
    LiveSink,
    LiveSlots,
    LiveText,
)
from callcenter.core.qa.scoring import AngerMeasure, QaRules
from callcenter.core.qa.transcript import Speaker, Word
from callcenter.settings import Settings, TranscriptionSettings
from callcenter.speech.live_pool import CHUNK_SECONDS, LivePool
from callcenter.speech.live_worker import StreamOptions
from callcenter.speech.transcribe import engine_for, redactor_for

log = logging.getLogger("callcenter.live")

CHUNK_BYTES = int(8000 * 2 * CHUNK_SECONDS)
SPY_OPTIONS = "qoE"  # quiet, only the spied channel's own audio, end with it
FORK_TIMEOUT = 5.0
CHANNEL_WAIT_SECONDS = 3.0  # the agent's leg channel may be learnt a moment after the answer

FinalListener = Callable[[LiveCall, LiveText], None]


@dataclass(slots=True)
class _Stream:
    """One direction of one call (the AudioSocket connection's side)."""

    service: LiveTranscription
    id: uuid.UUID
    call: _Call
    speaker: Speaker
    buffer: bytearray = field(default_factory=bytearray)
    open: bool = True  # False: cut (call ended, dropped); the connection is closed at its next frame
    connected: bool = False

    @property
    def key(self) -> str:
        return self.id.hex

    def audio(self, pcm: bytes) -> bool:
        return self.service._audio(self, pcm)

    def closed(self, reason: str) -> None:
        self.service._stream_closed(self, reason)


@dataclass(slots=True)
class _Call:
    info: LiveCall
    qa: LiveQa | None
    options: StreamOptions  # its streams' engine and model (by the call's language), redaction...
    gated: bool = False  # PCI: audio is dropped
    streams: dict[Speaker, _Stream] = field(default_factory=dict)
    agent_channel: str | None = None
    checklist: tuple[ChecklistItem, ...] = ()


def live_preload(settings: TranscriptionSettings) -> StreamOptions:
    """What the live workers load before the first call: the default engine and model (a call in
    another language of ``transcription.languages`` loads its own on first use)."""
    return StreamOptions(model=str(settings.model) if settings.model else None, engine=settings.engine)


class LiveTranscription:
    def __init__(
        self,
        settings: Settings,
        engine: Acd,
        port: AsteriskPort,
        pool: LivePool,
        sink: LiveSink,
        *,
        agent_channel: Callable[[str, str], str | None],
        address: str,
        rules: QaRules | None = None,
        anger_of: AngerMeasure | None = None,
    ) -> None:
        """``agent_channel(interaction, agent)``: the agent's leg channel on the call (the voice
        adapter's call control); ``address``: host:port of the AudioSocket server as Asterisk
        reaches it."""
        self._settings = settings
        self._engine = engine
        self._port = port
        self._pool = pool
        self._sink = sink
        self._agent_channel = agent_channel
        self.address = address
        self._rules = rules
        self._anger_of = anger_of
        tr = settings.transcription
        self._options = StreamOptions(
            model=str(tr.model) if tr.model is not None else None,
            engine=tr.engine,
            redactor=redactor_for(tr),
            resampler=settings.live.resampler,
            partial_seconds=settings.live.partial_seconds,
            hold_seconds=settings.live.hold_seconds,
        )
        self.slots = LiveSlots()
        self._calls: dict[str, _Call] = {}
        self._streams: dict[uuid.UUID, _Stream] = {}  # expected or connected
        self._by_key: dict[str, _Stream] = {}  # in a worker: results may come after the call
        self._tasks = Background(log, "live.fork_failed")
        self._watchdog: asyncio.Task[None] | None = None
        self.on_final: list[FinalListener] = []  # e.g. agent assist (the final text, redacted)

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._pool.start(self._result)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_workers())

    async def stop(self) -> None:
        await cancel_and_wait(self._watchdog)
        await self._tasks.cancel()
        for call in list(self._calls.values()):
            self._end(call.info.interaction_id, "stopped")
        await asyncio.to_thread(self._pool.stop)

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for key in self._pool.dead_streams():
                stream = self._by_key.pop(key, None)
                if stream is not None:
                    stream.open = False
                    metrics.LIVE_CALLS.labels(result="dropped").inc()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    # -- the service's commands ----------------------------------------------------------------
    def on_command(self, command: Command) -> None:
        match command:
            case SaveInteraction(interaction=i) if i.channel == Channel.VOICE:
                if i.outcome is not None:
                    self._end(i.id, "ended")
                elif (agent := i.talking_agent) is not None:
                    self._answered(i, agent)
            case cl.PauseRecording():
                self._gate(command.interaction_id, True)
            case cl.CallChanged(call=call) if call is not None:
                pending = call.recording_pending
                self._gate(
                    command.interaction_id,
                    call.recording_paused or (pending is not None and pending.paused),
                )
            case _:
                pass

    def _answered(self, i: Interaction, agent_id: str) -> None:
        call = self._calls.get(i.id)
        if call is not None:
            if call.info.agent_id != agent_id:  # transferred: the new agent's leg is spied now
                call.info = LiveCall(i.id, agent_id, i.queue)
                self._spawn(self._fork_agent(call))
            return
        if not self._settings.live.enabled or i.caller_channel is None:
            return
        queue = self._engine.queues.get(i.queue) if i.queue is not None else None
        limit = self._settings.live.calls_per_queue
        if queue is not None and queue.live is not None:
            limit = queue.live
        refused = self.slots.take(i.id, i.queue or "", limit, self._pool.capacity // 2)
        if refused is not None:  # "saturated" too while the workers are still starting
            metrics.LIVE_CALLS.labels(result=refused.reason).inc()
            log.info("live.skipped", extra={"interaction": i.id, "queue": i.queue, "reason": refused.reason})
            return
        info = LiveCall(i.id, agent_id, i.queue)
        qa = LiveQa(self._rules, self._anger_of) if self._rules is not None else None
        # The call's language picks the engine and model, as for its recording (transcription.languages).
        spec = engine_for(self._settings.transcription, i.language)
        options = replace(self._options, engine=spec.name, model=spec.model)
        call = self._calls[i.id] = _Call(info, qa, options)
        control = self._engine.calls.get(i.id)  # a pause from before (a restart: RecordingFound)
        if control is not None and (control.recording_paused or control.recording_pending is not None):
            call.gated = True
        if qa is not None:
            call.checklist = qa.checklist()
            if call.checklist:
                self._sink.checklist(info, call.checklist)
        metrics.LIVE_CALLS.labels(result="live").inc()
        self._spawn(self._fork(call, "caller", i.caller_channel))
        self._spawn(self._fork_agent(call))

    async def _fork_agent(self, call: _Call) -> None:
        iid, agent = call.info.interaction_id, call.info.agent_id
        waited = 0.0
        channel = self._agent_channel(iid, agent)
        while channel is None and waited < CHANNEL_WAIT_SECONDS:
            await asyncio.sleep(0.1)
            waited += 0.1
            channel = self._agent_channel(iid, agent)
        if channel is None or self._calls.get(iid) is not call:
            log.info("live.no_agent_channel", extra={"interaction": iid, "agent": agent})
            return
        if channel == call.agent_channel:
            return
        call.agent_channel = channel
        old = call.streams.pop("agent", None)
        if old is not None:
            self._cut(old)
        await self._fork(call, "agent", channel)

    async def _fork(self, call: _Call, speaker: Speaker, channel: str) -> None:
        """Originate the spy leg for one direction (its stream expected before it connects)."""
        if self._calls.get(call.info.interaction_id) is not call:
            return  # ended (or given up) meanwhile
        stream = _Stream(self, uuid.uuid4(), call, speaker)
        call.streams[speaker] = stream
        self._streams[stream.id] = stream
        if not self._pool.open(stream.key, call.options):
            self._cut(stream)
            metrics.LIVE_CALLS.labels(result="saturated").inc()
            log.warning("live.saturated", extra={"interaction": call.info.interaction_id, "speaker": speaker})
            return
        self._by_key[stream.key] = stream
        metrics.LIVE_STREAMS.set(len(self._by_key))
        try:
            await self._port.originate(
                OriginateRequest(
                    f"AudioSocket/{self.address}/{stream.id}",
                    Application("ChanSpy", f"{channel},{SPY_OPTIONS}"),
                    ring_timeout=FORK_TIMEOUT,
                    caller_id=f'"live {speaker}" <{call.info.interaction_id[:20]}>',
                    wait=False,
                )
            )
        except AmiError as err:
            metrics.LIVE_CALLS.labels(result="failed").inc()
            log.warning(
                "live.fork_failed",
                extra={"interaction": call.info.interaction_id, "speaker": speaker, "error": str(err)},
            )
            # Half a call is not worth its slot: the call is transcribed after it, as any other.
            self._end(call.info.interaction_id, "fork_failed")
            return
        log.info("live.forked", extra={"interaction": call.info.interaction_id, "speaker": speaker})

    def _gate(self, interaction_id: str, closed: bool) -> None:
        call = self._calls.get(interaction_id)
        if call is None or call.gated == closed:
            return
        call.gated = closed
        for stream in call.streams.values():
            if closed:
                self._send(stream)  # heard before the pause was asked for
                self._pool.pause(stream.key)
        log.info("live.paused" if closed else "live.resumed", extra={"interaction": interaction_id})

    def _end(self, interaction_id: str, why: str) -> None:
        call = self._calls.pop(interaction_id, None)
        self.slots.release(interaction_id)
        if call is None:
            return
        for stream in call.streams.values():
            self._cut(stream)
        log.info("live.ended", extra={"interaction": interaction_id, "why": why})

    def _cut(self, stream: _Stream) -> None:
        """No more audio of this stream; its worker finishes what it heard (the last words)."""
        if stream.open and not stream.call.gated:
            self._send(stream)
        stream.open = False
        self._streams.pop(stream.id, None)
        self._pool.close(stream.key)

    # -- AudioSocket ---------------------------------------------------------------------------
    def open_stream(self, stream_id: uuid.UUID) -> _Stream | None:
        stream = self._streams.get(stream_id)
        if stream is None or not stream.open or stream.connected:
            return None
        stream.connected = True
        return stream

    def _audio(self, stream: _Stream, pcm: bytes) -> bool:
        if not stream.open:
            return False
        if stream.call.gated:
            return True  # PCI: dropped here, never sent to a worker
        stream.buffer.extend(pcm)
        if len(stream.buffer) >= CHUNK_BYTES and not self._send(stream):
            metrics.LIVE_CALLS.labels(result="dropped").inc()
            log.warning(
                "live.stream_dropped",
                extra={"interaction": stream.call.info.interaction_id, "speaker": stream.speaker},
            )
            stream.call.streams.pop(stream.speaker, None)
            self._cut(stream)
            return False
        return True

    def _send(self, stream: _Stream) -> bool:
        if not stream.buffer:
            return True
        chunk = bytes(stream.buffer)
        stream.buffer.clear()
        return self._pool.feed(stream.key, chunk)

    def _stream_closed(self, stream: _Stream, reason: str) -> None:
        if stream.open:
            log.info(
                "live.stream_closed",
                extra={
                    "interaction": stream.call.info.interaction_id,
                    "speaker": stream.speaker,
                    "why": reason,
                },
            )
            stream.call.streams.pop(stream.speaker, None)
            self._cut(stream)

    # -- results from the workers --------------------------------------------------------------
    def _result(self, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "text":
            _, key, final, words, _heard = message
            stream = self._by_key.get(str(key))
            if stream is None:
                return
            text = LiveText(
                stream.call.info.interaction_id,
                stream.speaker,
                bool(final),
                tuple(Word(*w) for w in words),  # type: ignore[attr-defined]
            )
            self._text(stream.call, text)
        elif kind == "closed":
            self._by_key.pop(str(message[1]), None)
            metrics.LIVE_STREAMS.set(len(self._by_key))
        elif kind == "error":
            log.error("live.worker_error", extra={"stream": message[1], "error": message[2]})
            stream = self._by_key.pop(str(message[1]), None)
            if stream is not None:
                stream.open = False
        elif kind == "ready":
            log.info("live.worker_ready", extra={"worker": message[1]})

    def _text(self, call: _Call, text: LiveText) -> None:
        self._sink.text(call.info, text)
        if not text.final:
            return
        for listener in self.on_final:
            try:
                listener(call.info, text)
            except Exception:  # a broken listener must not stop the live text
                log.exception("live.listener_failed")
        if call.qa is None:
            return
        for alert in call.qa.hear(text):
            log.warning(
                "live.alert",
                extra={"interaction": call.info.interaction_id, "kind": alert.kind, "word": alert.word}
                if alert.kind == "emergency_word"
                else {"interaction": call.info.interaction_id, "kind": alert.kind, "level": alert.level},
            )
            self._sink.alert(call.info, alert)
        checklist = call.qa.checklist()
        if checklist != call.checklist:
            call.checklist = checklist
            self._sink.checklist(call.info, checklist)
