"""Random event logs for the report tests, with what they should add up to.

A hypothesis strategy draws calls (queue, arrival, fate: abandoned, exited, overflowed then
answered or abandoned, answered with holds, a blind transfer to another queue, a wrap-up) and
agents' state timelines, and writes them as the notices the engine logs. Times are whole seconds.
``expected`` recomputes the report rows straight from the notices by a deliberately different
method (one pass over each interaction's rows by kind, agent states sampled second by second),
so a bug in ``core/reports/aggregate.py`` does not hide in a shared helper.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import strategies as st

from callcenter.core import notices as nt
from callcenter.core.calls.machine import CallHeld, CallResumed
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.core.reports.aggregate import QueueSettings

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, a multiple of 15 minutes
QUEUES = {
    "billing": QueueSettings("money", 20.0, 5.0),
    "support": QueueSettings(None, 30.0, 10.0),
    "sales": QueueSettings(None, 15.0, 0.0),
}
AGENTS = ("a1", "a2", "a3")
CHANNELS = ("voice", "webchat")


@dataclass(frozen=True)
class Log:
    notices: tuple[nt.Notice, ...]
    end: int  # every event is before this time


@st.composite
def _call(draw: st.DrawFn, n: int) -> list[nt.Notice]:
    iid = f"c{n}"
    t = T0 + draw(st.integers(0, 3 * 3600))
    queue = draw(st.sampled_from(sorted(QUEUES)))
    channel = draw(st.sampled_from(CHANNELS))
    line_skill = draw(st.sampled_from([None, "line:vip"]))
    skills = {line_skill: 1} if line_skill else None
    out: list[nt.Notice] = [nt.Arrived(iid, t - 3, "555")]
    if channel == "voice":
        out.append(nt.Queued(iid, t, queue, "1", skills, None if skills is None else "en"))
    else:
        out.append(nt.ConversationQueued(iid, t, queue, channel, "cust", "conv", skills, None))
    if draw(st.booleans()):
        out.append(nt.CallbackRequested(iid, t + 1, "555"))
    if draw(st.integers(0, 4)) == 0:  # overflow to another queue
        t += draw(st.integers(1, 200))
        to = draw(st.sampled_from([q for q in sorted(QUEUES) if q != queue]))
        out.append(nt.Overflowed(iid, t, queue, "queue", 0.0, to))
    fate = draw(st.sampled_from(["abandoned", "exited", "answered", "answered", "answered"]))
    t += draw(st.integers(0, 120))
    if fate != "answered":
        outcome = Outcome.ABANDONED if fate == "abandoned" else Outcome.EXITED
        out.append(nt.Ended(iid, t, outcome, EndedBy.CALLER))
        return out
    agent = draw(st.sampled_from(AGENTS))
    out.append(nt.Offered(iid, t, agent, "longest idle"))
    answer = nt.CallbackConnected if draw(st.integers(0, 5)) == 0 else nt.Answered
    out.append(answer(iid, t, agent))
    for _ in range(draw(st.integers(0, 2))):
        t += draw(st.integers(1, 300))
        out.append(CallHeld(iid, t, agent))
        t += draw(st.integers(0, 200))
        out.append(CallResumed(iid, t, agent))
    t += draw(st.integers(0, 900))
    if draw(st.integers(0, 4)) == 0:  # a blind transfer to a queue, answered there
        t += 1
        to = draw(st.sampled_from(sorted(QUEUES)))
        out.append(nt.Transferred(iid, t, agent, None, to))
        out.append(nt.WrappedUp(iid, t + draw(st.integers(0, 60)), agent, "moved", ""))
        agent = draw(st.sampled_from(AGENTS))
        t += draw(st.integers(0, 60))
        out.append(nt.Answered(iid, t, agent))
        t += draw(st.integers(0, 600))
    out.append(nt.Ended(iid, t, Outcome.ANSWERED, EndedBy.AGENT))
    if draw(st.booleans()):
        out.append(nt.WrappedUp(iid, t + draw(st.integers(0, 120)), agent, "done", ""))
    return out


@st.composite
def _agent(draw: st.DrawFn, agent: str) -> list[nt.Notice]:
    t = T0 + draw(st.integers(-1800, 3600))
    out: list[nt.Notice] = []
    for _ in range(draw(st.integers(0, 12))):
        state = draw(st.sampled_from(["available", "offered", "busy", "wrap_up", "paused", "logged_out"]))
        reason = draw(st.sampled_from(["", "lunch", "training"])) if state == "paused" else ""
        out.append(nt.AgentStateLogged(nt.AGENT_LOG_PREFIX + agent, t, agent, state, reason))
        t += draw(st.integers(1, 2400))
    return out


@st.composite
def logs(draw: st.DrawFn) -> Log:
    notices: list[nt.Notice] = []
    for n in range(draw(st.integers(0, 12))):
        notices.extend(draw(_call(n)))
    for agent in AGENTS:
        notices.extend(draw(_agent(agent)))
    # Interleave interactions the way a log does: by time (stable: each one's own order kept).
    notices.sort(key=lambda x: x.at)
    end = int(max((x.at for x in notices), default=T0)) + 1
    return Log(tuple(notices), end)


def _q(t: float) -> int:
    return int(t // 900) * 900


def expected_agent_seconds(
    notices: tuple[nt.Notice, ...], until: int
) -> dict[tuple[int, str, str, str], float]:
    """Second by second: which state each agent is in during each whole second before ``until``."""
    per_agent: dict[str, list[nt.AgentStateLogged]] = defaultdict(list)
    for x in notices:
        if isinstance(x, nt.AgentStateLogged):
            per_agent[x.agent].append(x)
    out: dict[tuple[int, str, str, str], float] = defaultdict(float)
    for agent, states in per_agent.items():
        n = 0
        for second in range(int(states[0].at), until):
            while n + 1 < len(states) and states[n + 1].at <= second:
                n += 1
            state = states[n]
            if state.state != "logged_out":
                reason = state.reason if state.state == "paused" else ""
                out[(_q(second), agent, state.state, reason)] += 1.0
    return dict(out)


def expected_handled(notices: tuple[nt.Notice, ...]) -> dict[tuple[int, str, str], int]:
    """Contacts answered per (interval of the answer, agent, channel)."""
    channel: dict[str, str] = {}
    out: dict[tuple[int, str, str], int] = defaultdict(int)
    for x in notices:
        if isinstance(x, nt.ConversationQueued):
            channel[x.interaction_id] = x.channel
        if isinstance(x, nt.Answered | nt.CallbackConnected):
            out[(_q(x.at), x.agent, channel.get(x.interaction_id, "voice"))] += 1
    return dict(out)


def expected_queue_counts(notices: tuple[nt.Notice, ...]) -> dict[tuple[int, str], dict[str, float]]:
    """Per (interval a leg began, queue): offered, answered, abandoned, short abandons, overflowed,
    exited, answered within the SL threshold, talk and hold — from the rows, by kind."""
    by_id: dict[str, list[nt.Notice]] = defaultdict(list)
    for x in notices:
        if not x.interaction_id.startswith(nt.AGENT_LOG_PREFIX):
            by_id[x.interaction_id].append(x)
    out: dict[tuple[int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for rows in by_id.values():
        starts = [
            (x.at, x.queue if isinstance(x, nt.Queued | nt.ConversationQueued) else x.to)
            for x in rows
            if isinstance(x, nt.Queued | nt.ConversationQueued | nt.Overflowed)
        ] + [(x.at, x.to_queue) for x in rows if isinstance(x, nt.Transferred)]
        starts.sort()
        answers = [x.at for x in rows if isinstance(x, nt.Answered | nt.CallbackConnected)]
        end = next(x for x in rows if isinstance(x, nt.Ended))
        holds = [x.at for x in rows if isinstance(x, CallHeld)]
        resumes = [x.at for x in rows if isinstance(x, CallResumed)]
        for n, (start, queue) in enumerate(starts):
            leave = starts[n + 1][0] if n + 1 < len(starts) else end.at
            figures = out[(_q(start), queue)]
            figures["offered"] += 1
            answer = next(
                (a for a in answers if start <= a <= leave and (n + 1 == len(starts) or a < leave)), None
            )
            if answer is None:
                wait = leave - start
                if n + 1 < len(starts):
                    figures["overflowed"] += 1
                elif end.outcome is Outcome.ABANDONED:
                    figures["abandoned"] += 1
                    figures["short_abandoned"] += wait < QUEUES[queue].short_abandon_seconds
                elif end.outcome is Outcome.EXITED:
                    figures["exited"] += 1
                continue
            figures["answered"] += 1
            figures["answered_in_sl"] += answer - start <= QUEUES[queue].service_level_seconds
            hold = sum(r - h for h, r in zip(holds, resumes, strict=True) if answer <= h and r <= leave)
            figures["hold_seconds"] += hold
            figures["talk_seconds"] += leave - answer - hold
    return {k: dict(v) for k, v in out.items()}
