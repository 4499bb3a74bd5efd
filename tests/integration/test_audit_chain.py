"""The tamper-evident audit trail on real SQLite and a real PostgreSQL 15, and ``callcenter audit verify``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from callcenter.accounts.model import AuditWrite
from callcenter.core.omni.customers import AuditEntry
from callcenter.storage import audit_chain
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database, create_engine
from callcenter.storage.db_models import AuditRow, Base
from callcenter.storage.messaging_store import CustomerChanges, MessagingStore
from callcenter.storage.migrations import alembic_config
from callcenter.storage.qa_store import PlaybackRecord, QaStore
from tests.pg import new_database
from tests.tools import run_callcenter as run_cli

NOW = 1_900_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own (the tests tamper with it), migrated."""
    if request.param == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    database = Database(url)
    await database.start()  # migrates
    await database.stop()
    yield url


async def reports(url: str) -> dict[str, audit_chain.ChainReport]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                name: await audit_chain.verify(conn, Base.metadata.tables[name])
                for name in audit_chain.CHAINED
            }
    finally:
        await engine.dispose()


async def execute(url: str, statement: sa.Executable) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(statement)
    finally:
        await engine.dispose()


async def fill(url: str) -> None:
    """Audit rows through the three stores, as the server writes them."""
    accounts = AccountStore(url)
    await accounts.start()
    messaging = MessagingStore(url)
    await messaging.start()
    qa = QaStore(url)
    await qa.start()
    try:
        for n in range(3):
            detail = {"role": "agent", "lines": ["sales"], "n": n}
            entry = AuditWrite(NOW + n, "ann", "admin", "user.created", f"u{n}", detail, "127.0.0.1")
            await accounts.add_audit(entry)
        await messaging.save_customers(
            CustomerChanges([], [], [AuditEntry(NOW, "merged", "c1", "sam", {"into": "c2", "why": "同一人"})])
        )
        await qa.add_playback(
            PlaybackRecord(datetime.fromtimestamp(NOW, UTC), "qa1", "qa", "i-1", "mixed", "0-9/10")
        )
    finally:
        await accounts.stop()
        await messaging.stop()
        await qa.stop()


async def test_the_stores_chain_every_row_and_verify_finds_each_kind_of_tampering(url: str) -> None:
    await fill(url)
    found = await reports(url)
    assert {name: (r.ok, r.rows) for name, r in found.items()} == {
        "audit": (True, 3),
        "customer_audit": (True, 1),
        "playback_audit": (True, 1),
    }
    audit = Base.metadata.tables["audit"]
    # A changed detail is found at its row.
    await execute(url, sa.update(audit).where(audit.c.target == "u1").values(detail={"role": "admin"}))
    report = (await reports(url))["audit"]
    assert not report.ok and report.problem == "its content was changed"
    second = report.broken_at
    # Put it back: intact again (the hash covers the content, nothing else).
    await execute(
        url,
        sa.update(audit)
        .where(audit.c.target == "u1")
        .values(detail={"role": "agent", "lines": ["sales"], "n": 1}),
    )
    assert (await reports(url))["audit"].ok
    # A deleted row in the middle: the next one no longer follows.
    await execute(url, sa.delete(audit).where(audit.c.target == "u1"))
    report = (await reports(url))["audit"]
    assert (
        not report.ok and report.problem == "does not follow the row before it" and report.broken_at != second
    )


async def test_rows_cut_off_the_end_are_found_by_the_head(url: str) -> None:
    await fill(url)
    audit = Base.metadata.tables["audit"]
    await execute(url, sa.delete(audit).where(audit.c.target == "u2"))
    report = (await reports(url))["audit"]
    assert not report.ok and report.broken_at is None and "missing" in report.problem


async def test_concurrent_writers_on_two_nodes_keep_one_chain(url: str) -> None:
    """Two stores (two server nodes on one database) appending at once never fork the chain."""
    nodes = [AccountStore(url), AccountStore(url)]
    for node in nodes:
        await node.start()
    try:
        await asyncio.gather(
            *(
                nodes[n % 2].add_audit(AuditWrite(NOW + n, f"w{n}", None, "login.succeeded", None, {}, None))
                for n in range(30)
            )
        )
    finally:
        for node in nodes:
            await node.stop()
    report = (await reports(url))["audit"]
    assert report.ok and report.rows == 30


async def test_rows_stored_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0009"))
        async with engine.begin() as conn:
            for n in range(4):
                await conn.execute(
                    sa.text(
                        "insert into audit (at, who, role, action, target, detail, client) "
                        "values (:at, 'old', 'admin', 'user.created', :t, '{\"n\": 1}', null)"
                    ),
                    {"at": f"2026-11-2{n} 10:00:00.000000", "t": f"old{n}"},
                )
    finally:
        await engine.dispose()
    database = Database(url)
    await database.start()  # 0009 -> newest
    await database.stop()
    store = AccountStore(url)
    await store.start()
    try:
        await store.add_audit(AuditWrite(NOW, "new", "admin", "user.created", "new", {}, None))
    finally:
        await store.stop()
    report = (await reports(url))["audit"]
    assert report.ok and report.rows == 5


async def test_audit_verify_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    database = Database(url)
    await database.start()
    await database.stop()
    await fill(url)
    ok = run_cli("--set", f"database.url={url}", "audit", "verify", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "audit: 3 rows, chain intact, head " in ok.stdout
    head = ok.stdout.split("audit: 3 rows, chain intact, head ")[1].split()[0]
    anchored = run_cli(
        "--set", f"database.url={url}", "audit", "verify", "--expect", f"audit={head}", cwd=tmp_path
    )
    assert anchored.returncode == 0, anchored.stdout
    # Someone rewrites a row and recomputes every hash after it, and the head: only the anchor tells.
    await execute(url, sa.delete(AuditRow.__table__))
    await execute(
        url,
        sa.update(audit_chain.heads)
        .where(audit_chain.heads.c.name == "audit")
        .values(head=audit_chain.GENESIS, rows=0),
    )
    forged = run_cli(
        "--set", f"database.url={url}", "audit", "verify", "--expect", f"audit={head}", cwd=tmp_path
    )
    assert forged.returncode == 1 and "audit: BROKEN: the expected head" in forged.stdout, forged.stdout
    await execute(url, sa.text("update customer_audit set by = 'mallory'"))
    broken = run_cli("--set", f"database.url={url}", "audit", "verify", cwd=tmp_path)
    assert (
        broken.returncode == 1 and "customer_audit: BROKEN at id 1: its content was changed" in broken.stdout
    )
    assert "Traceback" not in broken.stderr
