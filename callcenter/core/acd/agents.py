"""Agent states as data.

Everything that moves an agent from one state to another lives in ``TRANSITIONS``: a move not in the
table raises :class:`IllegalTransition` and leaves the agent unchanged. Being *registered* (the phone
is reachable) is kept apart from the state: an agent is offered calls only when AVAILABLE and
registered.

Skills are ``name -> level`` (1 lowest); languages are skills too (``lang:fr`` at level 1), so a
queue or a caller can require one like any other skill.

The state machine follows the agent's *voice* work only (one call at a time). Messaging
interactions (chats, SMS, WhatsApp, WeChat, email) do not move it: the engine counts the ones an
agent holds (offered or accepted) beside the state, and :meth:`Agent.can_take_chat` says whether one
more may be offered:

- ``max_chats``: how many messaging interactions, all channels together, the agent holds at once
  (0: none); ``capacity[channel]`` may lower it for one channel (e.g. ``{"email": 1}``);
- never while PAUSED, LOGGED_OUT or in WRAP_UP; while on a call (OFFERED/BUSY) only with
  ``chat_while_on_call``;
- ``call_while_chatting`` (default true): a call may be offered while chats are open; false makes
  the channels exclusive ("one call, or up to N chats");
- no registered phone is needed for messaging, only for voice.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from callcenter.core.acd.queues import LANGUAGE_PREFIX
from callcenter.core.errors import DomainError


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    OFFERED = "offered"  # the phone is ringing with a call for this agent
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Move(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    OFFER = "offer"
    ANSWER = "answer"
    NO_ANSWER = "no_answer"  # rang without answer / dial failed: paused with a reason
    WITHDRAW = "withdraw"  # the caller left while the phone rang
    END = "end"  # the call ended; wrap-up follows
    END_NO_WRAP = "end_no_wrap"
    WRAP_DONE = "wrap_done"
    PAUSE = "pause"
    RESUME = "resume"


S, M = AgentState, Move
TRANSITIONS: dict[tuple[AgentState, Move], AgentState] = {
    (S.LOGGED_OUT, M.LOGIN): S.AVAILABLE,
    (S.AVAILABLE, M.LOGIN): S.AVAILABLE,
    (S.PAUSED, M.LOGIN): S.PAUSED,
    (S.AVAILABLE, M.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, M.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, M.LOGOUT): S.LOGGED_OUT,
    (S.LOGGED_OUT, M.LOGOUT): S.LOGGED_OUT,
    (S.AVAILABLE, M.OFFER): S.OFFERED,
    (S.OFFERED, M.ANSWER): S.BUSY,
    (S.OFFERED, M.NO_ANSWER): S.PAUSED,
    (S.OFFERED, M.WITHDRAW): S.AVAILABLE,
    (S.BUSY, M.END): S.WRAP_UP,
    (S.BUSY, M.END_NO_WRAP): S.AVAILABLE,
    (S.WRAP_UP, M.WRAP_DONE): S.AVAILABLE,
    (S.AVAILABLE, M.PAUSE): S.PAUSED,
    (S.WRAP_UP, M.PAUSE): S.PAUSED,
    (S.PAUSED, M.PAUSE): S.PAUSED,
    (S.PAUSED, M.RESUME): S.AVAILABLE,
    (S.AVAILABLE, M.RESUME): S.AVAILABLE,
}
del S, M


class IllegalTransition(DomainError):
    def __init__(self, agent_id: str, state: AgentState, move: Move) -> None:
        super().__init__(f"agent {agent_id}: cannot {move.value} while {state.value}")
        self.agent_id, self.state, self.move = agent_id, state, move


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    extension: str
    queues: frozenset[str]
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    registered: bool = False
    auto_login: bool = True
    since: float = 0.0  # when the current state began (idle time for AVAILABLE)
    interaction_id: str | None = None
    wrap_up_until: float | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    capacity: Mapping[str, int] = field(default_factory=lambda: {"voice": 1})
    max_chats: int = 0
    chat_while_on_call: bool = False
    call_while_chatting: bool = True

    def level(self, skill: str) -> int:
        """The agent's level in ``skill`` (0: none). Languages answer ``lang:<code>`` with 1."""
        if skill.startswith(LANGUAGE_PREFIX):
            return 1 if skill[len(LANGUAGE_PREFIX) :] in self.languages else 0
        return self.skills.get(skill, 0)

    @property
    def all_skills(self) -> frozenset[str]:
        return frozenset(self.skills) | {LANGUAGE_PREFIX + lang for lang in self.languages}

    def moved(self, move: Move, at: float, *, reason: str = "", **changes: object) -> Agent:
        target = TRANSITIONS.get((self.state, move))
        if target is None:
            raise IllegalTransition(self.id, self.state, move)
        since = self.since if target == self.state else at
        return replace(self, state=target, reason=reason, since=since, **changes)  # type: ignore[arg-type]

    @property
    def can_take_call(self) -> bool:
        return self.state == AgentState.AVAILABLE and self.registered

    def chat_limit(self, channel: str) -> int:
        """How many interactions of this messaging channel the agent may hold at once."""
        return min(self.max_chats, self.capacity.get(channel, self.max_chats))

    def can_take_chat(self, channel: str, held: Mapping[str, int]) -> bool:
        """May one more interaction of ``channel`` be offered, holding ``held`` (channel -> count)?"""
        if self.state in (AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.WRAP_UP):
            return False
        if self.state != AgentState.AVAILABLE and not self.chat_while_on_call:
            return False  # offered or busy with a call
        chats = sum(n for c, n in held.items() if c != VOICE)
        return chats < self.max_chats and held.get(channel, 0) < self.chat_limit(channel)


VOICE = "voice"
