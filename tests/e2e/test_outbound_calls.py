"""A campaign's calls placed for real: the server originates each number over the sandbox trunk,
where one pyVoIP phone plays the carrier and its customers (it answers, is busy, or answers late
while the only agent has just paused). What happened is read from Asterisk's own AMI events
(OriginateResponse per attempt, the dialplan's Playback of the campaign's message), not only from
the server's decisions.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager
from pyVoIP.VoIP import VoIPCall

from tests.calls import agent_phone, caller_phone, wait_agent
from tests.sip import level, wait_for

pytestmark = pytest.mark.asterisk

ANSWERS, BUSY, DNC, LATE = "+12125550100", "+12125550101", "+12125550102", "+12125550103"
MACHINE = "+12125550104"  # answers with a steady tone: a long greeting to AMD
ASLEEP, ASLEEP_ZONE = "+12125550105", "Etc/GMT-12"  # its list's zone: 12 hours ahead of UTC
OPTS_OUT = "+12125550106"  # an agentless campaign's person: presses 9 during the message
CONFIRMS = "+12125550107"  # an agentless campaign's person in the reminder flow: presses 1 at its menu
REMINDER_FLOW = Path(__file__).parents[2] / "ivr_flows" / "reminder.yaml"
CAMPAIGN = """\
campaigns:
  renewals:
    mode: progressive
    queue: support
    caller_id: "+12125550199"
    windows: {windows}
    retries:
      busy: {delay: 1, max_attempts: 2}
    ring_seconds: 8
    script: "Hello {name}, about your contract."
  machines:
    mode: agentless
    queue: support
    windows: [{days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}]
    amd: {on_machine: message, message: callcenter/outbound-machine}
  reminders:
    mode: agentless
    queue: support
    windows: [{days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}]
    opt_out_key: "9"
  appointments:
    mode: agentless
    queue: support
    windows: [{days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}]
    flow: reminder
    opt_out_key: "9"
"""
AGENTS = [{"id": "1001", "extension": "1001", "queues": ["support"]}]


def windows_closed_for_asleep(now: datetime) -> str:
    """Calling windows open all day but for the 7 hours around ASLEEP's local time now (UTC+12):
    the UTC records are 12 hours from it, so open for the whole test, ASLEEP is outside."""
    closed = {(now.hour + 12 + k) % 24 for k in range(-3, 4)}
    hours = [h not in closed for h in range(24)] + [False]
    spans, start = [], None
    for h, open_ in enumerate(hours):
        if open_ and start is None:
            start = h
        elif not open_ and start is not None:
            spans.append((start, h))
            start = None
    days = "[mon, tue, wed, thu, fri, sat, sun]"
    return "[" + ", ".join(f'{{days: {days}, from: "{a:02}:00", to: "{b:02}:00"}}' for a, b in spans) + "]"


class AmiLog:
    """Every AMI event of the test instance, collected by a thread of its own."""

    def __init__(self, settings: Any) -> None:
        self.events: list[dict[str, str]] = []
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ami-log")

    def start(self) -> AmiLog:
        self._thread.start()
        assert self._ready.wait(15), "the test's AMI connection"
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        s = self._settings.asterisk
        manager = Manager(
            loop=self._loop,
            host="127.0.0.1",
            port=s.ami_port,
            username=s.ami_username,
            secret=s.ami_secret.get_secret_value(),
            ping_delay=3600,
        )
        manager.register_event("*", lambda _m, message: self.events.append(dict(message.items())))

        async def connect() -> None:
            await asyncio.wait_for(manager.connect(), 10)
            self._ready.set()

        self._loop.run_until_complete(connect())
        self._loop.run_forever()
        manager.close()
        self._loop.run_until_complete(asyncio.sleep(0))  # the transport's close callbacks
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def dial_ends(self, number: str) -> list[str]:
        """How each of Asterisk's dials of ``number`` ended (DialEnd's DialStatus), in order."""
        events = list(self.events)
        legs = [
            e["DestUniqueid"]
            for e in events
            if e.get("Event") == "DialBegin" and e.get("DialString", "").startswith(f"{number}@")
        ]
        ends = {e.get("DestUniqueid"): e.get("DialStatus", "") for e in events if e.get("Event") == "DialEnd"}
        return [ends.get(leg, "") for leg in legs]


def asterisk_log(asterisk: Any, since: int) -> str:
    return str(asterisk.read_log())[since:]


def log_time(line: str) -> float:
    """The time of an Asterisk log line (``[2026-12-04 16:56:30.753] ...``), in seconds."""
    stamp = re.match(r"\[(\d+-\d+-\d+ \d+:\d+:\d+\.\d+)\]", line)
    assert stamp is not None, line
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()


class Carrier:
    """The trunk's far end: answers ANSWERS, is busy for BUSY, and for LATE first pauses the agent
    (``before_late``), then answers."""

    def __init__(self, asterisk: Any, before_late: Any) -> None:
        self.phone = caller_phone(asterisk)
        self.phone.phone.callCallback = self._on_call
        self.invites: dict[str, str] = {}  # Call-ID -> the number called
        self.calls: dict[str, VoIPCall] = {}
        self._before_late = before_late

    def _on_call(self, call: VoIPCall) -> None:
        number = str(call.request.headers["To"]["number"])
        # By Call-ID: pyVoIP may hand a retransmitted INVITE over as a new call.
        self.invites[str(call.request.headers["Call-ID"])] = number
        if number == BUSY:
            # 486 Busy Here (pyVoIP's deny() sends it, then fails on RTP clients never started).
            sip = self.phone.phone
            sip.sip.out.sendto(sip.sip.gen_busy(call.request).encode("utf8"), (sip.server, sip.port))
            return
        if number == LATE:
            self._before_late()
        call.answer()
        self.calls[number] = call
        self.phone.audio_for(call).start()


def test_a_campaign_places_its_calls_through_asterisk(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    # The sandbox's root (and its prompts) is shared by every checkout on a development machine,
    # and one whose prompts.yaml lacks the campaign's message removes it: install ours again.
    asterisk.install_prompts()
    log_from = len(asterisk.read_log())
    flows = tmp_path / "flows"  # the shipped reminder flow, for the "appointments" campaign
    flows.mkdir()
    (flows / "reminder.yaml").write_text(REMINDER_FLOW.read_text())
    inside = "/var/lib/callcenter/prompts-e2e"
    ivr = {
        "flows_dir": str(flows),
        "entry_flow": "reminder",
        "prompts_dir": str(asterisk.host_path(inside)),
        "asterisk_prompts_dir": inside,
    }
    outbound = {"pace_seconds": 0.5, "poll_seconds": 0.5}
    server = server_factory(agents=AGENTS, outbound=outbound, ivr=ivr).start()
    ami = AmiLog(asterisk.settings).start()
    agent = agent_phone(asterisk, "1001").start()
    carrier = Carrier(asterisk, lambda: server.api("POST", "/api/agents/1001/pause", {"reason": "break"}))
    carrier.phone.start()
    try:
        wait_agent(server, "1001", "available")
        campaigns = CAMPAIGN.replace("{windows}", windows_closed_for_asleep(datetime.now(UTC)))
        assert server.api("POST", "/api/campaigns", {"yaml": campaigns})[0] == 200
        rows = "\n".join(f"{n},UTC,<i>Ann</i>" for n in (ANSWERS, BUSY, DNC, LATE))
        rows += f"\n{ASLEEP},{ASLEEP_ZONE},Bob"  # outside the window where the callee is
        status, body = server.api(
            "POST",
            "/api/campaigns/renewals/list",
            {"csv": f"number,timezone,name\n{rows}\n", "source": "t.csv"},
        )
        assert status == 200 and body["added"] == 5, body
        machines = {"csv": f"number,timezone\n{MACHINE},UTC\n", "source": "m.csv"}
        assert server.api("POST", "/api/campaigns/machines/list", machines)[1]["added"] == 1
        reminders = {"csv": f"number,timezone\n{OPTS_OUT},UTC\n", "source": "r.csv"}
        assert server.api("POST", "/api/campaigns/reminders/list", reminders)[1]["added"] == 1
        appointments = {"csv": f"number,timezone\n{CONFIRMS},UTC\n", "source": "a.csv"}
        assert server.api("POST", "/api/campaigns/appointments/list", appointments)[1]["added"] == 1
        assert server.api("POST", "/api/dnc", {"numbers": [DNC]})[0] == 200
        assert server.api("POST", "/api/campaigns/renewals/start")[0] == 200
        assert server.api("POST", "/api/campaigns/machines/start")[0] == 200
        assert server.api("POST", "/api/campaigns/reminders/start")[0] == 200
        assert server.api("POST", "/api/campaigns/appointments/start")[0] == 200

        # The agentless call: the person hears the campaign's message and presses 9 during it.
        wait_for(lambda: OPTS_OUT in carrier.calls, 30, "the reminder's answer")
        reminded = carrier.phone.audio_for(carrier.calls[OPTS_OUT])
        wait_for(lambda: level(reminded.heard_since(0)) > 3, 10, "the reminder's message heard")
        carrier.phone.press(reminded, "9")
        # The reminder flow's call: the person hears its menu and presses 1 (confirm).
        wait_for(lambda: CONFIRMS in carrier.calls, 30, "the appointment reminder's answer")
        confirming = carrier.phone.audio_for(carrier.calls[CONFIRMS])
        wait_for(lambda: level(confirming.heard_since(0)) > 3, 15, "the reminder flow's menu heard")
        carrier.phone.press(confirming, "1")

        # The first number answers: the engine rings the agent, who takes the call.
        wait_agent(server, "1001", "busy", timeout=30)
        assert agent.incoming, "the agent's phone rang"
        assert ami.dial_ends(ANSWERS) == ["ANSWER"]
        carrier.calls[ANSWERS].hangup()

        # The late one: answered right after the only agent paused. Asterisk plays the campaign's
        # message on that call, and the customer hears it.
        wait_for(lambda: LATE in carrier.calls, 30, "the late customer's answer")
        message = re.compile(
            r'Executing \[answered@cc-outbound:\d+\] Playback\("([^"]+)", "callcenter/outbound-no-agent"\)'
        )
        wait_for(lambda: message.search(asterisk_log(asterisk, log_from)), 15, "the campaign's message")
        heard_from = time.monotonic()
        audio = carrier.phone.audio_for(carrier.calls[LATE])
        wait_for(lambda: level(audio.heard_since(heard_from)) > 3, 10, "the message heard")
        server.api("POST", "/api/agents/1001/resume")

        def decided() -> list[dict[str, Any]] | None:
            _s, body = server.api("GET", "/api/campaigns/renewals/decisions?limit=100")
            found = body["decisions"]
            over = any(d["kind"] == "skip" and d["reason"] == "max_attempts" for d in found)
            return found if over else None

        # The busy number is tried again after its rule's delay, then no more (2 attempts): done
        # once its second attempt ended, and nothing else is due for an hour.
        decisions = server.wait_until(decided, 30, "the busy number's last decision")

        # The machine: AMD ran on the answered call, and the campaign's message was left for it.
        left = re.compile(
            r'Executing \[answered@cc-outbound:\d+\] Playback\("[^"]+", "callcenter/outbound-machine"\)'
        )
        wait_for(lambda: left.search(asterisk_log(asterisk, log_from)), 15, "the message left on the machine")

        # The opt-out: stored as the attempt's disposition, and the number is on the do-not-call list.
        def opted_out() -> dict[str, Any] | None:
            _s, body = server.api("GET", "/api/campaigns/reminders")
            return body["progress"] if body["progress"]["dispositions"] else None

        reminded_progress = server.wait_until(opted_out, 20, "the reminder's result")
        assert reminded_progress["dispositions"] == {"opt_out": 1}, reminded_progress
        assert reminded_progress["done"] == {"connected": 1}, reminded_progress
        assert server.api("POST", "/api/dnc", {"numbers": [OPTS_OUT]})[1]["already"] == 1

        # The flow's answer: its `disposition` variable, as the attempt's disposition.
        def confirmed() -> dict[str, Any] | None:
            _s, body = server.api("GET", "/api/campaigns/appointments")
            return body["progress"] if body["progress"]["dispositions"] else None

        appointment = server.wait_until(confirmed, 30, "the reminder flow's result")
        assert appointment["dispositions"] == {"confirmed": 1}, appointment
        assert server.api("POST", "/api/dnc", {"numbers": [CONFIRMS]})[1]["already"] == 0

        # Asterisk's own account: its log's dials and the AMI's dial results.
        text = asterisk_log(asterisk, log_from)
        called = re.findall(r"dial\.c: Called (\+\d+)@", text)
        # Never the do-not-call number, nor the one outside its window: not in the log, no AMI event.
        assert sorted(called) == sorted([ANSWERS, BUSY, BUSY, LATE, MACHINE, OPTS_OUT, CONFIRMS]), called
        assert DNC not in text and ASLEEP not in text
        assert not [e for e in ami.events if ASLEEP in str(e) or DNC in str(e)]
        # AMD ran once (on the campaign that asked for it) and heard a machine.
        assert text.count("app_amd.c: AMD: initialSilence") == 1 and text.count("ANSWERING MACHINE") == 1
        assert ami.dial_ends(BUSY) == ["BUSY", "BUSY"] and ami.dial_ends(DNC) == []
        assert ami.dial_ends(LATE) == ["ANSWER"]
        assert ami.dial_ends(OPTS_OUT) == ["ANSWER"] and ami.dial_ends(CONFIRMS) == ["ANSWER"]
        assert sorted(carrier.invites.values()) == sorted(
            [ANSWERS, BUSY, BUSY, LATE, MACHINE, OPTS_OUT, CONFIRMS]
        ), carrier.invites
        # The message came within the FastAGI round trip of the answer (a figure, not asserted).
        played = message.search(text)
        assert played is not None
        lines = text.splitlines()
        start = next(x for x in lines if "answered@cc-outbound:1]" in x and played.group(1) in x)
        playing = next(x for x in lines if played.group(0) in x)
        print(f"\nanswer -> campaign message: {log_time(playing) - log_time(start):.3f} s")

        # The server's side agrees: a decision per attempt, the do-not-call skip, the records.
        dialled = [d["data"]["number"] for d in decisions if d["kind"] == "dial"]
        assert sorted(dialled) == sorted([ANSWERS, BUSY, BUSY, LATE])
        skipped = {d["data"]["number"]: d["reason"] for d in decisions if d["kind"] == "skip"}
        assert skipped == {DNC: "dnc", BUSY: "max_attempts", ASLEEP: "outside_window"}, skipped
        # Decided once, stored with when its window opens (hours from now: due again then).
        [asleep] = [d for d in decisions if d["data"].get("number") == ASLEEP]
        assert asleep["kind"] == "skip" and asleep["data"]["until"] > time.time() + 3600, asleep
        _s, campaign = server.api("GET", "/api/campaigns/renewals")
        progress = campaign["progress"]
        assert progress["done"] == {"connected": 1, "dnc": 1, "max_attempts": 1}, progress
        # The abandoned one (due again after its rule's delay) and the one outside its window.
        assert progress["pending"] == 2, progress
        # The abandon counts in the window's ledger, answered by a person both times.
        assert (progress["window"]["answered"], progress["window"]["abandoned"]) == (2, 1), progress
        _s, machines_now = server.api("GET", "/api/campaigns/machines")
        assert machines_now["progress"]["outcomes"] == {"machine": 1}, machines_now["progress"]
        _s, calls = server.api("GET", "/api/interactions?limit=10")  # a machine is no contact
        outcomes = sorted((i["caller_number"], i["outcome"], i["agent_id"]) for i in calls["interactions"])
        assert outcomes == [(ANSWERS, "answered", "1001"), (LATE, "abandoned", None)], outcomes
        # The agent's card had the record and the script filled from it (the call's IVR data).
        [answered] = [i for i in calls["interactions"] if i["caller_number"] == ANSWERS]
        _s, record = server.api("GET", f"/api/interactions/{answered['id']}")
        [card] = [e["data"]["data"] for e in record["events"] if e["kind"] == "ivr_finished"]
        assert card["campaign"] == "renewals" and card["name"] == "<i>Ann</i>", card
        assert card["script"] == "Hello <i>Ann</i>, about your contract.", card
    finally:
        carrier.phone.stop()
        agent.stop()
        ami.stop()
