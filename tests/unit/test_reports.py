"""The pure report core (core/reports/): a worked example, roll-ups, and a property test of
random event logs against figures recomputed from the raw notices by another method."""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import notices as nt
from callcenter.core.calls.machine import CallHeld, CallResumed
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.core.reports.aggregate import IntervalRows, QueueSettings, compute
from callcenter.core.reports.intervals import Granularity, bucket, quarter, quarters
from callcenter.core.reports.rollup import Filters, agent_report, queue_report
from tests.report_logs import (
    QUEUES,
    T0,
    Log,
    expected_agent_seconds,
    expected_handled,
    expected_queue_counts,
    logs,
)

H10 = T0 + 10 * 3600  # 10:00


def _state(agent: str, at: float, state: str, reason: str = "") -> nt.AgentStateLogged:
    return nt.AgentStateLogged(nt.AGENT_LOG_PREFIX + agent, at, agent, state, reason)


def _example() -> list[nt.Notice]:
    return [
        # 10:14:50 in billing, answered 15 s later (within 20 s), held 30 s, ended 10:20, wrap-up 20 s.
        nt.Queued("c1", H10 + 890, "billing", "1", None, None),
        nt.Answered("c1", H10 + 905, "a1"),
        CallHeld("c1", H10 + 960, "a1"),
        CallResumed("c1", H10 + 990, "a1"),
        nt.Ended("c1", H10 + 1200, Outcome.ANSWERED, EndedBy.AGENT),
        nt.WrappedUp("c1", H10 + 1220, "a1", "sale", ""),
        # Two abandons at 10:05: after 3 s (short) and after 30 s.
        nt.Queued("c2", H10 + 300, "billing", "1", None, None),
        nt.Ended("c2", H10 + 303, Outcome.ABANDONED, EndedBy.CALLER),
        nt.Queued("c3", H10 + 360, "billing", "1", {"line:vip": 1}, "en"),
        nt.Ended("c3", H10 + 390, Outcome.ABANDONED, EndedBy.CALLER),
        _state("a1", H10, "available"),
        _state("a1", H10 + 898, "offered"),
        _state("a1", H10 + 905, "busy"),
        _state("a1", H10 + 1200, "wrap_up"),
        _state("a1", H10 + 1220, "available"),
        _state("a1", H10 + 2400, "paused", "lunch"),
        _state("a1", H10 + 3600, "logged_out"),
    ]


SETTINGS = {"billing": QueueSettings("money", 20.0, 5.0)}


def test_a_call_that_crosses_a_boundary_counts_where_it_entered_the_queue() -> None:
    rows = compute(_example(), H10, H10 + 7200, H10 + 7200, SETTINGS)
    money = [r for r in rows.queues if r.line == "money"]
    vip = [r for r in rows.queues if r.line == "vip"]
    assert [r.start for r in money] == [H10] and [r.start for r in vip] == [H10]
    m, v = money[0], vip[0]
    assert (m.offered, m.answered, m.answered_in_sl, m.abandoned, m.short_abandoned) == (2, 1, 1, 1, 1)
    assert (m.talk_seconds, m.hold_seconds, m.wrap_up_seconds) == (265.0, 30.0, 20.0)
    assert (m.answered_wait_seconds, m.wait_max) == (15.0, 15.0)
    assert (v.offered, v.abandoned, v.short_abandoned, v.wait_max) == (1, 1, 0, 30.0)


def test_agent_state_time_is_split_at_interval_boundaries() -> None:
    rows = compute(_example(), H10, H10 + 7200, H10 + 7200, SETTINGS)
    seconds = {(r.start - H10, r.state, r.reason): r.seconds for r in rows.agent_states}
    assert seconds[(0, "available", "")] == 898
    assert seconds[(0, "offered", "")] == 2 and seconds[(900, "offered", "")] == 5
    assert seconds[(900, "busy", "")] == 295
    assert seconds[(900, "wrap_up", "")] == 20
    assert seconds[(900, "available", "")] == 900 - 5 - 295 - 20
    assert seconds[(1800, "available", "")] == 600 and seconds[(1800, "paused", "lunch")] == 300
    assert seconds[(2700, "paused", "lunch")] == 900
    assert not any(k[0] >= 3600 for k in seconds)  # logged out: not working time
    assert sum(seconds.values()) == 3600
    contacts = [(r.start - H10, r.agent, r.channel, r.handled, r.talk_seconds) for r in rows.agent_contacts]
    assert contacts == [(900, "a1", "voice", 1, 265.0)]


def test_reports_roll_up_and_derive_ratios_from_sums() -> None:
    rows = compute(_example(), H10, H10 + 7200, H10 + 7200, SETTINGS)
    [hour] = queue_report(rows.queues, Granularity.HOUR)
    assert (hour.start, hour.group, hour.totals.offered) == (H10, "billing", 3)
    by_line = queue_report(rows.queues, Granularity.DAY, by="line")
    assert [(f.group, f.totals.offered) for f in by_line] == [("money", 2), ("vip", 1)]
    assert hour.service_level == 1 / (1 + 2 - 1)  # answered in SL / (answered + abandoned - short)
    assert hour.asa == 15.0 and hour.aht == 265 + 30 + 20
    assert (
        queue_report(rows.queues, Granularity.HOUR, Filters(lines=frozenset({"vip"})))[0].totals.offered == 1
    )
    [agent] = agent_report(rows.agent_states, rows.agent_contacts, Granularity.DAY)
    assert agent.logged_in == 3600 and agent.contacts == 1
    assert dict(agent.pauses) == {"lunch": 1200}
    assert agent.occupancy == (7 + 295 + 20) / (3600 - 1200)


def test_buckets_of_weeks_and_months() -> None:
    q = quarter(T0 + 40 * 86400 + 3 * 3600 + 1000)  # 2026-02-10 03:15
    assert bucket(q, Granularity.MONTH) == T0 + 31 * 86400  # 2026-02-01
    assert bucket(q, Granularity.WEEK) == T0 + 39 * 86400  # Monday 2026-02-09
    assert list(quarters(T0, T0 + 900)) == [T0] and list(quarters(T0 + 1, T0 + 901)) == [T0, T0 + 900]


def _merged(parts: list[IntervalRows]) -> IntervalRows:
    return IntervalRows(
        tuple(r for p in parts for r in p.queues),
        tuple(r for p in parts for r in p.agent_states),
        tuple(r for p in parts for r in p.agent_contacts),
    )


@settings(max_examples=150, deadline=None)
@given(log=logs(), cuts=st.lists(st.integers(1, 20), max_size=4))
def test_random_logs_add_up_to_the_raw_events(log: Log, cuts: list[int]) -> None:
    first = quarter(min((x.at for x in log.notices), default=T0))
    end = quarter(log.end) + 900
    rows = compute(log.notices, first, end, log.end, QUEUES)
    # Agents: second by second from the raw states.
    got = {r.key: r.seconds for r in rows.agent_states}
    assert got == expected_agent_seconds(log.notices, log.end)
    assert {r.key: r.handled for r in rows.agent_contacts} == expected_handled(log.notices)
    # Queues: per leg from the rows by kind.
    totals: dict[tuple[int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows.queues:
        for name in expected_fields:
            totals[(r.start, r.queue)][name] += getattr(r, name)
        assert r.line in {QUEUES[r.queue].line or r.queue, "vip"}
    want = expected_queue_counts(log.notices)
    assert set(totals) == set(want)
    for key, figures in want.items():
        for name in expected_fields:
            assert abs(totals[key][name] - figures.get(name, 0.0)) < 1e-6, (key, name)
    # The same rows, computed range by range (cut at interval boundaries, calls split by them).
    bounds = sorted({first, end, *(min(end, first + 900 * c * 3) for c in cuts)})
    parts = [compute(log.notices, a, b, log.end, QUEUES) for a, b in itertools.pairwise(bounds)]
    assert _merged(parts) == rows
    # Roll-ups keep the totals.
    for granularity in Granularity:
        report = queue_report(rows.queues, granularity)
        assert sum(f.totals.offered for f in report) == sum(r.offered for r in rows.queues)
        agents = agent_report(rows.agent_states, rows.agent_contacts, granularity)
        assert abs(sum(a.logged_in for a in agents) - sum(r.seconds for r in rows.agent_states)) < 1e-6


expected_fields = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "short_abandoned",
    "overflowed",
    "exited",
    "talk_seconds",
    "hold_seconds",
)


def test_csv_cells_are_never_spreadsheet_formulas() -> None:
    from callcenter.reports.query import to_csv

    text = to_csv(
        ["start", "queue", "offered"], [["2026-12-01T00:00Z", "=HYPERLINK(1)", -1], ["x", None, 2.5]]
    )
    assert text.splitlines() == ["start,queue,offered", "2026-12-01T00:00Z,'=HYPERLINK(1),-1", "x,,2.5"]
