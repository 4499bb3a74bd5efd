"""Email over real SMTP: a customer's mail into our server (aiosmtpd), our reply out through a relay
(aiosmtplib to a local capturing server), the customer's answer threaded back. Ephemeral ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message as EmailMsg
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.smtp import SMTP, Envelope, Session

from callcenter.app import SMTP_SERVER, create_app
from callcenter.core.omni.conversations import Delivery, MessagingChannel
from callcenter.web.webhooks import MESSAGING
from tests.channel_data import raw
from tests.integration.test_api import make_settings


class Relay:
    """A local SMTP relay that keeps what it is given; ``refuse``: answer 451 this many times."""

    def __init__(self) -> None:
        self.received: list[EmailMsg] = []
        self.refuse = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 busy"
        content = envelope.content
        self.received.append(message_from_bytes(content if isinstance(content, bytes) else content.encode()))
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self), "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def email_messaging(relay: Relay) -> dict[str, Any]:
    """The messaging section of an e-mail channel that sends through ``relay``."""
    return {
        "outbox": {"retry_min_delay": 0.05, "retry_max_delay": 0.2},
        "email": {
            "address": "support@acme.example",
            "listen_host": "127.0.0.1",
            "listen_port": 0,
            "smtp_host": "127.0.0.1",
            "smtp_port": relay.port,
        },
    }


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def client(tmp_path: Path, relay: Relay) -> AsyncIterator[TestClient[Any, Any]]:
    settings = make_settings(
        tmp_path,
        messaging=email_messaging(relay),
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def mail(client: TestClient[Any, Any], data: bytes, rcpt: str = "support@acme.example") -> None:
    port = client.app[SMTP_SERVER].port  # type: ignore[index]
    await aiosmtplib.send(
        data, sender="ana.lima@customer.example", recipients=[rcpt], hostname="127.0.0.1", port=port
    )


async def test_mail_in_reply_out_answer_threaded(client: TestClient[Any, Any], relay: Relay) -> None:
    messaging = client.app[MESSAGING]  # type: ignore[index]
    await mail(client, raw("email/contact_center_thread/01_customer.eml"))
    [(opened, _)] = messaging.opened
    assert opened.channel == MessagingChannel.EMAIL
    customer = messaging.customers.get(opened.customer_id)
    assert {str(i) for i in customer.identities} == {"email:ana.lima@customer.example"}
    # The same mail again (a retrying sender): one copy.
    await mail(client, raw("email/contact_center_thread/01_customer.eml"))
    assert await messaging.store.message_count() == 1

    relay.refuse = 2  # the relay is busy at first: the reply waits in the outbox
    reply = await messaging.reply(opened.conversation_id, "Your parcel arrives tomorrow.")
    async with asyncio.timeout(5):
        while messaging.conversations.messages[reply.id].status != Delivery.SENT:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    [sent] = relay.received
    assert sent["From"] == "support@acme.example" and sent["To"] == "ana.lima@customer.example"
    assert sent["Subject"] == "Re: Order #4521 has not arrived"
    assert sent["In-Reply-To"] == "<CAF1a2b3c4@mail.customer.example>"
    our_id = sent["Message-ID"]
    assert our_id.endswith("@acme.example>")
    assert sent["References"] == "<CAF1a2b3c4@mail.customer.example>"  # parent's References + its id
    assert "Your parcel arrives tomorrow." in sent.get_payload()

    answer = (
        "From: Ana Lima <ana.lima@customer.example>\r\nTo: support@acme.example\r\n"
        f"Subject: Re: Order #4521 has not arrived\r\nMessage-ID: <answer-1@mail.customer.example>\r\n"
        f"In-Reply-To: {our_id}\r\nReferences: <CAF1a2b3c4@mail.customer.example> {our_id}\r\n\r\nThanks!\r\n"
    ).encode()
    await mail(client, answer)
    assert len(messaging.opened) == 1
    thread = [
        m for m in messaging.conversations.messages.values() if m.conversation_id == opened.conversation_id
    ]
    assert [m.body for m in sorted(thread, key=lambda m: m.at)][-1] == "Thanks!"


async def test_smtp_refuses_other_mailboxes_and_garbage(client: TestClient[Any, Any]) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await mail(client, raw("email/contact_center_thread/01_customer.eml"), rcpt="other@acme.example")
    with pytest.raises(aiosmtplib.SMTPDataError) as err:
        await mail(client, b"Subject: who am I\r\n\r\nno sender\r\n")
    assert err.value.code == 554
    assert client.app[MESSAGING].opened == []  # type: ignore[index]
