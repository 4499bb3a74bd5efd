"""The dialler core, example by example: campaign states, windows, the guard's arithmetic, the
hopper's decisions and their reasons."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound import pacing, windows
from callcenter.core.outbound.campaign import (
    CallingWindow,
    Campaign,
    CampaignMove,
    CampaignState,
    IllegalCampaignMove,
    Mode,
    Outcome,
    RetryRule,
    fill_script,
    move,
)
from callcenter.core.outbound.pacing import AgentLoad, AgentView, Ledger, Stats

NY = ZoneInfo("America/New_York")
NINE_TO_NINE = (CallingWindow(time(9), time(21), frozenset(range(5))),)  # Monday to Friday
MONDAY_NOON_NY = datetime(2026, 12, 7, 12, 0, tzinfo=NY).timestamp()


def campaign(mode: Mode = Mode.PROGRESSIVE, **kw: object) -> Campaign:
    return Campaign("c", mode, "sales", kw.pop("windows", NINE_TO_NINE), **kw)  # type: ignore[arg-type]


def free(n: int, at: float = 0.0) -> tuple[AgentView, ...]:
    return tuple(AgentView(AgentLoad.FREE, at) for _ in range(n))


def running(
    c: Campaign, *records: dl.Record, at: float = MONDAY_NOON_NY, dnc: tuple[str, ...] = ()
) -> dl.Dialler:
    d = dl.Dialler(c, records=records, dnc=dnc)
    d.handle(dl.CampaignMoved(CampaignMove.START, at))
    return d


def of(kind: type, commands: list[dl.Command]) -> list:
    return [c for c in commands if isinstance(c, kind)]


def test_campaign_states_follow_the_table() -> None:
    assert move(CampaignState.DRAFT, CampaignMove.START) == CampaignState.RUNNING
    assert move(CampaignState.RUNNING, CampaignMove.PAUSE) == CampaignState.PAUSED
    assert move(CampaignState.PAUSED, CampaignMove.START) == CampaignState.RUNNING
    with pytest.raises(IllegalCampaignMove, match="cannot start a campaign that is stopped"):
        move(CampaignState.STOPPED, CampaignMove.START)
    d = dl.Dialler(campaign())
    with pytest.raises(IllegalCampaignMove):
        d.handle(dl.CampaignMoved(CampaignMove.PAUSE, 0.0))
    assert d.state == CampaignState.DRAFT  # unchanged


def test_windows_in_the_callees_time_and_across_a_dst_change() -> None:
    assert windows.is_open(NINE_TO_NINE, MONDAY_NOON_NY, NY)
    friday_night = datetime(2026, 12, 11, 21, 0, tzinfo=NY).timestamp()
    assert not windows.is_open(NINE_TO_NINE, friday_night, NY)
    assert (
        windows.next_opening(NINE_TO_NINE, friday_night, NY)
        == datetime(2026, 12, 14, 9, 0, tzinfo=NY).timestamp()
    )
    # The same instant is 18:00 in Shanghai on Monday: inside; in Sydney, 04:00 Tuesday: outside.
    assert windows.is_open(NINE_TO_NINE, MONDAY_NOON_NY - 7 * 3600, ZoneInfo("Asia/Shanghai"))
    assert not windows.is_open(NINE_TO_NINE, MONDAY_NOON_NY, ZoneInfo("Australia/Sydney"))
    # 02:30 does not exist in New York on 8 March 2026: a window starting then opens at 03:00.
    early = (CallingWindow(time(2, 30), time(5)),)
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=NY).timestamp()
    opening = windows.next_opening(early, saturday, NY)
    assert opening is not None and windows.is_open(early, opening, NY)
    assert datetime.fromtimestamp(opening, NY).hour == 3
    assert windows.next_opening((CallingWindow(time(9), time(9)),), saturday, NY) is None


def test_the_guard_allows_exposure_only_within_the_cap() -> None:
    assert pacing.budget(Ledger(0, 0, 0), 0.03) == 0
    assert pacing.budget(Ledger(0, 97, 0), 0.03) == 3  # 3 <= 0.03 * 100
    assert pacing.budget(Ledger(0, 96, 0), 0.03) == 2
    assert pacing.budget(Ledger(0, 200, 6), 0.03) == 0
    for answered in range(300):
        for abandoned in range(10):
            e = pacing.budget(Ledger(0, answered, abandoned), 0.03)
            assert e == 0 or abandoned + e <= 0.03 * (answered + e) + 1e-9
            assert abandoned + e + 1 > 0.03 * (answered + e + 1)  # the largest such exposure


def test_predictive_falls_back_to_progressive_without_budget() -> None:
    c = campaign(Mode.PREDICTIVE, min_samples=10)
    stats = Stats(attempts=100, contacts=25, talk_seconds=100.0, wrap_seconds=0.0, answer_seconds=8.0)
    p = pacing.pace(c, free(4), 0, 0, stats, pacing.budget(Ledger(0, 10, 1), 0.03), 0.0)
    assert (p.calls, p.reason) == (4, "abandon_cap")  # 1 > 0.03 * 10 already: one call per agent
    p = pacing.pace(c, free(4), 0, 0, stats, pacing.budget(Ledger(0, 1000, 0), 0.03), 0.0)
    assert (p.calls, p.reason) == (12, "predictive")  # 4 free / 25 % contact = 16, ratio cap 3
    warm = pacing.pace(c, free(4), 0, 0, Stats(5, 1, 100.0, 0.0, 8.0), 30, 0.0)
    assert (warm.calls, warm.reason) == (4, "warming_up")
    inbound_first = pacing.pace(campaign(), free(4), 3, 0, stats, 0, 0.0)
    assert inbound_first.calls == 1


def test_dnc_outside_window_and_due_records_each_get_a_decision() -> None:
    sydney = ZoneInfo("Australia/Sydney")
    d = running(
        campaign(),
        dl.Record(1, "+15550000001", NY),
        dl.Record(2, "+15550000002", NY),
        dl.Record(3, "+61255500003", sydney),
        dl.Record(4, "+15550000004", NY, due_at=MONDAY_NOON_NY + 3600),
        dnc=("+15550000001",),
    )
    out = d.handle(dl.Paced(free(3), 0, MONDAY_NOON_NY))
    skipped = {(s.record_id, s.reason) for s in of(dl.DialSkipped, out)}
    assert skipped == {(1, "dnc"), (3, "outside_window")}
    assert [(x.record_id, x.attempt, x.reason) for x in of(dl.DialDecided, out)] == [(2, 1, "progressive")]
    assert d.records[1].done == "dnc"
    until = next(s.until for s in of(dl.DialSkipped, out) if s.record_id == 3)
    assert until is not None and datetime.fromtimestamp(until, sydney).hour == 9
    assert of(dl.PacingDecided, out)[0].calls == 1


def test_retries_follow_the_rule_of_each_outcome_then_stop() -> None:
    rules = {Outcome.BUSY: RetryRule(60.0, 2), Outcome.NO_ANSWER: RetryRule(600.0, 5)}
    d = running(campaign(retries=rules, max_attempts=3), dl.Record(1, "+15550000001", NY))
    at = MONDAY_NOON_NY
    assert of(dl.DialDecided, d.handle(dl.Paced(free(1), 0, at)))
    d.handle(dl.AttemptEnded(1, Outcome.NO_ANSWER, at + 20))
    assert d.records[1].due_at == at + 620
    assert not of(dl.DialDecided, d.handle(dl.Paced(free(1), 0, at + 600)))
    assert of(dl.DialDecided, d.handle(dl.Paced(free(1), 0, at + 620)))[0].attempt == 2
    out = d.handle(dl.AttemptEnded(1, Outcome.BUSY, at + 625))
    assert [(s.reason, s.record_id) for s in of(dl.DialSkipped, out)] == [("max_attempts", 1)]
    assert d.records[1].done == "max_attempts" and d.records[1].last_outcome == Outcome.BUSY
    assert not of(dl.DialDecided, d.handle(dl.Paced(free(1), 0, at + 5000)))


def test_a_callback_is_due_when_the_person_asked() -> None:
    d = running(campaign(), dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(free(1), 0, MONDAY_NOON_NY))
    d.handle(dl.AttemptEnded(1, Outcome.CALLBACK, MONDAY_NOON_NY + 60, callback_at=MONDAY_NOON_NY + 7200))
    assert d.records[1].due_at == MONDAY_NOON_NY + 7200
    assert d.ledger == Ledger(0, 1, 0)  # a person answered


def test_a_call_counts_in_the_window_it_was_dialled_in() -> None:
    c = campaign(abandon_window=3600.0)
    d = running(c, dl.Record(1, "+15550000001", NY), dl.Record(2, "+15550000002", NY))
    d.handle(dl.Paced(free(1), 0, MONDAY_NOON_NY + 3590))
    out = d.handle(dl.AttemptEnded(1, Outcome.ABANDONED, MONDAY_NOON_NY + 3605))
    assert d.ledger == Ledger(1)  # the new window starts clean
    assert [x.ledger for x in of(dl.LedgerChanged, out)] == [Ledger(1), Ledger(0, 1, 1)]


def test_preview_shows_the_record_and_dials_on_the_agents_click() -> None:
    d = running(campaign(Mode.PREVIEW), dl.Record(1, "+15550000001", NY, fields={"name": "Ann"}))
    out = d.handle(dl.Paced(free(1), 0, MONDAY_NOON_NY))
    assert [(p.record_id, dict(p.fields)) for p in of(dl.PreviewOffered, out)] == [(1, {"name": "Ann"})]
    assert not of(dl.DialDecided, out)
    assert not of(dl.PreviewOffered, d.handle(dl.Paced(free(1), 0, MONDAY_NOON_NY + 1)))  # shown once
    d.handle(dl.DncAdded(frozenset({"+15550000001"}), MONDAY_NOON_NY + 5))
    out = d.handle(dl.PreviewAnswered(1, "1001", True, MONDAY_NOON_NY + 10))
    assert [s.reason for s in of(dl.DialSkipped, out)] == ["dnc"] and not of(dl.DialDecided, out)


def agents(*ids: str, at: float = 0.0, load: AgentLoad = AgentLoad.FREE) -> tuple[AgentView, ...]:
    return tuple(AgentView(load, at + n, agent_id) for n, agent_id in enumerate(ids))


def test_preview_cards_go_to_free_agents_and_only_that_agent_answers() -> None:
    c = campaign(Mode.PREVIEW, script="Hello {name}, about {contract} ({missing})")
    ann = dl.Record(1, "+15550000001", NY, fields={"name": "Ann", "contract": "C-7"})
    d = running(c, ann, dl.Record(2, "+15550000002", NY))
    out = d.handle(dl.Paced(agents("1001", "1002"), 0, MONDAY_NOON_NY))
    cards = of(dl.PreviewOffered, out)
    assert [(p.record_id, p.agent_id) for p in cards] == [(1, "1001"), (2, "1002")]  # longest free first
    assert cards[0].script == "Hello Ann, about C-7 ({missing})"
    # Each agent holds one card: nothing more while both are shown.
    assert not of(dl.PreviewOffered, d.handle(dl.Paced(agents("1001", "1002"), 0, MONDAY_NOON_NY + 1)))
    assert d.preview_agent(1) == "1001" and len(d.previews()) == 2
    # Another agent's answer changes nothing; the card's own agent's "Call" dials, for that agent.
    assert d.handle(dl.PreviewAnswered(1, "1002", True, MONDAY_NOON_NY + 2)) == []
    out = d.handle(dl.PreviewAnswered(1, "1001", True, MONDAY_NOON_NY + 3))
    [dial] = of(dl.DialDecided, out)
    assert (dial.record_id, dial.agent_id, dial.reason, dial.attempt) == (1, "1001", "preview", 1)
    assert dial.script == "Hello Ann, about C-7 ({missing})"
    # "Skip": the record passes (due again later), the agent is free for the next card.
    out = d.handle(dl.PreviewAnswered(2, "1002", False, MONDAY_NOON_NY + 4))
    assert [(s.record_id, s.reason) for s in of(dl.DialSkipped, out)] == [(2, "agent_passed")]
    assert d.previews() == [] and d.in_flight == 1


def test_a_preview_card_goes_back_when_its_agent_leaves() -> None:
    d = running(campaign(Mode.PREVIEW), dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY))
    out = d.handle(dl.Paced(agents("1002"), 0, MONDAY_NOON_NY + 5))  # 1001 paused: left the view
    assert [(w.record_id, w.agent_id, w.reason) for w in of(dl.PreviewWithdrawn, out)] == [
        (1, "1001", "agent_left")
    ]
    assert [(p.record_id, p.agent_id) for p in of(dl.PreviewOffered, out)] == [(1, "1002")]  # due at once
    assert d.handle(dl.PreviewAnswered(1, "1001", True, MONDAY_NOON_NY + 6)) == []  # too late
    out = d.handle(dl.CampaignMoved(CampaignMove.STOP, MONDAY_NOON_NY + 7))
    assert [w.reason for w in of(dl.PreviewWithdrawn, out)] == ["campaign_stopped"]


def test_a_preview_card_goes_back_when_a_call_takes_its_agent() -> None:
    d = running(campaign(Mode.PREVIEW), dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY))
    # An inbound call took 1001 while the card was on screen: dialling it now would reach no agent.
    busy = agents("1001", load=AgentLoad.BUSY) + agents("1002", at=1.0)
    out = d.handle(dl.Paced(busy, 0, MONDAY_NOON_NY + 5))
    assert [(w.record_id, w.agent_id, w.reason) for w in of(dl.PreviewWithdrawn, out)] == [
        (1, "1001", "agent_busy")
    ]
    assert [(p.record_id, p.agent_id) for p in of(dl.PreviewOffered, out)] == [(1, "1002")]  # at once
    assert d.handle(dl.PreviewAnswered(1, "1001", True, MONDAY_NOON_NY + 6)) == []  # its click: too late
    # In wrap-up, the same.
    out = d.handle(dl.Paced(agents("1002", load=AgentLoad.WRAP_UP), 0, MONDAY_NOON_NY + 7))
    assert [w.reason for w in of(dl.PreviewWithdrawn, out)] == ["agent_busy"]


def test_a_call_clicked_as_an_inbound_call_takes_the_agent_is_not_placed() -> None:
    d = running(campaign(Mode.PREVIEW), dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY))
    # "Call" clicked while the agent was free; by the time it is carried out an inbound call rings
    # for them: no call is placed for an agent who could not take it, the card goes back.
    out = d.handle(dl.PreviewAnswered(1, "1001", True, MONDAY_NOON_NY + 2, agent_free=False))
    assert not of(dl.DialDecided, out)
    assert [(w.record_id, w.agent_id, w.reason) for w in of(dl.PreviewWithdrawn, out)] == [
        (1, "1001", "agent_busy")
    ]
    assert d.previews() == [] and d.in_flight == 0
    [changed] = of(dl.RecordChanged, out)
    assert changed.record.due_at == MONDAY_NOON_NY + 2 and changed.record.attempts == 0  # due again at once
    # A "Skip" needs no free agent.
    d.handle(dl.Paced(agents("1002"), 0, MONDAY_NOON_NY + 3))
    out = d.handle(dl.PreviewAnswered(1, "1002", False, MONDAY_NOON_NY + 4, agent_free=False))
    assert [s.reason for s in of(dl.DialSkipped, out)] == ["agent_passed"]


def test_a_preview_card_left_unanswered_is_passed_after_preview_seconds() -> None:
    c = campaign(Mode.PREVIEW, preview_seconds=60.0)
    d = running(c, dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY))
    assert not of(dl.PreviewWithdrawn, d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY + 59)))
    out = d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY + 60))
    assert [(w.record_id, w.reason) for w in of(dl.PreviewWithdrawn, out)] == [(1, "timed_out")]
    # Passed as a skip: due again after the no-answer delay, not shown again at once.
    [changed] = of(dl.RecordChanged, out)
    assert changed.record.due_at == MONDAY_NOON_NY + 60 + c.retry(Outcome.NO_ANSWER).delay
    assert not of(dl.PreviewOffered, out) and d.previews() == [] and d.in_flight == 0
    # No limit: the card stays as long as its agent is free.
    d = running(campaign(Mode.PREVIEW, preview_seconds=0.0), dl.Record(1, "+15550000001", NY))
    d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY))
    assert not of(dl.PreviewWithdrawn, d.handle(dl.Paced(agents("1001"), 0, MONDAY_NOON_NY + 86_400)))
    assert d.preview_agent(1) == "1001"


def test_scripts_are_filled_as_plain_text() -> None:
    fields = {"name": "<b>Ann</b>", "n": "{name}"}
    assert fill_script("Hi {name}! {n} {0} {name.__class__} {{x}}", fields) == (
        "Hi <b>Ann</b>! {name} {0} {name.__class__} {{x}}"
    )  # values are not read again; no lookups; HTML stays text (the panel sets textContent)


def test_paused_and_stopped_campaigns_place_nothing() -> None:
    d = running(campaign(), dl.Record(1, "+15550000001", NY))
    d.handle(dl.CampaignMoved(CampaignMove.PAUSE, MONDAY_NOON_NY))
    assert d.handle(dl.Paced(free(2), 0, MONDAY_NOON_NY)) == []
    d.handle(dl.CampaignMoved(CampaignMove.STOP, MONDAY_NOON_NY))
    assert d.handle(dl.Paced(free(2), 0, MONDAY_NOON_NY)) == []
    assert d.origin == MONDAY_NOON_NY
