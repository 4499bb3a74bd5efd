"""The voice adapter performing YAML flows over a FastAGI session (a fake of our own AgiSession) with
a real HTTP server for the lookups: what Asterisk is told, what the engine hears."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from callcenter.asterisk.agi import AgiError, AgiHangup, AgiHeaders, AgiResult
from callcenter.asterisk.voice import VoiceAdapter
from callcenter.core import events as ev
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import FlowRunner
from callcenter.ivr import loader
from callcenter.settings import Settings
from tests.fake_port import FakePort

FLOWS = Path(__file__).parents[2] / "ivr_flows"


class FakeSession(AgiHeaders):
    """Answers GET DATA with the scripted keys in order; "HANGUP" or an exception ends the call."""

    def __init__(self, keys: list[str | BaseException]) -> None:
        self.headers = {
            "agi_channel": "PJSIP/trunk-00000001",
            "agi_uniqueid": "1700000000.1",
            "agi_callerid": "+34600111222",
            "agi_extension": "5000",
        }
        self.keys = keys
        self.sent: list[str] = []

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        self.sent.append(line)
        if line.startswith("GET DATA"):
            key = self.keys.pop(0) if self.keys else ""
            if isinstance(key, BaseException):
                raise key
            return AgiResult(200, key, "timeout" if not key else "")
        return AgiResult(200, "0", "")

    async def set_variable(self, name: str, value: str) -> None:
        self.sent.append(f"SET {name}={value}")


@pytest.fixture
async def crm() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def account(request: web.Request) -> web.Response:
        seen.append(str(request.rel_url))
        number = request.match_info["number"]
        if number == "9999":
            await asyncio.sleep(1)
        if number == "4040":
            return web.json_response({"error": "unknown"}, status=404)
        if number == "5000":
            return web.Response(text="<html>oops</html>")
        return web.json_response({"customer": {"name": "Ana", "vip": number == "4729"}, "balance": 12.5})

    app = web.Application()
    app.router.add_get("/api/accounts/{number}", account)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def billing_flows(base: str, timeout: float = 2) -> m.FlowSet:
    text = (FLOWS / "billing.yaml").read_text()
    text = text.replace("https://crm.example.com", base).replace("timeout: 2\n", f"timeout: {timeout}\n")
    flow, problems = loader.parse_text(text, "billing.yaml")
    assert flow is not None and problems == []
    return m.FlowSet({"billing": flow})


async def run(
    flows: m.FlowSet, entry: str, keys: list[str | BaseException], tmp_path: Path
) -> tuple[FakeSession, list[Any], FlowRunner | None]:
    settings = Settings.model_validate({"ivr": {"prompts_dir": str(tmp_path)}})
    events: list[Any] = []
    made: list[FlowRunner] = []

    def factory(arrived: ev.CallArrived) -> ivr.Flow:
        runner = FlowRunner(
            flows, entry, now=datetime(2026, 11, 23, 10, tzinfo=UTC), caller=arrived.caller_number
        )
        made.append(runner)
        return runner

    async with aiohttp.ClientSession() as http:
        voice = VoiceAdapter(
            settings, events.append, lambda _: None, factory, port=FakePort(), clock=lambda: 100.0, http=http
        )
        session = FakeSession(keys)
        await voice.inbound.inbound(session)
    return session, events, made[0] if made else None


async def test_billing_call_with_lookup_reaches_the_engine_with_its_data(
    crm: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, seen = crm
    # Our rendered prompt is played by absolute path; others by name.
    runner_flows = billing_flows(base)
    sound = runner_flows.flows["billing"].nodes["account"].prompts()[0].variants["en"].sound
    (tmp_path / (sound + ".wav")).parent.mkdir(parents=True)
    (tmp_path / (sound + ".wav")).write_bytes(b"RIFF")
    session, events, _ = await run(runner_flows, "billing", ["4729"], tmp_path)
    assert seen == ["/api/accounts/4729?caller=%2B34600111222"]
    assert session.sent[:4] == [
        "SET CC_INTERACTION_ID=" + events[0].interaction_id,
        "ANSWER",
        "SET CHANNEL(language)=en",
        f"GET DATA {(tmp_path / sound).resolve()} 8000 8",
    ]
    assert "SET CC_QUEUE=billing" in session.sent and "SET CC_SKILLS=billing,vip" in session.sent
    assert "SET CC_VAR_CUSTOMER_NAME=Ana" in session.sent and "SET CHANNEL(language)=en" in session.sent
    arrived, finished = events
    assert isinstance(arrived, ev.CallArrived) and isinstance(finished, ev.IvrFinished)
    assert (finished.queue, finished.priority, finished.skills, finished.language, finished.outcome) == (
        "billing",
        10,
        ("billing", "vip"),
        "en",
        "queue",
    )
    assert finished.data["account"] == "4729" and finished.data["caller"] == "+34600111222"


@pytest.mark.parametrize(
    ("account", "error"),
    [("9999", "timeout"), ("4040", "status 404"), ("5000", "the answer is not JSON")],
)
async def test_lookup_failures_take_the_failure_path(
    crm: tuple[str, list[str]], tmp_path: Path, account: str, error: str
) -> None:
    base, _ = crm
    _, events, _ = await run(billing_flows(base, timeout=0.3), "billing", [account], tmp_path)
    finished = events[-1]
    assert finished.queue == "billing" and finished.priority == 0 and finished.data["http_error"] == error


async def test_unreachable_system_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    _, events, _ = await run(billing_flows("http://127.0.0.1:9"), "billing", ["1234"], tmp_path)
    assert events[-1].queue == "billing" and "http_error" in events[-1].data


def _count(flow: str, node: str, outcome: str) -> float:
    labels = {"flow": flow, "node": node, "outcome": outcome}
    return REGISTRY.get_sample_value("callcenter_ivr_outcomes_total", labels) or 0.0


async def test_hangup_mid_flow_is_recorded_where_it_happened(tmp_path: Path) -> None:
    flows, problems = loader.load([FLOWS])
    assert problems == []
    before = _count("main", "main_menu", "caller_hangup")
    _, events, runner = await run(flows, "main", ["1", AgiHangup("gone")], tmp_path)
    assert [type(e) for e in events] == [ev.CallArrived, ev.CallerHungUp]
    assert runner is not None and runner.steps[-1].detail == "caller hung up"
    assert _count("main", "main_menu", "caller_hangup") == before + 1


async def test_asterisk_error_ends_the_flow_with_an_error_outcome(tmp_path: Path) -> None:
    flows, _ = loader.load([FLOWS])
    _, events, _ = await run(flows, "main", [AgiError("GET DATA: 510 Invalid command")], tmp_path)
    finished = events[-1]
    assert isinstance(finished, ev.IvrFinished) and finished.queue is None and finished.outcome == "error"


async def test_voicemail_is_left_through_the_dialplan_application(tmp_path: Path) -> None:
    flow, _ = loader.parse_text(
        dedent("""
        start: vm
        nodes:
          vm: {type: voicemail, mailbox: "100@default"}
        """),
        "vm.yaml",
    )
    assert flow is not None
    session, events, _ = await run(m.FlowSet({"vm": flow}), "vm", [], tmp_path)
    assert 'EXEC VoiceMail "100@default,u"' in session.sent
    assert events[-1].outcome == "voicemail" and events[-1].queue is None


async def test_the_channel_language_follows_the_callers_choice(tmp_path: Path) -> None:
    flows, _ = loader.load([FLOWS])
    session, events, _ = await run(flows, "main", ["2", "2"], tmp_path)
    languages = [line for line in session.sent if line.startswith("SET CHANNEL(language)")]
    assert languages == ["SET CHANNEL(language)=en", "SET CHANNEL(language)=es", "SET CHANNEL(language)=es"]
    assert events[-1].language == "es" and events[-1].skills == ("technical",)
