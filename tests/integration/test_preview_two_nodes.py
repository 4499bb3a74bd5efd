"""Preview across two nodes (docs/outbound.md, "On the agent panel", "Several nodes"): two servers
in this process on one real PostgreSQL (the election: A the routing owner, B a follower) and one
real Redis. The agent's panel socket is on the follower; the owner's dialling job offers the card,
which reaches that socket through the Socket.IO Redis manager; the agent's "Call" goes to the owner
over cc:sockets and is decided there (a dial decision row every node reads); another agent's
forged answer, sent through the follower too, is refused. No Asterisk: the job is driven by hand,
and nothing is placed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.core import events as ev
from callcenter.core.outbound.campaign import CampaignMove
from callcenter.outbound import server as outbound_server
from callcenter.web.api import SERVICE
from callcenter.web.outbound_api import CAMPAIGNS
from tests.conftest import config_with, settings_from
from tests.integration.test_agent_panel import CAMPAIGN, panel
from tests.integration.test_api import free_port
from tests.integration.test_realtime import AGENT_1001, AGENT_1002, SITE_SECRET, TOKENS, Node, start_node
from tests.pg import new_database

WAIT = 20.0  # an election (checks every 0.5 s) on a loaded machine


def node_settings(tmp_path: Path, name: str, database: str, redis_url: str) -> Any:
    workdir = tmp_path / name
    workdir.mkdir()
    return settings_from(
        config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            database={"url": database, "node": name, "election_check_seconds": 0.5},
            recordings={"directory": str(workdir / "recordings"), "spool_dir": str(workdir / "spool")},
            security={"api_tokens": TOKENS},
            messaging={"web_identity_secret": SITE_SECRET},
            realtime={"events_per_second": 50.0, "burst": 50, "redis_url": redis_url},
        )
    )


async def until(check: Any, what: str) -> None:
    for _ in range(int(WAIT / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def nodes(tmp_path: Path, postgres_url: str, redis_url: str) -> AsyncIterator[tuple[Node, Node]]:
    database = await new_database(postgres_url, "preview")
    owner = await start_node(node_settings(tmp_path, "a", database, redis_url))
    try:
        await until(lambda: outbound_server.DIALLING in owner.app, "A to be the routing owner")
        follower = await start_node(node_settings(tmp_path, "b", database, redis_url))
        try:
            yield owner, follower
        finally:
            await follower.server.close()
    finally:
        await owner.server.close()


async def test_a_preview_card_and_its_call_across_the_owner_and_a_follower(nodes: tuple[Node, Node]) -> None:
    owner, follower = nodes
    # The follower dials nothing and has no engine: its sockets' events go to the owner.
    assert outbound_server.DIALLING not in follower.app and SERVICE not in follower.app
    campaigns, dialling = owner.app[CAMPAIGNS], owner.app[outbound_server.DIALLING]
    assert (await campaigns.import_definitions(CAMPAIGN, "c.yaml"))[1] == []
    listed = "number,name,contract,timezone\n+12025550143,Ann,C-7,UTC\n"
    assert (await campaigns.import_list("renewals", listed, "l.csv")).added == 1
    await campaigns.move("renewals", CampaignMove.START, "test")

    me = await panel(follower.url, AGENT_1001)
    other = await panel(follower.url, AGENT_1002)
    for c in (me, other):
        c.sio.on("preview", c._keeper("preview"), namespace="/agent")
    service = owner.app[SERVICE]
    service.dialer = None  # no Asterisk: nobody would carry a dial out
    service.handle(ev.AgentRegistered("1001", service.clock()))
    # Set on the follower, carried out by the owner's engine (cc:sockets).
    assert (await me.call("set_state", {"state": "available"}))["me"]["state"] == "available"
    assert service.engine.agents["1001"].registered

    await dialling.poll()
    await dialling.pace()  # the owner's round: the card for the free agent
    card = await asyncio.wait_for(me.next("preview"), WAIT)  # through the Redis manager
    assert (card["campaign"], card["number"], card["fields"]) == (
        "renewals",
        "+12025550143",
        {"name": "Ann", "contract": "C-7"},
    )
    rid = card["record_id"]
    assert (await me.call("panel_sync", {}))["previews"] == [card]  # the owner's, asked from B

    forged = await other.call("preview_answer", {"campaign": "renewals", "record_id": rid, "dial": True})
    assert forged == {"error": "no such preview card of yours"}
    assert await me.call("preview_answer", {"campaign": "renewals", "record_id": rid, "dial": True}) == {
        "ok": True
    }
    await dialling.pace()  # the answer carried out at the owner's next round
    # Decided on the owner, stored in the shared database: the follower reads the same row.
    decided = [
        (d.record_id, d.kind, d.reason) for _, d in await follower.app[CAMPAIGNS].decisions("renewals")
    ]
    assert decided.count((rid, "dial", "preview")) == 1
    assert [d for d in decided if d[1] == "dial"] == [(rid, "dial", "preview")]
    assert other.queue("preview").empty()
    await me.close()
    await other.close()
