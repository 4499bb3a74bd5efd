"""Queues as data: what a caller in a queue needs from an agent, and how that widens as the wait grows.

A :class:`Queue` is immutable and validated at the edge
(``callcenter/settings/queues_file.py`` reads the YAML).
The engine only asks it one question, :func:`targets`: which agents may take this caller *now*.

Invariants:
- the answer depends only on the queue, the interaction and the wait, so a restored caller gets the
  same targets as before the restart (every overflow time is measured from ``queued_at``);
- targets only grow with the wait: a step adds a target, it never removes an earlier one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

LANGUAGE_PREFIX = "lang:"


class Strategy(enum.StrEnum):
    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPIED = "least_occupied"  # smallest share of logged-in time spent talking
    SKILLS_WEIGHTED = "skills_weighted"  # highest sum of levels on the required skills
    ROUND_ROBIN = "round_robin"  # the agent offered a call of this queue longest ago


class ExitKind(enum.StrEnum):
    VOICEMAIL = "voicemail"  # the call leaves to voicemail: outcome "exited"
    CALLBACK = "callback"  # the caller is told they will be called back at their number
    QUEUE = "queue"  # the caller moves to another queue, keeping its original wait


@dataclass(frozen=True, slots=True)
class QueueExit:
    kind: ExitKind
    target: str | None = None  # the queue, for ExitKind.QUEUE


@dataclass(frozen=True, slots=True)
class Overflow:
    """After ``after`` seconds of wait, also accept agents matching this step.

    ``skills`` (when given) replaces the skill requirement for agents of the caller's queue, e.g.
    ``{billing: 2}`` where the queue asked for ``{billing: 4}``. ``queue`` adds the agents of another
    queue (with no skill requirement beyond the caller's language).
    """

    after: float
    skills: Mapping[str, int] | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    attempts: int = 3  # dials of the customer before giving up
    retry_delay: float = 300.0
    ring_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    strategy: Strategy = Strategy.LONGEST_IDLE
    service_level_seconds: float = 20.0
    service_level_target: float = 0.8  # e.g. 80 % answered within service_level_seconds
    # Reports: a caller who hangs up within this many seconds of entering is a short abandon.
    short_abandon_seconds: float = 5.0
    max_wait: float | None = None
    exit: QueueExit | None = None
    overflow: tuple[Overflow, ...] = ()
    announce_every: float | None = None  # position and estimated wait, every so many seconds
    wrap_up_seconds: float | None = None  # None: the engine's default
    callback: CallbackPolicy = CallbackPolicy()
    record: bool = True  # answered calls are recorded (unless recordings are off altogether)
    # The business line the queue belongs to (e.g. "billing"): who may see its figures and calls.
    line: str | None = None
    # Calls of this queue transcribed live at once (docs/qa.md); None: live.calls_per_queue.
    live: int | None = None


#: Who may take a caller: members of ``pool`` with at least these (skill, level) pairs.
Requirement = frozenset[tuple[str, int]]


@dataclass(frozen=True, slots=True, order=True)
class Target:
    pool: str
    needs: Requirement

    def describe(self) -> str:
        needs = ", ".join(f"{s}>={lvl}" for s, lvl in sorted(self.needs))
        return f"{self.pool}{{{needs}}}" if needs else self.pool


def _requirement(skills: Mapping[str, int], language: str | None) -> Requirement:
    needs = {(s, lvl) for s, lvl in skills.items() if lvl > 0}
    if language:
        needs.add((LANGUAGE_PREFIX + language, 1))
    return frozenset(needs)


def targets(
    queue: Queue,
    queued_at: float,
    at: float,
    skills: Mapping[str, int] | None = None,
    language: str | None = None,
) -> tuple[tuple[Target, ...], int]:
    """The targets at ``at`` of a caller queued at ``queued_at``, and how many steps applied.

    Step times are compared as points in time (``queued_at + after``), exactly as they are
    scheduled, so a timer that fires always finds its step applied.

    ``skills`` are the caller's own needs (e.g. from the IVR); they add to the queue's. The
    caller's language is always required: an agent who cannot speak it cannot help.
    """
    base = {**queue.skills, **(skills or {})}
    found = [Target(queue.name, _requirement(base, language))]
    steps = 0
    for step in queue.overflow:
        if at < queued_at + step.after:
            break
        steps += 1
        if step.skills is not None:
            found.append(Target(queue.name, _requirement(step.skills, language)))
        if step.queue is not None:
            found.append(Target(step.queue, _requirement({}, language)))
    return tuple(sorted(set(found))), steps


def next_step_at(queue: Queue, queued_at: float, steps_done: int) -> float | None:
    if steps_done < len(queue.overflow):
        return queued_at + queue.overflow[steps_done].after
    return None
