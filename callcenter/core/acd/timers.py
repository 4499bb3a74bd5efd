"""The engine's timers: one heap of (when, kind, key), fired by the time every event carries.

Kinds: ``wrap`` (an agent's wrap-up ends; key: the agent), and per interaction: ``step`` (the next
overflow step widens its targets), ``exit`` (the queue's maximum wait), ``announce`` (position and
estimated wait), ``due`` (a callback's retry), ``offer`` (a conversation's offer times out),
``prefer`` (sticky or transfer-to-agent window over), ``skip`` (a decline window over). A timer is
never cancelled: when it fires it checks that what it was set for still holds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd import messaging as acd_messaging
from callcenter.core.acd import queues as qs
from callcenter.core.acd import voice as acd_voice
from callcenter.core.acd.agents import AgentState, Move
from callcenter.core.commands import Announce, CancelDial, Command, ExitQueue, SaveInteraction
from callcenter.core.interaction import EndedBy, Interaction, Outcome

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()

    def push(self, when: float, kind: str, key: str) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), kind, key))

    def next_at(self) -> float | None:
        """When the earliest timer is due (it may find nothing left to do); None: no timer."""
        return self._heap[0][0] if self._heap else None

    def due(self, at: float) -> Iterator[tuple[float, str, str]]:
        """Pop the timers due by ``at``, in order (including those pushed while iterating)."""
        while self._heap and self._heap[0][0] <= at:
            when, _, kind, key = heapq.heappop(self._heap)
            yield when, kind, key


def run(acd: Acd, at: float, out: list[Command]) -> None:
    for when, kind, key in acd._timers.due(at):
        if kind == "wrap":
            _wrap_over(acd, key, at, out)
            continue
        i = acd._live.get(key)
        if i is not None:
            _fire(acd, kind, i, when, at, out)


def _wrap_over(acd: Acd, agent_id: str, at: float, out: list[Command]) -> None:
    agent = acd._roster.agents[agent_id]
    if agent.state == AgentState.WRAP_UP and agent.wrap_up_until is not None:
        if at >= agent.wrap_up_until:
            acd._move(agent, Move.WRAP_DONE, at, out, wrap_up_until=None)


def _fire(acd: Acd, kind: str, i: Interaction, when: float, at: float, out: list[Command]) -> None:
    if kind == "offer":
        if acd._chat_due.get(i.id) == when and i.offered_to is not None:
            pause = acd.config.pause_on_offer_timeout
            acd_messaging.offer_failed(acd, i, i.offered_to, "offer timed out", at, out, pause=pause)
        return
    if kind == "skip":
        skipped = acd._declined.get(i.id, {})
        for agent_id, until in list(skipped.items()):
            if until <= at:
                del skipped[agent_id]
        if not skipped:
            acd._declined.pop(i.id, None)
    if kind == "due":
        if i.callback_due_at is not None and at >= i.callback_due_at and i.offered_to is None:
            i = i.with_(callback_due_at=None)
            acd._live[i.id] = i
            acd._enqueue(i, at)
            out.append(SaveInteraction(i))
        return
    if i.id not in acd._lines.waiting:
        return  # offered meanwhile: re-enqueueing schedules again
    if kind == "step":
        acd._retarget(i, at)
        schedule(acd, i, at)
    elif kind in ("prefer", "skip"):
        acd._retarget(i, at)
    elif kind == "exit":
        max_wait(acd, i, at, out)
    elif kind == "announce" and acd._announce_at.get(i.id) == when:
        _announce(acd, i, at, out)


def _announce(acd: Acd, i: Interaction, at: float, out: list[Command]) -> None:
    q = acd.queue(i.queue or "")
    if not i.is_callback and i.caller_channel is not None:
        position = acd.position(i.id) or 1
        wait = acd.estimated_wait(q.name, position)
        out.append(Announce(i.id, i.caller_channel, position, wait))
    if q.announce_every:
        acd._announce_at[i.id] = at + q.announce_every
        acd._timers.push(at + q.announce_every, "announce", i.id)


def schedule(acd: Acd, i: Interaction, at: float) -> None:
    """The waiting interaction's next overflow step and its maximum wait."""
    assert i.queue is not None and i.queued_at is not None
    q = acd.queue(i.queue)
    step_at = qs.next_step_at(q, i.queued_at, acd._lines.steps[i.id])
    if step_at is not None:
        acd._timers.push(max(step_at, at), "step", i.id)
    if q.max_wait is not None and q.exit is not None:
        acd._timers.push(max(i.queued_at + q.max_wait, at), "exit", i.id)


def max_wait(acd: Acd, i: Interaction, at: float, out: list[Command]) -> None:
    """The queue's maximum wait is reached: the exit (voicemail, callback, another queue)."""
    q = acd.queue(i.queue or "")
    if q.max_wait is None or q.exit is None or i.queued_at is None or i.is_callback:
        return
    if at < i.queued_at + q.max_wait:
        return
    channel = i.caller_channel or ""
    exit_kind, wait = q.exit.kind.value, at - i.queued_at
    if i.is_messaging and q.exit.kind != qs.ExitKind.QUEUE:
        # No voicemail and no callback for a conversation: it keeps its place.
        out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait, kept="no such exit for messaging"))
        return
    if q.exit.kind == qs.ExitKind.VOICEMAIL:
        out.append(ExitQueue(i.id, channel, q.exit.kind.value))
        out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait))
        acd._end(i, Outcome.EXITED, EndedBy.SYSTEM, at, "maximum wait: voicemail", out)
    elif q.exit.kind == qs.ExitKind.CALLBACK and not i.caller_number:
        # No number to call back (withheld): the caller stays in line rather than be dropped.
        out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait, kept="no number to call back"))
    elif q.exit.kind == qs.ExitKind.CALLBACK:
        out.append(ExitQueue(i.id, channel, q.exit.kind.value))
        out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait))
        acd_voice.callback_requested(acd, ev.CallbackRequested(i.id, i.caller_number, at), out)
    elif q.exit.target is not None and q.exit.target != q.name and i.overflowed_from is None:
        _overflow(acd, i, q, q.exit.target, at, out)


def _overflow(acd: Acd, i: Interaction, q: qs.Queue, target: str, at: float, out: list[Command]) -> None:
    # One move per caller: two queues exiting into each other must not ping-pong.
    assert q.exit is not None and i.queued_at is not None
    acd._dequeue(i.id)
    acd._counters(q.name).overflowed += 1
    acd._counters(target).entered += 1
    wait = at - i.queued_at
    i = i.with_(queue=target, overflowed_from=q.name)
    acd._live[i.id] = i
    acd._enqueue(i, at)
    if not i.is_messaging:
        out.append(ExitQueue(i.id, i.caller_channel or "", q.exit.kind.value, target))
    out.append(SaveInteraction(i))
    out.append(nt.Overflowed(i.id, at, q.name, q.exit.kind.value, wait, target))


def dial_overdue(acd: Acd, at: float, out: list[Command]) -> None:
    """Offers whose dial result never came (a lost AMI event) are taken back (``Tick``)."""
    for interaction_id, since in list(acd._offered_at.items()):
        i = acd._live[interaction_id]
        # A callback rings the agent, then the customer: both timeouts, then the grace.
        ring = acd.queue(i.queue or "").callback.ring_timeout if i.is_callback else 0.0
        if at - since >= ring + acd.config.ring_timeout + acd.config.offer_grace:
            agent_id = i.offered_to
            assert agent_id is not None
            out.append(CancelDial(interaction_id, agent_id))
            acd_voice.dial_failed(acd, interaction_id, agent_id, "no dial result", at, out)
