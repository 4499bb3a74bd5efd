"""Conversations: dedup by provider id, email threading, delivery status moving forward, timeline."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.conversations import (
    ConversationBook,
    Delivery,
    Direction,
    Inbound,
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


def test_redelivery_is_a_duplicate_and_changes_nothing() -> None:
    book = ConversationBook()
    book.receive(sms("SM1", 0), "c1", message_id="m1", conversation_id="v1")
    again = book.receive(sms("SM1", 5, "other"), "c1", message_id="m2", conversation_id="v2")
    assert again.duplicate and set(book.messages) == {"m1"} and set(book.conversations) == {"v1"}


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
