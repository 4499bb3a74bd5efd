"""Recording a session of the Asterisk port (what lands in the file, what never does) and playing
it back (the same answers, and a clear error where the code does something else)."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk import ami_events
from callcenter.asterisk.agi import AgiChannel, AgiHangup, AgiHeaders, AgiResult
from callcenter.asterisk.asterisk_port import (
    AmiTimeout,
    AsteriskPort,
    ChannelInfo,
    Dialplan,
    EndpointInfo,
    Move,
    OriginateRequest,
    OriginateResult,
)
from callcenter.asterisk.session_record import SessionRecorder
from callcenter.asterisk.session_replay import RecordingError, ReplayDivergence, ReplayPort, load
from callcenter.core import events as ev
from tests.fake_port import FakePort

CARD = "4111111111111111"
UNIQUEID = "1764745673.12345678"  # 18 digits: an identifier, not a card


class Session(AgiHeaders):
    """An AGI session answering GET DATA with what a caller keyed (a card number)."""

    def __init__(self) -> None:
        self.headers = {
            "agi_channel": "PJSIP/trunk-00000001",
            "agi_uniqueid": UNIQUEID,
            "agi_callerid": "+34600111222",
            "agi_network_script": "inbound",
        }

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        if line == "HANGUP":
            raise AgiHangup("gone")
        return AgiResult(200, CARD if line.startswith("GET DATA") else "0", "")

    async def set_variable(self, name: str, value: str) -> None:
        pass


async def the_code(port: AsteriskPort, seen: list[object]) -> None:
    """What a voice adapter might do after a login: look, ring an agent, move a caller."""
    seen.append(await port.channels())
    seen.append(await port.endpoints())
    seen.append(
        await port.originate(
            OriginateRequest(
                "PJSIP/1001",
                Dialplan("cc-agent", "bridge"),
                ring_timeout=8,
                channel_id="i1-1",
                variables={"CC_VAR_CARD": CARD, "CC_VAR_PASSWORD": "hunter2", "CC_CALLER": "PJSIP/t-1"},
            )
        )
    )
    try:
        await port.redirect(Move("PJSIP/t-1", Dialplan("cc-hold")), Move("PJSIP/1001-2", Dialplan("cc-held")))
    except AmiTimeout as err:
        seen.append(str(err))


async def ivr(session: AgiChannel) -> None:
    digits = await session.command("GET DATA callcenter/card 5000 16")
    await session.set_variable("CC_VAR_CARD", digits.result)
    await session.command("HANGUP")


async def record(tmp_path: Path) -> tuple[Path, list[object], list[object]]:
    """A recorded session: a login, events (one carrying card digits and a secret), the code's
    calls (one refused), and an IVR session keyed a card number."""
    out = io.StringIO()
    recorder = SessionRecorder(out, {"host": "127.0.0.1"})
    fake = FakePort()
    fake.live = [ChannelInfo("PJSIP/trunk-00000001", UNIQUEID, "cc-wait")]
    fake.known = [EndpointInfo("1001", frozenset({"sip:1001@127.0.0.1:5070"}))]
    fake.originated = OriginateResult("failed", "ring no answer", "3")
    port = recorder.wrap(fake)
    seen: list[object] = []
    events: list[object] = []

    async def connected() -> None:
        await the_code(port, seen)

    async def go() -> None:
        port.subscribe(events.append, on_connected=connected)
        fake.refuse.add("redirect")
        original = fake.redirect

        async def slow_redirect(move: Move, extra: Move | None = None) -> None:
            try:
                await original(move, extra)
            except Exception as err:
                raise AmiTimeout("AMI action Redirect got no answer in time") from err

        fake.redirect = slow_redirect  # type: ignore[method-assign]
        await port.start()
        fake.emit(ami_events.Newchannel("PJSIP/1001-2", "i1-1", UNIQUEID, "cc-agent", "bridge"))
        headers = {"InteractionId": "i1", "Number": CARD, "Secret": "hunter2", "Uniqueid": UNIQUEID}
        fake.emit(ami_events.UserEvent("CCCallbackRequested", UNIQUEID, headers))
        routes = recorder.wrap_routes({"inbound": ivr})
        with pytest.raises(AgiHangup):
            await routes["inbound"](Session())
        assert recorder.new_id() != recorder.new_id()

    await go()
    path = tmp_path / "session.jsonl"
    path.write_text(out.getvalue())
    return path, seen, events


async def test_a_recording_keeps_identifiers_and_never_card_digits_or_secrets(tmp_path: Path) -> None:
    path, seen, _ = await record(tmp_path)
    text = path.read_text()
    assert CARD not in text and "4111" not in text and "hunter2" not in text
    assert text.count("[CARD]") >= 4  # the variable, the key presses, the SET VARIABLE, the header
    assert text.count("[REDACTED]") == 2  # the password variable, the Secret header
    assert UNIQUEID in text and "PJSIP/trunk-00000001" in text and "+34600111222" in text
    header, records = load(path)
    assert header["format"] == "callcenter-asterisk-session" and header["version"] == 1
    kinds = [r["kind"] for _, r in records]
    assert kinds[0] == "connected" and kinds.count("event") == 2 and kinds.count("id") == 2
    assert kinds.count("call") == kinds.count("return") == 4 + 3  # AMI calls, AGI commands
    assert all(r["t"] >= 0 and r["at"] > 1.7e9 for _, r in records)
    refused = [r for _, r in records if r["kind"] == "return" and "error" in r]
    assert [r["error"]["type"] for r in refused] == ["AmiTimeout", "AgiHangup"]
    assert seen[-1] == "AMI action Redirect got no answer in time"


async def replay(path: Path, code: Callable[[AsteriskPort, list[object]], Awaitable[None]]) -> list[object]:
    port = ReplayPort.from_file(path)
    seen: list[object] = []
    events: list[object] = []

    async def connected() -> None:
        await code(port, seen)

    port.subscribe(events.append, on_connected=connected)
    await port.run({"inbound": ivr})
    return [*seen, *events, port.new_id()]


async def test_a_replay_gives_the_code_the_recorded_answers_and_events(tmp_path: Path) -> None:
    path, seen, events = await record(tmp_path)
    replayed = await replay(path, the_code)
    assert replayed[:4] == seen  # channels, endpoints, the failed originate, the timeout error
    assert replayed[0] == [ChannelInfo("PJSIP/trunk-00000001", UNIQUEID, "cc-wait")]
    assert replayed[2] == OriginateResult("failed", "ring no answer", "3")
    newchannel, user_event = replayed[4:6]
    assert newchannel == events[0]
    assert isinstance(user_event, ami_events.UserEvent) and user_event.headers["Number"] == "[CARD]"
    assert isinstance(replayed[6], str) and len(replayed[6]) == 32  # the first recorded id


async def test_a_different_action_stops_the_replay_saying_which_was_expected(tmp_path: Path) -> None:
    path, _, _ = await record(tmp_path)

    async def rings_another_agent(port: AsteriskPort, seen: list[object]) -> None:
        await port.channels()
        await port.endpoints()
        await port.originate(OriginateRequest("PJSIP/1002", Dialplan("cc-agent", "bridge"), ring_timeout=8))

    with pytest.raises(ReplayDivergence) as err:
        await replay(path, rings_another_agent)
    message = str(err.value)
    assert f"{path}:" in message and "expected originate(" in message and '"PJSIP/1001"' in message
    assert "got originate(" in message and '"PJSIP/1002"' in message and " on ami" in message


async def test_a_missing_or_an_extra_action_is_a_divergence(tmp_path: Path, monkeypatch: Any) -> None:
    from callcenter.asterisk import session_replay

    monkeypatch.setattr(session_replay, "CALL_WAIT", 0.2)
    path, _, _ = await record(tmp_path)

    async def only_looks(port: AsteriskPort, seen: list[object]) -> None:
        await port.channels()

    with pytest.raises(ReplayDivergence, match=r"expected endpoints\(\{\}\) on ami, but the code made no"):
        await replay(path, only_looks)

    async def hangs_up_too(port: AsteriskPort, seen: list[object]) -> None:
        await the_code(port, seen)
        await port.hangup("PJSIP/t-1")

    with pytest.raises(ReplayDivergence, match=r"the recording ended, but the code called hangup\("):
        await replay(path, hangs_up_too)


def test_what_is_not_a_recording_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something else"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:1: not a callcenter-asterisk-session"):
        load(bad)
    header = {"format": "callcenter-asterisk-session", "version": 1}
    bad.write_text(json.dumps(header) + "\n\n{not json\n")
    with pytest.raises(RecordingError, match=r"bad.jsonl:3: not JSON"):
        load(bad)
    bad.write_text(json.dumps({**header, "version": 99}) + "\n")
    with pytest.raises(RecordingError, match=r"bad.jsonl:1: version 99"):
        load(bad)
    bad.write_text(json.dumps(header) + '\n{"kind": "event"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:2: a record needs a kind and a time"):
        load(bad)


async def test_the_engines_other_inputs_are_recorded_and_given_back_scrubbed() -> None:
    """Events from elsewhere than Asterisk (the panel, the API) are ``input`` records."""
    out = io.StringIO()
    recorder = SessionRecorder(out)
    pause = ev.AgentPause("1001", "lunch", 1796283235.5)
    finished = ev.IvrFinished("i1", "2", "billing", 1.8e9, skills=("billing", "vip"), data={"card": CARD})
    recorder.input(pause)
    recorder.input(finished)
    assert CARD not in out.getvalue()
    records = [(n, json.loads(line)) for n, line in enumerate(out.getvalue().splitlines()[1:], 2)]
    given: list[object] = []
    await ReplayPort(records, on_input=given.append).run()
    assert given == [pause, replace(finished, data={"card": "[CARD]"})]
    assert isinstance(given[1], ev.IvrFinished) and given[1].skills == ("billing", "vip")  # a tuple again


def test_the_panels_call_control_requests_are_inputs_a_recording_can_give_back() -> None:
    from callcenter.asterisk import session_codec
    from callcenter.core.calls import machine as calls

    for request in (
        calls.HoldRequested("i1", "1001", 5.0),
        calls.BlindTransferRequested("i1", "1001", 5.0, to_queue="sales"),
        calls.ConsultRequested("i1", "1001", "1002", 5.0),
    ):
        assert session_codec.decode(session_codec.encode(request)) == request
