"""Email parsing and threading on RFC 5322's own examples and a contact-center thread."""

from __future__ import annotations

import pytest

from callcenter.core.omni.conversations import ConversationBook, Inbound, MessagingChannel
from callcenter.messaging.channels import email
from callcenter.messaging.channels.base import Reply, WebhookError
from callcenter.settings import EmailSettings
from tests.channel_data import DATA, raw


def feed(book: ConversationBook, name: str, n: int) -> str:
    m = email.parse(raw(name), 0.0)
    received = book.receive(
        Inbound(
            m.channel,
            m.provider_id,
            m.body,
            m.at,
            m.media,
            m.subject,
            m.message_id,
            m.in_reply_to,
            m.references,
        ),
        m.sender.value,
        message_id=f"m{n}",
        conversation_id=f"v{n}",
    )
    assert received.conversation is not None
    return received.conversation.id


@pytest.mark.parametrize("folder", ["rfc5322_appendix_A2", "contact_center_thread"])
def test_a_thread_stays_one_conversation(folder: str) -> None:
    book = ConversationBook()
    names = sorted(p.name for p in (DATA / "email" / folder).iterdir())
    conversations = {feed(book, f"email/{folder}/{name}", n) for n, name in enumerate(names)}
    assert conversations == {"v0"}


def test_headers_are_read() -> None:
    m = email.parse(raw("email/contact_center_thread/03_customer_followup.eml"), 0.0)
    assert m.sender.value == "ana.lima@customer.example" and m.name == "Ana Lima"
    assert m.message_id == "CAF9z8y7x6@mail.customer.example"
    assert m.in_reply_to == "ticket-9876.1@acme.example"
    assert m.references == ("CAF1a2b3c4@mail.customer.example", "ticket-9876.1@acme.example")
    assert m.subject == "Re: Order #4521 has not arrived" and m.body.startswith("It arrived today.")
    assert m.at == 1713285612.0


def test_no_message_id_still_deduplicates_and_garbage_is_refused() -> None:
    body = b"From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    assert email.parse(body, 1.0).provider_id == email.parse(body, 2.0).provider_id
    for bad in [b"", b"Subject: no sender\r\n\r\nx", b"From: not an address\r\n\r\nx"]:
        with pytest.raises(WebhookError):
            email.parse(bad, 1.0)


def test_reply_carries_the_threading_headers() -> None:
    settings = EmailSettings(address="support@acme.example")
    reply = Reply(
        "m9",
        MessagingChannel.EMAIL,
        "ana.lima@customer.example",
        "On its way.",
        subject="Re: Order",
        headers={"Message-ID": "<r1@acme.example>", "In-Reply-To": "<a@x>", "References": "<a@x>"},
    )
    msg = email.build(settings, reply, now=0.0)
    assert (msg["From"], msg["To"], msg["Subject"]) == (
        "support@acme.example",
        "ana.lima@customer.example",
        "Re: Order",
    )
    assert (msg["Message-ID"], msg["In-Reply-To"], msg["References"]) == (
        "<r1@acme.example>",
        "<a@x>",
        "<a@x>",
    )


def test_a_header_that_fails_when_read_is_refused_not_a_crash() -> None:
    """Found by the fuzzer: the lenient parser accepted the message; reading Message-ID raised."""
    raw = b'From: "Ana" <ana@example.com>\r\nTo: support@cc.example.com\r\nMessage-ID: <>>\r\n\r\nhi\r\n'
    with pytest.raises(WebhookError, match="unreadable headers"):
        email.parse(raw, 1764745200.0)
