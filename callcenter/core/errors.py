"""The domain's errors: one family, rooted at :class:`DomainError`.

A domain error means "the request does not fit the state of the domain" (an unknown agent, a call
the agent does not hold, a move the agent's state table forbids, a malformed transfer): the core
refused it and changed nothing. It knows nothing of HTTP or Socket.IO; the web layer maps these
classes to responses in one place. Bugs are not domain errors (they stay ``AssertionError``,
``TypeError``...), nor is an adapter feeding a flow the wrong result (``ivr.FlowError``).

Errors that were ``ValueError`` before the family existed still are (``InvalidRequest``,
``ReviewError``), so code that catches ``ValueError`` keeps working.
"""

from __future__ import annotations


class DomainError(Exception):
    """The core refused a request; nothing was changed."""


class UnknownAgent(DomainError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


class AgentExists(DomainError):
    """An agent added with an id or an extension another agent has."""

    def __init__(self, agent_id: str, detail: str) -> None:
        super().__init__(f"agent {agent_id!r}: {detail}")
        self.agent_id = agent_id


class AgentInUse(DomainError):
    """An agent removed while it holds an interaction (a call offered or answered, a chat) or owes
    a wrap-up: refused, nothing changed."""

    def __init__(self, agent_id: str, detail: str) -> None:
        super().__init__(f"agent {agent_id!r} {detail}")
        self.agent_id = agent_id


class NotYourCall(DomainError):
    """A call control or wrap-up on an interaction the agent does not hold (or no longer)."""


class InvalidRequest(DomainError, ValueError):
    """A request that cannot be carried out as given (a transfer naming no target, a conversation
    arriving on the voice channel, an unknown disposition...)."""
