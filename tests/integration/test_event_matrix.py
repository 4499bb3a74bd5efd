"""Every Socket.IO event of every namespace, by every role (and by nobody, and by a forged token),
against a real server with real python-socketio clients: deny by default, as the HTTP matrix in
test_api.py does for routes.

For each namespace: a role that no event of it accepts cannot even connect; a role that may connect
gets ``{"error": "your role may not do this"}`` from every event not declared for it, and never
that answer from an event declared for it (which may still refuse the empty payload, on its merits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio

from callcenter.web.agent_panel import PanelNamespace
from callcenter.web.auth import PUBLIC
from callcenter.web.chat_customer import CustomerNamespace
from callcenter.web.realtime import handlers_of
from callcenter.web.supervisor import SupervisorNamespace
from tests.integration.test_api import make_settings
from tests.integration.test_realtime import AGENT_1001, QA, SITE_SECRET, SUPERVISOR, TOKENS, start_node

ADMIN = "admin-token-0123456789abcdefgh"
WHO = {
    None: None,
    "agent": AGENT_1001,
    "supervisor": SUPERVISOR,
    "qa": QA,
    "admin": ADMIN,
    "forged": "forged-token-0123456789abcdef",
}
NAMESPACES = {"/agent": PanelNamespace, "/supervisor": SupervisorNamespace, "/customer": CustomerNamespace}
REFUSED = {"error": "your role may not do this"}


def test_every_namespace_declares_its_events() -> None:
    for name, cls in NAMESPACES.items():
        events = handlers_of(cls)
        assert events, name
        for event, (roles, _) in events.items():
            assert roles, f"{name} {event}: no roles declared"


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
async def test_event_matrix(tmp_path: Path, namespace: str) -> None:
    tokens = [*TOKENS, {"name": "admin", "role": "admin", "token": ADMIN}]
    settings = make_settings(
        tmp_path,
        security={"api_tokens": tokens},
        messaging={"web_identity_secret": SITE_SECRET},
        realtime={"events_per_second": 200.0, "burst": 200},
    )
    node = await start_node(settings)
    events = handlers_of(NAMESPACES[namespace])
    anyone = set().union(*(roles for roles, _ in events.values()))
    try:
        for who, token in WHO.items():
            role = who if who in ("agent", "supervisor", "qa", "admin") else None
            client = socketio.AsyncClient(reconnection=False)
            auth = {"token": token} if token else None
            may_connect = PUBLIC in anyone or (role is not None and role in anyone)
            try:
                await client.connect(
                    node.url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=10
                )
            except socketio.exceptions.ConnectionError:
                assert not may_connect, f"{namespace}: {who} was refused a connection"
                continue
            try:
                assert may_connect, f"{namespace}: {who} connected, though no event there is for it"
                for event, (roles, _) in sorted(events.items()):
                    ack: Any = await client.call(event, {}, namespace=namespace, timeout=10)
                    allowed = PUBLIC in roles or role in roles
                    if allowed:
                        assert ack != REFUSED, f"{namespace} {event}: {who} refused"
                    else:
                        assert ack == REFUSED, f"{namespace} {event}: {who} got {ack!r}"
                unknown = await client.call("no-such-event", {}, namespace=namespace, timeout=10)
                assert unknown == {"error": "unknown event 'no-such-event'"}
            finally:
                await client.disconnect()
    finally:
        await node.server.close()
