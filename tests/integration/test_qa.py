"""QA review over a real aiohttp server, on SQLite and on a real PostgreSQL 15 (tests/pg.py).

The pipeline test runs the real path: flite speech -> RecordingStore (AES-GCM) -> the transcription
service (pocketsphinx in a worker process, redaction) -> the QA store -> the HTTP API.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import re
import struct
import time
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from callcenter.app import DATABASE, QA_STORE, RECORDING_STORE, create_app
from callcenter.core.interaction import Channel, Interaction
from callcenter.core.qa.scoring import score
from callcenter.core.qa.transcript import Segment, Speaker, Transcript, Word
from callcenter.qa.loader import load_rules
from callcenter.settings import TranscriptionSettings
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.service import TranscriptionService
from callcenter.storage.db import DatabaseError, create_engine
from callcenter.storage.db_models import QaTranscriptRow
from callcenter.storage.qa_store import QaStore
from callcenter.storage.recordings import RecordingStore
from callcenter.storage.transcription_jobs import DONE, FAILED, JobStore
from callcenter.web.auth import PRINCIPAL
from tests.conftest import config_with, settings_from
from tests.integration.test_api import TOKENS, auth, free_port
from tests.pg import new_database
from tests.tools import require
from tests.unit.speech_fixtures import say

ROOT = Path(__file__).parents[2]
RULES = load_rules(ROOT / "qa_rules.example.yaml")
KEY = base64.b64encode(bytes(range(32))).decode()
DAY = datetime(2026, 11, 20, 9, 30, tzinfo=UTC).timestamp()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return await new_database(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}"


@dataclass(frozen=True, slots=True)
class LinedPrincipal:
    """What Principal becomes with accounts (``lines``); API tokens do not carry lines yet."""

    name: str
    role: str
    agent_id: str | None
    lines: frozenset[str] | None


@web.middleware
async def lines_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Runs after the token check: gives the authenticated principal the lines of X-Test-Lines."""
    header = request.headers.get("X-Test-Lines")
    if header is not None and PRINCIPAL in request:
        p = request[PRINCIPAL]
        request[PRINCIPAL] = LinedPrincipal(p.name, p.role, p.agent_id, frozenset(header.split(",")))  # type: ignore[assignment]
    return await handler(request)


def qa_settings(tmp_path: Path, url: str, **extra: Any) -> Any:
    return settings_from(
        config_with(
            **extra,
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            database={"url": url},
            recordings={"directory": str(tmp_path / "recordings"), "encryption_key": KEY},
            qa={"scorecards": str(ROOT / "scorecards.example.yaml")},
            security={
                "api_tokens": [
                    {
                        "name": role,
                        "role": role,
                        "token": token,
                        **({"agent_id": "1001"} if role == "agent" else {}),
                    }
                    for role, token in TOKENS.items()
                ]
            },
        )
    )


@pytest.fixture
async def client(tmp_path: Path, database_url: str) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(qa_settings(tmp_path, database_url))
    app.middlewares.append(lines_middleware)
    async with TestClient(TestServer(app)) as c:
        yield c


# --- data ----------------------------------------------------------------------------------------


def lines_transcript(lines: list[tuple[Speaker, float, str]]) -> Transcript:
    """A transcript from (speaker, start, text): one word every 0.4 s."""
    segments = []
    for speaker, start, text in lines:
        words = tuple(
            Word(w, start + 0.4 * n, start + 0.4 * n + 0.3, 0.9) for n, w in enumerate(text.split())
        )
        segments.append(Segment(speaker, start, words[-1].end, words))
    return Transcript("en-us", "pocketsphinx", tuple(segments), redacted=True)


GOOD = [
    ("agent", 0.5, "thank you for calling acme support how can I help"),
    ("caller", 4.0, "my router keeps dropping the connection"),
    ("agent", 7.5, "I can check that please give me your account number"),
    ("caller", 11.0, "it is on the letter thank you"),
    ("agent", 14.0, "is there anything else have a nice day"),
]
RUDE = [
    ("agent", 0.5, "yes what"),
    ("caller", 2.0, "this is ridiculous I am furious about the invoice"),
    ("agent", 5.0, "calm down that is not my problem"),
]


async def add_call(
    client: TestClient[Any, Any],
    interaction_id: str,
    lines: list[tuple[Speaker, float, str]],
    *,
    queue: str = "support",
    agent: str = "1001",
    started: float = DAY,
    line: str | None = None,
) -> None:
    interaction = Interaction(
        id=interaction_id,
        channel=Channel.VOICE,
        caller_number="+441234567890",
        started_at=started,
        queue=queue,
        agent_id=agent,
        skills={f"line:{line}": 1} if line else {},
    )
    await client.app[DATABASE].save_interaction(interaction)
    transcript = lines_transcript(lines)
    await client.app[QA_STORE].save_result(
        interaction_id, transcript, score(RULES, transcript), datetime.now(UTC)
    )


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                for n in range(int(seconds * rate))
            )
        )
    return buffer.getvalue()


def record(client: TestClient[Any, Any], tmp_path: Path, interaction_id: str, audio: bytes) -> RecordingStore:
    store = client.app[RECORDING_STORE]
    source = tmp_path / f"{interaction_id}-mixmonitor.wav"
    source.write_bytes(audio)
    store.store(interaction_id, source, "support", datetime.now(UTC))
    return store


def new_id() -> str:
    return f"qa-{uuid.uuid4().hex[:12]}"


# --- the pipeline: recording -> transcription -> redacted transcript + score in the database ------


async def _wait_done(jobs: JobStore, job_id: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        job = await jobs.get(job_id)
        assert job is not None
        if job.status in (DONE, FAILED):
            assert job.status == DONE, job.error
            return
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.1)


async def test_a_spoken_card_number_never_reaches_the_database(
    client: TestClient[Any, Any], tmp_path: Path, database_url: str
) -> None:
    require("flite", "flite")
    require("sox", "sox")
    call = new_id()
    await client.app[DATABASE].save_interaction(
        Interaction(
            id=call,
            channel=Channel.VOICE,
            caller_number="1",
            started_at=DAY,
            queue="support",
            agent_id="1001",
        )
    )
    spoken = say(
        "Thank you for calling, my card number is four" + " one" * 15 + ". Thank you.",
        tmp_path / "mixmonitor.wav",
    )
    recordings = client.app[RECORDING_STORE]
    recordings.store(call, spoken, "support", datetime.now(UTC))
    service = TranscriptionService(
        TranscriptionSettings(workers=1),
        JobStore(database_url),
        TranscriptionPool(1),
        RULES,
        key=recordings.key,
        results=client.app[QA_STORE],  # the one call the server makes
    )
    await service.start()
    try:
        job_id = await service.submit(call, recordings.files_of(call))
        await _wait_done(service.store, job_id)
    finally:
        await service.stop()

    resp = await client.get(f"/api/qa/calls/{call}", headers=auth("qa"))
    assert resp.status == 200
    detail = await resp.json()
    text = " ".join(s["text"] for s in detail["segments"]).lower()
    assert "[card]" in text and "calling" in text
    assert not re.search(r"\d", text) and text.count("one") < 3
    assert detail["score"] is not None and detail["agent_id"] == "1001" and detail["queue"] == "support"
    # Nothing of it in the tables (nor in SQLite's search index) either.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as c:
            stored = (
                await c.execute(sa.text("SELECT text, CAST(segments AS TEXT) FROM qa_transcripts"))
            ).one()
            if database_url.startswith("sqlite"):
                stored = (*stored, *(await c.execute(sa.text("SELECT text FROM qa_search"))).one())
    finally:
        await engine.dispose()
    for column in stored:
        assert "4111" not in column and "one one one" not in column.lower()
    for q in ("4111111111111111", "one one one one"):
        found = await (await client.get("/api/qa/calls", params={"q": q}, headers=auth("qa"))).json()
        assert found["total"] == 0, q
    found = await (await client.get("/api/qa/calls", params={"q": "calling"}, headers=auth("qa"))).json()
    assert [c["interaction_id"] for c in found["calls"]] == [call]


# --- search and filters --------------------------------------------------------------------------


async def test_search_by_words_filters_and_paging(client: TestClient[Any, Any]) -> None:
    good, rude, late = new_id(), new_id(), new_id()
    await add_call(client, good, GOOD)
    await add_call(client, rude, RUDE, queue="billing", agent="1002", started=DAY + 3600)
    await add_call(client, late, GOOD, queue="billing", started=DAY + 2 * 86400)
    h = auth("qa")

    async def ids(**params: Any) -> list[str]:
        resp = await client.get("/api/qa/calls", params=params, headers=h)
        assert resp.status == 200, await resp.text()
        return [c["interaction_id"] for c in (await resp.json())["calls"]]

    assert await ids() == [late, rude, good]  # newest first
    assert await ids(q="router") == [late, good]
    assert await ids(q="ROUTER dropping") == [late, good]  # every word, any case
    assert await ids(q="router furious") == []
    assert await ids(q="furious") == [rude]
    assert await ids(q='furious" OR "router') == [], "user text is never query syntax"
    assert await ids(q="furi") == []  # whole words
    assert await ids(agent="1002") == [rude]
    assert await ids(queue="billing") == [late, rude]
    assert await ids(**{"from": "2026-11-21"}) == [late]
    assert await ids(to="2026-11-20") == [rude, good]
    assert await ids(**{"from": "2026-11-20T10:00:00Z", "to": "2026-11-21"}) == [rude]
    assert await ids(min_score=90) == [late, good]
    assert await ids(max_score=50) == [rude]
    assert await ids(flag="rude") == [rude]
    assert await ids(flag="greeting") == [rude]
    assert await ids(flag="closing", q="furious") == [rude]

    page = await (await client.get("/api/qa/calls", params={"limit": 2, "offset": 1}, headers=h)).json()
    assert page["total"] == 3 and [c["interaction_id"] for c in page["calls"]] == [rude, good]
    first = (await (await client.get("/api/qa/calls", params={"q": "router"}, headers=h)).json())["calls"][0]
    assert first["score"] == 100.0 and first["flags"] == [] and "router" in first["excerpt"]
    rude_row = (await (await client.get("/api/qa/calls", params={"q": "furious"}, headers=h)).json())[
        "calls"
    ][0]
    assert {"rude", "greeting", "sentiment"} <= set(rude_row["flags"])

    for params, message in [
        ({"min_score": "lots"}, "min_score"),
        ({"min_score": "101"}, "min_score"),
        ({"limit": "0"}, "limit"),
        ({"from": "last tuesday"}, "from"),
        ({"colour": "red"}, "colour"),
        ({"min_score": "80", "max_score": "20"}, "min_score is above max_score"),
    ]:
        resp = await client.get("/api/qa/calls", params=params, headers=h)
        assert resp.status == 400 and message in (await resp.json())["error"], params


async def test_a_call_has_its_transcript_flags_evidence_and_score(client: TestClient[Any, Any]) -> None:
    rude = new_id()
    await add_call(client, rude, RUDE)
    detail = await (await client.get(f"/api/qa/calls/{rude}", headers=auth("supervisor"))).json()
    assert [s["speaker"] for s in detail["segments"]] == ["agent", "caller", "agent"]
    assert detail["segments"][2]["text"] == "calm down that is not my problem"
    failed = {c["rule"]: c for c in detail["checks"] if not c["passed"]}
    evidence = failed["rude"]["evidence"]
    assert [e["text"] for e in evidence] == ["calm down", "not my problem"]
    assert evidence[0]["speaker"] == "agent" and evidence[0]["start"] == pytest.approx(5.0)
    assert detail["score"] < 50 and "rude" in detail["flags"]
    assert detail["audio"] == f"/api/recordings/{rude}/audio"
    assert (await client.get("/api/qa/calls/nope", headers=auth("qa"))).status == 404


async def test_users_limited_to_lines_see_only_theirs(client: TestClient[Any, Any], tmp_path: Path) -> None:
    sales, support = new_id(), new_id()
    await add_call(client, sales, GOOD, queue="general", line="sales")
    await add_call(client, support, GOOD, queue="support")  # no line skill: the queue is the line
    record(client, tmp_path, support, wav_bytes(0.5))
    only_sales = {**auth("qa"), "X-Test-Lines": "sales"}
    listed = await (await client.get("/api/qa/calls", params={"q": "router"}, headers=only_sales)).json()
    assert [c["interaction_id"] for c in listed["calls"]] == [sales] and listed["total"] == 1
    assert listed["calls"][0]["business_line"] == "sales"
    for method, path in [
        ("GET", f"/api/qa/calls/{support}"),
        ("GET", f"/api/qa/calls/{support}/calibration"),
        ("GET", f"/api/recordings/{support}/audio"),
    ]:
        assert (await client.request(method, path, headers=only_sales)).status == 404, path
    review = {"scorecard": "sales", "answers": {"needs": 1, "offer": 1, "compliance": 1}}
    resp = await client.post(f"/api/qa/calls/{support}/reviews", json=review, headers=only_sales)
    assert resp.status == 404
    assert (
        await client.post(f"/api/qa/calls/{sales}/reviews", json=review, headers=only_sales)
    ).status == 201
    both = {**auth("qa"), "X-Test-Lines": "sales,support"}
    listed = await (await client.get("/api/qa/calls", params={"q": "router"}, headers=both)).json()
    assert {c["interaction_id"] for c in listed["calls"]} == {sales, support}
    assert await client.app[QA_STORE].playbacks(support) == []


# --- review and calibration ----------------------------------------------------------------------


async def test_reviews_and_calibration(client: TestClient[Any, Any]) -> None:
    call = new_id()
    await add_call(client, call, RUDE)
    url = f"/api/qa/calls/{call}"
    cards = await (await client.get("/api/qa/scorecards", headers=auth("qa"))).json()
    assert [c["id"] for c in cards["scorecards"]] == ["standard", "sales"]

    empty = await (await client.get(f"{url}/calibration", headers=auth("qa"))).json()
    assert empty["reviewers"] == [] and not empty["complete"]

    answers = {
        "greeting": 1,
        "identification": 0,
        "listening": 2,
        "resolution": 4,
        "empathy": None,
        "closing": 1,
    }
    resp = await client.post(
        f"{url}/reviews",
        json={"scorecard": "standard", "answers": answers, "comment": "ok"},
        headers=auth("qa"),
    )
    assert resp.status == 201, await resp.text()
    first = await resp.json()
    # (1*1 + 2*0 + 2*0.5 + 3*1 + 1*1) / 9
    assert first["reviewer"] == "qa" and first["total"] == 66.7 and first["answers"]["empathy"] is None
    other = {**answers, "listening": 0, "resolution": 1, "empathy": 2}
    resp = await client.post(
        f"{url}/reviews", json={"scorecard": "standard", "answers": other}, headers=auth("supervisor")
    )
    assert resp.status == 201

    calibration = await (await client.get(f"{url}/calibration", headers=auth("admin"))).json()
    assert calibration["reviewers"] == ["qa", "supervisor"] and calibration["complete"]
    by_id = {c["id"]: c for c in calibration["criteria"]}
    assert by_id["resolution"]["values"] == {"qa": 4.0, "supervisor": 1.0}
    assert by_id["resolution"]["spread"] == 3.0 and by_id["resolution"]["relative"] == 0.75
    assert by_id["resolution"]["differences"] == {"qa": 1.5, "supervisor": -1.5}
    assert by_id["greeting"]["spread"] == 0.0
    assert calibration["worst"] == "resolution"
    assert calibration["total"]["spread"] == round(first["total"] - (await resp.json())["total"], 4)

    detail = await (await client.get(url, headers=auth("qa"))).json()
    assert [r["reviewer"] for r in detail["reviews"]] == ["qa", "supervisor"]

    # A transcript stored before its interaction was saved: the review takes the call's line,
    # agent, queue and date from the interactions table.
    early = new_id()
    await client.app[QA_STORE].save_result(early, lines_transcript(GOOD), None, datetime.now(UTC))
    before = await (await client.get(f"/api/qa/calls/{early}", headers=auth("qa"))).json()
    assert (before["agent_id"], before["queue"], before["business_line"], before["score"]) == (
        None,
        None,
        None,
        None,
    )
    await client.app[DATABASE].save_interaction(
        Interaction(
            id=early, channel=Channel.VOICE, caller_number="1", started_at=DAY, queue="sales", agent_id="1003"
        )
    )
    resp = await client.post(
        f"/api/qa/calls/{early}/reviews",
        json={"scorecard": "standard", "answers": answers},
        headers=auth("qa"),
    )
    assert resp.status == 201
    after = await (await client.get("/api/qa/calls", params={"agent": "1003"}, headers=auth("qa"))).json()
    assert [c["interaction_id"] for c in after["calls"]] == [early]
    assert after["calls"][0]["queue"] == "sales" and after["calls"][0]["business_line"] == "sales"
    assert after["calls"][0]["call_at"].startswith("2026-11-20T09:30")

    # Marking for calibration, and finding the marked calls.
    assert (
        await client.post(f"{url}/calibration", json={"calibration": True}, headers=auth("qa"))
    ).status == 200
    marked = await (
        await client.get("/api/qa/calls", params={"calibration": "true"}, headers=auth("qa"))
    ).json()
    assert [c["interaction_id"] for c in marked["calls"]] == [call] and marked["calls"][0]["calibration"]
    assert (
        await client.post(f"{url}/calibration", json={"calibration": "yes please"}, headers=auth("qa"))
    ).status == 400
    assert (
        await client.post("/api/qa/calls/nope/calibration", json={"calibration": True}, headers=auth("qa"))
    ).status == 404

    # Bad reviews: clear 4xx, nothing stored.
    for body, status, message in [
        ({"scorecard": "gold", "answers": answers}, 400, "scorecard: unknown 'gold'; known: sales, standard"),
        (
            {"scorecard": "standard", "answers": {**answers, "greeting": 3}},
            422,
            "greeting: 3 is outside the scale 0..1",
        ),
        (
            {"scorecard": "standard", "answers": {**answers, "resolution": None}},
            422,
            "resolution: an answer is required",
        ),
        ({"scorecard": "standard", "answers": {"greeting": 1}}, 422, "closing: missing"),
        ({"scorecard": "standard", "answers": {**answers, "greeting": True}}, 400, "answers.greeting"),
        ({"scorecard": "standard", "answers": {**answers, "greeting": "1"}}, 400, "answers.greeting"),
        ({"answers": answers}, 400, "scorecard: Field required"),
        ({"scorecard": "standard", "answers": answers, "comment": "x" * 5000}, 400, "comment"),
    ]:
        resp = await client.post(f"{url}/reviews", json=body, headers=auth("qa"))
        assert resp.status == status and message in (await resp.json())["error"], (body, await resp.text())
    resp = await client.post(
        f"{url}/reviews", data=b"{oops", headers={**auth("qa"), "Content-Type": "application/json"}
    )
    assert resp.status == 400
    resp = await client.post(
        "/api/qa/calls/nope/reviews", json={"scorecard": "standard", "answers": answers}, headers=auth("qa")
    )
    assert resp.status == 404
    assert len(await client.app[QA_STORE].reviews(call)) == 2


# --- playback --------------------------------------------------------------------------------------


async def test_playback_streams_the_decrypted_recording_with_ranges_and_audits(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    call = new_id()
    await add_call(client, call, GOOD)
    audio = wav_bytes(1.0)
    store = record(client, tmp_path, call, audio)
    assert store.path_for(call).read_bytes()[:6] == b"CCREC2"  # encrypted at rest (envelope format)
    url = f"/api/recordings/{call}/audio"

    whole = await client.get(url, headers=auth("qa"))
    assert whole.status == 200 and await whole.read() == audio
    assert whole.headers["Content-Type"] == "audio/wav" and whole.headers["Accept-Ranges"] == "bytes"
    part = await client.get(url, headers={**auth("supervisor"), "Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == audio[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(audio)}"
    tail = await client.get(url, headers={**auth("admin"), "Range": "bytes=-10"})
    assert tail.status == 206 and await tail.read() == audio[-10:]
    rest = await client.get(url, headers={**auth("qa"), "Range": f"bytes={len(audio) - 5}-"})
    assert rest.status == 206 and await rest.read() == audio[-5:]
    head = await client.head(url, headers=auth("qa"))
    assert head.status == 200 and await head.read() == b""
    past = await client.get(url, headers={**auth("qa"), "Range": f"bytes={len(audio)}-"})
    assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{len(audio)}"

    audits = await client.app[QA_STORE].playbacks(call)
    assert [(a.who, a.role, a.byte_range) for a in audits] == [
        ("qa", "qa", ""),
        ("supervisor", "supervisor", f"100-199/{len(audio)}"),
        ("admin", "admin", f"{len(audio) - 10}-{len(audio) - 1}/{len(audio)}"),
        ("qa", "qa", f"{len(audio) - 5}-{len(audio) - 1}/{len(audio)}"),
    ]
    assert all(a.interaction_id == call and a.track == "mixed" for a in audits)

    # Refused: an agent, nobody, a bad track; nothing audited.
    assert (await client.get(url, headers=auth("agent"))).status == 403
    assert (await client.get(url)).status == 401
    assert (await client.get(url, params={"track": "../x"}, headers=auth("qa"))).status == 400
    assert len(await client.app[QA_STORE].playbacks(call)) == 4


async def test_crafted_ids_get_404_and_touch_nothing_outside_the_store(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    call = new_id()
    await add_call(client, call, GOOD)
    record(client, tmp_path, call, wav_bytes(0.2))
    # A file outside the store that a path built from the id would reach.
    secret = tmp_path / "secret.mixed.wav"
    secret.write_bytes(b"SECRET" * 10)
    (tmp_path / "secret.mixed.json").write_text('{"file": "../secret.mixed.wav"}')
    for crafted in (
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2Fsecret",
        "..",
        "..%2Fsecret",
        f"{call}%2F..%2F..%2Fsecret",
        "-rf",
        "x" * 300,
    ):
        resp = await client.get(f"/api/recordings/{crafted}/audio", headers=auth("qa"))
        assert resp.status == 404, crafted
        assert b"SECRET" not in await resp.read()
    assert (await client.get("/api/recordings/unknown-call/audio", headers=auth("qa"))).status == 404
    # Only the stored recording's own files were ever there to read.
    assert sorted(p.name for p in client.app[RECORDING_STORE].directory.iterdir()) == sorted(
        [f"{call}.mixed.wav.enc", f"{call}.mixed.json"]
    )


async def test_pages_are_served_with_roles(client: TestClient[Any, Any]) -> None:
    page = await client.get("/qa", headers=auth("qa"))
    assert page.status == 200 and "<form" in await page.text()
    page = await client.get("/qa/calls/anything", headers=auth("supervisor"))
    assert page.status == 200 and "<audio" in await page.text()
    assert (await client.get("/qa", headers=auth("agent"))).status == 403
    anonymous = await client.get("/qa", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/login?next=/qa"
    assert (await client.get("/static/qa/call.js")).status == 200
    assert (await client.get("/static/qa/call.html")).status == 404
    assert (await client.get("/static/qa/..%2F..%2Fqa_api.py")).status == 404


async def test_the_store_refuses_use_before_start(database_url: str) -> None:
    store = QaStore(database_url)
    with pytest.raises(DatabaseError, match="not started"):
        await store.reviews("x")
    await store.start()
    assert await store.reviews("x") == []
    await store.stop()


async def test_search_uses_the_full_text_index(database_url: str) -> None:
    store = QaStore(database_url)
    await store.start()
    sqlite = database_url.startswith("sqlite")
    try:
        query = sa.select(QaTranscriptRow.interaction_id).where(store._matches(("router", "dropping")))
        dialect = sa_sqlite.dialect() if sqlite else postgresql.dialect()
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    finally:
        await store.stop()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as c:
            if sqlite:
                rows = await c.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))
                plan = "\n".join(str(row[-1]) for row in rows)
            else:
                await c.execute(sa.text("SET enable_seqscan = off"))  # an empty table is scanned
                plan = "\n".join(row[0] for row in await c.execute(sa.text(f"EXPLAIN {sql}")))
    finally:
        await engine.dispose()
    expected = "SCAN qa_search VIRTUAL TABLE" if sqlite else "ix_qa_transcripts_search"
    assert expected in plan, plan


async def test_concurrent_playbacks_and_reviews_are_all_kept(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    call = new_id()
    await add_call(client, call, GOOD)
    audio = wav_bytes(0.3)
    record(client, tmp_path, call, audio)
    answers = {"needs": 2, "offer": 3, "compliance": 1}

    async def listen(n: int) -> bytes:
        resp = await client.get(
            f"/api/recordings/{call}/audio", headers={**auth("qa"), "Range": f"bytes={n}-{n + 9}"}
        )
        assert resp.status == 206
        return await resp.read()

    async def review() -> int:
        resp = await client.post(
            f"/api/qa/calls/{call}/reviews",
            json={"scorecard": "sales", "answers": answers},
            headers=auth("supervisor"),
        )
        return resp.status

    results = await asyncio.gather(*(listen(n) for n in range(12)), *(review() for _ in range(6)))
    assert results[:12] == [audio[n : n + 10] for n in range(12)]
    assert results[12:] == [201] * 6
    assert len(await client.app[QA_STORE].playbacks(call)) == 12
    assert len(await client.app[QA_STORE].reviews(call)) == 6
