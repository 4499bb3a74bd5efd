"""The supervisor console over a real aiohttp server, real python-socketio clients and SQLite:
wallboard pushes, business-line scoping, forced states and reassigned chats with their audit rows,
the listen action's refusals, the service-level alert, and the namespace's roles.

Asterisk is unreachable here (a closed AMI port): the live ChanSpy path is in
tests/e2e/test_supervisor_calls.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from callcenter.core import events as ev
from callcenter.core.calls import machine as cl
from callcenter.web.api import SERVICE
from callcenter.web.supervisor import WALLBOARD
from tests.integration.test_api import make_settings
from tests.integration.test_realtime import WAIT, Client, Node, start_node

ADMIN = "admin-token-0123456789abcdefgh"
SUP_ALL = "sup-all-token-0123456789abcdef"
SUP_BILLING = "sup-billing-token-0123456789ab"
AGENT = "agent-1001-token-0123456789abc"
QA = "qa-token-0123456789abcdefghijkl"

QUEUES = """\
queues:
  sales:
    line: sales
    service_level: {seconds: 20, target: 0.8}
  billing:
    line: billing
    service_level: {seconds: 20, target: 0.8}
"""


def supervisor_settings(
    tmp_path: Path, *, queues_yaml: str = QUEUES, agents: list[dict[str, Any]] | None = None, **extra: Any
) -> Any:
    queues = tmp_path / "queues.yaml"
    queues.write_text(queues_yaml)
    agents = agents or [
        {"id": "1001", "name": "Sam Sales", "extension": "1001", "queues": ["sales"], "max_chats": 2},
        {"id": "1002", "name": "Bea Billing", "extension": "1002", "queues": ["billing"], "max_chats": 2},
        {"id": "1003", "name": "Bob Billing", "extension": "1003", "queues": ["billing"], "max_chats": 2},
        {"id": "1009", "name": "Sue Visor", "extension": "1009", "queues": [], "auto_login": False},
    ]
    return make_settings(
        tmp_path,
        agents=agents,
        acd={"queues_file": str(queues), "queues_reload_seconds": 0.2},
        security={
            "api_tokens": [
                {"name": "admin", "role": "admin", "token": ADMIN},
                {"name": "sue", "role": "supervisor", "token": SUP_ALL, "agent_id": "1009"},
                {"name": "bill", "role": "supervisor", "token": SUP_BILLING, "lines": ["billing"]},
                {"name": "agent-1001", "role": "agent", "token": AGENT, "agent_id": "1001"},
                {"name": "qa", "role": "qa", "token": QA},
            ]
        },
        realtime={"events_per_second": 50.0, "burst": 50},
        **extra,
    )


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await start_node(supervisor_settings(tmp_path))
    yield n
    await n.server.close()


class Console(Client):
    async def connect(self, url: str, auth: Any = None) -> Console:
        for name in ("wallboard", "alert"):
            self.sio.on(name, self._keeper(name), namespace=self.namespace)
        await self.sio.connect(
            url, namespaces=[self.namespace], auth=auth, transports=["websocket"], wait_timeout=WAIT
        )
        return self

    async def until(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first wallboard push that passes ``check`` (each one is checked for scoping too)."""

        async def wait() -> dict[str, Any]:
            while True:
                board = await self.queue("wallboard").get()
                self.seen.append(board)
                if check(board):
                    return board

        return await asyncio.wait_for(wait(), WAIT)

    @property
    def seen(self) -> list[dict[str, Any]]:
        return self.__dict__.setdefault("_seen", [])


async def console(node: Node, token: str) -> Console:
    return await Console("/supervisor").connect(node.url, auth={"token": token})


async def http(node: Node, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.request(
            method, node.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return resp.status, await resp.json()


def agent_state(board: dict[str, Any], agent_id: str) -> str | None:
    return next((a["state"] for a in board["agents"] if a["id"] == agent_id), None)


def queue(board: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in board["queues"] if q["name"] == name)


async def audit_actions(node: Node) -> list[tuple[str, str, str]]:
    status, body = await http(node, "GET", "/api/audit", ADMIN)
    assert status == 200
    return [(e["who"], e["action"], e["target"]) for e in body["entries"]]


async def test_wallboard_follows_agent_states_and_waiting_chats(node: Node) -> None:
    sue = await console(node, SUP_ALL)
    first = await sue.call("sync")
    assert {q["name"] for q in first["queues"]} == {"sales", "billing"}
    assert {a["id"] for a in first["agents"]} == {"1001", "1002", "1003", "1009"}
    assert len(queue(first, "sales")["series"]) == 60

    status, _ = await http(node, "POST", "/api/agents/1001/login", AGENT)
    assert status == 200
    board = await sue.until(lambda b: agent_state(b, "1001") == "available")
    assert queue(board, "sales")["agents"]["available"] == 1

    status, _ = await http(node, "POST", "/api/agents/1001/pause", SUP_ALL, {"reason": "coaching"})
    assert status == 200
    await sue.until(lambda b: agent_state(b, "1001") == "paused")

    # A chat arrives for billing, where nobody is logged in: it waits, and the board shows it.
    service = node.app[SERVICE]
    service.handle(
        ev.ConversationArrived("chat-w", "webchat", "cust-1", "conv-w", "billing", service.clock())
    )
    board = await sue.until(lambda b: queue(b, "billing")["waiting"] == 1)
    assert queue(board, "billing")["series"][-1][1] == 1  # this minute's peak
    await sue.close()


async def test_a_billing_supervisor_never_gets_sales(node: Node) -> None:
    bill = await console(node, SUP_BILLING)
    sue = await console(node, SUP_ALL)
    synced = await bill.call("sync")
    assert [q["name"] for q in synced["queues"]] == ["billing"]
    assert {a["id"] for a in synced["agents"]} == {"1002", "1003"}

    await http(node, "POST", "/api/agents/1001/login", AGENT)
    await http(node, "POST", "/api/agents/1002/login", SUP_ALL)
    await sue.until(lambda b: agent_state(b, "1001") == "available" and agent_state(b, "1002") == "available")
    await bill.until(lambda b: agent_state(b, "1002") == "available")
    for board in bill.seen:
        assert {q["name"] for q in board["queues"]} == {"billing"}
        assert {a["id"] for a in board["agents"]} <= {"1002", "1003"}
        assert "sales" not in str(board)

    # Nor may it act on them, or see them over HTTP.
    status, _ = await http(node, "POST", "/api/agents/1001/pause", SUP_BILLING)
    assert status == 403
    status, body = await http(node, "GET", "/api/supervisor/wallboard", SUP_BILLING)
    assert status == 200 and [q["name"] for q in body["queues"]] == ["billing"]
    await bill.close()
    await sue.close()


async def test_forced_state_and_reassigned_chat_are_audited(node: Node) -> None:
    service = node.app[SERVICE]
    for agent_id in ("1002", "1003"):
        status, _ = await http(node, "POST", f"/api/agents/{agent_id}/login", SUP_BILLING)
        assert status == 200
    service.handle(
        ev.ConversationArrived("chat-r", "webchat", "cust-2", "conv-r", "billing", service.clock())
    )
    offered = service.engine.interactions["chat-r"].offered_to
    assert offered in ("1002", "1003")
    service.handle(ev.OfferAccepted("chat-r", offered, service.clock()))
    other = "1003" if offered == "1002" else "1002"

    # A sales-only view does not reach it; bad bodies are refused with the reason.
    status, body = await http(
        node, "POST", "/api/supervisor/reassign", SUP_BILLING, {"interaction_id": "chat-r"}
    )
    assert status == 400 and "exactly one" in body["error"]
    status, _ = await http(
        node,
        "POST",
        "/api/supervisor/reassign",
        SUP_BILLING,
        {"interaction_id": "chat-r", "to_agent": "1001"},
    )
    assert status == 404  # 1001 serves sales only: not this supervisor's agent

    status, body = await http(
        node, "POST", "/api/supervisor/reassign", SUP_BILLING, {"interaction_id": "chat-r", "to_agent": other}
    )
    assert status == 200, body
    assert service.engine.interactions["chat-r"].offered_to == other
    assert "chat-r" not in service.engine.conversations_of(offered)

    status, _ = await http(node, "POST", f"/api/agents/{other}/pause", SUP_BILLING, {"reason": "meeting"})
    assert status == 200
    actions = await audit_actions(node)
    assert ("bill", "conversation.reassigned", "chat-r") in actions
    assert ("bill", "agent.state_forced", other) in actions


async def test_listen_refusals(node: Node) -> None:
    status, body = await http(
        node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001", "mode": "shout"}
    )
    assert status == 400 and "mode" in body["error"]
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_BILLING, {"agent_id": "1002"})
    assert status == 409 and "phone" in body["error"]  # no agent id: no phone to ring
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_BILLING, {"agent_id": "1001"})
    assert status == 404
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001"})
    assert status == 409 and "no call" in body["error"]
    assert not [a for a in await audit_actions(node) if a[1].startswith("call.")]


def answered(node: Node, iid: str, agent: str, queue: str = "sales") -> None:
    """A call answered by ``agent``: the events the voice adapter would submit (no Asterisk here)."""
    service = node.app[SERVICE]
    service.dialer = None
    service.handle(ev.AgentLogin(agent, service.clock()))
    service.handle(ev.AgentRegistered(agent, service.clock()))
    service.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/trunk-{iid}", service.clock()))
    service.handle(ev.IvrFinished(iid, "1", queue, service.clock()))
    service.handle(ev.AgentAnswered(iid, agent, service.clock()))
    assert node.app[SERVICE].engine.agents[agent].interaction_id == iid


async def test_listen_is_checked_by_the_core_and_audited_before_the_phone_rings(node: Node) -> None:
    service = node.app[SERVICE]
    seen: list[object] = []
    service.observers.append(seen.append)
    answered(node, "call-s", "1001")
    # The core accepted: the audit row, then the adapter, which finds no agent leg (no Asterisk).
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001"})
    assert status == 502 and "not on this call" in body["error"], body
    assert ("sue", "call.listen", "1001") in await audit_actions(node)
    assert [e.reason for e in seen if isinstance(e, cl.SpyFailed)] == [
        "the agent's phone is not on this call"
    ]

    # On hold: listen and whisper yes, barge no (nobody but the agent would hear it).
    service.handle(cl.HoldRequested("call-s", "1001", service.clock()))
    service.handle(cl.HoldConfirmed("call-s", True, service.clock()))
    rows = len(await audit_actions(node))
    status, body = await http(
        node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001", "mode": "barge"}
    )
    assert status == 409 and "on hold" in body["error"]
    assert len(await audit_actions(node)) == rows  # refused by the core: not audited
    status, body = await http(
        node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001", "mode": "whisper"}
    )
    assert status == 502
    assert ("sue", "call.whisper", "1001") in await audit_actions(node)
    # Its own phone: refused.
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1009"})
    assert status == 409 and "your own calls" in body["error"]


async def test_the_recording_pause_of_a_call_is_scoped_to_the_supervisors_lines(node: Node) -> None:
    answered(node, "call-p", "1001")  # a sales call
    path = "/api/interactions/call-p/recording"
    status, body = await http(node, "POST", path, SUP_BILLING, {"paused": True})
    assert status == 404 and body["error"] == "no call in progress with this id"
    status, body = await http(node, "POST", path, SUP_ALL, {"paused": True})
    assert status == 502 and "no recording leg" in body["error"]  # the core agreed; no Asterisk here


async def test_service_level_alert_reaches_the_lines_that_may_see_it(node: Node) -> None:
    bill = await console(node, SUP_BILLING)
    sue = await console(node, SUP_ALL)
    service = node.app[SERVICE]
    now = service.clock()
    for n in range(3):  # three sales callers who hung up after waiting past the 20 s threshold
        iid = f"call-{n}"
        service.handle(ev.CallArrived(iid, "100", "", "5000", f"PJSIP/trunk-{n}", now - 100))
        service.handle(ev.IvrFinished(iid, "1", "sales", now - 95))
        service.handle(ev.CallerHungUp(iid, "16", now))
    alert = await sue.next("alert")
    assert alert["kind"] == "service_level" and alert["queue"] == "sales" and alert["below"] is True
    board = await sue.until(lambda b: queue(b, "sales")["alert"])
    assert queue(board, "sales")["hour_service_level"] == 0.0
    assert node.app[WALLBOARD].alerts.below == {"sales"}
    await sue.until(lambda b: True)  # a further push: by now the billing console had its chance
    assert bill.queue("alert").empty()
    await bill.close()
    await sue.close()


async def test_namespace_roles(node: Node) -> None:
    refused = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(
            node.url,
            namespaces=["/supervisor"],
            auth={"token": AGENT},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(
            node.url, namespaces=["/supervisor"], transports=["websocket"], wait_timeout=WAIT
        )
    admin = await console(node, ADMIN)
    assert {q["name"] for q in (await admin.call("sync"))["queues"]} == {"sales", "billing"}
    assert (await admin.call("force", {"agent_id": "1001"})) == {"error": "unknown event 'force'"}
    await admin.close()


async def test_emergency_words_go_to_the_supervisors_of_the_calls_line(node: Node) -> None:
    from callcenter.app import _alert_supervisors
    from callcenter.core.qa.scoring import Alert, Evidence

    bill = await console(node, SUP_BILLING)
    sue = await console(node, SUP_ALL)
    service = node.app[SERVICE]
    now = service.clock()
    for iid, queue_name in (("call-s", "sales"), ("call-b", "billing")):
        service.handle(ev.CallArrived(iid, "100", "", "5000", f"PJSIP/trunk-{iid}", now))
        service.handle(ev.IvrFinished(iid, "1", queue_name, now))
    on_alert = _alert_supervisors(node.app)
    await on_alert("call-s", Alert("fire", Evidence("caller", 1.0, 2.0, "there is a fire")))
    await on_alert("call-b", Alert("ambulance", Evidence("caller", 3.0, 4.0, "call an ambulance")))
    first, second = await sue.next("alert"), await sue.next("alert")
    assert {(a["interaction_id"], a["word"]) for a in (first, second)} == {
        ("call-s", "fire"),
        ("call-b", "ambulance"),
    }
    got = await bill.next("alert")
    assert got == {
        "kind": "emergency_word",
        "interaction_id": "call-b",
        "queue": "billing",
        "agent_id": None,
        "agent_name": None,
        "word": "ambulance",
    }
    await sue.until(lambda b: True)  # a later push: the sales alert had its chance to (wrongly) arrive
    assert bill.queue("alert").empty()
    await bill.close()
    await sue.close()


async def test_the_last_hour_survives_a_restart(tmp_path: Path) -> None:
    settings = supervisor_settings(tmp_path)
    first = await start_node(settings)
    service = first.app[SERVICE]
    now = service.clock()
    for n in range(3):  # abandoned after the threshold, then one answered in time below
        iid = f"call-{n}"
        service.handle(ev.CallArrived(iid, "100", "", "5000", f"PJSIP/trunk-{n}", now - 100))
        service.handle(ev.IvrFinished(iid, "1", "sales", now - 95))
        service.handle(ev.CallerHungUp(iid, "16", now - 30))
    service.handle(ev.ConversationArrived("chat-1", "webchat", "c", "conv", "sales", now - 20))
    await first.server.close()  # the service flushes its writes on the way out

    second = await start_node(settings)
    try:
        status, body = await http(second, "GET", "/api/supervisor/wallboard", SUP_ALL)
        assert status == 200
        sales = queue(body, "sales")
        assert (sales["hour_service_level"], sales["hour_counted"]) == (0.0, 3)
        assert max(p[1] or 0 for p in sales["series"]) >= 3  # three waiting at once, a minute or two ago
        assert sales["waiting"] == 1  # the chat, restored in line
    finally:
        await second.server.close()
