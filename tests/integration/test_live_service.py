"""Live transcription's orchestration with its real parts — the AudioSocket server over TCP, the
pocketsphinx worker processes — and a fake of our own Asterisk port (what a test plays: Asterisk
connecting the forked streams). What must hold: an answered call is forked, one ChanSpy leg per
direction; a queue's limit skips calls (offline transcription still happens); an emergency word
alerts; from the PCI pause until the confirmed resume no audio reaches a worker; the end of the call
cuts the streams."""

from __future__ import annotations

import asyncio
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk import audiosocket as aus
from callcenter.asterisk.audiosocket import AudioSocketServer
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.acd.queues import Queue
from callcenter.core.calls import machine as cl
from callcenter.core.commands import SaveInteraction
from callcenter.core.interaction import Channel, Interaction, Outcome
from callcenter.core.qa.live import ChecklistItem, LiveAlert, LiveCall, LiveText
from callcenter.core.qa.scoring import PhraseRule, QaRules
from callcenter.settings import load_settings
from callcenter.speech.live import LiveTranscription
from callcenter.speech.live_pool import LivePool
from tests.fake_port import FakePort
from tests.tools import require
from tests.unit.speech_fixtures import say

SILENCE = b"\0\0" * 8000


class Screens:
    """A recording LiveSink."""

    def __init__(self) -> None:
        self.texts: list[tuple[LiveCall, LiveText]] = []
        self.alerts: list[tuple[LiveCall, LiveAlert]] = []
        self.checklists: list[tuple[ChecklistItem, ...]] = []

    def text(self, call: LiveCall, text: LiveText) -> None:
        self.texts.append((call, text))

    def alert(self, call: LiveCall, alert: LiveAlert) -> None:
        self.alerts.append((call, alert))

    def checklist(self, call: LiveCall, items: tuple[ChecklistItem, ...]) -> None:
        self.checklists.append(items)

    def said(self, speaker: str = "caller") -> str:
        return " ".join(t.text for _, t in self.texts if t.speaker == speaker)


def speech(text: str, tmp: Path, name: str) -> bytes:
    require("flite", "flite")
    require("sox", "sox")
    with wave.open(str(say(text, tmp / f"{name}.wav"))) as w:
        return w.readframes(w.getnframes())


def answered(iid: str, queue: str = "support") -> SaveInteraction:
    return SaveInteraction(
        Interaction(
            iid,
            Channel.VOICE,
            "+34600111222",
            0.0,
            caller_channel=f"PJSIP/caller-{iid}",
            queue=queue,
            agent_id="1001",
            answered_at=5.0,
        )
    )


async def until(predicate: Any, seconds: float, what: Any) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class Asterisk:
    """Plays Asterisk's side of one forked stream: connects, names it, sends 20 ms frames."""

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self.writer, self.reader = writer, reader

    @classmethod
    async def connect(cls, port: int, stream: uuid.UUID) -> Asterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(aus.encode(aus.KIND_UUID, stream.bytes))
        return cls(writer, reader)

    async def play(self, pcm: bytes, speed: float = 2.0) -> None:
        for i in range(0, len(pcm), 320):
            self.writer.write(aus.encode(aus.KIND_AUDIO, pcm[i : i + 320]))
            if i % 3200 == 0:
                await self.writer.drain()
                await asyncio.sleep(0.2 / speed)

    async def closed_by_server(self) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(), 10) == b""
        except ConnectionError:
            return True


@pytest.fixture
async def live() -> Any:
    settings = load_settings(
        environ={}, overrides={"live": {"enabled": True, "hold_seconds": 1.0, "calls_per_queue": 5}}
    )
    engine = Acd(AcdConfig(), [], {"support": Queue("support", live=1), "sales": Queue("sales")})
    port = FakePort()
    screens = Screens()
    holder: dict[str, LiveTranscription] = {}
    server = AudioSocketServer("127.0.0.1", 0, lambda sid: holder["live"].open_stream(sid))
    await server.start()
    service = LiveTranscription(
        settings,
        engine,
        port,
        LivePool(1, 4),
        screens,
        agent_channel=lambda iid, agent: f"PJSIP/{agent}-{iid}",
        address=f"127.0.0.1:{server.port}",
        rules=QaRules(
            required=(PhraseRule("greeting", ("thank you for calling",)),),
            emergency_words=("ambulance",),
        ),
    )
    holder["live"] = service
    pool = service._pool
    assert pool.capacity == 0  # until the worker has made its recognizers: calls are skipped
    service.start()
    await until(lambda: pool.capacity > 0, 120, "the worker ready")
    yield service, port, screens, server
    await server.stop()
    await service.stop()


def forks(port: FakePort) -> dict[str, uuid.UUID]:
    """The spied channel of each originated fork, and its stream id."""
    out = {}
    for method, request in port.calls:
        if method == "originate":
            assert request.target.name == "ChanSpy" and request.target.data.endswith(",qoE")
            _host, stream = request.endpoint.removeprefix("AudioSocket/").split("/")
            out[request.target.data.split(",")[0]] = uuid.UUID(stream)
    return out


async def test_a_call_forked_heard_alerted_paused_and_cut(live: Any, tmp_path: Path) -> None:
    service, port, screens, server = live
    alarm = speech("please call an ambulance", tmp_path, "alarm")
    card = speech(
        "my card number is four" + " one" * 15 + ". the security code is seven three nine", tmp_path, "card"
    )
    bye = speech("thank you very much, goodbye", tmp_path, "bye")

    service.on_command(answered("c1"))
    await until(lambda: len(forks(port)) == 2, 10, "two forks")
    streams = forks(port)
    assert set(streams) == {"PJSIP/caller-c1", "PJSIP/1001-c1"}
    assert screens.checklists and [i.rule for i in screens.checklists[0]] == ["greeting"]
    # The queue allows one live call: a second one is skipped, nothing forked for it.
    service.on_command(answered("c2"))
    await asyncio.sleep(0.3)
    assert len(forks(port)) == 2 and "c2" not in service.slots
    # A stream nobody expects is refused.
    stranger = await Asterisk.connect(server.port, uuid.uuid4())
    assert await stranger.closed_by_server()

    caller = await Asterisk.connect(server.port, streams["PJSIP/caller-c1"])
    agent = await Asterisk.connect(server.port, streams["PJSIP/1001-c1"])
    await agent.play(SILENCE)
    await caller.play(SILENCE + alarm + SILENCE)
    await until(lambda: screens.alerts, 60, f"the emergency alert (heard: {screens.texts})")
    call, alert = screens.alerts[0]
    assert (call.interaction_id, alert.kind, alert.word, alert.evidence.speaker) == (
        "c1",
        "emergency_word",
        "ambulance",
        "caller",
    )

    # PCI: paused (asked for: the command), then the card and the code, then the confirmed resume.
    service.on_command(cl.PauseRecording("c1"))
    paused_at = len(screens.texts)
    await caller.play(card + SILENCE)
    await asyncio.sleep(2.0)
    assert not [t for _, t in screens.texts[paused_at:] if t.speaker == "caller"], screens.texts[paused_at:]
    service.on_command(cl.CallChanged("c1", "1001", cl.Call("c1", "1001", recording_paused=True), 1.0))
    service.on_command(cl.CallChanged("c1", "1001", cl.Call("c1", "1001", recording_paused=False), 2.0))
    await caller.play(bye + SILENCE)
    await until(
        lambda: len([t for _, t in screens.texts[paused_at:] if t.final]) >= 1, 60, "text after the resume"
    )
    everything = " ".join(t.text for _, t in screens.texts)
    assert "security" not in everything and "seven" not in everything and "card" not in everything, everything

    # The call ends: its streams are cut (the server closes the connections: Asterisk's channels end).
    service.on_command(
        SaveInteraction(answered("c1").interaction.with_(outcome=Outcome.ANSWERED, ended_at=30.0))
    )
    await caller.play(SILENCE[:3200])
    assert await caller.closed_by_server()
    assert "c1" not in service.slots
    # The queue's slot is free again.
    service.on_command(answered("c3"))
    await until(lambda: len(forks(port)) == 4, 10, "the next call forked")
    agent.writer.close()
    caller.writer.close()
    stranger.writer.close()


async def test_a_refused_fork_gives_the_call_up(live: Any) -> None:
    service, port, _, _ = live
    port.refuse.add("originate")
    service.on_command(answered("r1", queue="sales"))
    await until(lambda: "r1" not in service.slots, 10, "the call given up")
    await asyncio.sleep(0.2)
    assert 1 <= len([c for c in port.calls if c[0] == "originate"]) <= 2
    assert service._pool.open_streams == 0


class RecordingPool:
    """A fake of our own LivePool: room for every stream, the options of each recorded."""

    capacity = 8

    def __init__(self) -> None:
        self.opened: dict[str, Any] = {}

    def open(self, stream_id: str, options: Any) -> bool:
        self.opened[stream_id] = options
        return True

    def close(self, stream_id: str) -> None:
        self.opened.pop(stream_id, None)

    def start(self, on_message: Any) -> None:
        pass

    async def stop(self) -> None:
        pass


async def test_a_calls_language_picks_its_live_engine_and_model(tmp_path: Path) -> None:
    korean = tmp_path / "ko-model"
    settings = load_settings(
        environ={},
        overrides={
            "live": {"enabled": True},
            "transcription": {"languages": {"ko": {"engine": "vosk", "model": str(korean)}}},
        },
    )
    engine = Acd(AcdConfig(), [], {"support": Queue("support")})
    pool = RecordingPool()
    service = LiveTranscription(
        settings,
        engine,
        FakePort(),
        pool,  # type: ignore[arg-type]
        Screens(),
        agent_channel=lambda iid, agent: f"PJSIP/{agent}-{iid}",
        address="127.0.0.1:1",
    )
    in_korean = answered("ko1")
    service.on_command(SaveInteraction(in_korean.interaction.with_(language="ko")))
    service.on_command(answered("en1"))
    await until(lambda: len(pool.opened) == 4, 10, "both calls' two streams opened")

    def options_of(iid: str) -> set[tuple[str, str | None]]:
        keys = {stream.key for stream in service._calls[iid].streams.values()}
        return {(o.engine, o.model) for key, o in pool.opened.items() if key in keys}

    assert options_of("ko1") == {("vosk", str(korean))}, pool.opened
    assert options_of("en1") == {("pocketsphinx", None)}, pool.opened
