"""Scheduled callbacks in the pure core: the dialler never dials a record before the time the
customer chose, follows a callback moved or cancelled (a newer revision) — after the call in
flight, if any — and the checks made before a callback is filed (core/outbound/callbacks.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.outbound import callbacks as cb
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import CallingWindow, Campaign, CampaignMove, Mode, Outcome
from callcenter.core.outbound.pacing import AgentLoad, AgentView

START = datetime(2026, 3, 9, 13, 0, tzinfo=UTC).timestamp()  # Monday, the day after the US's DST change
ZONES = ["UTC", "America/New_York", "Asia/Shanghai", "Australia/Sydney"]
WEEKDAYS = (CallingWindow(time(9), time(20), frozenset(range(5))),)

TICKS = [1.0, 60.0, 900.0, 1800.0, 3600.0, 14400.0]
step = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from(TICKS), st.integers(1, 3)),
    st.tuples(st.just("end"), st.integers(0, 20), st.sampled_from(list(Outcome))),
    # the customer asks again (a new time, hours from now) or cancels: a newer revision
    st.tuples(st.just("move"), st.integers(0, 5), st.integers(-2, 72)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
)
# With a step, maybe a move (hours from now) or a cancel (None) that lands within a poll of the
# step's first dial: the last look finds the record changed, and the call is not placed.
race = st.one_of(st.just(False), st.tuples(st.just(True), st.one_of(st.none(), st.integers(-2, 72))))


@settings(max_examples=300, deadline=None)
@given(
    chosen=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(ZONES)), min_size=1, max_size=6
    ),  # hours after START, zone
    mode=st.sampled_from([Mode.PROGRESSIVE, Mode.PREVIEW]),
    steps=st.lists(st.tuples(step, race), min_size=10, max_size=60),
)
def test_never_dialled_before_the_chosen_time_nor_once_cancelled(
    chosen: list[tuple[int, str]], mode: Mode, steps: list[tuple]
) -> None:
    """Also: a call the last look calls off is not counted (attempts as stored, out of flight),
    and the record as stored then takes over."""
    c = Campaign("cb", mode, "q", WEEKDAYS, callbacks=True)
    records = {
        i: dl.Record(i, f"+1555000{i:04d}", ZoneInfo(z), due_at=START + 3600.0 * h)
        for i, (h, z) in enumerate(chosen)
    }
    d = dl.Dialler(c, records=records.values())
    at = START
    d.handle(dl.CampaignMoved(CampaignMove.START, at))
    # What the customer asked last, as the dialler must apply it: at once, or when the call in
    # flight (or the preview card) is over.
    asked = {i: (r.due_at, False) for i, r in records.items()}
    waiting: dict[int, tuple[float, bool]] = {}
    revision = dict.fromkeys(records, 0)
    in_flight: set[int] = set()
    cards: dict[int, str] = {}
    for s, raced in steps:
        out: list[dl.Command] = []
        if s[0] == "tick":
            at += s[1]
            agents = tuple(AgentView(AgentLoad.FREE, at, f"a{n}") for n in range(s[2]))
            out = d.handle(dl.Paced(agents, 0, at))
        elif s[0] == "end" and (in_flight or cards):
            busy = sorted(in_flight | set(cards))
            rid = busy[s[1] % len(busy)]
            if rid in cards:
                out = d.handle(dl.PreviewAnswered(rid, cards.pop(rid), s[2] != Outcome.BUSY, at))
            else:
                in_flight.discard(rid)
                out = d.handle(dl.AttemptEnded(rid, s[2], at, callback_at=at + 7200.0))
            if rid in waiting and rid not in in_flight:
                asked[rid] = waiting.pop(rid)
        elif s[0] in ("move", "cancel") and s[1] < len(records):
            rid = s[1]
            revision[rid] += 1
            base = d.records[rid]
            if s[0] == "move":
                new = replace(base, due_at=at + 3600.0 * s[2], done=None, attempts=0, revision=revision[rid])
            else:
                new = replace(base, done="cancelled", revision=revision[rid])
            want = (new.due_at, new.done is not None)
            if rid in in_flight or rid in cards:
                waiting[rid] = want
            else:
                asked[rid] = want
            out = d.handle(dl.RecordsLoaded((new,), at))
        for command in out:
            if isinstance(command, dl.PreviewOffered):
                cards[command.record_id] = command.agent_id
            if isinstance(command, dl.PreviewWithdrawn):
                cards.pop(command.record_id, None)
                if command.record_id in waiting:
                    asked[command.record_id] = waiting.pop(command.record_id)
            if isinstance(command, dl.DialDecided | dl.PreviewOffered):
                due, cancelled = asked[command.record_id]
                assert not cancelled, command
                assert command.at >= due, (command, due)
                assert command.record_id not in in_flight
            if isinstance(command, dl.DialDecided):
                in_flight.add(command.record_id)
        dials = [c for c in out if isinstance(c, dl.DialDecided)]
        if raced and dials:
            # Moved or cancelled on another node after the decision, before the dial: the stored
            # row kept its attempts (the attempt's write was refused) and has a newer revision.
            rid, hours = dials[0].record_id, raced[1]
            revision[rid] += 1
            base = replace(d.records[rid], attempts=d.records[rid].attempts - 1, revision=revision[rid])
            if hours is None:
                stored = replace(base, done="cancelled")
            else:
                stored = replace(base, due_at=at + 3600.0 * hours, done=None, attempts=0)
            waiting.pop(rid, None)
            asked[rid] = (stored.due_at, stored.done is not None)
            flying = d.in_flight
            off = d.handle(dl.ChangedBeforeDial(rid, stored, at))
            assert [(type(c), getattr(c, "reason", None)) for c in off] == [
                (dl.DialSkipped, "changed_before_dial")
            ]
            in_flight.discard(rid)
            assert d.in_flight == flying - 1 and d.records[rid] == stored


def test_a_move_while_the_call_is_in_flight_applies_after_it() -> None:
    c = Campaign("cb", Mode.PROGRESSIVE, "q", (CallingWindow(time(0), time(23, 59)),), callbacks=True)
    r = dl.Record(1, "+15550001", ZoneInfo("UTC"), due_at=START)
    d = dl.Dialler(c, records=[r])
    d.handle(dl.CampaignMoved(CampaignMove.START, START))
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START),), 0, START))
    assert [type(x) for x in out if isinstance(x, dl.DialDecided)] == [dl.DialDecided]
    later = replace(r, due_at=START + 86400.0, revision=1)
    d.handle(dl.RecordsLoaded((later,), START + 5))
    assert d.records[1].attempts == 1  # the call's own record still
    out = d.handle(dl.AttemptEnded(1, Outcome.NO_ANSWER, START + 30))
    assert d.records[1] == later
    assert any(isinstance(x, dl.RecordChanged) and x.record == later for x in out)
    # an older revision read again later changes nothing
    d.handle(dl.RecordsLoaded((r,), START + 40))
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START + 3600),), 0, START + 3600))
    assert not [x for x in out if isinstance(x, dl.DialDecided)]


ALL_DAY = (CallingWindow(time(0), time(23, 59)),)


def _dialled(mode: Mode = Mode.PROGRESSIVE, records: int = 1) -> tuple[dl.Dialler, list[dl.Command]]:
    """A callbacks campaign with ``records`` records due now, one free agent, the first decided."""
    c = Campaign("cb", mode, "q", ALL_DAY, callbacks=True)
    rs = [dl.Record(i, f"+1555000{i:04d}", ZoneInfo("UTC"), due_at=START) for i in range(1, records + 1)]
    d = dl.Dialler(c, records=rs)
    d.handle(dl.CampaignMoved(CampaignMove.START, START))
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START, "a1"),), 0, START))
    if mode == Mode.PREVIEW:
        out = d.handle(dl.PreviewAnswered(1, "a1", True, START + 5))
    assert [(x.record_id, x.attempt) for x in out if isinstance(x, dl.DialDecided)] == [(1, 1)]
    return d, out


@pytest.mark.parametrize("mode", [Mode.PROGRESSIVE, Mode.PREVIEW])
def test_a_cancel_found_at_the_last_look_calls_nothing_and_counts_nothing(mode: Mode) -> None:
    d, _ = _dialled(mode)
    stored = dl.Record(1, "+15550000001", ZoneInfo("UTC"), due_at=START, done="cancelled", revision=1)
    out = d.handle(dl.ChangedBeforeDial(1, stored, START + 6))
    assert out == [dl.DialSkipped("cb", 1, "+15550000001", "changed_before_dial", START + 6)]
    assert d.in_flight == 0 and d.records[1] == stored and d.records[1].attempts == 0
    assert d.stats().attempts == 0 and d.ledger.answered == 0  # no attempt, no answer counted
    # Never called again, nor shown.
    later = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START, "a1"),), 0, START + 3600))
    assert not [x for x in later if isinstance(x, dl.DialDecided | dl.PreviewOffered)]
    # A second report of the same call changes nothing.
    assert d.handle(dl.ChangedBeforeDial(1, stored, START + 7)) == []


def test_a_move_found_at_the_last_look_is_called_at_the_new_time_as_a_first_attempt() -> None:
    d, _ = _dialled(records=2)
    moved = dl.Record(1, "+15550000001", ZoneInfo("UTC"), due_at=START + 7200, revision=1)
    d.handle(dl.ChangedBeforeDial(1, moved, START + 1))
    # Out of flight at once: the one free agent gets the other record, not the moved one.
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START, "a1"),), 0, START + 2))
    assert [x.record_id for x in out if isinstance(x, dl.DialDecided)] == [2]
    d.handle(dl.AttemptEnded(2, Outcome.CONNECTED, START + 60))
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START, "a1"),), 0, START + 7199))
    assert not [x for x in out if isinstance(x, dl.DialDecided)]
    out = d.handle(dl.Paced((AgentView(AgentLoad.FREE, START, "a1"),), 0, START + 7200))
    assert [(x.record_id, x.attempt) for x in out if isinstance(x, dl.DialDecided)] == [(1, 1)]


def test_the_last_look_takes_the_newest_of_the_row_and_what_a_poll_read_meanwhile() -> None:
    d, _ = _dialled()
    r = d.records[1]
    polled = replace(r, attempts=0, due_at=START + 600, revision=2)
    d.handle(dl.RecordsLoaded((polled,), START + 1))  # in flight: kept for the call's end
    older = replace(r, attempts=0, due_at=START + 300, revision=1)
    d.handle(dl.ChangedBeforeDial(1, older, START + 2))
    assert d.records[1] == polled
    # Done elsewhere, the same revision: taken as stored; a row gone: the record is forgotten.
    d2, _ = _dialled()
    done = replace(d2.records[1], attempts=0, done="connected")
    d2.handle(dl.ChangedBeforeDial(1, done, START + 2))
    assert d2.records[1] == done and d2.in_flight == 0
    d3, _ = _dialled()
    d3.handle(dl.ChangedBeforeDial(1, None, START + 2))
    assert 1 not in d3.records and d3.in_flight == 0


NY = ZoneInfo("America/New_York")


def _ny(*args: int) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


NOW = _ny(2026, 12, 4, 15, 0)  # a Friday, 3 pm in New York


def test_checks_accept_an_open_time() -> None:
    cb.check(WEEKDAYS, _ny(2026, 12, 7, 10, 0), NOW, NY, on_dnc=False, max_ahead=30 * 86400.0)


@pytest.mark.parametrize(
    ("at", "on_dnc", "reason", "words"),
    [
        (_ny(2026, 12, 7, 10, 0), True, cb.Refusal.DNC, "do-not-call"),
        (_ny(2026, 12, 4, 14, 0), False, cb.Refusal.PAST, "2026-12-04T14:00-05:00 is in the past"),
        (_ny(2027, 2, 1, 10, 0), False, cb.Refusal.TOO_FAR, "more than 30 days ahead"),
        # Saturday morning: the next opening is Monday 9:00, said in the customer's time
        (
            _ny(2026, 12, 5, 10, 0),
            False,
            cb.Refusal.OUTSIDE_WINDOW,
            "the next opening is 2026-12-07T09:00-05:00",
        ),
    ],
)
def test_checks_refuse_with_the_reason(at: float, on_dnc: bool, reason: cb.Refusal, words: str) -> None:
    with pytest.raises(cb.CallbackRefused) as err:
        cb.check(WEEKDAYS, at, NOW, NY, on_dnc=on_dnc, max_ahead=30 * 86400.0)
    assert err.value.reason == reason
    assert words in str(err.value)
    if reason == cb.Refusal.OUTSIDE_WINDOW:
        assert err.value.opening == _ny(2026, 12, 7, 9, 0)


def test_no_window_within_the_horizon() -> None:
    with pytest.raises(cb.CallbackRefused) as err:
        cb.check(WEEKDAYS, _ny(2026, 12, 5, 10, 0), NOW, NY, on_dnc=False, max_ahead=86400.0 * 1.2)
    assert err.value.reason == cb.Refusal.NO_WINDOW
