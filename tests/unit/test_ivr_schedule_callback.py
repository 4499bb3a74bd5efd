"""The IVR's ``schedule_callback`` step: the caller picks a time by key press, the runner asks the
adapter to file it (``ScheduleCallback``) and goes on by the answer; the loader reports every
mistake as file:line:column; the time picked is read in the caller's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from callcenter.asterisk.voice import VoiceAdapter
from callcenter.core import events as ev
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr.runner import FlowRunner
from callcenter.core.outbound.callbacks import picked
from callcenter.ivr import loader
from callcenter.settings import Settings
from tests.fake_port import FakePort
from tests.unit.test_ivr_validate import FLOWS, problems
from tests.unit.test_ivr_voice import FakeSession

FLOW = """
start: when
nodes:
  when:
    type: schedule_callback
    queue: support
    prompt: "One for an hour from now, two for tomorrow at nine."
    choices:
      "1": {in: 60}
      "2": {day: tomorrow, at: "09:00"}
    attempts: 2
    no_input: bye
    next: thanks
    refused: sorry
  thanks: {type: hangup, prompt: "Thank you."}
  sorry: {type: queue, queue: support}
  bye: {type: hangup}
"""


def _runner(tmp_path: Path) -> FlowRunner:
    (tmp_path / "cb.yaml").write_text(dedent(FLOW).lstrip())
    flows, found = loader.load([tmp_path])
    assert found == []
    return FlowRunner(flows, "cb", now=datetime(2026, 1, 5, 12, tzinfo=UTC), caller="+12125550101")


def test_a_key_files_the_callback_and_the_answer_leads_on(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    assert isinstance(runner.start(), ivr.Answer)
    assert isinstance(runner.next(ivr.Done()), ivr.CollectDigits)
    wrong = runner.next(ivr.Digits("7"))  # not a choice: asked again
    assert isinstance(wrong, ivr.CollectDigits)
    action = runner.next(ivr.Digits("2"))
    assert action == ivr.ScheduleCallback("support", "+12125550101", None, 1, "09:00")
    played = runner.next(ivr.CallbackResult(True, local="2026-01-06T09:00-05:00"))
    assert isinstance(played, ivr.Play)
    done = runner.next(ivr.Done())
    assert isinstance(done, ivr.Finish) and done.outcome == "hangup"
    assert done.data["callback_at"] == "2026-01-06T09:00-05:00"


def test_a_refusal_takes_the_refused_path_with_why(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    runner.start()
    runner.next(ivr.Done())
    assert runner.next(ivr.Digits("1")) == ivr.ScheduleCallback("support", "+12125550101", 60)
    done = runner.next(ivr.CallbackResult(False, error="the number is on the do-not-call list"))
    assert isinstance(done, ivr.Finish) and done.queue == "support"
    assert done.data["callback_error"] == "the number is on the do-not-call list"


def test_silence_goes_to_no_input(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    runner.start()
    runner.next(ivr.Done())
    runner.next(ivr.Digits(""))
    done = runner.next(ivr.Digits(""))
    assert isinstance(done, ivr.Finish) and done.outcome == "hangup" and "callback_at" not in done.data


NODE = """
start: when
nodes:
  when:
    type: schedule_callback
    queue: support
    prompt: "Pick."
    choices:
      "1": CHOICE
    no_input: bye
    next: bye
    refused: bye
    timezone: ZONE
  bye: {type: hangup}
"""


@pytest.mark.parametrize(
    ("choice", "zone", "expected"),
    [
        ("{in: 0}", "UTC", "a.yaml:8:17: 0 is out of range (1..43200)"),
        (
            '{day: someday, at: "09:00"}',
            "UTC",
            "a.yaml:8:18: 'day' is today, tomorrow or a number of days (0-30), got 'someday'",
        ),
        ('{at: "9h"}', "UTC", "a.yaml:8:17: 'at' is a time of day as HH:MM (got '9h')"),
        (
            '{in: 5, at: "10:00"}',
            "UTC",
            "a.yaml:8:12: a callback time is either {in: minutes} or {day: ..., at: HH:MM}",
        ),
        (
            "{day: tomorrow}",
            "UTC",
            "a.yaml:8:12: a callback time needs 'in' (minutes) or 'at' (HH:MM, the caller's time)",
        ),
        (
            "{in: 5}",
            "Mars/Olympus",
            "a.yaml:12:15: unknown time zone 'Mars/Olympus' (an IANA name, e.g. Europe/Madrid)",
        ),
    ],
)
def test_mistakes_are_reported_with_file_line_column(
    tmp_path: Path, choice: str, zone: str, expected: str
) -> None:
    found = problems(tmp_path, a=NODE.replace("CHOICE", choice).replace("ZONE", zone))
    assert found == [expected], found


def test_a_missing_refused_path_is_reported(tmp_path: Path) -> None:
    missing = problems(
        tmp_path,
        a="""
        start: when
        nodes:
          when: {type: schedule_callback, queue: q, prompt: "P.", choices: {"1": {in: 5}}, next: bye}
          bye: {type: hangup}
        """,
    )
    assert missing == ["a.yaml:3:9: schedule_callback node needs 'refused'"], missing


def test_the_time_picked_is_the_callers_local_time() -> None:
    ny = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 7, 23, 30, tzinfo=ny).timestamp()  # Saturday night before DST starts
    assert picked(now, ny, day=1, at="09:00") == datetime(2026, 3, 8, 9, 0, tzinfo=ny)
    assert picked(now, ny, day=1, at="09:00").utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]
    assert picked(now, ny, minutes=90).timestamp() == now + 5400


async def _through_the_voice_adapter(
    tmp_path: Path, file: Any
) -> tuple[list[ivr.ScheduleCallback], list[Any]]:
    """The shipped after_hours flow over a fake FastAGI session: 2 (called back), 2 (tomorrow
    afternoon); ``file`` stands for the callbacks service (None: not running)."""
    flows, found = loader.load([FLOWS])
    assert found == []
    settings = Settings.model_validate({"ivr": {"prompts_dir": str(tmp_path)}})
    events: list[Any] = []
    asked: list[ivr.ScheduleCallback] = []

    def factory(arrived: ev.CallArrived) -> ivr.Flow:
        return FlowRunner(
            flows, "after_hours", now=datetime(2026, 11, 23, 20, tzinfo=UTC), caller=arrived.caller_number
        )

    async with aiohttp.ClientSession() as http:
        voice = VoiceAdapter(
            settings, events.append, lambda _: None, factory, port=FakePort(), clock=lambda: 100.0, http=http
        )
        if file is not None:

            async def schedule(step: ivr.ScheduleCallback) -> ivr.CallbackResult:
                asked.append(step)
                return await file(step)

            voice.inbound.schedule_callback = schedule
        await voice.inbound.inbound(FakeSession(["2", "2"]))
    return asked, events


async def test_the_voice_adapter_files_the_callers_pick(tmp_path: Path) -> None:
    async def filed(step: ivr.ScheduleCallback) -> ivr.CallbackResult:
        return ivr.CallbackResult(True, local="2026-11-24T15:00+01:00")

    asked, events = await _through_the_voice_adapter(tmp_path, filed)
    assert asked == [ivr.ScheduleCallback("support", "+34600111222", None, 1, "15:00", "Europe/Madrid")]
    (finished,) = [e for e in events if isinstance(e, ev.IvrFinished)]
    assert finished.outcome == "hangup" and finished.data["callback_at"] == "2026-11-24T15:00+01:00"


async def test_without_the_callbacks_service_the_flow_takes_its_refused_path(tmp_path: Path) -> None:
    asked, events = await _through_the_voice_adapter(tmp_path, None)
    assert asked == []
    (finished,) = [e for e in events if isinstance(e, ev.IvrFinished)]
    assert finished.outcome == "callback" and finished.data["callback_error"] == "no callbacks service"
