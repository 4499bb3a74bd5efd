"""CRM webhooks against a real HTTP receiver (aiohttp on loopback) and a real SQLite and
PostgreSQL: ticket changes become deliveries in their own transaction, signed, retried on 5xx /
429 / refused connections, given up on 4xx, every attempt logged; a restart in the middle resumes,
and a sender that died mid-attempt leaves its delivery to be sent again after the lease."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.core.tickets import workflow as wfl
from callcenter.crm import signing
from callcenter.crm.sender import Sender
from callcenter.settings.webhooks import Subscription, WebhooksSettings
from callcenter.storage.db import Database, create_engine
from callcenter.storage.db_models import EventRow
from callcenter.storage.tickets_store import TicketsStore
from callcenter.storage.webhooks_store import WebhooksStore
from callcenter.tickets.records import Actor
from callcenter.tickets.service import Tickets
from tests.pg import new_database
from tests.unit.tickets_fixtures import example

WF = example()
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANN = Actor("ann", "agent", "127.0.0.1")
SECRET = "crm-secret-0123456789"


class Receiver:
    """A CRM's endpoint: answers each path and event type from its script (then 200), checks
    every signature against the sender's clock, and keeps what it got."""

    def __init__(self, clock: list[float] | None) -> None:
        self.clock = clock  # None: the real time
        self.script: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.got: list[tuple[str, dict[str, Any], bool]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time() if self.clock is None else self.clock[0]
        signed = signing.verify(SECRET, request.headers.get(signing.HEADER, ""), body, now=now)
        document = json.loads(body)
        self.got.append((request.path, document, signed))
        script = self.script.get(f"{request.path} {document['type']}", [])
        status, headers = script.pop(0) if script else (200, {})
        return web.Response(status=status, headers=headers)


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'webhooks.db'}"
    database = Database(url)
    await database.start()  # migrates
    await database.stop()
    yield url


@pytest.fixture
async def receiver_url() -> AsyncIterator[tuple[Receiver, str, list[float]]]:
    clock = [T0.timestamp()]
    receiver = Receiver(clock)
    app = web.Application()
    app.router.add_post("/{path:.*}", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield receiver, str(server.make_url("")), clock
    finally:
        await server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(base: str, **subs: tuple[str, ...]) -> WebhooksSettings:
    return WebhooksSettings(
        subscriptions=tuple(
            Subscription(
                name=name,
                url=f"{base}/{name}" if name != "down" else f"http://127.0.0.1:{closed_port()}/",
                secret=SECRET,
                events=events,
            )
            for name, events in subs.items()
        ),
        max_attempts=4,
        retry_min_delay=10.0,
        retry_max_delay=100.0,
        timeout=5.0,
    )


async def test_ticket_events_are_delivered_signed_retried_and_logged_across_a_restart(
    url: str, receiver_url: tuple[Receiver, str, list[float]]
) -> None:
    receiver, base, clock = receiver_url
    config = settings(base, crm=("ticket.*",), picky=("ticket.created",), down=("ticket.created",),
                      calls=("interaction.*",))  # fmt: skip
    tickets_store = TicketsStore(url, closed=lambda t: t.status in WF.types[t.type].closed,
                                 subscriptions=config.subscriptions)  # fmt: skip
    await tickets_store.start()
    tickets = Tickets(WF, tickets_store, clock=lambda: T0)
    store = WebhooksStore(url)
    await store.start()
    try:
        draft = wfl.Draft("fault", "Router reboots", {"product": "router", "devices": 2}, customer_id="c1")
        created = await tickets.create(draft, ANN)
        await tickets.transition(created.id, "open", ANN)
        await tickets.comment(created.id, "We are on it", False, ANN)
        with pytest.raises(wfl.TicketRefused):  # refused: no event, no delivery
            await tickets.transition(created.id, "closed", ANN)
        rows = await store.find(limit=100)
        assert sorted((d.subscription, d.event) for d in rows) == [
            ("crm", "ticket.commented"), ("crm", "ticket.created"), ("crm", "ticket.status"),
            ("down", "ticket.created"), ("picky", "ticket.created"),
        ]  # fmt: skip
        # The CRM's endpoint is down for two attempts; "picky" refuses the body for good.
        receiver.script["/crm ticket.created"] = [(503, {}), (502, {})]
        receiver.script["/picky ticket.created"] = [(422, {})]
        sender = Sender(store, config, clock=lambda: clock[0])
        await sender.open()
        try:
            assert await sender.run_once() == 5
        finally:
            await sender.stop()
        # A restart: new store, new sender; the pending deliveries are in the database.
        await store.stop()
        store = WebhooksStore(url)
        await store.start()
        sender = Sender(store, config, clock=lambda: clock[0])
        await sender.open()
        try:
            assert await sender.run_once() == 0  # not due yet: 10 s after the first attempt
            clock[0] += 10
            assert await sender.run_once() == 2  # crm's created (502), down
            clock[0] += 20
            assert await sender.run_once() == 2  # crm's created (200), down
            clock[0] += 40
            assert await sender.run_once() == 1  # down, its last attempt
            clock[0] += 1000
            assert await sender.run_once() == 0
        finally:
            await sender.stop()
        by = {(d.subscription, d.event): d for d in await store.find(limit=100)}
        created_crm = by["crm", "ticket.created"]
        assert created_crm.state == "delivered" and created_crm.attempts == 3
        assert [a.status for a in created_crm.log] == [503, 502, 200]
        assert [a.at - created_crm.log[0].at for a in created_crm.log] == [
            timedelta(0), timedelta(seconds=10), timedelta(seconds=30)
        ]  # fmt: skip
        assert by["picky", "ticket.created"].state == "failed"
        assert [a.status for a in by["picky", "ticket.created"].log] == [422]
        down = by["down", "ticket.created"]
        assert (down.state, down.attempts, down.last_status) == ("failed", 4, None)
        assert all(a.error == "ClientConnectorError" for a in down.log)
        assert down.last_error == "ClientConnectorError"
        # Every request was signed right; each delivery kept its body and id across attempts.
        assert receiver.got and all(signed for _, _, signed in receiver.got)
        crm_bodies = [b for path, b, _ in receiver.got if path == "/crm" and b["type"] == "ticket.created"]
        assert len(crm_bodies) == 3 and all(b == crm_bodies[0] for b in crm_bodies)
        body = crm_bodies[0]
        assert body["id"] == created_crm.event_id and body["created_at"] == T0.isoformat()
        assert body["data"]["ticket"]["id"] == created.id and body["data"]["event"]["kind"] == "created"
        comment = next(b for p, b, _ in receiver.got if b["type"] == "ticket.commented")
        assert comment["data"]["comment"] == {"body": "We are on it", "internal": False, "by": "ann"}
        assert comment["data"]["ticket"]["first_response_at"] == T0.isoformat()
        # Redelivering a delivered one: a new round, the same body and id.
        assert await store.redeliver(created_crm.id, clock[0])
        sender = Sender(store, config, clock=lambda: clock[0])
        await sender.open()
        try:
            assert await sender.run_once() == 1
        finally:
            await sender.stop()
        again = await store.get(created_crm.id)
        assert again is not None and again.state == "delivered" and again.attempts == 1
        assert [a.status for a in again.log] == [503, 502, 200, 200]
        assert receiver.got[-1][1] == body
    finally:
        await store.stop()
        await tickets_store.stop()


async def test_a_sender_that_died_mid_attempt_leaves_the_delivery_to_the_next_after_its_lease(
    url: str, receiver_url: tuple[Receiver, str, list[float]]
) -> None:
    receiver, base, clock = receiver_url
    config = settings(base, crm=("ticket.*",))
    tickets_store = TicketsStore(url, subscriptions=config.subscriptions)
    await tickets_store.start()
    store = WebhooksStore(url)
    await store.start()
    try:
        created = await Tickets(WF, tickets_store, clock=lambda: T0).create(
            wfl.Draft("fault", "No signal", {"product": "tv"}), ANN
        )
        dead = await store.claim(clock[0], 10, lease=60.0)  # claimed, never finished: the node died
        assert [d.event for d in dead] == ["ticket.created"] and not dead[0].reclaimed
        receiver.script["/crm ticket.created"] = [(429, {"Retry-After": "30"})]
        sender = Sender(store, config, clock=lambda: clock[0])
        await sender.open()
        try:
            assert await sender.run_once() == 0  # still claimed by the dead sender
            clock[0] += 61
            assert await sender.run_once() == 1  # reclaimed: 429, due again in max(10, 30) s
            clock[0] += 29
            assert await sender.run_once() == 0
            clock[0] += 1
            assert await sender.run_once() == 1
        finally:
            await sender.stop()
        # The dead sender's late outcome does not count: its claim is gone.
        assert not await store.finish(dead[0], _attempt(clock[0]), _delivered())
        (delivery,) = await store.find()
        assert delivery.state == "delivered" and [a.status for a in delivery.log] == [429, 200]
        assert [b["data"]["ticket"]["id"] for _, b, _ in receiver.got] == [created.id, created.id]
        # Finished deliveries go after webhooks.keep_days (30), with their attempts; pending ones stay.
        await Tickets(WF, tickets_store, clock=lambda: T0).create(
            wfl.Draft("fault", "Still waiting", {"product": "tv"}), ANN
        )
        purger = Sender(store, config, clock=lambda: clock[0])
        clock[0] += 29 * 86400
        assert await purger.purge() == 0
        clock[0] += 2 * 86400
        assert await purger.purge() == 1
        (left,) = await store.find()
        assert (left.state, left.attempts, left.log) == ("pending", 0, ())
        engine = create_engine(url)
        try:
            async with engine.connect() as c:
                assert await c.scalar(sa.text("SELECT count(*) FROM webhook_attempts")) == 0
        finally:
            await engine.dispose()
    finally:
        await store.stop()
        await tickets_store.stop()


def _attempt(at: float) -> Any:
    from callcenter.crm.records import Attempt

    return Attempt(datetime.fromtimestamp(at, UTC), 200, "", 0.01)


def _delivered() -> Any:
    from callcenter.core.webhooks.delivery import State, Verdict

    return Verdict(State.DELIVERED, None, "HTTP 200")


async def test_interaction_endings_and_wrap_ups_are_taken_from_the_event_log_once(url: str) -> None:
    config = settings("http://127.0.0.1:9", calls=("interaction.*",), ended=("interaction.ended",))
    store = WebhooksStore(url)
    await store.start()
    engine = create_engine(url)
    events = EventRow.__table__

    async def log(*rows: tuple[str, str, dict[str, Any]]) -> None:
        async with engine.begin() as c:
            await c.execute(sa.insert(events), [{"interaction_id": i, "at": T0, "kind": k, "data": d}
                                                for i, k, d in rows])  # fmt: skip

    try:
        await log(("old", "ended", {"outcome": "answered", "by": "caller"}))
        assert await store.follow_events(config.subscriptions) == 0  # the first pass starts at the end
        await log(
            ("i-1", "queued", {"queue": "support"}),
            ("i-1", "ended", {"outcome": "answered", "by": "caller"}),
            ("i-1", "wrap_up", {"agent": "1001", "disposition": "solved", "notes": "reset the router"}),
        )
        assert await store.follow_events(config.subscriptions) == 3
        assert await store.follow_events(config.subscriptions) == 0
        found = sorted((d.subscription, d.event) for d in await store.find())
        assert found == [("calls", "interaction.ended"), ("calls", "interaction.wrapped_up"),
                         ("ended", "interaction.ended")]  # fmt: skip
    finally:
        await engine.dispose()
        await store.stop()


async def test_the_server_sends_a_ticket_s_webhook_and_admins_read_the_log_and_redeliver(
    tmp_path: Path,
) -> None:
    """The whole server (SQLite, the owner's sender in its routing half): a ticket made over HTTP
    reaches the CRM signed; admins see the subscription without its secret, the log, and redeliver."""
    from tests.integration.test_api import TOKENS, make_settings
    from tests.integration.test_realtime import start_node
    from tests.integration.test_tickets_api import until
    from tests.unit.tickets_fixtures import EXAMPLE

    receiver = Receiver(None)
    crm = web.Application()
    crm.router.add_post("/{path:.*}", receiver.handle)
    server = TestServer(crm, host="127.0.0.1")
    await server.start_server()
    hook = {"name": "crm", "url": f"{server.make_url('/hook')}?key=do-not-show", "secret": SECRET,
            "events": ["ticket.created"]}  # fmt: skip
    config = make_settings(tmp_path, tickets={"workflow_file": str(EXAMPLE)},
                           webhooks={"subscriptions": [hook], "poll_seconds": 0.05})  # fmt: skip
    node = await start_node(config)
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    try:
        async with aiohttp.ClientSession(node.url, headers=admin) as http:
            body = {"type": "fault", "title": "Router reboots", "fields": {"product": "router"}}
            async with http.post("/api/tickets", json=body) as resp:
                assert resp.status == 201
                ticket = await resp.json()
            await until(lambda: _async(len(receiver.got) == 1), "the CRM got the ticket")
            path, document, signed = receiver.got[0]
            assert (path, document["type"], signed) == ("/hook", "ticket.created", True)
            assert document["data"]["ticket"]["id"] == ticket["id"]
            async with http.get("/api/webhooks") as resp:
                text = await resp.text()
            assert SECRET not in text and "do-not-show" not in text
            assert json.loads(text)["subscriptions"] == [
                {"name": "crm", "url": str(server.make_url("/hook")), "events": ["ticket.created"]}
            ]

            async def delivered() -> Any:
                async with http.get("/api/webhooks/deliveries?state=delivered") as resp:
                    return (await resp.json())["deliveries"]

            (row,) = await until(delivered, "the delivery logged as delivered")
            assert (row["event"], row["event_id"], row["attempts"]) == ("ticket.created", document["id"], 1)
            assert [a["status"] for a in row["log"]] == [200]
            async with http.get("/api/webhooks/deliveries?state=sent") as resp:
                assert resp.status == 400
            async with http.post("/api/webhooks/deliveries/999/redeliver") as resp:
                assert resp.status == 404
            async with http.post(f"/api/webhooks/deliveries/{row['id']}/redeliver") as resp:
                assert resp.status == 202
            await until(lambda: _async(len(receiver.got) == 2), "the redelivery")
            async with http.get("/metrics") as resp:
                metrics = await resp.text()
            assert 'callcenter_webhook_attempts_total{result="delivered",subscription="crm"}' in metrics
            assert receiver.got[1][1] == document and receiver.got[1][2]
            async with http.get("/api/audit?action=webhooks.redeliver") as resp:
                assert resp.status == 200
                audit = await resp.json()
            assert [(e["action"], e["target"], e["who"]) for e in audit["entries"]] == [
                ("webhooks.redeliver", str(row["id"]), "admin")
            ]
    finally:
        await node.server.close()
        await server.close()


async def _async(value: Any) -> Any:
    return value


async def test_a_crm_updates_a_ticket_the_newest_update_wins_and_the_loser_is_recorded(
    tmp_path: Path,
) -> None:
    """PATCH /api/crm/tickets/{id} with the CRM's token on a whole server: the mapping, an older
    update losing field by field, both in the ticket's events and the chained audit; deny by
    default."""
    from tests.integration.test_api import TOKENS, make_settings
    from tests.integration.test_realtime import start_node
    from tests.unit.tickets_fixtures import EXAMPLE

    config = make_settings(tmp_path, tickets={"workflow_file": str(EXAMPLE)})
    node = await start_node(config)
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    crm_token = {"Authorization": f"Bearer {TOKENS['crm']}"}
    try:
        async with aiohttp.ClientSession(node.url) as http:
            body = {"type": "fault", "title": "Router reboots", "fields": {"product": "router"}}
            async with http.post("/api/tickets", json=body, headers=admin) as resp:
                tid = (await resp.json())["id"]
            path = f"/api/crm/tickets/{tid}"
            newer = {"updated_at": "2099-01-01T10:00:00+00:00",
                     "fields": {"subject": "Router reboots nightly", "custom.product": "tv"}}  # fmt: skip
            older = {"updated_at": "2099-01-01T09:00:00Z",
                     "fields": {"subject": "Router reboots sometimes", "priority": "high"}}  # fmt: skip
            async with http.patch(path, json=newer, headers=admin) as resp:
                assert resp.status == 403  # an admin is not the CRM
            async with http.get(f"/api/tickets/{tid}", headers=crm_token) as resp:
                assert resp.status == 403  # the CRM reads nothing else
            async with http.patch(path, json=newer, headers=crm_token) as resp:
                assert resp.status == 200
                assert await resp.json() == {
                    "ticket": tid, "lost": {},
                    "applied": {"title": {"before": "Router reboots", "after": "Router reboots nightly"},
                                "fields.product": {"before": "router", "after": "tv"}},
                }  # fmt: skip
            async with http.patch(path, json=older, headers=crm_token) as resp:
                assert resp.status == 200
                result = await resp.json()
            assert result["applied"] == {"priority": {"before": "normal", "after": "high"}}
            assert result["lost"] == {
                "title": {"value": "Router reboots sometimes", "newer_at": "2099-01-01T10:00:00+00:00"}
            }
            for bad, status in (
                ({"updated_at": "2099-01-01T11:00:00", "fields": {"subject": "x"}}, 400),  # no zone
                ({"updated_at": "2099-01-01T11:00:00Z", "fields": {"owner": "x"}}, 400),  # unmapped
                ({"updated_at": "2099-01-01T11:00:00Z", "fields": {"priority": "asap"}}, 400),
                ({"updated_at": "2099-01-01T11:00:00Z", "fields": {}}, 400),
            ):
                async with http.patch(path, json=bad, headers=crm_token) as resp:
                    assert resp.status == status, (bad, await resp.text())
            async with http.patch("/api/crm/tickets/T-NONE", json=newer, headers=crm_token) as resp:
                assert resp.status == 404
            async with http.get(f"/api/tickets/{tid}", headers=admin) as resp:
                shown = await resp.json()
            assert (shown["title"], shown["priority"], shown["fields"]["product"]) == (
                "Router reboots nightly", "high", "tv"
            )  # fmt: skip
            crm_events = [e for e in shown["events"] if e["kind"] == "crm_updated"]
            assert [sorted(e["lost"]) for e in crm_events] == [[], ["title"]]
            async with http.get("/api/audit?action=ticket.crm_updated", headers=admin) as resp:
                audit = (await resp.json())["entries"]
            assert [(e["who"], e["role"], e["target"]) for e in audit] == [("crm", "crm", tid)] * 2
            assert sorted(sorted(e["detail"]["lost"]) for e in audit) == [[], ["title"]]
    finally:
        await node.server.close()


async def test_a_crm_updates_a_customer_on_the_owner_the_newest_update_wins(tmp_path: Path) -> None:
    """PATCH /api/crm/customers/{id}: the mapping, the tier tag the tickets' routing reads, an older
    update losing, the audit rows; the times kept in the database across a restart of the node; a
    CRM update older than our own edit losing to it."""
    from callcenter.core.omni.customers import Claim
    from callcenter.messaging.identity import email as email_identity
    from callcenter.web.webhooks import MESSAGING
    from tests.integration.test_api import TOKENS, make_settings
    from tests.integration.test_realtime import start_node

    config = make_settings(tmp_path)
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    crm_token = {"Authorization": f"Bearer {TOKENS['crm']}"}
    node = await start_node(config)
    try:
        messaging = node.app[MESSAGING]
        made = messaging.customers.identify(
            Claim(email_identity("dee@example.com"), True), time.time(), new_id="c-dee"
        )
        await messaging.save_customers({made.customer.id})
        async with aiohttp.ClientSession(node.url) as http:
            path = "/api/crm/customers/c-dee"
            fields = {"full_name": "Dee Dee", "segment": "Gold", "preferred_language": "zh-CN"}
            newer = {"updated_at": "2099-01-01T10:00:00Z", "fields": fields}
            async with http.patch(path, json=newer, headers=crm_token) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["applied"] == {
                    "name": {"before": "", "after": "Dee Dee"},
                    "tier": {"before": None, "after": "gold"},
                    "language": {"before": None, "after": "zh-CN"},
                }
            async with http.patch(path, json=newer, headers=admin) as resp:
                assert resp.status == 403
            for bad in ({"full_name": "x", "owner": "y"}, {"vip": "yes"}, {"segment": "Gold Plus"}):
                async with http.patch(path, json={"updated_at": "2099-01-01T11:00:00Z", "fields": bad},
                                      headers=crm_token) as resp:  # fmt: skip
                    assert resp.status == 400, bad
            async with http.patch("/api/crm/customers/c-nobody", json=newer, headers=crm_token) as resp:
                assert resp.status == 404
    finally:
        await node.server.close()
    node = await start_node(config)  # a restart: the times in force come from the database
    try:
        async with aiohttp.ClientSession(node.url) as http:
            older = {"updated_at": "2099-01-01T09:00:00Z", "fields": {"segment": "silver", "vip": True}}
            async with http.patch("/api/crm/customers/c-dee", json=older, headers=crm_token) as resp:
                result = await resp.json()
            assert result["applied"] == {"vip": {"before": False, "after": True}}
            assert result["lost"] == {"tier": {"value": "silver", "newer_at": "2099-01-01T10:00:00+00:00"}}
            async with http.get("/api/customers/c-dee", headers=admin) as resp:
                shown = await resp.json()
            assert (shown["name"], shown["vip"], shown["language"], shown["tags"]) == (
                "Dee Dee", True, "zh-CN", ["tier:gold"]
            )  # fmt: skip
            async with http.get("/api/audit?action=customer.crm_updated", headers=admin) as resp:
                audit = (await resp.json())["entries"]
            assert [(e["who"], e["target"], sorted(e["detail"]["lost"])) for e in audit] == [
                ("crm", "c-dee", ["tier"]), ("crm", "c-dee", [])
            ]  # fmt: skip
            # Our own edit counts too: a CRM update made before it (and after the customer was
            # created) loses on the field we edited, and applies on the one we did not.
            messaging = node.app[MESSAGING]
            eve = Claim(email_identity("eve@example.com"), True)
            made = messaging.customers.identify(eve, time.time() - 86400, new_id="c-eve")
            await messaging.save_customers({made.customer.id})
            async with http.post(
                "/api/customers/c-eve/attributes", json={"name": "Eve (ours)"}, headers=admin
            ) as resp:
                assert resp.status == 200
            hour_ago = datetime.fromtimestamp(time.time() - 3600, UTC).isoformat()
            stale = {"updated_at": hour_ago, "fields": {"full_name": "Eve Old", "vip": True}}
            async with http.patch("/api/crm/customers/c-eve", json=stale, headers=crm_token) as resp:
                result = await resp.json()
            assert result["applied"] == {"vip": {"before": False, "after": True}}
            assert set(result["lost"]) == {"name"} and result["lost"]["name"]["newer_at"] > hour_ago
    finally:
        await node.server.close()


async def test_teams_get_e_mails_of_their_tickets_events_over_real_smtp_in_their_language(
    tmp_path: Path,
) -> None:
    """A team with a mailbox in the workflow file gets an e-mail for a new ticket and for one
    transferred to it, through a real SMTP relay, in its language; a relay that says 451 is tried
    again; a status change is not mailed; every attempt is in the delivery log."""
    from email.message import Message

    from tests.integration.test_api import TOKENS, make_settings
    from tests.integration.test_email import Relay, email_messaging
    from tests.integration.test_realtime import start_node
    from tests.integration.test_tickets_api import until
    from tests.unit.tickets_fixtures import EXAMPLE

    workflow = EXAMPLE.read_text()
    for team, extra in (("support", "email: support-team@acme.example, language: zh-CN, "),
                        ("engineering", "email: eng@acme.example, ")):  # fmt: skip
        assert f"  {team}: {{transfers" in workflow
        workflow = workflow.replace(f"  {team}: {{transfers", f"  {team}: {{{extra}transfers")
    (tmp_path / "tickets.yaml").write_text(workflow)
    relay = Relay()
    await relay.start()
    config = make_settings(
        tmp_path,
        tickets={"workflow_file": str(tmp_path / "tickets.yaml")},
        messaging=email_messaging(relay),
        webhooks={"retry_min_delay": 0.05, "poll_seconds": 0.05},
    )
    node = await start_node(config)
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    try:
        async with aiohttp.ClientSession(node.url, headers=admin) as http:
            body = {"type": "fault", "title": "Router reboots", "fields": {"product": "router"}}
            async with http.post("/api/tickets", json=body) as resp:
                tid = (await resp.json())["id"]
            await until(lambda: _async(len(relay.received) == 1), "the support team's e-mail")
            mail: Message = relay.received[0]
            assert (mail["To"], mail["From"]) == ("support-team@acme.example", "support@acme.example")
            assert _header(mail["Subject"]) == f"[{tid}] support 的新工单\uff1aRouter reboots"
            text = mail.get_payload(decode=True).decode().replace("\r\n", "\n")
            assert f"工单: {tid}\n标题: Router reboots\n" in text and "请勿回复" in text
            async with http.post(f"/api/tickets/{tid}/transition", json={"status": "open"}) as resp:
                assert resp.status == 200
            relay.refuse = 1
            async with http.post(
                f"/api/tickets/{tid}/transfer", json={"team": "engineering", "reason": "firmware"}
            ) as resp:
                assert resp.status == 200
            await until(lambda: _async(len(relay.received) == 2), "the engineering team's e-mail")
            mail = relay.received[1]
            assert (mail["To"], mail["Subject"]) == (
                "eng@acme.example",
                f"[{tid}] Ticket transferred to engineering: Router reboots",
            )
            assert "From support: firmware" in mail.get_payload(decode=True).decode()

            async def settled() -> list[dict[str, Any]] | None:
                # The relay has the e-mail before the delivery's outcome is stored: wait for it.
                async with http.get("/api/webhooks/deliveries") as resp:
                    found: list[dict[str, Any]] = (await resp.json())["deliveries"]
                return found if all(r["state"] != "pending" for r in found) else None

            rows = await until(settled, "the deliveries' outcomes stored")
            assert sorted((r["subscription"], r["event"], r["state"]) for r in rows) == [
                ("mail:engineering", "ticket.transferred", "delivered"),
                ("mail:support", "ticket.created", "delivered"),
            ]  # the status change: not mailed
            eng = next(r for r in rows if r["subscription"] == "mail:engineering")
            assert [(a["status"], a["error"]) for a in eng["log"]] == [(None, "SMTP 451"), (250, "")]
    finally:
        await node.server.close()
        await relay.stop()


def _header(value: str) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(value)))
