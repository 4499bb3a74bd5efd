"""Retention applied by the running server: recordings and transcripts past their business line's
retention disappear by themselves (real SQLite and PostgreSQL, the real app)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import QA_STORE, RECORDING_STORE, create_app
from callcenter.qa.records import CallFilter
from tests.conftest import config_with, settings_from
from tests.integration.test_api import free_port
from tests.integration.test_qa import GOOD, KEY, add_call, database_url, new_id  # noqa: F401

DAY = 86400.0


@pytest.fixture
async def client(tmp_path: Path, database_url: str) -> AsyncIterator[TestClient[Any, Any]]:  # noqa: F811
    settings = settings_from(
        config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            database={"url": database_url},
            recordings={
                "directory": str(tmp_path / "recordings"),
                "encryption_key": KEY,
                "retention_days": {"support": 30},
                "default_retention_days": 365,
                "retention_sweep_seconds": 0.2,
            },
        )
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - the server's sweep task changes it
            await asyncio.sleep(0.1)


async def test_the_server_deletes_what_is_past_retention_and_nothing_else(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    now = time.time()
    old_support, new_support, old_sales = new_id(), new_id(), new_id()
    await add_call(client, old_support, GOOD, queue="support", started=now - 40 * DAY)
    await add_call(client, new_support, GOOD, queue="support", started=now - 10 * DAY)
    await add_call(client, old_sales, GOOD, queue="sales", started=now - 40 * DAY)
    store = client.app[RECORDING_STORE]
    calls = ((old_support, "support", 40), (new_support, "support", 10), (old_sales, "sales", 40))
    for iid, line, age in calls:
        source = tmp_path / f"{iid}.wav"
        source.write_bytes(b"RIFF audio of " + iid.encode())
        store.store(iid, source, line, datetime.fromtimestamp(now - age * DAY, UTC))

    qa = client.app[QA_STORE]

    async def remaining() -> set[str]:
        _, calls = await qa.search(CallFilter())
        return {c.interaction_id for c in calls}

    async def swept() -> bool:
        return old_support not in await remaining() and not store.path_for(old_support).exists()

    await eventually(swept)
    assert {old_support, new_support, old_sales} & await remaining() == {new_support, old_sales}
    assert [r.interaction_id for r in store.all() if r.interaction_id == old_support] == []
    assert store.read(new_support) == b"RIFF audio of " + new_support.encode()
    assert store.read(old_sales) == b"RIFF audio of " + old_sales.encode()
    assert await qa.call(old_support) is None
    metrics = await (await client.get("/metrics")).text()
    assert 'callcenter_retention_deleted_total{kind="transcript"}' in metrics
