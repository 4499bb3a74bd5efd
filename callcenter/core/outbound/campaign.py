"""A campaign as data: its mode, calling windows, retry rules, abandonment cap, and its states.

Everything that moves a campaign between states lives in ``TRANSITIONS``; a move not in the table
raises :class:`IllegalCampaignMove` and leaves the campaign as it was (like the agents' table in
``core/acd/agents.py``).

Compliance settings have floors, not switches: the abandonment cap is at most 3 % (the US TSR and
Ofcom's figure) and cannot be turned off; a campaign without a calling window is refused.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from callcenter.core.errors import DomainError

DAY = 86400.0
US_WINDOW = 30 * DAY  # the US TSR: "each successive 30-day period" of a campaign
UK_WINDOW = DAY  # Ofcom: over 24 hours
MAX_ABANDON_CAP = 0.03
DEFAULT_MESSAGE = "callcenter/outbound-no-agent"  # a prompt of asterisk_conf/prompts.yaml


class Mode(enum.StrEnum):
    PREVIEW = "preview"  # an agent sees the record and clicks dial
    PROGRESSIVE = "progressive"  # one call per free agent
    PREDICTIVE = "predictive"  # more calls than free agents, paced under the abandonment cap
    AGENTLESS = "agentless"  # a message or a short IVR flow; no agent


class OnMachine(enum.StrEnum):
    """Answering-machine detection (Asterisk's AMD) for a campaign, and what a machine gets."""

    OFF = "off"  # no detection: every answer is taken for a person
    RETRY = "retry"  # hang up at once; the ``machine`` retry rule decides the next attempt
    MESSAGE = "message"  # leave ``machine_message`` after the greeting, hang up; the rule decides
    HANGUP = "hangup"  # hang up, never call the number again


class Outcome(enum.StrEnum):
    """How one attempt ended, as the adapter reports it."""

    CONNECTED = "connected"  # a person answered and an agent took the call (or the flow ran)
    ABANDONED = "abandoned"  # a person answered and no agent was free: the message, then hang-up
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"  # answering machine detected
    FAILED = "failed"  # the network refused (congestion, invalid number, channel unavailable)
    CALLBACK = "callback"  # the person asked to be called again at a time they chose


#: Outcomes a retry rule may be written for (a connected call is done).
RETRYABLE = (
    Outcome.ABANDONED,
    Outcome.BUSY,
    Outcome.NO_ANSWER,
    Outcome.MACHINE,
    Outcome.FAILED,
    Outcome.CALLBACK,
)
#: Outcomes that count as answered by a person (the denominator of the abandonment rate).
LIVE = frozenset({Outcome.CONNECTED, Outcome.ABANDONED, Outcome.CALLBACK})


@dataclass(frozen=True, slots=True)
class RetryRule:
    """After an attempt ends with this outcome: try again after ``delay`` seconds, as long as the
    record has had fewer than ``max_attempts`` attempts (0: never again)."""

    delay: float
    max_attempts: int


DEFAULT_RETRIES: Mapping[Outcome, RetryRule] = {
    Outcome.ABANDONED: RetryRule(3600.0, 3),
    Outcome.BUSY: RetryRule(600.0, 5),
    Outcome.NO_ANSWER: RetryRule(3600.0, 4),
    Outcome.MACHINE: RetryRule(4 * 3600.0, 3),
    Outcome.FAILED: RetryRule(3600.0, 2),
    Outcome.CALLBACK: RetryRule(0.0, 5),
}


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Hours a callee may be called, in the callee's local time: ``start`` <= time < ``end`` on
    the ``days`` of the week (0 Monday ... 6 Sunday)."""

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    mode: Mode
    queue: str  # the ACD queue whose agents take the connected calls
    windows: tuple[CallingWindow, ...]
    retries: Mapping[Outcome, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRIES))
    max_attempts: int = 5  # across every outcome
    abandon_cap: float = MAX_ABANDON_CAP
    abandon_window: float = US_WINDOW
    caller_id: str = ""
    line: str | None = None  # the business line: who may see and run it
    # Predictive: calls per expected free agent are at most this (a runaway guard), the pacing
    # stays progressive until this many attempts give a contact rate, and the handle time assumed
    # until calls have been handled.
    max_ratio: float = 3.0
    min_samples: int = 20
    handle_seconds: float = 180.0
    ring_seconds: float = 20.0  # how long a call rings before it counts as no answer
    agentless_lines: int = 10  # agentless: calls at once
    script: str = ""  # shown to the agent on the panel, {placeholders} filled (``fill_script``)
    dispositions: tuple[str, ...] = ()  # offered at wrap-up of its calls (empty: the server's own)
    # Preview: a card not answered within this many seconds is passed, as if skipped (0: no limit).
    preview_seconds: float = 120.0
    # Played (an Asterisk sound name) to a person who answers when no agent is free, within 2 s
    # of the answer; the call is then hung up and counted as abandoned.
    message: str = DEFAULT_MESSAGE
    on_machine: OnMachine = OnMachine.OFF
    machine_message: str = ""  # OnMachine.MESSAGE: what the machine records (a sound name)
    # Agentless: the IVR flow (of ivr_flows/) the person who answers runs; empty: ``message``
    # is played. The key that puts the number on the do-not-call list (empty: none).
    flow: str = ""
    opt_out_key: str = ""
    # The queue's callbacks campaign: callbacks at a time the customer picks are its records
    # (core/outbound/callbacks.py); preview or progressive.
    callbacks: bool = False

    def retry(self, outcome: Outcome) -> RetryRule:
        return self.retries.get(outcome, RetryRule(0.0, 0))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_script(script: str, fields: Mapping[str, str]) -> str:
    """The script with each ``{column}`` replaced by the record's value; a placeholder the record
    has no value for stays as written (the agent sees what is missing). Plain text in, plain text
    out: no format mini-language (no attribute or index lookups), the panel shows it as text."""
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group(0)), script)


class CampaignState(enum.StrEnum):
    DRAFT = "draft"  # defined, never started
    RUNNING = "running"
    PAUSED = "paused"  # no new calls; calls in flight end normally
    STOPPED = "stopped"  # done for good; its records stay for reports


class CampaignMove(enum.StrEnum):
    START = "start"
    PAUSE = "pause"
    STOP = "stop"


St, Mv = CampaignState, CampaignMove
TRANSITIONS: dict[tuple[CampaignState, CampaignMove], CampaignState] = {
    (St.DRAFT, Mv.START): St.RUNNING,
    (St.DRAFT, Mv.STOP): St.STOPPED,
    (St.RUNNING, Mv.PAUSE): St.PAUSED,
    (St.RUNNING, Mv.STOP): St.STOPPED,
    (St.PAUSED, Mv.START): St.RUNNING,
    (St.PAUSED, Mv.STOP): St.STOPPED,
}


class IllegalCampaignMove(DomainError):
    """The move is not allowed from the campaign's state (e.g. starting a stopped campaign)."""


def move(state: CampaignState, what: CampaignMove) -> CampaignState:
    try:
        return TRANSITIONS[(state, what)]
    except KeyError:
        raise IllegalCampaignMove(f"cannot {what.value} a campaign that is {state.value}") from None
