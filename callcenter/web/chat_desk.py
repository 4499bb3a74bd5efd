"""Who holds what on the agent panel: open offers and accepted conversations, per agent.

The ACD decides (``OfferConversation`` / ``WithdrawOffer`` commands, ``OfferAccepted`` and friends
as events); this book only remembers what the engine has offered to whom and what each agent has
accepted, so the Socket.IO layer can refuse an agent acting on someone else's interaction before
anything reaches the engine. It does no I/O.

Invariant: an interaction is either offered (in ``offers``) or assigned (in ``assigned``), to one
agent, or unknown. A refusal says the same thing whether the interaction exists for another agent or
not at all (no probing of other agents' work).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from callcenter.core.commands import OfferConversation
from callcenter.core.interaction import Interaction


class NotYours(LookupError):
    """No such offer or conversation for this agent."""


@dataclass(frozen=True, slots=True)
class Assignment:
    interaction_id: str
    conversation_id: str
    agent_id: str
    customer_id: str
    channel: str


@dataclass
class Desk:
    offers: dict[str, OfferConversation] = field(default_factory=dict)  # by interaction
    assigned: dict[str, Assignment] = field(default_factory=dict)  # by conversation
    # Conversations assigned or released since the holds were last written (web/chat_holds.py),
    # while ``tracking`` (several nodes; with one nobody reads them, and the set would only grow).
    changed: set[str] = field(default_factory=set)
    tracking: bool = False

    def restore(self, live: Iterable[Interaction]) -> None:
        """After a restart: the conversations the engine says agents hold (accepted before the
        restart) are theirs again, so they can answer, and the customer's messages reach them.
        Offers are not restored: the engine took them back and offers them again."""
        for i in live:
            if i.is_messaging and not i.is_ended and i.agent_id is not None and i.conversation_id:
                self.assigned[i.conversation_id] = Assignment(
                    i.id, i.conversation_id, i.agent_id, i.customer_id or "", i.channel.value
                )
                self._note(i.conversation_id)

    def offered(self, offer: OfferConversation) -> None:
        self.offers[offer.interaction_id] = offer

    def withdrawn(self, interaction_id: str, agent_id: str) -> OfferConversation | None:
        offer = self.offers.get(interaction_id)
        if offer is None or offer.agent_id != agent_id:
            return None
        return self.offers.pop(interaction_id)

    def offer_for(self, interaction_id: str, agent_id: str) -> OfferConversation:
        offer = self.offers.get(interaction_id)
        if offer is None or offer.agent_id != agent_id:
            raise NotYours("no such offer for you")
        return offer

    def assign(self, offer: OfferConversation) -> Assignment:
        self.offers.pop(offer.interaction_id, None)
        assignment = Assignment(
            offer.interaction_id, offer.conversation_id, offer.agent_id, offer.customer_id, offer.channel
        )
        self.assigned[offer.conversation_id] = assignment
        self._note(offer.conversation_id)
        return assignment

    def assignment_for(self, conversation_id: str, agent_id: str) -> Assignment:
        assignment = self.assigned.get(conversation_id)
        if assignment is None or assignment.agent_id != agent_id:
            raise NotYours("no such conversation of yours")
        return assignment

    def agent_of(self, conversation_id: str) -> Assignment | None:
        return self.assigned.get(conversation_id)

    def release(self, conversation_id: str) -> Assignment | None:
        self._note(conversation_id)
        return self.assigned.pop(conversation_id, None)

    def _note(self, conversation_id: str) -> None:
        if self.tracking:
            self.changed.add(conversation_id)

    def of_agent(self, agent_id: str) -> tuple[list[OfferConversation], list[Assignment]]:
        return (
            [o for o in self.offers.values() if o.agent_id == agent_id],
            [a for a in self.assigned.values() if a.agent_id == agent_id],
        )
