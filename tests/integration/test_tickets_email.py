"""Tickets from e-mail over real SMTP (our aiosmtpd server in, a capturing relay out), on a real
server in-process (SQLite): with ``email: {type: question}`` in the tickets file, a customer's
e-mail opens a ticket (not a chat), the agent's reply goes out with the ticket id in its subject
and threaded, the customer's answer to it (headers only) is a comment on the same ticket, a mail
quoting the id reopens the closed ticket with its text as the reason, and another sender's mail
opens another ticket. An agent who asked for e-mail copies of their notifications gets one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.web.webhooks import MESSAGING
from tests.channel_data import raw
from tests.integration.test_api import TOKENS, make_settings
from tests.integration.test_email import Relay, email_messaging, mail, relay  # noqa: F401
from tests.unit.tickets_fixtures import EXAMPLE

AGENT = {"Authorization": f"Bearer {TOKENS['agent']}"}  # agent 1001: team support


@pytest.fixture
async def client(tmp_path: Path, relay: Relay) -> AsyncIterator[TestClient[Any, Any]]:  # noqa: F811
    workflow = tmp_path / "tickets.yaml"
    copies = 'email_notifications: {"1001": {email: ann@acme.example, language: zh-CN, kinds: [assigned]}}'
    workflow.write_text(EXAMPLE.read_text() + "\nemail: {type: question}\n" + copies + "\n")
    settings = make_settings(
        tmp_path,
        messaging=email_messaging(relay),
        tickets={"workflow_file": str(workflow), "reply_seconds": 0.05, "sla_check_seconds": 600},
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def until(check: Any, what: str) -> Any:
    async with asyncio.timeout(10):
        while not (found := await check()):  # noqa: ASYNC110
            await asyncio.sleep(0.03)
    assert found, what
    return found


async def get(client: TestClient[Any, Any], path: str) -> Any:
    resp = await client.get(path, headers=AGENT)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_e_mail_opens_continues_and_reopens_a_ticket(
    client: TestClient[Any, Any],
    relay: Relay,  # noqa: F811
) -> None:
    messaging = client.app[MESSAGING]  # type: ignore[index]

    async def tickets() -> list[dict[str, Any]]:
        return list((await get(client, "/api/tickets"))["tickets"])

    await mail(client, raw("email/contact_center_thread/01_customer.eml"))
    [ticket] = await until(tickets, "a ticket from the e-mail")
    tid = ticket["id"]
    assert (ticket["type"], ticket["team"], ticket["title"]) == (
        "question",
        "support",
        "Order #4521 has not arrived",
    )
    assert messaging.opened == []  # not offered to agents as a chat
    [conversation] = messaging.conversations.conversations.values()
    assert ticket["customer_id"] == conversation.customer_id and conversation.closed
    detail = await get(client, f"/api/tickets/{tid}")
    [first] = detail["comments"]
    assert first["by"] == "customer" and "has not arrived" in first["body"] and not first["internal"]
    assert [e["kind"] for e in detail["events"]] == ["created", "customer_message"]

    # The agent's reply: out through the outbox, the ticket id in the subject, threaded.
    resp = await client.post(
        f"/api/tickets/{tid}/comments", json={"body": "It ships today.", "internal": False}, headers=AGENT
    )
    assert resp.status == 201, await resp.text()
    # Agent 1001 (team support) asked for e-mail copies of "assigned": one, in Chinese.
    async with asyncio.timeout(10):
        while len(relay.received) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.03)
    [copy] = [m for m in relay.received if m["To"] == "ann@acme.example"]
    subject = str(make_header(decode_header(copy["Subject"])))
    assert subject == f"[{tid}] support 的新工单：Order #4521 has not arrived"  # noqa: RUF001
    assert "坐席工作台通知的副本" in copy.get_payload(decode=True).decode()
    [sent] = [m for m in relay.received if m["To"] != "ann@acme.example"]
    assert sent["Subject"] == f"Re: [{tid}] Order #4521 has not arrived"
    assert sent["To"] == "ana.lima@customer.example"
    assert sent["In-Reply-To"] == "<CAF1a2b3c4@mail.customer.example>"
    ours = sent["Message-ID"]

    # The customer answers it: no id in the subject, only the headers find the ticket.
    answer = (
        "From: Ana Lima <ana.lima@customer.example>\r\nTo: support@acme.example\r\n"
        "Subject: Re: Order 4521\r\nMessage-ID: <answer-1@mail.customer.example>\r\n"
        f"In-Reply-To: {ours}\r\nReferences: <CAF1a2b3c4@mail.customer.example> {ours}\r\n\r\n"
        "Still nothing here.\r\n"
    ).encode()
    await mail(client, answer)

    async def three_comments() -> list[dict[str, Any]]:
        found = (await get(client, f"/api/tickets/{tid}"))["comments"]
        return found if len(found) == 3 else []

    comments = await until(three_comments, "the answer on the ticket")
    assert [c["by"] for c in comments] == ["customer", "agent", "customer"]
    assert comments[2]["body"] == "Still nothing here."
    assert len(await tickets()) == 1

    # Closed, then a new mail (no thread) quoting the id: reopened with its words as the reason.
    resp = await client.post(f"/api/tickets/{tid}/transition", json={"status": "closed"}, headers=AGENT)
    assert resp.status == 200, await resp.text()
    again = (
        "From: ana.lima@customer.example\r\nTo: support@acme.example\r\n"
        f"Subject: [{tid}] not solved\r\nMessage-ID: <again-1@mail.customer.example>\r\n\r\n"
        "The parcel never came.\r\n"
    ).encode()
    await mail(client, again)

    async def reopened() -> dict[str, Any] | None:
        found: dict[str, Any] = await get(client, f"/api/tickets/{tid}")
        return found if found["status"] == "open" else None

    found = await until(reopened, "the ticket reopened")
    assert found["reopened"] == 1 and found["reopen_reason"] == "The parcel never came."
    assert len(await tickets()) == 1

    # Another customer's mail that continues nothing: a second ticket, theirs.
    other = (
        b"From: Bo Chen <bo@other.example>\r\nTo: support@acme.example\r\n"
        b"Subject: Invoice copy\r\nMessage-ID: <bo-1@other.example>\r\n\r\nPlease send my invoice.\r\n"
    )
    await mail(client, other)

    async def two() -> list[dict[str, Any]]:
        found = await tickets()
        return found if len(found) == 2 else []

    newest = (await until(two, "a second ticket"))[0]
    assert newest["id"] != tid and newest["title"] == "Invoice copy"
    assert newest["customer_id"] != ticket["customer_id"]
    assert messaging.opened == []
