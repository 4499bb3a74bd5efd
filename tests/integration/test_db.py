"""The database adapter against real SQLite files and a real PostgreSQL 15 (tests/pg.py).

Tests share one database per backend, as the server does, so each uses its own interaction ids
and only looks at those. Tests that need an empty schema (migrations) get a fresh database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from callcenter.core import notices as nt
from callcenter.core.calls.machine import CallHeld
from callcenter.core.commands import RecordEvent
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.storage.db import Database, DatabaseError, StoredEvent, create_engine, upgrade
from callcenter.storage.db_models import Base, InteractionRow, is_search_object
from callcenter.storage.migrations import alembic_config, head_revision
from tests.pg import PostgresServer, _free_port, new_database

BACKENDS = ["sqlite", "postgresql"]


# --- fixtures (postgres_url is tests/conftest.py's; these can move there too) ------------------


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database per backend for the whole session, shared like the server shares it."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'callcenter.db'}"


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any table, for migration tests."""
    if request.param == "postgresql":
        return await new_database(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.start()
    try:
        yield database
    finally:
        await database.stop()


# --- helpers -----------------------------------------------------------------------------------


def new_id() -> str:
    return f"test-{uuid.uuid4().hex}"


T0 = 1_700_000_000.123456  # microsecond precision: what the database keeps


def finished_interaction(interaction_id: str) -> Interaction:
    """An interaction with every field set to a value other than its default."""
    return Interaction(
        id=interaction_id,
        channel=Channel.VOICE,
        caller_number="+33612345678",
        started_at=T0,
        caller_name="Zoë O'Brien",  # non-ASCII and a quote survive the round trip
        caller_channel="PJSIP/trunk-00000001",
        dialed_number="5000",
        ivr_choice="1",
        queue="support",
        queued_at=T0 + 4.5,
        priority=3,
        offered_to="1002",
        agent_id="1001",
        answered_at=T0 + 30.25,
        ended_at=T0 + 95.000001,
        outcome=Outcome.ANSWERED,
        ended_by=EndedBy.AGENT,
        hangup_cause="16",
        offer_attempts=2,
        routing_reason="longest idle agent in support",
        skills={"billing": 2, "lang:fr": 1},
        language="fr",
        callback_number="+33698765432",
        callback_attempts=1,
        callback_due_at=T0 + 12.5,
        overflowed_from="sales",
        customer_id="cust-1",
        conversation_id="conv-1",
        preferred_agent="1003",
        preferred_until=T0 + 34.5,
        transferred_to="agent:1004",
        disposition="resolved",
        notes="asked about the invoice",
    )


def started_interaction(interaction_id: str, started_at: float = T0) -> Interaction:
    return Interaction(id=interaction_id, channel=Channel.VOICE, caller_number="1234", started_at=started_at)


async def stored_row(url: str, interaction_id: str) -> InteractionRow:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(InteractionRow.__table__).where(InteractionRow.id == interaction_id)
                )
            ).one()
            return InteractionRow(**row._asdict())
    finally:
        await engine.dispose()


# --- schema and migrations ---------------------------------------------------------------------


def test_every_interaction_field_has_a_column() -> None:
    columns = set(InteractionRow.__table__.columns.keys())
    fields = {field.name for field in dataclasses.fields(Interaction)}
    assert fields - columns == set()
    assert columns - fields == {"wait_seconds", "talk_seconds", "created_at", "updated_at"}


async def test_migrations_create_exactly_the_models(empty_database_url: str) -> None:
    await upgrade(empty_database_url)
    await upgrade(empty_database_url)  # at head already: nothing to do, no error

    def check(connection: sa.Connection) -> None:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # Full-text search objects are per backend, made by migration 0006, not models.
                "include_name": lambda name, type_, parents: not is_search_object(name),
            },
        )
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, Base.metadata) == []

    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(check)
    finally:
        await engine.dispose()


async def test_servers_starting_together_take_turns_to_migrate(empty_database_url: str) -> None:
    # Separate processes, as with two servers, or `callcenter db upgrade` beside a running one.
    script = "import asyncio, sys; from callcenter.storage.db import upgrade; "
    script += "asyncio.run(upgrade(sys.argv[1]))"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_database_url,
            cwd=Path(__file__).parents[2],
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [await process.communicate() for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0], results
    # And in one process, where Alembic's module-level state is shared:
    await asyncio.gather(*(upgrade(empty_database_url) for _ in range(3)))


async def test_migrations_downgrade_to_nothing_and_back(empty_database_url: str) -> None:
    await upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert tables == ["alembic_version"]
    finally:
        await engine.dispose()
    await upgrade(empty_database_url)
    database = Database(empty_database_url)
    await database.start()
    try:
        await database.save_interaction(started_interaction("after-downgrade"))
        assert await database.get_interaction("after-downgrade") is not None
    finally:
        await database.stop()


# --- interactions ------------------------------------------------------------------------------


async def test_every_field_round_trips(db: Database, database_url: str) -> None:
    interaction = finished_interaction(new_id())
    for field in dataclasses.fields(Interaction):
        # A new field must be set here too, or this test would not cover it.
        assert getattr(interaction, field.name) != field.default, field.name

    await db.save_interaction(interaction)

    assert await db.get_interaction(interaction.id) == interaction
    row = await stored_row(database_url, interaction.id)
    assert row.started_at == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert row.wait_seconds == pytest.approx(25.75)
    assert row.talk_seconds == pytest.approx(64.750001)
    assert row.created_at.tzinfo is UTC
    assert row.updated_at >= row.created_at


async def test_newer_snapshot_replaces_older(db: Database, database_url: str) -> None:
    interaction_id = new_id()
    queued = started_interaction(interaction_id).with_(
        ivr_choice="2", queue="sales", queued_at=T0 + 5, offered_to="1003", offer_attempts=1
    )
    answered = queued.with_(offered_to=None, agent_id="1003", answered_at=T0 + 12)
    ended = answered.with_(
        ended_at=T0 + 70, outcome=Outcome.ANSWERED, ended_by=EndedBy.CALLER, hangup_cause="16"
    )

    for snapshot in (queued, queued, answered, ended):
        await db.save_interaction(snapshot)
        assert await db.get_interaction(interaction_id) == snapshot

    row = await stored_row(database_url, interaction_id)
    assert row.offered_to is None  # a column is cleared when the newer snapshot clears it
    assert row.wait_seconds == pytest.approx(7)
    assert row.talk_seconds == pytest.approx(58)


async def test_missing_interaction_is_none(db: Database) -> None:
    assert await db.get_interaction(new_id()) is None


async def test_unfinished_interactions_are_those_without_outcome(db: Database) -> None:
    later = started_interaction(new_id(), started_at=T0 + 100)
    earlier = started_interaction(new_id(), started_at=T0 + 50).with_(queue="support")
    finished = finished_interaction(new_id())
    for interaction in (later, earlier, finished):
        await db.save_interaction(interaction)

    mine = {later.id, earlier.id, finished.id}
    unfinished = [i for i in await db.unfinished_interactions() if i.id in mine]

    assert unfinished == [earlier, later]  # oldest first


async def test_pending_wrap_ups_are_answered_ended_recent_and_not_wrapped(db: Database) -> None:
    base = finished_interaction(new_id()).with_(disposition=None, notes="")
    owed = base.with_(id=new_id(), ended_at=T0 + 200)
    owed_earlier = base.with_(id=new_id(), ended_at=T0 + 100)
    wrapped = base.with_(id=new_id())
    not_answered = base.with_(id=new_id(), answered_at=None, agent_id=None)
    live = started_interaction(new_id()).with_(agent_id="1001", answered_at=T0 + 5)
    too_old = base.with_(id=new_id(), started_at=T0 - 90_000)
    for interaction in (owed, owed_earlier, wrapped, not_answered, live, too_old):
        await db.save_interaction(interaction)
    await db.add_event(wrapped.id, T0 + 300, "wrap_up", {"agent": "1001"})
    await db.add_event(owed.id, T0 + 300, "ended", {})  # other events do not count as a wrap-up

    # Passed from 1002 to 1001: each owes its own wrap-up; 1002 did its own, 1001 not yet.
    transferred = base.with_(id=new_id(), ended_at=T0 + 250, transferred_to="agent:1001")
    await db.save_interaction(transferred)
    await db.add_event(transferred.id, T0 + 50, "transferred", {"from": "1002", "to_agent": "1001"})
    await db.add_event(transferred.id, T0 + 60, "wrap_up", {"agent": "1002"})
    # Passed from 1003 to 1001 and back to the queue, where the caller hung up: nobody wrapped up.
    bounced = base.with_(id=new_id(), ended_at=T0 + 260, agent_id=None, transferred_to="queue:support")
    await db.save_interaction(bounced)
    await db.add_event(bounced.id, T0 + 50, "transferred", {"from": "1003", "to_agent": "1001"})
    await db.add_event(bounced.id, T0 + 90, "transferred", {"from": "1001", "to_queue": "support"})

    mine = {i.id for i in (owed, owed_earlier, wrapped, not_answered, live, too_old, transferred, bounced)}
    pending = [(a, i) for a, i in await db.pending_wrap_ups(since=T0 - 3600) if i.id in mine]

    assert pending == [  # oldest first, whole (final) records
        ("1001", owed_earlier),
        ("1001", owed),
        ("1001", transferred),
        ("1003", bounced),
        ("1001", bounced),
    ]


async def test_concurrent_saves_of_different_interactions(db: Database) -> None:
    interactions = [finished_interaction(new_id()).with_(caller_number=str(n)) for n in range(50)]

    await asyncio.gather(*(db.save_interaction(i) for i in interactions))

    stored = await asyncio.gather(*(db.get_interaction(i.id) for i in interactions))
    assert stored == interactions


async def test_unknown_stored_value_is_a_database_error(db: Database, database_url: str) -> None:
    interaction = started_interaction(new_id())
    await db.save_interaction(interaction)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.update(InteractionRow)
                .where(InteractionRow.id == interaction.id)
                .values(outcome="teleported")
            )
    finally:
        await engine.dispose()

    with pytest.raises(DatabaseError, match=r"unreadable stored value: 'teleported'"):
        await db.get_interaction(interaction.id)


# --- events ------------------------------------------------------------------------------------


async def test_events_are_listed_in_the_order_they_were_added(db: Database) -> None:
    interaction_id, other_id = new_id(), new_id()
    data = {"digits": "1", "nested": {"list": [1, 2.5, None, True], "text": "é✓"}}
    # Events may come before the first snapshot of their interaction: no row is needed.
    await db.add_event(interaction_id, T0, "ivr_choice", data)
    await db.add_event(other_id, T0 + 1, "offered", {"agent_id": "1001"})
    await db.add_event(interaction_id, T0 + 2, "offered", {"agent_id": "1002"})
    await db.add_event(interaction_id, T0 + 2, "answered", {})  # same time: insertion order wins

    events = await db.events_for(interaction_id)

    assert [(e.kind, e.at, e.data) for e in events] == [
        ("ivr_choice", T0, data),
        ("offered", T0 + 2, {"agent_id": "1002"}),
        ("answered", T0 + 2, {}),
    ]
    assert all(isinstance(e, StoredEvent) and e.interaction_id == interaction_id for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert await db.events_for(new_id()) == []


async def test_notices_are_stored_as_their_rows_and_read_back(db: Database) -> None:
    iid = new_id()
    notices: list[nt.Notice] = [
        nt.IvrFinished(iid, T0, "", {"account": "4729"}),
        nt.Queued(iid, T0 + 1, "support", "1", skills={"billing": 2}, language="fr"),
        nt.Transferred(iid, T0 + 2, "1001", None, "sales"),
        nt.Ended(iid, T0 + 3, Outcome.ANSWERED, EndedBy.AGENT),
    ]
    await db.write_batch([*notices[:3], RecordEvent(iid, T0 + 2.5, "held", {"agent": "1002"})])
    await db.add_notice(notices[3])
    # A row written before notices were typed reads back as a notice too.
    await db.add_event(iid, T0 + 4, "wrap_up", {"agent": "1001", "disposition": "sale", "notes": ""})

    events = await db.events_for(iid)

    assert [e.kind for e in events] == ["ivr_finished", "queued", "transferred", "held", "ended", "wrap_up"]
    assert events[2].data == {"from": "1001", "to_agent": None, "to_queue": "sales"}
    # An untyped entry is stored as given; its row reads back as the call control's notice.
    assert events[3].notice == CallHeld(iid, T0 + 2.5, "1002")
    assert [e.notice for e in events if e.kind != "held"] == [
        *notices,
        nt.WrappedUp(iid, T0 + 4, "1001", "sale", ""),
    ]


async def test_concurrent_events_are_all_kept(db: Database) -> None:
    interaction_id = new_id()

    await asyncio.gather(*(db.add_event(interaction_id, T0 + n, "tick", {"n": n}) for n in range(50)))

    events = await db.events_for(interaction_id)
    assert sorted(e.data["n"] for e in events) == list(range(50))  # type: ignore[type-var]


async def test_event_data_that_is_not_json_is_a_database_error(db: Database) -> None:
    with pytest.raises(DatabaseError, match=r"cannot add 'ended' event of 'x'.*not JSON serial"):
        await db.add_event("x", T0, "ended", {"when": datetime.now(UTC)})


# --- lifecycle, errors and health --------------------------------------------------------------


async def test_ping_answers_while_started(database_url: str) -> None:
    database = Database(database_url)
    assert await database.ping() is False
    await database.start()
    assert await database.ping() is True
    await database.stop()
    assert await database.ping() is False


async def test_ping_is_false_when_postgresql_goes_away() -> None:
    server = PostgresServer()
    database = Database(server.start())
    try:
        await database.start()
        assert await database.ping() is True
        server.stop()
        assert await database.ping() is False
    finally:
        await database.stop()
        server.stop()


async def test_calls_before_start_are_database_errors(database_url: str) -> None:
    with pytest.raises(DatabaseError, match=r"cannot read interaction 'x': .* not started"):
        await Database(database_url).get_interaction("x")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", r"^invalid database URL; expected e\.g\. sqlite\+aiosqlite:///"),
        ("", r"^invalid database URL"),
        ("sqlite:///callcenter.db", r"unsupported database URL scheme 'sqlite'.*async driver"),
        (
            "postgresql://user:secret@db.example/callcenter",
            r"scheme 'postgresql' in postgresql://user:\*\*\*@db.example/callcenter.*"
            r"postgresql\+asyncpg://",
        ),
        ("mysql+aiomysql://user@localhost/callcenter", "unsupported database URL scheme"),
    ],
)
def test_bad_url_is_a_database_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message) as caught:
        Database(url)
    assert "secret" not in str(caught.value)


async def test_unreachable_postgresql_is_a_database_error() -> None:
    url = f"postgresql+asyncpg://callcenter:secret@127.0.0.1:{_free_port()}/callcenter"
    database = Database(url)

    with pytest.raises(
        DatabaseError,
        match=r"^cannot open and migrate database "
        r"postgresql\+asyncpg://callcenter:\*\*\*@127\.0\.0\.1:\d+/callcenter: Connection refused",
    ) as caught:
        await database.start()

    assert "secret" not in str(caught.value)
    assert await database.ping() is False


async def test_wrong_password_is_a_database_error(postgres_url: str) -> None:
    url = make_url(postgres_url).set(password="not-the-password")

    with pytest.raises(DatabaseError, match="password authentication failed") as caught:
        await Database(url.render_as_string(hide_password=False)).start()

    assert "not-the-password" not in str(caught.value)


async def test_sqlite_file_gets_its_directories_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "callcenter" / "callcenter.db"
    database = Database(f"sqlite+aiosqlite:///{path}")

    await database.start()
    await database.stop()

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_path_that_cannot_be_created_is_a_database_error(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("a file, not a directory")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'occupied' / 'callcenter.db'}")

    with pytest.raises(DatabaseError, match="cannot create the directory of SQLite database"):
        await database.start()


async def test_crash_with_callers_waiting_restores_order_wait_and_callbacks(db: Database) -> None:
    """kill -9 while callers wait: what the database holds puts every caller back in its place,
    callbacks included, and no agent holds two offers."""
    from callcenter.core import events as ev
    from callcenter.core.acd.agents import Agent
    from callcenter.core.acd.engine import Acd, AcdConfig
    from callcenter.core.commands import DialAgent, DialCustomer, SaveInteraction

    def engine() -> Acd:
        return Acd(AcdConfig(), [Agent(id=a, extension=a, queues=frozenset({"q"})) for a in ("x", "y")])

    run = new_id()
    before = engine()
    commands = [*before.handle(ev.AgentRegistered("x", T0))]
    for n, iid in enumerate(["ringing", "callback", "waiting"]):
        commands += before.handle(ev.CallArrived(f"{run}-{iid}", "+1", "", "5000", f"PJSIP/{iid}", T0 + n))
        commands += before.handle(ev.IvrFinished(f"{run}-{iid}", "1", "q", T0 + n))
    commands += before.handle(ev.CallbackRequested(f"{run}-callback", "+1999", T0 + 5))
    commands += before.handle(ev.CallerHungUp(f"{run}-callback", "16", T0 + 6))
    for c in commands:
        if isinstance(c, SaveInteraction):
            await db.save_interaction(c.interaction)
    # ... kill -9 here ...
    stored = [i for i in await db.unfinished_interactions() if i.id.startswith(run)]
    after = engine()
    restored = after.restore(stored, T0 + 100)
    for c in restored:
        assert isinstance(c, SaveInteraction) and c.interaction.offered_to is None
    assert [i.id.removeprefix(f"{run}-") for i in after.waiting_in("q")] == ["ringing", "callback", "waiting"]
    assert after.interactions[f"{run}-callback"].callback_number == "+1999"
    alive = frozenset({f"{run}-ringing", f"{run}-waiting"})  # the callback's caller hung up
    out = after.handle(ev.Reconciled(alive, frozenset({"x", "y"}), T0 + 101))
    offers = [c for c in out if isinstance(c, (DialAgent, DialCustomer))]
    assert [c.interaction_id.removeprefix(f"{run}-") for c in offers] == ["ringing", "callback"]
    assert len({c.agent_id for c in offers}) == 2
    after.handle(ev.AgentAnswered(f"{run}-ringing", offers[0].agent_id, T0 + 102))
    assert after.interactions[f"{run}-ringing"].wait_seconds == pytest.approx(102)
