"""The opening menu: what every call starts with, played by the dialplan before the FastAGI session
(issue 13 #10). The flows say what it is; the voice adapter publishes it (``CC_OPENING``) and, when
the dialplan hands over what it played and heard, skips those actions and feeds the keys to the flow.
The real dialplan with a frozen server: tests/e2e/test_opening_menu.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

from prometheus_client import REGISTRY

from callcenter.asterisk.voice import VoiceAdapter
from callcenter.core import events as ev
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import FlowRunner
from callcenter.ivr import loader
from callcenter.settings import Settings
from tests.fake_port import FakePort
from tests.unit.test_ivr_voice import FLOWS, FakeSession

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
MENU = ivr.MenuConfig(choices={"1": "support", "2": "sales"}, prompt="callcenter/welcome-menu", timeout=5)


def flows_of(text: str) -> m.FlowSet:
    flow, problems = loader.parse_text(dedent(text), "f.yaml")
    assert flow is not None and problems == [], problems
    return m.FlowSet({"f": flow})


PLAY_THEN_MENU = """
    start: hello
    nodes:
      hello: {type: play, prompt: {file: callcenter/hello}, next: menu}
      menu:
        type: menu
        prompt: {file: callcenter/menu}
        choices: {"1": q1}
        timeout: 4
        attempts: 2
        no_input: q1
      q1: {type: queue, queue: support}
    """


def test_the_opening_is_the_plays_then_the_first_question() -> None:
    opening = FlowRunner(flows_of(PLAY_THEN_MENU), "f", now=NOW).opening()
    assert opening.actions == (ivr.Play("callcenter/hello"), ivr.CollectDigits("callcenter/menu", 1, 4))
    main, problems = loader.load([FLOWS])
    assert problems == []
    first = FlowRunner(main, "main", now=NOW).opening()
    (question,) = first.actions
    assert isinstance(question, ivr.CollectDigits) and question.timeout == 4 and first.language == "en"
    assert ivr.MenuFlow(MENU).opening() == ivr.Opening((ivr.GetDigit("callcenter/welcome-menu", 5),))


def test_a_start_that_depends_on_the_call_has_no_opening() -> None:
    for start in (
        "{type: hours, timezone: UTC, week: {mon-sun: '00:00-23:59'}, open: q1, closed: q1}",
        "{type: branch, cases: [{if: {var: caller, equals: '1'}, goto: q1}], else: q1}",
    ):
        flows = flows_of(f"""
            start: first
            nodes:
              first: {start}
              q1: {{type: queue, queue: support}}
            """)
        assert FlowRunner(flows, "f", now=NOW).opening() == ivr.Opening()


def adapter(flow: ivr.Flow, tmp_path: Path, events: list[Any], port: FakePort | None = None) -> VoiceAdapter:
    settings = Settings.model_validate({"ivr": {"prompts_dir": str(tmp_path)}})
    return VoiceAdapter(
        settings,
        events.append,
        lambda _: None,
        lambda _: flow,
        port=port or FakePort(),
        clock=lambda: 100.0,
        opening=flow.opening,  # type: ignore[attr-defined]
    )


async def call(voice: VoiceAdapter, opening: str, digits: str, status: str, keys: list[Any]) -> FakeSession:
    session = FakeSession(keys)
    session.headers.update({"agi_arg_1": opening, "agi_arg_2": digits, "agi_arg_3": status})
    await voice.inbound.inbound(session)
    return session


async def test_a_key_pressed_during_the_opening_answers_the_first_question(tmp_path: Path) -> None:
    events: list[Any] = []
    voice = adapter(ivr.MenuFlow(MENU), tmp_path, events)
    assert voice.inbound.opening_text() == "1|5||callcenter/welcome-menu"
    session = await call(voice, voice.inbound.opening_text(), "2", "OK", [])
    # Neither ANSWER nor the menu again: the dialplan did both.
    assert session.sent == [f"SET CC_INTERACTION_ID={events[0].interaction_id}", "SET CC_QUEUE=sales"]
    assert isinstance(events[-1], ev.IvrFinished) and (events[-1].choice, events[-1].queue) == ("2", "sales")


async def test_no_key_during_the_opening_is_the_first_attempt_without_input(tmp_path: Path) -> None:
    events: list[Any] = []
    runner = FlowRunner(flows_of(PLAY_THEN_MENU), "f", now=NOW)
    voice = adapter(runner, tmp_path, events)
    opening = voice.inbound.opening_text()
    assert opening == "1|4|en|callcenter/hello&callcenter/menu"
    session = await call(voice, opening, "", "TIMEOUT", ["1"])
    # Asked once more (the second attempt), not greeted again.
    asked = [line for line in session.sent if not line.startswith("SET")]
    assert asked == ["GET DATA callcenter/menu 4000 1"]
    assert [s.detail for s in runner.steps][:2] == ["play", "no input (attempt 1 of 2)"]
    assert events[-1].queue == "support"


async def test_an_opening_from_other_flows_is_played_again_by_the_server(tmp_path: Path) -> None:
    """Flows reloaded after the dialplan read CC_OPENING: the call runs the new flow as usual."""
    events: list[Any] = []
    port = FakePort()
    voice = adapter(ivr.MenuFlow(MENU), tmp_path, events, port)
    session = await call(voice, "1|5||callcenter/old-menu", "3", "OK", ["1"])
    # The dialplan answered; the menu is asked by the server (the caller heard another one).
    assert [line for line in session.sent if not line.startswith("SET")] == [
        "GET DATA callcenter/welcome-menu 5000 1"
    ]
    assert events[-1].queue == "support"


async def test_the_opening_is_published_at_connect_and_again_when_it_changed(tmp_path: Path) -> None:
    events: list[Any] = []
    port = FakePort()
    menu = ivr.MenuFlow(MENU)
    current = [menu.opening()]
    voice = VoiceAdapter(
        Settings.model_validate({"ivr": {"prompts_dir": str(tmp_path)}}),
        events.append,
        lambda _: None,
        lambda _: ivr.MenuFlow(MENU),
        port=port,
        clock=lambda: 100.0,
        opening=lambda: current[0],
    )
    await port.start()
    published = [args for method, args in port.calls if method == "set_var"]
    assert published == [("", "CC_OPENING", "1|5||callcenter/welcome-menu")]
    current[0] = ivr.Opening()  # the flows now start with a branch: nothing to play early
    await call(voice, "1|5||callcenter/welcome-menu", "1", "OK", [])
    await asyncio.sleep(0.01)  # published in the background
    await voice.stop()
    assert [args for method, args in port.calls if method == "set_var"][-1] == ("", "CC_OPENING", "")


async def test_a_hang_up_during_the_opening_is_an_abandon_in_the_ivr(tmp_path: Path) -> None:
    events: list[Any] = []
    runner = FlowRunner(flows_of(PLAY_THEN_MENU), "f", now=NOW)
    voice = adapter(runner, tmp_path, events)
    labels = {"flow": "f", "node": "menu", "outcome": "caller_hangup"}
    before = REGISTRY.get_sample_value("callcenter_ivr_outcomes_total", labels) or 0.0
    await call(voice, voice.inbound.opening_text(), "", "HANGUP", [])
    assert [type(e) for e in events] == [ev.CallArrived, ev.CallerHungUp]
    assert REGISTRY.get_sample_value("callcenter_ivr_outcomes_total", labels) == before + 1
