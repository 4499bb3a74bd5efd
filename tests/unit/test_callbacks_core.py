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


@settings(max_examples=300, deadline=None)
@given(
    chosen=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(ZONES)), min_size=1, max_size=6
    ),  # hours after START, zone
    mode=st.sampled_from([Mode.PROGRESSIVE, Mode.PREVIEW]),
    steps=st.lists(step, max_size=60),
)
def test_never_dialled_before_the_chosen_time_nor_once_cancelled(
    chosen: list[tuple[int, str]], mode: Mode, steps: list[tuple]
) -> None:
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
    for s in steps:
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
