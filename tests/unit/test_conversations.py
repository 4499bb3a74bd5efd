"""Conversations: dedup by provider id, email threading, delivery status moving forward, timeline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.omni.conversations import (
    Conversation,
    ConversationBook,
    ConversationError,
    Delivery,
    Direction,
    Inbound,
    Message,
    MessagingChannel,
)

SMS = MessagingChannel.SMS
EMAIL = MessagingChannel.EMAIL


def sms(pid: str, at: float, body: str = "hi") -> Inbound:
    return Inbound(SMS, pid, body, at)


def test_first_message_opens_a_conversation_and_next_continues_it() -> None:
    book = ConversationBook(idle_seconds=100)
    first = book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    assert first.opened is not None and first.opened.conversation_id == "v1"
    second = book.receive(sms("SM2", 50), "c1", message_id="m2", conversation_id="v2")
    assert second.opened is None and second.conversation is not None and second.conversation.id == "v1"
    late = book.receive(sms("SM3", 500), "c1", message_id="m3", conversation_id="v3")
    assert late.opened is not None and late.opened.conversation_id == "v3"


def test_a_message_goes_to_the_conversation_open_at_its_senders_address_first() -> None:
    """Two customers, a conversation open at each one's address, then merged (c2 into c1): a
    message of c1's from c2's address goes to the conversation at that address, not to c1's
    latest; with nothing open there, to c1's latest."""
    book = ConversationBook(idle_seconds=100)
    book.receive(sms("SM1", 0), "c2", message_id="m1", conversation_id="v2")  # at address B
    book.receive(sms("SM2", 5), "c1", message_id="m2", conversation_id="v1")  # at address A, latest
    at_b = book.receive(sms("SM3", 20), "c1", message_id="m3", conversation_id="x", at_address=["old", "v2"])
    assert at_b.conversation is not None and at_b.conversation.id == "v2" and at_b.opened is None
    assert [m.id for m in book.messages_of("v2")] == ["m1", "m3"]
    at_a = book.receive(sms("SM4", 21), "c1", message_id="m4", conversation_id="y", at_address=["v1"])
    assert at_a.conversation is not None and at_a.conversation.id == "v1"
    book.close("v2")
    closed = book.receive(sms("SM5", 22), "c1", message_id="m5", conversation_id="z", at_address=["v2"])
    assert closed.conversation is not None and closed.conversation.id == "v1"
    idle = book.receive(sms("SM6", 200), "c2", message_id="m6", conversation_id="w", at_address=["v1"])
    assert idle.opened is not None  # v1 went idle: not taken for the sender's


def test_redelivery_is_a_duplicate_and_changes_nothing() -> None:
    book = ConversationBook()
    book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    again = book.receive(sms("SM1", 5, "other"), "c1", message_id="m2", conversation_id="v2")
    assert again.duplicate and set(book.messages) == {"m1"} and set(book.conversations) == {"v1"}


def test_a_message_another_node_stored_is_filed_once_in_its_conversation() -> None:
    """``took``: a visitor's message the visitor's node stored in a held chat (docs/cluster.md)."""
    book = ConversationBook(idle_seconds=100)
    book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    stored = Message("m2", "v1", SMS, Direction.IN, "later", 40, Delivery.RECEIVED, "SM2")
    took = book.took(stored, shown_to="1001")
    assert took.message == stored and took.opened is None and took.shown_to == "1001"
    assert took.conversation is not None and took.conversation.last_at == 40
    assert [m.id for m in book.messages_of("v1")] == ["m1", "m2"]
    assert book.took(stored).duplicate  # a second notice of it
    assert book.took(Message("m3", "v1", SMS, Direction.IN, "x", 41, Delivery.RECEIVED, "SM2")).duplicate
    # Filed by its provider id too: the owner's own path takes a resend for a duplicate.
    assert book.receive(sms("SM2", 45), "c1", message_id="m4", conversation_id="v4").duplicate
    with pytest.raises(ConversationError):
        book.took(Message("m5", "gone", SMS, Direction.IN, "x", 42, Delivery.RECEIVED, "SM5"))


def test_email_threads_by_in_reply_to_then_references() -> None:
    book = ConversationBook()
    book.receive(
        Inbound(EMAIL, "<a@x>", "hello", 0, subject="Order", message_id="a@x"),
        "c1",
        message_id="m1",
        conversation_id="v1",
    )
    reply = book.reply("v1", "answer", 1, message_id="m2", email_id="b@cc")
    assert reply.direction == Direction.OUT and reply.status == Delivery.QUEUED
    follow = book.receive(
        Inbound(EMAIL, "c@x", "thanks", 2, message_id="c@x", in_reply_to="b@cc", references=("a@x", "b@cc")),
        "c1",
        message_id="m3",
        conversation_id="v2",
    )
    assert follow.conversation is not None and follow.conversation.id == "v1" and follow.opened is None
    # Only References known (a client that drops In-Reply-To); another sender in the thread.
    cc = book.receive(
        Inbound(EMAIL, "d@y", "me too", 3, message_id="d@y", in_reply_to="unknown@z", references=("a@x",)),
        "c2",
        message_id="m4",
        conversation_id="v3",
    )
    assert cc.conversation is not None and cc.conversation.id == "v1"
    fresh = book.receive(
        Inbound(EMAIL, "e@x", "new", 4, message_id="e@x"), "c1", message_id="m5", conversation_id="v4"
    )
    assert fresh.opened is not None


def test_status_moves_only_forward() -> None:
    book = ConversationBook()
    book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    book.reply("v1", "ok", 1, message_id="out")
    assert book.status("out", Delivery.SENT, provider_id="SMx") is not None
    assert book.status("out", Delivery.DELIVERED) is not None
    assert book.status("out", Delivery.SENT) is None  # late callback
    assert book.messages["out"].status == Delivery.DELIVERED
    assert book.by_provider_id(SMS, "SMx") == book.messages["out"]
    assert book.status("m1", Delivery.READ) is None  # inbound stays received


def test_timeline_spans_channels_and_merged_customers() -> None:
    book = ConversationBook()
    book.receive(sms("SM1", 5), "c1", message_id="m1", conversation_id="v1")
    book.receive(
        Inbound(MessagingChannel.WECHAT, "w1", "ni hao", 1), "c2", message_id="m2", conversation_id="v2"
    )
    book.receive(sms("SM9", 3), "c3", message_id="m3", conversation_id="v3")
    assert [m.id for m in book.timeline({"c1", "c2"})] == ["m2", "m1"]


statuses = st.lists(st.sampled_from([d for d in Delivery if d != Delivery.RECEIVED]), max_size=10)
ORDER = [Delivery.QUEUED, Delivery.SENT, Delivery.DELIVERED, Delivery.READ]


@settings(max_examples=200, deadline=None)
@given(statuses)
def test_status_never_regresses(updates: list[Delivery]) -> None:
    book = ConversationBook()
    book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    book.reply("v1", "ok", 1, message_id="out")
    last = Delivery.QUEUED
    for u in updates:
        book.status("out", u)
        now = book.messages["out"].status
        if last == Delivery.FAILED or last == Delivery.READ:
            assert now == last
        elif now != Delivery.FAILED:
            assert ORDER.index(now) >= ORDER.index(last)
        last = now


def test_restore_and_forget() -> None:
    book = ConversationBook()
    book.receive(
        Inbound(EMAIL, "a@x", "hello", 0, message_id="a@x"), "c1", message_id="m1", conversation_id="v1"
    )
    copy = ConversationBook()
    copy.restore(book.conversations.values(), book.messages.values())
    follow = copy.receive(
        Inbound(EMAIL, "b@x", "re", 1, message_id="b@x", in_reply_to="a@x"),
        "c1",
        message_id="m2",
        conversation_id="v2",
    )
    assert follow.conversation is not None and follow.conversation.id == "v1"
    assert copy.receive(
        Inbound(EMAIL, "a@x", "hello", 0, message_id="a@x"), "c1", message_id="m3", conversation_id="v3"
    ).duplicate
    copy.forget("m2", conversation_too=False)
    assert copy.by_provider_id(EMAIL, "b@x") is None and "v1" in copy.conversations


# Operations on a book of three customers over two channels: receive (customer, channel, time),
# reply to the n-th conversation, close it, forget the n-th message (with its conversation or not).
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("receive"),
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from([SMS, MessagingChannel.WHATSAPP]),
            st.integers(0, 300),
        ),
        st.tuples(st.just("reply"), st.integers(0, 20)),
        st.tuples(st.just("close"), st.integers(0, 20)),
        st.tuples(st.just("forget"), st.integers(0, 40), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_threading_and_timelines_match_a_scan_of_the_whole_book(ops: list[tuple[object, ...]]) -> None:
    """The book's indexes by customer and by conversation answer what a scan of everything would."""
    book = ConversationBook(idle_seconds=100)
    for n, op in enumerate(ops):
        if op[0] == "receive":
            _, customer, channel, at = op
            assert isinstance(customer, str) and isinstance(channel, MessagingChannel)
            assert isinstance(at, int)
            open_ones = [
                c
                for c in book.conversations.values()
                if c.customer_id == customer
                and c.channel == channel
                and not c.closed
                and at - c.last_at <= 100
            ]
            expected = max(open_ones, key=lambda c: c.last_at, default=None)
            got = book.receive(
                Inbound(channel, f"p{n}", "hi", at), customer, message_id=f"m{n}", conversation_id=f"v{n}"
            )
            assert got.conversation is not None
            assert got.conversation.id == (f"v{n}" if expected is None else expected.id)
        elif op[0] in ("reply", "close") and book.conversations:
            index = op[1]
            assert isinstance(index, int)
            target = list(book.conversations)[index % len(book.conversations)]
            if op[0] == "reply":
                book.reply(target, "ok", 0, message_id=f"m{n}")
            else:
                book.close(target)
        elif op[0] == "forget" and book.messages:
            index, conversation_too = op[1], op[2]
            assert isinstance(index, int) and isinstance(conversation_too, bool)
            book.forget(list(book.messages)[index % len(book.messages)], conversation_too=conversation_too)
        for group in ({"c1"}, {"c2", "c3"}, {"c1", "c2", "c3"}):
            scanned = sorted(
                (
                    m
                    for m in book.messages.values()
                    if m.conversation_id in book.conversations
                    and book.conversations[m.conversation_id].customer_id in group
                ),
                key=lambda m: (m.at, m.id),
            )
            assert book.timeline(group) == scanned


def test_retention_takes_closed_conversations_past_their_time_and_keeps_the_rest() -> None:
    """``expired``: closed, last message older than the conversation's retention, no reply still
    queued; the boundary second is kept. ``drop`` removes it with every message and index."""
    book = ConversationBook(idle_seconds=10)
    for n, customer in enumerate(("old", "boundary", "open", "forever", "pending", "other-line")):
        book.receive(sms(f"SM{n}", 100), customer, message_id=f"m{n}", conversation_id=customer)
        book.receive(sms(f"SM{n}b", 100), customer, message_id=f"m{n}b", conversation_id="unused")
        if customer != "open":
            book.close(customer)
    book.reply("pending", "wait", 100, message_id="reply")  # queued: its sender still needs it
    kept = {"forever": None, "other-line": 1_000.0}

    def retention(c: Conversation) -> float | None:
        return kept.get(c.customer_id, 50.0)

    assert book.expired(retention, now=150) == []  # 50 s after the last message: the boundary
    found = book.expired(retention, now=150.5)
    assert sorted(c.id for c in found) == ["boundary", "old"]
    book.status("reply", Delivery.SENT, provider_id="SMr")
    assert sorted(c.id for c in book.expired(retention, now=151)) == ["boundary", "old", "pending"]

    assert book.drop("old") == 2
    assert "old" not in book.conversations and {"m0", "m0b"}.isdisjoint(book.messages)
    assert book.by_provider_id(SMS, "SM0") is None and book.timeline(["old"]) == []
    assert book.messages_of("old") == []
    # Gone for good: the same provider id is a new message now, opening a new conversation.
    again = book.receive(sms("SM0", 200), "old", message_id="m-new", conversation_id="old-2")
    assert again.opened is not None
    assert book.drop("unknown") == 0
    assert book.timeline(["boundary"]) != [] and book.messages_of("pending") != []


def test_email_threading_forgets_a_dropped_conversation() -> None:
    book = ConversationBook()
    first = Inbound(EMAIL, "<a@x>", "hello", 0, subject="s", message_id="a@x")
    book.receive(first, "c1", message_id="m1", conversation_id="v1")
    book.close("v1")
    book.drop("v1")
    answer = Inbound(EMAIL, "<b@x>", "re", 5, subject="Re: s", message_id="b@x", in_reply_to="a@x")
    assert book.receive(answer, "c1", message_id="m2", conversation_id="v2").opened is not None
