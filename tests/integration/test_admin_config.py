"""The administrators' configuration pages over a real server and SQLite: queues file and agents
file edits take effect live; a bad edit is refused with ``file:line`` and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.core import events as ev
from callcenter.web.admin_config import AGENTS_WATCHER
from callcenter.web.api import SERVICE, SETTINGS
from tests.integration.test_realtime import Node, start_node
from tests.integration.test_supervisor import ADMIN, QUEUES, SUP_ALL, audit_actions, http, supervisor_settings


async def eventually(check: Callable[[], bool], timeout: float) -> None:
    async def wait() -> None:
        while not check():  # noqa: ASYNC110 (the watcher polls a file: no event to wait on)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = supervisor_settings(tmp_path)
    agents_file = tmp_path / "agents.yaml"
    n = await start_node(
        settings.model_copy(update={"acd": settings.acd.model_copy(update={"agents_file": agents_file})})
    )
    yield n
    await n.server.close()


def queues_path(node: Node) -> Path:
    found = node.app[SETTINGS].acd.queues_file
    assert found is not None
    return Path(found)


def agents_path(node: Node) -> Path:
    found = node.app[SETTINGS].acd.agents_file
    assert found is not None
    return Path(found)


async def test_a_valid_queue_edit_takes_effect_at_once(node: Node) -> None:
    engine = node.app[SERVICE].engine
    status, body = await http(node, "GET", "/api/admin/queues", ADMIN)
    assert status == 200 and body["yaml"] == QUEUES and body["running"] == ["billing", "sales"]
    edited = (
        QUEUES.replace("target: 0.8}\n  billing", "target: 0.95}\n  billing") + "  vip:\n    line: sales\n"
    )
    status, body = await http(node, "PUT", "/api/admin/queues", ADMIN, {"yaml": edited})
    assert status == 200, body
    assert engine.queues["sales"].service_level_target == 0.95 and "vip" in engine.queues
    assert queues_path(node).read_text() == edited
    status, figures = await http(node, "GET", "/api/queues", ADMIN)
    assert {q["name"] for q in figures["queues"]} >= {"sales", "billing", "vip"}
    assert ("admin", "queues.edited", "queues.yaml") in await audit_actions(node)


async def test_a_bad_queue_edit_is_refused_with_its_line_and_changes_nothing(node: Node) -> None:
    engine = node.app[SERVICE].engine
    before = dict(engine.queues)
    bad = QUEUES.replace("target: 0.8}\n  billing", "target: 7}\n  billing")
    status, body = await http(node, "PUT", "/api/admin/queues", ADMIN, {"yaml": bad})
    assert status == 422
    problem = body["problems"][0]
    assert problem.startswith(f"{queues_path(node)}:4: queues.sales.service_level.target:"), problem
    status, body = await http(node, "PUT", "/api/admin/queues", ADMIN, {"yaml": "queues: [oops"})
    assert status == 422 and ":1:" in body["problems"][0]
    assert engine.queues == before and queues_path(node).read_text() == QUEUES
    assert not [a for a in await audit_actions(node) if a[1] == "queues.edited"]
    status, _ = await http(node, "PUT", "/api/admin/queues", SUP_ALL, {"yaml": QUEUES})
    assert status == 403


async def test_an_agent_edit_routes_live_and_a_bad_one_changes_nothing(node: Node) -> None:
    service = node.app[SERVICE]
    engine = service.engine
    # A sales chat waits; 1002 (billing only) is logged in and cannot take it.
    await http(node, "POST", "/api/agents/1002/login", ADMIN)
    service.handle(ev.ConversationArrived("chat-s", "webchat", "cust-s", "conv-s", "sales", service.clock()))
    assert engine.interactions["chat-s"].offered_to is None

    bad = {"queues": ["billing"], "skills": {"billing": 11}, "languages": ["en"], "max_chats": 2}
    status, body = await http(node, "PUT", "/api/admin/agents/1002", ADMIN, bad)
    assert status == 422 and body["problems"] == [
        "skills.billing: a skill name is 1 to 64 letters, digits, _ . : or -; its level a whole number"
        " from 1 to 10 (11 is not)"
    ]
    assert body["fields"] == {"skills": body["problems"][0].removeprefix("skills.billing: ")}
    status, body = await http(
        node, "PUT", "/api/admin/agents/1002", ADMIN, {**bad, "skills": {}, "queues": ["nope"]}
    )
    assert status == 422 and "no queue named 'nope'" in body["problems"][0]
    assert engine.agents["1002"].queues == frozenset({"billing"})

    good = {
        "queues": ["billing", "sales"],
        "skills": {"billing": 3},
        "languages": ["en", "fr"],
        "max_chats": 2,
    }
    status, body = await http(node, "PUT", "/api/admin/agents/1002", ADMIN, good)
    assert status == 200, body
    agent = engine.agents["1002"]
    assert agent.queues == frozenset({"billing", "sales"}) and agent.skills == {"billing": 3}
    assert agent.state.value == "available"  # the state is kept
    assert engine.interactions["chat-s"].offered_to == "1002"  # routed at once
    saved = yaml.safe_load(agents_path(node).read_text())
    assert saved["agents"]["1002"]["queues"] == ["billing", "sales"]
    listed = (await http(node, "GET", "/api/admin/agents", ADMIN))[1]
    mine = next(a for a in listed["agents"] if a["id"] == "1002")
    assert mine["languages"] == ["en", "fr"] and mine["queues"] == ["billing", "sales"]
    assert ("admin", "agent.profile_edited", "1002") in await audit_actions(node)


async def test_an_agents_file_edited_by_hand_is_reloaded(node: Node, tmp_path: Path) -> None:
    engine = node.app[SERVICE].engine
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  '1003':\n    queues: [sales]\n    max_chats: 1\n")
    await eventually(lambda: engine.agents["1003"].queues == frozenset({"sales"}), timeout=10)
    path.write_text("agents:\n  '1003':\n    queues: [sales]\n    max_chats: 99\n")
    # The bad file is refused; the last valid profile stays.
    await eventually(lambda: node.app[AGENTS_WATCHER].last_error is not None, timeout=10)
    assert engine.agents["1003"].max_chats == 1
    _, body = await http(node, "GET", "/api/admin/agents", ADMIN)
    assert ":4: agents.1003.max_chats:" in body["last_error"]


@pytest.mark.parametrize("page", ["/admin/queues", "/admin/agents", "/admin/ivr", "/supervisor"])
async def test_pages_render_for_admins(node: Node, page: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.get(node.url + page, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert resp.status == 200
            html: Any = await resp.text()
    assert "<h1>" in html
