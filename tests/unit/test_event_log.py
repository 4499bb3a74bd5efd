"""Notices <-> event-log rows: every notice type is stored with the kind and keys its rows had before
notices were typed (old databases stay readable), and reads back as the same notice."""

from __future__ import annotations

import json

import pytest

from callcenter.core import notices as nt
from callcenter.core.calls import machine as cl
from callcenter.core.commands import RecordEvent
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.storage.event_log import event_row, notice_of

IID, AT = "i-1", 12.5

# (notice, the row's kind, the row's data) — the rows as the untyped engine wrote them.
CASES: list[tuple[nt.Notice, str, dict[str, object]]] = [
    (nt.Arrived(IID, AT, "+15550100"), "arrived", {"caller": "+15550100"}),
    (
        nt.IvrFinished(IID, AT, "voicemail", {"account": "4729"}),
        "ivr_finished",
        {"outcome": "voicemail", "data": {"account": "4729"}},
    ),
    (nt.Queued(IID, AT, "support", "1"), "queued", {"queue": "support", "choice": "1"}),
    (
        nt.Queued(IID, AT, "support", None, skills={"billing": 2}, language=None, callback="+1555"),
        "queued",
        {"queue": "support", "choice": None, "skills": {"billing": 2}, "language": None, "callback": "+1555"},
    ),
    (
        nt.Queued(IID, AT, "support", "2", skills={}, language="fr"),
        "queued",
        {"queue": "support", "choice": "2", "skills": {}, "language": "fr"},
    ),
    (
        nt.ConversationQueued(IID, AT, "chat", "webchat", "cust-1", "conv-1"),
        "queued",
        {"queue": "chat", "channel": "webchat", "customer": "cust-1", "conversation": "conv-1"},
    ),
    (
        nt.ConversationQueued(
            IID, AT, "chat", "sms", "cust-1", "conv-1", skills={"lang:fr": 1}, language="fr", sticky="a1"
        ),
        "queued",
        {
            "queue": "chat",
            "channel": "sms",
            "customer": "cust-1",
            "conversation": "conv-1",
            "skills": {"lang:fr": 1},
            "language": "fr",
            "sticky": "a1",
        },
    ),
    (
        nt.MaxWait(IID, AT, "support", "voicemail", 61.5),
        "max_wait",
        {"queue": "support", "exit": "voicemail", "wait": 61.5},
    ),
    (
        nt.MaxWait(IID, AT, "support", "callback", 61.5, kept="no number to call back"),
        "max_wait",
        {"queue": "support", "exit": "callback", "wait": 61.5, "kept": "no number to call back"},
    ),
    (
        nt.Overflowed(IID, AT, "support", "queue", 61.5, "sales"),
        "overflowed",
        {"queue": "support", "exit": "queue", "wait": 61.5, "to": "sales"},
    ),
    (nt.Offered(IID, AT, "a1", "longest idle"), "offered", {"agent": "a1", "reason": "longest idle"}),
    (nt.OfferFailed(IID, AT, "a1", "no answer"), "offer_failed", {"agent": "a1", "reason": "no answer"}),
    (nt.Answered(IID, AT, "a1"), "answered", {"agent": "a1"}),
    (nt.CallbackConnected(IID, AT, "a1"), "callback_connected", {"agent": "a1"}),
    (nt.CallbackRequested(IID, AT, "+1555"), "callback_requested", {"number": "+1555"}),
    (
        nt.CallbackFailed(IID, AT, "a1", "busy", 2),
        "callback_failed",
        {"agent": "a1", "reason": "busy", "attempt": 2},
    ),
    (
        nt.Transferred(IID, AT, "a1", None, "sales"),
        "transferred",
        {"from": "a1", "to_agent": None, "to_queue": "sales"},
    ),
    (
        nt.WrappedUp(IID, AT, "a1", "sale", "called back"),
        "wrap_up",
        {"agent": "a1", "disposition": "sale", "notes": "called back"},
    ),
    (nt.Ended(IID, AT, Outcome.ABANDONED, EndedBy.CALLER), "ended", {"outcome": "abandoned", "by": "caller"}),
    (nt.RecordingPaused(IID, AT, "ann", "agent"), "recording_paused", {"by": "ann", "role": "agent"}),
    (nt.RecordingResumed(IID, AT, "ann", "agent"), "recording_resumed", {"by": "ann", "role": "agent"}),
    (
        nt.AgentStateLogged(IID, AT, "a1", "paused", "lunch"),
        "agent_state",
        {"agent": "a1", "state": "paused", "reason": "lunch"},
    ),
    (
        nt.ChatRated(IID, AT, 5, "quick", "cust-1"),
        "chat.rating",
        {"score": 5, "comment": "quick", "customer_id": "cust-1"},
    ),
    # The call controls' notices (core/call_messages.py).
    (
        cl.Supervised(IID, AT, "1009", "a1", "whisper"),
        "supervised",
        {"supervisor": "1009", "agent": "a1", "mode": "whisper"},
    ),
    (cl.CallHeld(IID, AT, "a1"), "held", {"agent": "a1"}),
    (cl.CallResumed(IID, AT, "a1"), "resumed", {"agent": "a1"}),
    (cl.TransferredOut(IID, AT, "a1", "+1555"), "transferred", {"from": "a1", "to_number": "+1555"}),
    (
        cl.TransferredAttended(IID, AT, "a1", "a2"),
        "transferred",
        {"from": "a1", "to_agent": "a2", "attended": True},
    ),
    (cl.ConsultStarted(IID, AT, "a1", "a2"), "consult_started", {"from": "a1", "to_agent": "a2"}),
    (
        cl.ConsultEnded(IID, AT, "a1", "a2", "no answer"),
        "consult_cancelled",
        {"from": "a1", "to_agent": "a2", "reason": "no answer"},
    ),
    (cl.ConferenceInvited(IID, AT, "a1", "a2"), "conference_invited", {"from": "a1", "agent": "a2"}),
    (cl.ConferenceJoined(IID, AT, "a2"), "conference_joined", {"agent": "a2"}),
    (cl.ConferenceLeft(IID, AT, "a2", "dropped"), "conference_left", {"agent": "a2", "reason": "dropped"}),
]


@pytest.mark.parametrize(("notice", "kind", "data"), CASES, ids=lambda c: getattr(c, "kind", None))
def test_a_notice_is_stored_as_its_historic_row_and_reads_back(
    notice: nt.Notice, kind: str, data: dict[str, object]
) -> None:
    entry = event_row(notice)
    assert (entry.interaction_id, entry.at, entry.kind, entry.data) == (IID, AT, kind, data)
    stored = json.loads(json.dumps(entry.data))  # what the JSON column gives back
    assert notice_of(IID, AT, kind, stored) == notice


def test_every_notice_type_has_a_round_trip_case() -> None:
    covered = {type(n) for n, _, _ in CASES}
    assert set(nt.notice_types()) <= covered


def test_enum_fields_read_back_as_enums() -> None:
    found = notice_of(IID, AT, "ended", {"outcome": "answered", "by": "agent"})
    assert isinstance(found, nt.Ended) and found.outcome is Outcome.ANSWERED and found.by is EndedBy.AGENT


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("no_such_kind", {"agent": "a1"}),  # a kind no notice class has
        ("answered", {"agent": "a1", "extra": 1}),  # a key the class does not have
        ("answered", {}),  # a key it needs is missing
        ("ended", {"outcome": "no such outcome", "by": "agent"}),
    ],
)
def test_rows_no_notice_fits_read_as_none(kind: str, data: dict[str, object]) -> None:
    assert notice_of(IID, AT, kind, data) is None


def test_untyped_record_events_are_stored_as_given() -> None:
    entry = event_row(RecordEvent(IID, AT, "note", {"agent": "a1"}))
    assert (entry.kind, entry.data) == ("note", {"agent": "a1"})
