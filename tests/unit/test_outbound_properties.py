"""Property tests of the dialler with a simulated clock: a do-not-call number is never dialled, no
call is placed outside the callee's window, attempts never exceed the rules, and the abandonment
rate of every window stays under the cap."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import (
    CallingWindow,
    Campaign,
    CampaignMove,
    Mode,
    Outcome,
    RetryRule,
)
from callcenter.core.outbound.pacing import AgentLoad, AgentView
from callcenter.outbound.simulation import simulate

ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Shanghai", "Australia/Sydney", "America/Phoenix"]
NUMBERS = [f"+1555000{n:04d}" for n in range(6)]
START = datetime(2026, 3, 7, 12, 0, tzinfo=UTC).timestamp()  # a DST weekend is near

window = st.builds(
    lambda start, hours, days: CallingWindow(time(start), time(min(23, start + hours), 59), frozenset(days)),
    st.integers(0, 22),
    st.integers(0, 12),
    st.sets(st.integers(0, 6), min_size=1),
)
rule = st.builds(RetryRule, st.sampled_from([0.0, 60.0, 1800.0, 7200.0]), st.integers(0, 5))
step = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from([1.0, 30.0, 900.0, 3600.0, 5 * 3600.0]), st.integers(0, 3)),
    st.tuples(st.just("end"), st.integers(0, 50), st.sampled_from(list(Outcome)), st.integers(0, 48)),
    st.tuples(st.just("dnc"), st.sampled_from(NUMBERS)),
)


def _open(c: Campaign, at: float, zone: str) -> bool:
    """The window, computed here from the zone's offset at that instant (not the dialler's code)."""
    tz = ZoneInfo(zone)
    local = tz.fromutc(datetime.fromtimestamp(at, UTC).replace(tzinfo=tz)).replace(tzinfo=None)
    return any(local.weekday() in w.days and w.start <= local.time() < w.end for w in c.windows)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.tuples(st.sampled_from(NUMBERS), st.sampled_from(ZONES)), min_size=1, max_size=8),
    windows=st.lists(window, min_size=1, max_size=2),
    retries=st.dictionaries(st.sampled_from(list(Outcome)), rule),
    max_attempts=st.integers(1, 4),
    mode=st.sampled_from([Mode.PROGRESSIVE, Mode.PREDICTIVE, Mode.AGENTLESS]),
    early_dnc=st.sets(st.sampled_from(NUMBERS), max_size=2),
    steps=st.lists(step, max_size=60),
)
def test_no_dnc_no_call_outside_its_window_no_extra_attempt(
    records: list[tuple[str, str]],
    windows: list[CallingWindow],
    retries: dict[Outcome, RetryRule],
    max_attempts: int,
    mode: Mode,
    early_dnc: set[str],
    steps: list[tuple],
) -> None:
    c = Campaign("c", mode, "q", tuple(windows), retries, max_attempts, min_samples=1, agentless_lines=2)
    zones = {i: z for i, (_, z) in enumerate(records)}
    d = dl.Dialler(
        c,
        records=[dl.Record(i, n, ZoneInfo(z), due_at=START) for i, (n, z) in enumerate(records)],
        dnc=early_dnc,
    )
    dnc = set(early_dnc)
    at = START
    d.handle(dl.CampaignMoved(CampaignMove.START, at))
    dialled: dict[int, int] = {}
    last: dict[int, Outcome] = {}
    in_flight: list[int] = []
    for s in steps:
        if s[0] == "tick":
            at += s[1]
            agents = tuple(AgentView(AgentLoad.FREE, at) for _ in range(s[2]))
            out = d.handle(dl.Paced(agents, 0, at))
        elif s[0] == "end":
            if not in_flight:
                continue
            rid = in_flight.pop(s[1] % len(in_flight))
            last[rid] = s[2]
            callback_at = at + 3600.0 * s[3] if s[2] == Outcome.CALLBACK else None
            out = d.handle(dl.AttemptEnded(rid, s[2], at, callback_at=callback_at))
        else:
            dnc.add(s[1])
            out = d.handle(dl.DncAdded(frozenset({s[1]}), at))
        for command in out:
            if not isinstance(command, dl.DialDecided):
                continue
            assert command.number not in dnc
            assert _open(c, command.at, zones[command.record_id]), (command, zones[command.record_id])
            dialled[command.record_id] = dialled.get(command.record_id, 0) + 1
            assert command.attempt == dialled[command.record_id] <= max_attempts
            if command.record_id in last:
                assert command.attempt <= c.retry(last[command.record_id]).max_attempts
            assert command.record_id not in in_flight  # one call at a time per record
            in_flight.append(command.record_id)


@settings(max_examples=25, deadline=None)
@given(
    agents=st.integers(1, 12),
    contact_rate=st.floats(0.05, 0.95),
    talk=st.floats(20.0, 400.0),
    wrap=st.sampled_from([0.0, 5.0, 30.0]),
    window=st.sampled_from([300.0, 900.0, 3600.0]),
    cap=st.sampled_from([0.01, 0.03]),
    seed=st.integers(0, 2**32),
)
def test_abandonment_stays_under_the_cap_in_every_window(
    agents: int, contact_rate: float, talk: float, wrap: float, window: float, cap: float, seed: int
) -> None:
    c = Campaign(
        "p",
        Mode.PREDICTIVE,
        "q",
        (CallingWindow(time(0), time(23, 59, 59)),),
        abandon_cap=cap,
        abandon_window=window,
        min_samples=5,
        max_ratio=5.0,
    )
    result = simulate(
        c,
        agents=agents,
        seconds=2400,
        contact_rate=contact_rate,
        talk_seconds=talk,
        wrap_seconds=wrap,
        records=3000,
        seed=seed,
    )
    # After every answered call, in the window it counts in: abandoned <= cap * answered.
    assert result.worst_rate <= cap + 1e-12, result
    assert result.dialled > 0


def test_predictive_dials_ahead_and_raises_talk_time() -> None:
    """Not vacuous: with enough answered calls, predictive places calls beyond the free agents,
    and the agents talk more than with progressive pacing on the same customers."""
    windows = (CallingWindow(time(0), time(23, 59, 59)),)
    results = {}
    for mode in (Mode.PROGRESSIVE, Mode.PREDICTIVE):
        c = Campaign("p", mode, "q", windows, abandon_window=86400.0)
        results[mode] = simulate(
            c,
            agents=20,
            seconds=3 * 3600,
            contact_rate=0.3,
            talk_seconds=120.0,
            wrap_seconds=10.0,
            records=20000,
            seed=7,
        )
    predictive, progressive = results[Mode.PREDICTIVE], results[Mode.PROGRESSIVE]
    assert predictive.reasons["predictive"] + predictive.reasons["abandon_cap"] > 0
    assert sum(predictive.talk_per_hour) > sum(progressive.talk_per_hour)
    assert progressive.abandoned_per_period.total() == 0
    assert predictive.worst_rate <= 0.03
