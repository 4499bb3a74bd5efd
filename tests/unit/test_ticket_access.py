"""The pure rules of temporary access, approvals, attachments and file kinds (core/tickets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.errors import InvalidRequest
from callcenter.core.tickets import access
from callcenter.core.tickets.fields import TicketInvalid
from callcenter.core.tickets.filetypes import sniff
from callcenter.core.tickets.workflow import Draft, TicketRefused, create
from tests.unit.tickets_fixtures import example

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
WF = example()
TICKET, _ = create(WF, Draft("fault", "Router", {"product": "router"}), "T-0000000A", T0, "ann")


def grant(level: access.Level = "view", **kw: object) -> access.Grant:
    values: dict[str, object] = {
        "id": 1, "user": "pat", "ticket_id": TICKET.id, "team": None, "level": level,
        "granted_by": "sup", "granted_at": T0, "expires_at": T0 + timedelta(hours=1),
    }  # fmt: skip
    values.update(kw)
    return access.Grant(**values)  # type: ignore[arg-type]


def test_a_grant_is_in_force_until_it_expires_or_is_revoked() -> None:
    g = grant("work")
    assert access.level_of([g], TICKET, T0) == "work"
    assert access.level_of([g], TICKET, T0 + timedelta(minutes=59)) == "work"
    assert access.level_of([g], TICKET, T0 + timedelta(hours=1)) is None  # the end is exclusive
    assert access.level_of([g], TICKET, T0 - timedelta(seconds=1)) is None
    revoked = grant("work", revoked_at=T0 + timedelta(minutes=5), revoked_by="sup")
    assert access.level_of([revoked], TICKET, T0 + timedelta(minutes=1)) is None


def test_grants_cover_their_ticket_or_their_team_and_the_best_level_wins() -> None:
    other = grant("work", ticket_id="T-0000000B")
    assert access.level_of([other], TICKET, T0) is None
    team = grant("view", ticket_id=None, team=TICKET.team)
    assert access.level_of([team], TICKET, T0) == "view"
    assert access.level_of([team, grant("work")], TICKET, T0) == "work"
    assert access.granted_teams([team, grant()], T0) == {TICKET.team}
    assert access.granted_teams([team], T0 + timedelta(hours=2)) == frozenset()


def test_a_grant_names_one_ticket_or_one_known_team_for_a_bounded_time() -> None:
    with pytest.raises(InvalidRequest):
        access.check_target(WF, None, None)
    with pytest.raises(InvalidRequest):
        access.check_target(WF, "T-0000000A", "support")
    with pytest.raises(InvalidRequest, match="unknown team"):
        access.check_target(WF, None, "nobody")
    access.check_target(WF, None, "support")
    with pytest.raises(InvalidRequest):
        access.duration(0)
    with pytest.raises(InvalidRequest):
        access.duration(60 * 24 * 31)
    assert access.duration(90) == timedelta(minutes=90)


def test_an_approval_is_decided_once_and_never_by_its_requester() -> None:
    pending = access.Approval(1, TICKET.id, "delete", {}, None, "support", "Router", "dup", "ann", T0)
    approved = access.decide(pending, "approved", "sup", T0, "ok")
    assert (approved.state, approved.decided_by, approved.note) == ("approved", "sup", "ok")
    for decided in (approved, access.decide(pending, "refused", "sup", T0)):
        with pytest.raises(TicketRefused, match="already"):
            access.decide(decided, "approved", "boss", T0)
    with pytest.raises(TicketRefused, match="another supervisor"):
        access.decide(pending, "approved", "ann", T0)
    assert access.needs_approval("agent") and not access.needs_approval("supervisor")


def test_an_upload_to_an_attachment_field_sets_it_and_only_such_a_field() -> None:
    changed, events = access.attach(WF, TICKET, "A-0000000000000000", "shot.png", "screenshot", T0, "ann")
    assert changed.fields["screenshot"] == "A-0000000000000000" and events[0].kind == "attached"
    same, events = access.attach(WF, TICKET, "A-0000000000000001", "log.txt", None, T0, "ann")
    assert same == TICKET and len(events) == 1
    with pytest.raises(TicketInvalid, match="not an attachment field"):
        access.attach(WF, TICKET, "A-0000000000000002", "x.png", "product", T0, "ann")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n", "pdf"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "jpeg"),
        (b"GIF89a\x01\0", "gif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"PK\x03\x04\x14\0", "zip"),
        ("serial 42, 路由器\r\n".encode(), "text"),
        (b"<html><script>alert(1)</script>", None),
        (b"  <svg onload=alert(1)>", None),
        ("\ufeff<html>".encode(), None),
        (b"ok\x1b[31m", None),
        (b"MZ\x90\0\x03\0", None),
        (b"\x7fELF\x02\x01", None),
        (b"\xff\xfe\0\0bad", None),
    ],
)
def test_file_kinds_are_judged_by_their_bytes(head: bytes, kind: str | None) -> None:
    found = sniff(head)
    assert (found.name if found else None) == kind
