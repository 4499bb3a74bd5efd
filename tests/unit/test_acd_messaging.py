"""Messaging interactions in the ACD: the same lines, order and dispatch as calls; chat capacity,
offers accepted, declined or timed out, sticky routing, transfers, restore."""

from __future__ import annotations

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import (
    DialAgent,
    OfferConversation,
    SaveInteraction,
    WithdrawOffer,
)
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome


def agent(aid: str, max_chats: int = 3, queues: set[str] | None = None, **extra: object) -> Agent:
    return Agent(
        id=aid,
        extension=aid,
        queues=frozenset(queues or {"support"}),
        max_chats=max_chats,
        **extra,  # type: ignore[arg-type]
    )


def chat(
    acd: Acd,
    iid: str,
    at: float,
    queue: str = "support",
    channel: str = "webchat",
    priority: int = 0,
    last_agent: str | None = None,
    **extra: object,
) -> list:
    return acd.handle(
        ev.ConversationArrived(
            iid,
            channel,
            f"cust-{iid}",
            f"conv-{iid}",
            queue,
            at,
            priority,
            last_agent=last_agent,
            **extra,  # type: ignore[arg-type]
        )
    )


def call(acd: Acd, iid: str, at: float, queue: str = "support", priority: int = 0) -> list:
    acd.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/{iid}", at))
    return acd.handle(ev.IvrFinished(iid, "1", queue, at, priority))


def offers(out: list) -> list[tuple[str, str]]:
    return [(c.interaction_id, c.agent_id) for c in out if isinstance(c, OfferConversation)]


def withdrawn(out: list) -> list[tuple[str, str, str]]:
    return [(c.interaction_id, c.agent_id, c.reason) for c in out if isinstance(c, WithdrawOffer)]


def dials(out: list) -> list[tuple[str, str]]:
    return [(c.interaction_id, c.agent_id) for c in out if isinstance(c, DialAgent)]


def saved(out: list, iid: str) -> Interaction:
    return [c.interaction for c in out if isinstance(c, SaveInteraction) and c.interaction.id == iid][-1]


def login(acd: Acd, *ids: str, at: float = 0.0) -> list:
    out: list = []
    for n, aid in enumerate(ids):
        out += acd.handle(ev.AgentLogin(aid, at + n * 0.001))
    return out


def test_a_chat_goes_straight_to_its_queue_and_is_offered_without_a_phone() -> None:
    acd = Acd(AcdConfig(offer_timeout=25), [agent("a1")])
    login(acd, "a1")  # no registered phone: chats only
    out = chat(acd, "c1", 1.0, channel="whatsapp")
    (offer,) = [c for c in out if isinstance(c, OfferConversation)]
    assert (offer.agent_id, offer.channel, offer.conversation_id, offer.customer_id) == (
        "a1",
        "whatsapp",
        "conv-c1",
        "cust-c1",
    )
    assert (offer.timeout, offer.attempt) == (25, 1)
    i = saved(out, "c1")
    assert i.channel == Channel.WHATSAPP and i.offered_to == "a1" and i.queue == "support"
    assert i.customer_id == "cust-c1" and i.conversation_id == "conv-c1"
    assert acd.agents["a1"].state == AgentState.AVAILABLE  # the voice state does not move
    assert not dials(out)
    out = acd.handle(ev.OfferAccepted("c1", "a1", 4.0))
    i = saved(out, "c1")
    assert (i.agent_id, i.answered_at, i.offered_to, i.wait_seconds) == ("a1", 4.0, None, 3.0)
    out = acd.handle(ev.ConversationEnded("c1", "agent", 64.0))
    i = saved(out, "c1")
    assert (i.outcome, i.ended_by, i.talk_seconds) == (Outcome.ANSWERED, EndedBy.AGENT, 60.0)
    assert acd.queue_stats("support", 64.0).answered == 1


def test_what_the_virtual_agent_collected_is_noted_before_the_offer() -> None:
    """The panel keeps a conversation's data from the notice (as the IVR's for calls): it must come
    before the offer that shows it; a conversation without data has none."""
    acd = Acd(AcdConfig(), [agent("a1")])
    login(acd, "a1")
    out = chat(acd, "c1", 1.0, data={"order": "123456", "bot_outcome": "queue"})
    kinds = [type(c).__name__ for c in out if isinstance(c, (nt.IvrFinished, OfferConversation))]
    assert kinds == ["IvrFinished", "OfferConversation"]
    (noted,) = [c for c in out if isinstance(c, nt.IvrFinished)]
    assert (noted.interaction_id, noted.outcome, dict(noted.data)) == (
        "c1", "bot", {"order": "123456", "bot_outcome": "queue"}
    )  # fmt: skip
    assert not [c for c in chat(acd, "c2", 2.0) if isinstance(c, nt.IvrFinished)]


def test_an_agent_holds_up_to_max_chats_and_gets_the_next_when_one_ends() -> None:
    acd = Acd(AcdConfig(), [agent("a1", max_chats=2)])
    login(acd, "a1")
    assert offers(chat(acd, "c1", 1.0)) == [("c1", "a1")]
    acd.handle(ev.OfferAccepted("c1", "a1", 2.0))
    assert offers(chat(acd, "c2", 3.0)) == [("c2", "a1")]  # still offerable with a chat open
    assert offers(chat(acd, "c3", 4.0)) == []  # full: offered c2 counts
    assert acd.position("c3") == 1
    out = acd.handle(ev.ConversationEnded("c1", "customer", 10.0))
    assert offers(out) == [("c3", "a1")]


def test_capacity_per_channel_lowers_max_chats_for_that_channel() -> None:
    acd = Acd(AcdConfig(), [agent("a1", max_chats=3, capacity={"voice": 1, "email": 1})])
    login(acd, "a1")
    assert offers(chat(acd, "e1", 1.0, channel="email")) == [("e1", "a1")]
    assert offers(chat(acd, "e2", 2.0, channel="email")) == []
    assert offers(chat(acd, "s1", 3.0, channel="sms")) == [("s1", "a1")]
    assert offers(chat(acd, "s2", 4.0, channel="sms")) == [("s2", "a1")]
    assert offers(chat(acd, "s3", 5.0, channel="sms")) == []  # three in all


def test_an_agent_without_chat_capacity_gets_no_chats() -> None:
    acd = Acd(AcdConfig(), [agent("voice-only", max_chats=0)])
    login(acd, "voice-only")
    assert offers(chat(acd, "c1", 1.0)) == []
    assert acd.position("c1") == 1


def test_no_new_chat_while_on_a_call_unless_allowed() -> None:
    acd = Acd(AcdConfig(), [agent("strict"), agent("both", chat_while_on_call=True, queues={"other"})])
    acd.handle(ev.AgentRegistered("strict", 0.0))
    assert dials(call(acd, "v1", 1.0)) == [("v1", "strict")]
    assert offers(chat(acd, "c1", 2.0)) == []  # ringing counts as on a call
    acd.handle(ev.AgentAnswered("v1", "strict", 3.0))
    assert offers(chat(acd, "c2", 4.0)) == []
    out = acd.handle(ev.CallerHungUp("v1", "normal", 30.0))
    assert offers(out) == [("c1", "strict"), ("c2", "strict")]
    # chat_while_on_call: chats keep coming during a call.
    acd.handle(ev.AgentRegistered("both", 31.0))
    assert dials(call(acd, "v2", 32.0, queue="other")) == [("v2", "both")]
    acd.handle(ev.AgentAnswered("v2", "both", 33.0))
    assert offers(chat(acd, "c3", 34.0, queue="other")) == [("c3", "both")]


def test_call_while_chatting_false_makes_the_channels_exclusive() -> None:
    acd = Acd(
        AcdConfig(),
        [agent("excl", call_while_chatting=False), agent("mixed", queues={"other"})],
    )
    acd.handle(ev.AgentRegistered("excl", 0.0))
    acd.handle(ev.AgentRegistered("mixed", 0.0))
    assert offers(chat(acd, "c1", 1.0)) == [("c1", "excl")]
    assert dials(call(acd, "v1", 2.0)) == []  # one call, or chats
    out = acd.handle(ev.ConversationEnded("c1", "customer", 5.0))
    assert dials(out) == [("v1", "excl")]
    # The default: a call still reaches an agent with chats open.
    assert offers(chat(acd, "c2", 6.0, queue="other")) == [("c2", "mixed")]
    assert dials(call(acd, "v2", 7.0, queue="other")) == [("v2", "mixed")]


def test_priority_then_queue_time_orders_calls_and_chats_in_one_line() -> None:
    acd = Acd(AcdConfig(), [agent("a1", max_chats=1, call_while_chatting=False)])
    call(acd, "v-early", 1.0)
    chat(acd, "c-vip", 2.0, priority=5)
    chat(acd, "c-late", 3.0)
    assert [i.id for i in acd.waiting_in("support")] == ["c-vip", "v-early", "c-late"]
    out = acd.handle(ev.AgentRegistered("a1", 4.0))
    assert offers(out) == [("c-vip", "a1")] and dials(out) == []  # the VIP chat first
    out = acd.handle(ev.ConversationEnded("c-vip", "agent", 5.0))
    assert dials(out) == [("v-early", "a1")] and offers(out) == []  # then the earlier call
    assert offers(chat(acd, "c-new", 5.5, priority=9)) == []  # ringing: no chat meanwhile
    out = acd.handle(ev.CallerHungUp("v-early", "normal", 6.0))  # left while the phone rang
    assert offers(out) == [("c-new", "a1")]
    out = acd.handle(ev.ConversationEnded("c-new", "agent", 7.0))
    assert offers(out) == [("c-late", "a1")]


def test_an_offer_not_accepted_in_time_goes_to_the_next_agent_and_pauses_the_first() -> None:
    acd = Acd(AcdConfig(offer_timeout=20), [agent("a1"), agent("a2")])
    login(acd, "a1", "a2")
    assert offers(chat(acd, "c1", 1.0)) == [("c1", "a1")]
    assert offers(acd.handle(ev.Tick(20.0))) == []
    out = acd.handle(ev.Tick(21.0))
    assert withdrawn(out) == [("c1", "a1", "offer timed out")]
    assert offers(out) == [("c1", "a2")]
    assert acd.agents["a1"].state == AgentState.PAUSED and acd.agents["a1"].reason == "offer timed out"
    assert saved(out, "c1").offer_attempts == 2
    # A late click on the old offer changes nothing but clears that screen.
    out = acd.handle(ev.OfferAccepted("c1", "a1", 22.0))
    assert withdrawn(out) == [("c1", "a1", "no longer offered")]
    assert acd.interactions["c1"].offered_to == "a2"


def test_without_pausing_a_timed_out_agent_is_skipped_for_that_interaction_a_while() -> None:
    config = AcdConfig(offer_timeout=10, pause_on_offer_timeout=False, decline_seconds=60)
    acd = Acd(config, [agent("a1")])
    login(acd, "a1")
    chat(acd, "c1", 0.0)
    out = acd.handle(ev.Tick(10.0))
    assert withdrawn(out) and offers(out) == []
    assert acd.agents["a1"].state == AgentState.AVAILABLE
    assert offers(chat(acd, "c2", 11.0)) == [("c2", "a1")]  # other conversations still come
    assert offers(acd.handle(ev.Tick(69.0))) == []
    assert offers(acd.handle(ev.Tick(70.0))) == [("c1", "a1")]


def test_a_decline_passes_the_offer_on_without_pausing() -> None:
    acd = Acd(AcdConfig(decline_seconds=30), [agent("a1"), agent("a2")])
    login(acd, "a1", "a2")
    chat(acd, "c1", 1.0)
    out = acd.handle(ev.OfferDeclined("c1", "a1", 2.0, "busy with a complaint"))
    assert withdrawn(out) == [("c1", "a1", "busy with a complaint")]
    assert offers(out) == [("c1", "a2")]
    assert acd.agents["a1"].state == AgentState.AVAILABLE
    # Both decline: it waits at its place, then comes back to them after the decline window.
    out = acd.handle(ev.OfferDeclined("c1", "a2", 3.0))
    assert offers(out) == [] and acd.position("c1") == 1
    assert offers(chat(acd, "c2", 4.0)) == [("c2", "a1")]  # behind c1, but c1 skips a1 for now
    assert offers(acd.handle(ev.Tick(32.0))) == [("c1", "a1")]


def test_sticky_routing_waits_for_the_last_agent_then_anyone() -> None:
    acd = Acd(AcdConfig(sticky_seconds=30), [agent("old", max_chats=1), agent("other")])
    login(acd, "other", "old")  # "other" has been idle longer
    assert offers(chat(acd, "c1", 1.0, last_agent="old")) == [("c1", "old")]
    assert "sticky" in (acd.interactions["c1"].routing_reason or "")
    acd.handle(ev.OfferAccepted("c1", "old", 1.5))
    # "old" is full now: the next returning customer waits for them, no longer than 30 s.
    assert offers(chat(acd, "c2", 2.0, last_agent="old")) == []
    assert offers(chat(acd, "c3", 3.0)) == [("c3", "other")]  # others are not held up
    assert offers(acd.handle(ev.Tick(31.9))) == []
    assert offers(acd.handle(ev.Tick(32.0))) == [("c2", "other")]


def test_sticky_agent_freed_in_time_gets_the_customer() -> None:
    acd = Acd(AcdConfig(sticky_seconds=30), [agent("old", max_chats=1), agent("other")])
    login(acd, "old", "other")
    chat(acd, "c1", 1.0, last_agent="old")
    acd.handle(ev.OfferAccepted("c1", "old", 2.0))
    chat(acd, "c2", 3.0, last_agent="old")
    out = acd.handle(ev.ConversationEnded("c1", "agent", 10.0))
    assert offers(out) == [("c2", "old")]


def test_sticky_is_skipped_when_the_last_agent_cannot_take_it() -> None:
    acd = Acd(
        AcdConfig(sticky_seconds=30),
        [agent("gone"), agent("other"), agent("no-email", capacity={"voice": 1, "email": 0})],
    )
    login(acd, "other", "no-email")
    acd.handle(ev.AgentPause("other", "x", 0.5))
    acd.handle(ev.AgentResume("other", 0.6))  # "no-email" is now the longer idle
    assert offers(chat(acd, "c1", 1.0, last_agent="gone")) == [("c1", "no-email")]
    assert offers(chat(acd, "c2", 1.0, last_agent="nobody-we-know")) == [("c2", "other")]
    assert offers(chat(acd, "c3", 1.0, channel="email", last_agent="no-email")) == [("c3", "other")]


def test_transfer_to_an_agent_keeps_the_interaction_and_frees_the_sender() -> None:
    acd = Acd(
        AcdConfig(transfer_agent_seconds=60),
        [agent("a1", max_chats=1), agent("expert", max_chats=1, queues={"billing"}), agent("a3")],
    )
    login(acd, "a1", "expert")
    chat(acd, "c1", 1.0)
    acd.handle(ev.OfferAccepted("c1", "a1", 2.0))
    chat(acd, "c2", 3.0)  # waits: a1 is full
    out = acd.handle(ev.ConversationTransferred("c1", "a1", 10.0, to_agent="expert"))
    # The expert is not in "support", but a transfer names them: the offer goes to them.
    assert offers(out) == [("c1", "expert"), ("c2", "a1")]
    i = saved(out, "c1")
    assert (i.conversation_id, i.customer_id, i.agent_id) == ("conv-c1", "cust-c1", None)
    assert "transfer" in (i.routing_reason or "")
    out = acd.handle(ev.OfferAccepted("c1", "expert", 12.0))
    i = saved(out, "c1")
    assert (i.agent_id, i.answered_at) == ("expert", 2.0)  # first answer kept
    assert nt.Answered("c1", 12.0, "expert") in out


def test_transfer_to_an_agent_falls_back_to_the_queue_after_the_wait() -> None:
    acd = Acd(AcdConfig(transfer_agent_seconds=60), [agent("a1", max_chats=1), agent("away")])
    login(acd, "a1", "away")
    acd.handle(ev.AgentPause("away", "lunch", 0.5))
    chat(acd, "c1", 1.0)
    acd.handle(ev.OfferAccepted("c1", "a1", 2.0))
    out = acd.handle(ev.ConversationTransferred("c1", "a1", 10.0, to_agent="away"))
    assert offers(out) == []  # held for "away" (paused), not given back to the sender
    assert offers(acd.handle(ev.Tick(70.0))) == [("c1", "a1")]


def test_transfer_to_a_queue_goes_in_line_at_high_priority() -> None:
    acd = Acd(
        AcdConfig(transfer_priority=50),
        [agent("a1"), agent("b1", max_chats=1, queues={"billing"})],
    )
    login(acd, "a1", "b1")
    chat(acd, "b-first", 0.5, queue="billing")
    acd.handle(ev.OfferAccepted("b-first", "b1", 0.6))
    chat(acd, "b-waiting", 1.0, queue="billing", priority=10)
    chat(acd, "c1", 2.0)
    acd.handle(ev.OfferAccepted("c1", "a1", 3.0))
    out = acd.handle(ev.ConversationTransferred("c1", "a1", 4.0, to_queue="billing"))
    i = saved(out, "c1")
    assert (i.queue, i.priority, i.agent_id) == ("billing", 50, None)
    assert [w.id for w in acd.waiting_in("billing")] == ["c1", "b-waiting"]
    out = acd.handle(ev.ConversationEnded("b-first", "agent", 5.0))
    assert offers(out) == [("c1", "b1")]


def test_customer_leaving_before_acceptance_is_abandoned_and_the_offer_withdrawn() -> None:
    acd = Acd(AcdConfig(), [agent("a1")])
    login(acd, "a1")
    chat(acd, "c1", 1.0)
    out = acd.handle(ev.ConversationEnded("c1", "customer", 5.0))
    assert withdrawn(out) == [("c1", "a1", "closed by the customer")]
    i = saved(out, "c1")
    assert (i.outcome, i.ended_by) == (Outcome.ABANDONED, EndedBy.CALLER)
    assert acd.queue_stats("support", 5.0).abandoned == 1
    assert offers(chat(acd, "c2", 6.0)) == [("c2", "a1")]


def test_pausing_withdraws_open_offers_but_keeps_accepted_chats() -> None:
    acd = Acd(AcdConfig(), [agent("a1"), agent("a2", max_chats=0)])
    login(acd, "a1")
    chat(acd, "c1", 1.0)
    acd.handle(ev.OfferAccepted("c1", "a1", 2.0))
    chat(acd, "c2", 3.0)
    out = acd.handle(ev.AgentPause("a1", "break", 4.0))
    assert withdrawn(out) == [("c2", "a1", "agent paused")]
    assert acd.interactions["c1"].agent_id == "a1" and acd.position("c2") == 1
    assert offers(chat(acd, "c3", 5.0)) == []
    out = acd.handle(ev.AgentResume("a1", 6.0))
    assert offers(out) == [("c2", "a1"), ("c3", "a1")]


def test_reconciling_asterisk_leaves_conversations_alone() -> None:
    acd = Acd(AcdConfig(), [agent("a1")])
    chat(acd, "c1", 1.0)
    acd.handle(ev.Reconciled(frozenset(), frozenset(), 2.0))
    assert "c1" in acd.interactions and acd.position("c1") == 1


def test_a_conversation_never_gets_a_voicemail_exit_but_may_move_queue() -> None:
    queues = {
        "vm": qs.Queue("vm", max_wait=10, exit=qs.QueueExit(qs.ExitKind.VOICEMAIL)),
        "spill": qs.Queue("spill", max_wait=10, exit=qs.QueueExit(qs.ExitKind.QUEUE, "other")),
    }
    acd = Acd(AcdConfig(), [agent("a1", queues={"other"})], queues)
    login(acd, "a1")
    acd.handle(ev.AgentPause("a1", "x", 0.1))
    chat(acd, "c1", 1.0, queue="vm")
    chat(acd, "c2", 1.0, queue="spill")
    out = acd.handle(ev.Tick(20.0))
    assert "c1" in acd.interactions and acd.interactions["c1"].queue == "vm"
    assert acd.interactions["c2"].queue == "other"
    assert not [c for c in out if type(c).__name__ == "ExitQueue"]


def test_restore_keeps_waiting_chats_in_order_and_the_agents_load() -> None:
    config = AcdConfig(sticky_seconds=30)
    agents = [agent("a1", max_chats=2), agent("a2", max_chats=1)]
    acd = Acd(config, agents)
    db: dict[str, Interaction] = {}

    def run(event: ev.Event) -> list:
        out = acd.handle(event)
        db.update({c.interaction.id: c.interaction for c in out if isinstance(c, SaveInteraction)})
        return out

    run(ev.AgentLogin("a1", 0.0))
    run(ev.ConversationArrived("c1", "sms", "k1", "v1", "support", 1.0))
    run(ev.OfferAccepted("c1", "a1", 2.0))
    run(ev.ConversationArrived("c2", "sms", "k2", "v2", "support", 3.0))  # offered to a1
    run(ev.ConversationArrived("c3", "webchat", "k3", "v3", "support", 4.0, priority=3))
    run(ev.ConversationArrived("c4", "email", "k4", "v4", "support", 5.0, last_agent="a1"))
    assert db["c2"].offered_to == "a1"
    unfinished = [i for i in db.values() if i.outcome is None]

    fresh = Acd(config, agents)
    out = fresh.restore(reversed(unfinished), 10.0)
    assert saved(out, "c2").offered_to is None
    assert [i.id for i in fresh.waiting_in("support")] == ["c3", "c2", "c4"]
    assert fresh.interactions["c4"].preferred_agent == "a1"  # still within its sticky window
    out = fresh.handle(ev.AgentLogin("a1", 11.0))
    # a1 holds c1 again (restored), so one more fits: the best placed, c3.
    assert offers(out) == [("c3", "a1")]
    out = fresh.handle(ev.AgentLogin("a2", 12.0))
    assert offers(out) == [("c2", "a2")]  # c4 is held for a1 until 35
    out = fresh.handle(ev.ConversationEnded("c1", "agent", 13.0))
    assert offers(out) == [("c4", "a1")]


def test_voice_events_never_apply_to_a_conversation() -> None:
    acd = Acd(AcdConfig(), [agent("a1", chat_while_on_call=True)])
    acd.handle(ev.AgentRegistered("a1", 0.0))
    chat(acd, "c1", 1.0)
    assert dials(call(acd, "v1", 2.0)) == [("v1", "a1")]
    for event in (
        ev.AgentAnswered("c1", "a1", 3.0),
        ev.AgentDialFailed("c1", "a1", "busy", 3.0),
        ev.CallerHungUp("c1", "x", 3.0),
        ev.CallbackRequested("c1", "+1555", 3.0),
    ):
        assert acd.handle(event) == []
    assert acd.interactions["c1"].offered_to == "a1" and acd.interactions["c1"].answered_at is None
    assert acd.agents["a1"].state == AgentState.OFFERED and acd.agents["a1"].interaction_id == "v1"
    # ...and conversation events never apply to a call.
    assert acd.handle(ev.OfferDeclined("v1", "a1", 4.0)) == []
    assert acd.handle(ev.ConversationEnded("v1", "customer", 4.0)) == []
    assert acd.handle(ev.OfferAccepted("v1", "a1", 4.0)) == [WithdrawOffer("v1", "a1", "no longer offered")]
    assert "v1" in acd.interactions
