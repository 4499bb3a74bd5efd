"""QA review over HTTP: search calls, read one (transcript, flags with evidence, automatic score,
reviews), review it on a scorecard, compare reviewers (calibration), play its recording (audited,
with HTTP Range), and the two QA pages.

Line scoping: a principal limited to some business lines (``lines``, set by accounts; ``None`` or
absent means all lines) only ever sees calls of those lines; another line's call is a 404, the same
as a call that does not exist. Read through :func:`lines_of`, which works with principals that do
not have the attribute yet (API tokens).

Playback: the file is found by :class:`~callcenter.qa.records.RecordingFiles` from the
interaction id in the URL, which it checks against a strict pattern before any file is touched; no
path is ever taken from the request. Every request that returns audio bytes is written to the
playback audit first (:func:`audit_playback`): no audit, no audio.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from callcenter.accounts.principal import Principal
from callcenter.core.qa.scorecard import (
    ReviewAnswers,
    ReviewError,
    Scorecard,
    calibrate,
    check_answers,
    total,
)
from callcenter.errors import RecordingError, StorageError
from callcenter.qa.records import (
    TRACKS,
    CallDetail,
    CallFilter,
    CallSummary,
    PlaybackRecord,
    QaReviews,
    RecordingFiles,
    Review,
    Track,
)
from callcenter.web import assets
from callcenter.web.api import DIRECTORY, SERVICE, may_see_agent
from callcenter.web.auth import PRINCIPAL, PUBLIC, allow
from callcenter.web.http import error as _error
from callcenter.web.http import json_response as _json
from callcenter.web.http import read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import STATIC_MAX_AGE, render

log = logging.getLogger(__name__)

QA_STORE = web.AppKey("qa_store", QaReviews)
RECORDINGS = web.AppKey("recordings", RecordingFiles)


class Scorecards(dict[str, Scorecard]):
    """The scorecards by id (a class of its own, so the app key has a plain type)."""


SCORECARDS = web.AppKey("scorecards", Scorecards)
ROLES = ("qa", "supervisor", "admin")
STATIC = Path(__file__).parent / "static" / "qa"
STATIC_FILES = frozenset({"qa.css", "qa.js", "list.js", "call.js"})
MAX_PAGE = 100
_SCOPED = "a user limited to business lines sees only theirs"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def lines_of(principal: Principal) -> frozenset[str] | None:
    """The business lines ``principal`` may see; None: all of them."""
    lines = getattr(principal, "lines", None)
    return None if lines is None else frozenset(lines)


async def audit_playback(app: web.Application, record: PlaybackRecord) -> None:
    """Write one playback to the audit (the one place to redirect to a general audit log)."""
    await app[QA_STORE].add_playback(record)


# --- input ---------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Query(_Strict):
    q: str | None = Field(None, max_length=500)
    agent: str | None = Field(None, max_length=128)
    queue: str | None = Field(None, max_length=128)
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    min_score: float | None = Field(None, ge=0, le=100)
    max_score: float | None = Field(None, ge=0, le=100)
    flag: str | None = Field(None, max_length=128)
    calibration: bool | None = None
    limit: int = Field(25, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000)


class _ReviewBody(_Strict):
    scorecard: str = Field(min_length=1, max_length=64)
    answers: dict[Annotated[str, Field(max_length=64)], StrictInt | None] = Field(max_length=200)
    comment: str = Field("", max_length=4000)


class _CalibrationBody(_Strict):
    calibration: bool


class _CalibrationQuery(_Strict):
    scorecard: str | None = Field(None, description="default: that of the latest review")


class _AudioQuery(_Strict):
    track: Literal["mixed", "caller", "agent"] = Field("mixed", description="which track")


def _when(value: str | None, name: str, end: bool) -> datetime | None:
    """An ISO date or date-time; a date as ``to`` means the whole of that day. Naive = UTC."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
            return day + timedelta(days=1) if end else day
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name}: expected a date (2026-11-22) or an ISO date-time"}}',
            content_type="application/json",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _interaction_id(request: web.Request) -> str:
    return request.match_info["interaction_id"]


# --- views ---------------------------------------------------------------------------------------


def summary_view(s: CallSummary) -> dict[str, Any]:
    data = asdict(s)
    data["call_at"] = s.call_at.isoformat()
    data["flags"] = list(s.flags)
    return data


def review_view(r: Review) -> dict[str, Any]:
    data = asdict(r)
    data["at"] = r.at.isoformat()
    return data


def detail_view(d: CallDetail) -> dict[str, Any]:
    return {
        **summary_view(d.summary),
        "language": d.language,
        "engine": d.engine,
        "segments": d.segments,
        "checks": d.checks,
        "alerts": d.alerts,
        "reviews": [review_view(r) for r in d.reviews],
        "audio": f"/api/recordings/{d.summary.interaction_id}/audio",
        "survey": d.survey,
    }


def scorecard_view(card: Scorecard) -> dict[str, Any]:
    return {
        "id": card.id,
        "title": card.title,
        "criteria": [
            {
                "id": c.id,
                "label": c.label,
                "weight": c.weight,
                "low": c.low,
                "high": c.high,
                "not_applicable": c.allow_na,
            }
            for c in card.criteria
        ],
    }


# --- handlers ------------------------------------------------------------------------------------


@doc(
    "Search reviewed and transcribed calls, newest first: {total, limit, offset, calls:"
    " [{interaction_id, business_line, agent_id, queue, call_at, duration, score, flags,"
    " reviews, calibration, excerpt}]}",
    query=_Query,
    errors=(503,),
    who=_SCOPED,
)
@allow(*ROLES)
async def list_calls(request: web.Request) -> web.Response:
    query = read_query(request, _Query)
    if query.min_score is not None and query.max_score is not None and query.min_score > query.max_score:
        return _error(400, "min_score is above max_score")
    since, until = _when(query.from_, "from", False), _when(query.to, "to", True)
    found, calls = await request.app[QA_STORE].search(
        CallFilter(
            query.q,
            query.agent,
            query.queue,
            since,
            until,
            query.min_score,
            query.max_score,
            query.flag,
            query.calibration,
            query.limit,
            query.offset,
        ),
        lines_of(request[PRINCIPAL]),
    )
    return _json(
        {
            "total": found,
            "limit": query.limit,
            "offset": query.offset,
            "calls": [summary_view(c) for c in calls],
        }
    )


@doc(
    "One call: transcript segments (speaker, times, words), automatic score, checks with"
    " evidence (speaker, start, end, text), flags, alerts, reviews, the audio URL, the customer's"
    " survey answer (question, score, comment, source, low) or null",
    errors=(404, 503),
    who=_SCOPED,
)
@allow(*ROLES)
async def get_call(request: web.Request) -> web.Response:
    detail = await request.app[QA_STORE].call(_interaction_id(request), lines_of(request[PRINCIPAL]))
    if detail is None:
        return _error(404, "no transcript for this call")
    return _json(detail_view(detail))


@doc("The scorecards reviewers fill in (criteria, weights, scales)", errors=(503,))
@allow(*ROLES)
async def list_scorecards(request: web.Request) -> web.Response:
    cards = request.app[SCORECARDS]
    return _json({"scorecards": [scorecard_view(c) for c in cards.values()]})


@doc(
    "Review the call on a scorecard (201): answers per criterion (null: not applicable);"
    " the total is computed",
    body=_ReviewBody,
    ok=201,
    errors=(404, 422, 503),
    who=_SCOPED,
)
@allow(*ROLES)
async def add_review(request: web.Request) -> web.Response:
    interaction_id = _interaction_id(request)
    body = await read_json(request, _ReviewBody)
    cards: Scorecards = request.app[SCORECARDS]
    card = cards.get(body.scorecard)
    if card is None:
        known = ", ".join(sorted(cards.keys())) or "none configured (qa.scorecards)"
        return _error(400, f"scorecard: unknown {body.scorecard!r}; known: {known}")
    try:
        check_answers(card, body.answers)
    except ReviewError as err:
        return _error(422, f"answers: {err}")
    store = request.app[QA_STORE]
    principal = request[PRINCIPAL]
    if await store.call(interaction_id, lines_of(principal)) is None:
        return _error(404, "no transcript for this call")
    review = await store.add_review(
        interaction_id,
        principal.name,
        card.id,
        body.answers,
        body.comment,
        total(card, body.answers),
        datetime.now(UTC),
    )
    return _json(review_view(review), 201)


@doc(
    "Calibration: each reviewer's latest answers per criterion, spread (max - min, and as a share"
    " of the scale), mean, differences from the mean; the same for totals",
    query=_CalibrationQuery,
    errors=(404, 503),
    who=_SCOPED,
)
@allow(*ROLES)
async def get_calibration(request: web.Request) -> web.Response:
    interaction_id = _interaction_id(request)
    detail = await request.app[QA_STORE].call(interaction_id, lines_of(request[PRINCIPAL]))
    if detail is None:
        return _error(404, "no transcript for this call")
    cards = request.app[SCORECARDS]
    wanted = request.query.get("scorecard") or (detail.reviews[-1].scorecard if detail.reviews else None)
    if wanted is None:
        return _json(
            {
                "interaction_id": interaction_id,
                "calibration": detail.summary.calibration,
                "scorecard": None,
                "reviewers": [],
                "complete": False,
                "criteria": [],
                "total": None,
                "worst": None,
            }
        )
    card = cards.get(wanted)
    if card is None:
        return _error(400, f"scorecard: unknown {wanted[:64]!r}")
    reviews = [
        ReviewAnswers(r.reviewer, r.answers, r.total) for r in detail.reviews if r.scorecard == card.id
    ]
    result = calibrate(card, reviews)
    return _json(
        {
            "interaction_id": interaction_id,
            "calibration": detail.summary.calibration,
            "scorecard": card.id,
            "reviewers": list(result.reviewers),
            "complete": result.complete,
            "criteria": [
                {"id": c.id, "label": c.label, "low": c.low, "high": c.high, **asdict(result.criteria[c.id])}
                for c in card.criteria
            ],
            "total": asdict(result.total),
            "worst": result.worst,
        }
    )


@doc(
    "Mark or unmark the call for calibration",
    body=_CalibrationBody,
    errors=(404, 503),
    who=_SCOPED,
)
@allow(*ROLES)
async def mark_calibration(request: web.Request) -> web.Response:
    interaction_id = _interaction_id(request)
    body = await read_json(request, _CalibrationBody)
    store = request.app[QA_STORE]
    if await store.call(interaction_id, lines_of(request[PRINCIPAL])) is None:
        return _error(404, "no transcript for this call")
    await store.set_calibration(interaction_id, body.calibration)
    return _json({"interaction_id": interaction_id, "calibration": body.calibration})


@doc(
    "The call's recording (decrypted), audio/wav; HTTP Range (206, 416) for seeking; every"
    " request that returns audio is written to the playback audit",
    query=_AudioQuery,
    content="audio/wav",
    responses={206: "The requested byte range (Content-Range)"},
    errors=(404, 416, 503),
    who=_SCOPED,
)
@allow(*ROLES)
async def recording_audio(request: web.Request) -> web.StreamResponse:
    interaction_id = _interaction_id(request)
    track = request.query.get("track", "mixed")
    if track not in TRACKS:
        return _error(400, f"track: one of {', '.join(TRACKS)}")
    recordings = request.app[RECORDINGS]
    try:
        recordings.path_for(interaction_id, track)  # checks the id: nothing is read for a bad one
    except RecordingError:
        return _error(404, "no recording for this call")
    known, line = await request.app[QA_STORE].line_of(interaction_id)
    lines = lines_of(request[PRINCIPAL])
    if not known or (lines is not None and line not in lines):
        return _error(404, "no recording for this call")
    try:
        audio = await asyncio.to_thread(recordings.read, interaction_id, _track(track))
    except RecordingError as err:
        log.warning(
            "recording.unreadable", extra={"interaction": interaction_id, "error": type(err).__name__}
        )
        return _error(404, "no recording for this call")
    size = len(audio)
    headers = {"Accept-Ranges": "bytes", "Content-Type": "audio/wav", "Cache-Control": "no-store"}
    wanted = _byte_range(request.headers.get("Range"), size)
    if isinstance(wanted, str):
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    principal = request[PRINCIPAL]
    start, end = wanted if wanted is not None else (0, size - 1)
    if request.method != "HEAD":  # a HEAD gets the headers only: nothing is heard
        await audit_playback(
            request.app,
            PlaybackRecord(
                datetime.now(UTC),
                principal.name,
                principal.role,
                interaction_id,
                track,
                "" if wanted is None else f"{start}-{end}/{size}",
            ),
        )
    if wanted is None:
        return web.Response(body=audio, headers=headers)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return web.Response(status=206, body=audio[start : end + 1], headers=headers)


def _track(name: str) -> Track:
    return next(t for t in TRACKS if t == name)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as (first, last) inclusive; None for no (or an unusable) header, which
    means the whole file (RFC 9110 lets a server ignore Range); "unsatisfiable" when past the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # the last N bytes
        n = int(last)
        return "unsatisfiable" if n == 0 or size == 0 else (max(0, size - n), size - 1)
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    return None if end < start else (start, end)


# --- pages ---------------------------------------------------------------------------------------


def _agent_names(request: web.Request) -> str:
    """JSON: the names of the agents the principal may see, by id (the pages show names)."""
    names: dict[str, str] = {}
    service, directory = request.app.get(SERVICE), request.app.get(DIRECTORY)
    if service is not None and directory is not None:
        engine, principal = service.engine, request[PRINCIPAL]
        for agent_id, name in directory.names.items():
            agent = engine.agents.get(agent_id)
            if agent is not None and may_see_agent(principal, engine, agent):
                names[agent_id] = name
    return json.dumps(names)


@doc("The QA page: calls with search, filters, scores and flags", content="text/html")
@allow(*ROLES)
async def calls_page(request: web.Request) -> web.Response:
    return render(request, "qa_list.html", agent_names=_agent_names(request))


@doc("The QA page of one call: audio, transcript, flags, review form, calibration", content="text/html")
@allow(*ROLES)
async def call_page(request: web.Request) -> web.Response:
    return render(request, "qa_call.html", agent_names=_agent_names(request))


@doc(
    "The QA pages' scripts and styles (qa.js, list.js, call.js, qa.css)",
    content="text/plain",
    errors=(404,),
)
@allow(PUBLIC)
async def static_file(request: web.Request) -> web.Response:
    """The pages' scripts and styles (no data in them): a fixed list of names, nothing else."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        return _error(404, "no such file")
    return assets.respond(request, assets.load(STATIC / name), STATIC_MAX_AGE)


def _guarded(handler: Any) -> Any:
    """The handler with database failures as 503 (``wraps`` keeps its declared roles)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except StorageError as err:
            log.warning("qa.database_error", extra={"error": str(err)})
            return _error(503, "the QA database is not available")
        return response

    return run


def setup_routes(app: web.Application) -> None:
    guarded = _guarded
    app.router.add_get("/qa", guarded(calls_page))
    app.router.add_get("/qa/calls/{interaction_id}", guarded(call_page))
    app.router.add_get("/static/qa/{name}", static_file)
    app.router.add_get("/api/qa/calls", guarded(list_calls))
    app.router.add_get("/api/qa/scorecards", guarded(list_scorecards))
    app.router.add_get("/api/qa/calls/{interaction_id}", guarded(get_call))
    app.router.add_post("/api/qa/calls/{interaction_id}/reviews", guarded(add_review))
    app.router.add_get("/api/qa/calls/{interaction_id}/calibration", guarded(get_calibration))
    app.router.add_post("/api/qa/calls/{interaction_id}/calibration", guarded(mark_calibration))
    app.router.add_get("/api/recordings/{interaction_id}/audio", guarded(recording_audio))
