"""The tickets' pure core: templates, the transition table, transfers, reopening, routing, SLAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.tickets import sla, triggers
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.calendar import add_business, business_seconds, is_open
from callcenter.core.tickets.fields import TicketInvalid
from callcenter.core.tickets.ticket import (
    CustomerWrote,
    Escalated,
    Reopened,
    SlaBreached,
    SlaWarning,
    Ticket,
    TicketCreated,
)
from callcenter.core.tickets.triggers import Flagged
from callcenter.messaging import identity
from callcenter.messaging.channels.base import InboundMessage
from callcenter.settings import ConfigError
from callcenter.tickets.inbound import title_of
from callcenter.tickets.workflow_file import parse_workflow
from tests.unit.tickets_fixtures import EXAMPLE, example

WF = example()
# Monday 7 December 2026, 10:00 in Madrid (UTC+1)
MON_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def fault(**extra: object) -> Ticket:
    draft = wfl.Draft("fault", "Router reboots", {"product": "router", **extra}, customer_id="c1")
    ticket, _ = wfl.create(WF, draft, "T-1", MON_10, "ann")
    return ticket


def test_a_ticket_is_created_in_its_types_initial_status_routed_by_the_rules() -> None:
    draft = wfl.Draft("fault", "Router reboots", {"product": "router", "devices": 2}, tier="gold")
    ticket, events = wfl.create(WF, draft, "T-1", MON_10, "ann")
    assert (ticket.status, ticket.team, ticket.priority) == ("new", "engineering", "high")
    assert events == (TicketCreated("T-1", MON_10, "ann", "fault", "engineering", "high", "routing rule 1"),)
    plain, _ = wfl.create(WF, wfl.Draft("fault", "x", {"product": "app"}), "T-2", MON_10, "ann")
    assert (plain.team, plain.priority) == ("support", "normal")  # no rule: the defaults
    tv, _ = wfl.create(WF, wfl.Draft("fault", "x", {"product": "tv"}), "T-3", MON_10, "ann")
    assert tv.team == "engineering"  # a field's value in a condition


def test_fields_are_checked_against_the_template_all_problems_at_once() -> None:
    draft = wfl.Draft("fault", "", {"devices": 0, "since": "2026-02-30", "colour": "red", "serial": 5})
    with pytest.raises(TicketInvalid) as caught:
        wfl.create(WF, draft, "T-1", MON_10, "ann")
    assert caught.value.problems == {
        "title": "required",
        "product": "required",
        "devices": "must be at least 1",
        "since": "must be a date (YYYY-MM-DD)",
        "colour": "not a field of 'fault'",
        "serial": "must be text",
    }
    ok = fault(devices=3, since="2026-11-30", screenshot="rec-12.png")
    assert ok.fields == {"product": "router", "devices": 3, "since": "2026-11-30", "screenshot": "rec-12.png"}
    with pytest.raises(TicketInvalid, match="unknown ticket type"):
        wfl.create(WF, wfl.Draft("nope", "x"), "T-9", MON_10, "ann")
    with pytest.raises(TicketInvalid, match="product: must be one of router, app, tv"):
        fault(product="toaster")


def test_only_the_tables_transitions_are_allowed_and_a_refusal_changes_nothing() -> None:
    ticket = fault()
    with pytest.raises(wfl.TicketRefused, match="'new' -> 'resolved' is not allowed"):
        wfl.transition(WF, ticket, "resolved", MON_10, "ann")
    opened, events = wfl.transition(WF, ticket, "open", MON_10 + timedelta(minutes=5), "ann")
    assert opened.status == "open" and ticket.status == "new"
    assert [c.status for c in opened.history] == ["new", "open"]
    assert events[0].kind == "status"


def test_transfers_follow_the_allowed_paths_only() -> None:
    ticket = fault()  # support
    with pytest.raises(wfl.TicketRefused, match="no transfer path from 'support' to 'product'"):
        wfl.transfer(WF, ticket, "product", MON_10, "ann")
    with pytest.raises(TicketInvalid, match="unknown team"):
        wfl.transfer(WF, ticket, "marketing", MON_10, "ann")
    moved, _ = wfl.transfer(WF, ticket, "engineering", MON_10, "ann", "needs firmware logs")
    again, events = wfl.transfer(WF, moved, "product", MON_10, "eng")
    assert again.team == "product" and events[0].kind == "transferred"


def test_a_closed_ticket_reopens_on_the_customers_reply_with_the_reason() -> None:
    ticket = fault()
    for status in ("open", "resolved", "closed"):
        ticket, _ = wfl.transition(WF, ticket, status, MON_10, "ann")
    reopened, events = wfl.customer_replied(WF, ticket, MON_10 + timedelta(days=1), "still reboots")
    assert (reopened.status, reopened.reopened, reopened.reopen_reason) == ("open", 1, "still reboots")
    assert events == (
        Reopened("T-1", MON_10 + timedelta(days=1), "customer", "closed", "open", "still reboots"),
    )
    assert wfl.is_legal_history(WF.types["fault"], reopened.history)
    waiting, _ = wfl.transition(WF, reopened, "waiting_customer", MON_10, "ann")
    back, _ = wfl.customer_replied(WF, waiting, MON_10, "here are the logs")
    assert back.status == "open"  # waiting for the customer, and the table allows going back
    same, nothing = wfl.customer_replied(WF, back, MON_10, "thanks")
    assert same is back and nothing == ()


def test_the_customers_message_is_recorded_and_moves_the_ticket_like_a_reply() -> None:
    ticket = fault()
    kept, events = wfl.customer_wrote(WF, ticket, MON_10, "more details", "email")
    assert kept is ticket and events == (CustomerWrote("T-1", MON_10, "customer", "email"),)
    assert ticket.first_response_at is None  # the customer's words are no response to them
    for status in ("open", "resolved", "closed"):
        ticket, _ = wfl.transition(WF, ticket, status, MON_10, "ann")
    reopened, events = wfl.customer_wrote(WF, ticket, MON_10, "not fixed", "email")
    assert reopened.status == "open" and reopened.reopen_reason == "not fixed"
    assert [e.kind for e in events] == ["customer_message", "reopened"]


def test_a_new_tickets_title_from_an_e_mail() -> None:
    def inbound(subject: str, body: str) -> InboundMessage:
        sender = identity.email("ana@customer.example")
        return InboundMessage(MessagingChannel.EMAIL, "p1", sender, "", body, 0.0, subject=subject)

    assert title_of(inbound("RE: Fwd: re:Order 4521", "x")) == "Order 4521"
    assert title_of(inbound("  ", "\n\n  My router\nreboots")) == "My router"
    assert title_of(inbound("", "")) == "ana@customer.example"
    assert len(title_of(inbound("x" * 500, ""))) == wfl.MAX_TITLE


def test_a_trigger_rule_opens_a_ticket_on_the_first_matching_rule_only() -> None:
    rules = """
triggers:
  - {when: {qa_flag: [emergency, threat], line: insurance}, type: question, team: engineering,
     priority: urgent, title: Emergency on a call}
  - {when: {qa_flag: survey_low}, type: question, title: Rated low}
  - {when: {qa_flag: survey_low}, type: question, title: never reached}
"""
    wf = parse_workflow(EXAMPLE.read_text() + rules, "t.yaml")
    assert triggers.flags_watched(wf) == {"emergency", "threat", "survey_low"}
    assert triggers.evaluate(wf, Flagged("c1", "emergency", line="support")) is None
    assert triggers.evaluate(wf, Flagged("c1", "late", line="insurance")) is None
    urgent = triggers.evaluate(wf, Flagged("c1", "threat", line="insurance", customer_id="k1"))
    assert urgent is not None and urgent.key == "qa:c1:threat"
    ticket, events = wfl.create(wf, urgent.draft, "T-9", MON_10, "system")
    assert (ticket.team, ticket.priority, ticket.customer_id, ticket.line) == (
        "engineering", "urgent", "k1", "insurance")  # fmt: skip
    assert isinstance(events[0], TicketCreated) and events[0].rule == "trigger rule 1 (qa_flag threat)"
    low = triggers.evaluate(wf, Flagged("c2", "survey_low"))
    assert low is not None and low.draft.title == "Rated low"
    routed, _ = wfl.create(wf, low.draft, "T-8", MON_10, "system")
    assert (routed.team, routed.priority) == ("support", "normal")  # no override: the routing rules


def test_the_first_reply_to_the_customer_is_the_first_response_not_a_note() -> None:
    ticket = fault()
    noted, _ = wfl.comment(ticket, MON_10 + timedelta(minutes=1), "ann", internal=True)
    assert noted.first_response_at is None
    replied, events = wfl.comment(noted, MON_10 + timedelta(minutes=2), "ann", internal=False)
    assert replied.first_response_at == MON_10 + timedelta(minutes=2)
    assert events[0].first_response  # type: ignore[attr-defined]


def test_business_time_skips_nights_lunch_weekends_and_holidays() -> None:
    cal = WF.calendar  # Madrid: 09-13, 14-18 Mon-Thu, 09-15 Fri; 25 Dec a holiday
    fri_14 = datetime(2026, 12, 11, 13, 0, tzinfo=UTC)  # Friday 14:00 local
    mon_10 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
    assert business_seconds(cal, fri_14, mon_10) == 2 * 3600  # Fri 14-15, Mon 09-10
    thu_24 = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # Thursday 17:00; Friday 25 is a holiday
    assert add_business(cal, thu_24, 2 * 3600) == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
    assert not is_open(cal, datetime(2026, 12, 7, 12, 30, tzinfo=UTC))  # lunch (13:30 local)
    assert is_open(cal, datetime(2026, 12, 7, 13, 0, tzinfo=UTC))


def test_sla_warns_then_breaches_once_and_escalates_each_step_an_event() -> None:
    draft = wfl.Draft("fault", "x", {"product": "router"}, tier="gold")  # high: 1h first response
    ticket, _ = wfl.create(WF, draft, "T-1", MON_10, "ann")
    ticket, events = sla.check(WF, ticket, MON_10 + timedelta(minutes=44))
    assert events == ()
    ticket, events = sla.check(WF, ticket, MON_10 + timedelta(minutes=46))
    assert [type(e) for e in events] == [SlaWarning]
    assert events[0].target == "first_response"  # type: ignore[attr-defined]
    ticket, events = sla.check(WF, ticket, MON_10 + timedelta(minutes=50))
    assert events == ()  # warned once
    at = MON_10 + timedelta(minutes=61)
    ticket, events = sla.check(WF, ticket, at)
    assert [type(e) for e in events] == [SlaBreached, Escalated, Escalated]
    assert [e.action for e in events[1:]] == ["notify", "raise_priority"]  # type: ignore[attr-defined]
    assert ticket.priority == "urgent"
    ticket, events = sla.check(WF, ticket, at + timedelta(minutes=5))
    assert events == ()


def test_sla_clocks_pause_while_waiting_for_the_customer_and_stop_when_met() -> None:
    ticket = fault()  # normal: 4h first response, 24h resolution
    ticket, _ = wfl.transition(WF, ticket, "open", MON_10, "ann")
    ticket, _ = wfl.transition(WF, ticket, "waiting_customer", MON_10 + timedelta(hours=1), "ann")
    later = MON_10 + timedelta(hours=5)
    first = sla.clock(WF, ticket, sla.FIRST_RESPONSE, later)
    assert first is not None and first.elapsed_seconds == 3600 and not first.running
    ticket, _ = wfl.transition(WF, ticket, "open", later, "ann")  # 15:00 local
    running = sla.clock(WF, ticket, sla.FIRST_RESPONSE, later)
    assert running is not None and running.due_at == MON_10 + timedelta(hours=8)  # 3 h left: Mon 18:00 local
    ticket, _ = wfl.comment(ticket, later + timedelta(minutes=30), "ann", internal=False)
    met = sla.clock(WF, ticket, sla.FIRST_RESPONSE, later + timedelta(days=3))
    assert met is not None and met.met and met.elapsed_seconds == 3600 + 1800


def test_boards_count_open_tickets_per_team_with_the_overdue_and_the_at_risk() -> None:
    from callcenter.core.tickets.board import boards

    gold = wfl.Draft("fault", "x", {"product": "router"}, tier="gold")  # engineering, high: 1 h
    late, _ = wfl.create(WF, gold, "T-LATE", MON_10, "ann")
    risky, _ = wfl.create(WF, gold, "T-RISK", MON_10 + timedelta(minutes=10), "ann")
    calm = fault()  # support, normal: 4 h
    done, _ = wfl.transition(WF, fault(), "closed", MON_10, "ann")
    now = MON_10 + timedelta(minutes=61)
    found = {b.team: b for b in boards(WF, [late, risky, calm, done], now)}
    assert list(found) == ["support", "billing", "engineering", "product"]
    assert (found["engineering"].open, found["engineering"].by_priority) == (2, {"high": 2})
    assert found["engineering"].overdue == ["T-LATE"] and found["engineering"].at_risk == ["T-RISK"]
    assert (found["support"].open, found["support"].overdue, found["support"].at_risk) == (1, [], [])
    listed = found["engineering"].tickets
    assert listed.keys() == {"T-LATE", "T-RISK"} and listed["T-LATE"].late_seconds == 60
    assert listed["T-RISK"].due_at == MON_10 + timedelta(minutes=70) and found["support"].tickets == {}
    # The page's filters: only these teams, types, priorities.
    some = boards(WF, [late, risky, calm], now, teams={"engineering", "support"}, priorities={"normal"})
    assert [(b.team, b.open) for b in some] == [("support", 1), ("engineering", 0)]
    assert [b.open for b in boards(WF, [late, risky, calm], now, types={"billing"})] == [0, 0, 0, 0]


def test_who_is_told_of_a_tickets_events() -> None:
    from callcenter.core.tickets import alerts
    from callcenter.core.tickets.ticket import Commented, SlaBreached, Transferred

    assert alerts.mentions("ask @eve and @1004, not bob@example.com; @eve. again") == ("eve", "1004")
    ticket, events = wfl.create(WF, wfl.Draft("fault", "x", {"product": "router"}), "T-1", MON_10, "ann")
    told = alerts.alerts_of(WF, ticket, events[0])
    assert [(a.recipient, a.kind) for a in told] == [("1001", "assigned"), ("1002", "assigned")]  # not ann
    moved = Transferred("T-1", MON_10, "ann", "support", "engineering", "firmware")
    assert {a.recipient for a in alerts.alerts_of(WF, ticket, moved)} == {"eve", "1004"}
    late = SlaBreached("T-1", MON_10, "system", "resolution", MON_10)
    assert {(a.kind, a.text) for a in alerts.alerts_of(WF, ticket, late)} == {("sla_breached", "resolution")}
    note = Commented("T-1", MON_10, "ann", True, False)
    mentioned = alerts.alerts_of(WF, ticket, note, "@eve @ann look")
    assert [(a.recipient, a.kind, a.text) for a in mentioned] == [("eve", "mention", "@eve @ann look")]
    reply = Commented("T-1", MON_10, "ann", False, True)
    assert alerts.alerts_of(WF, ticket, reply, "@eve") == ()  # a reply to the customer mentions nobody


def test_an_e_mail_copy_of_a_mention_in_the_persons_language() -> None:
    from callcenter.core.tickets import alerts
    from callcenter.core.tickets.ticket import Commented
    from callcenter.web.ticket_mail import compose_alert

    ticket = fault()
    note = Commented("T-1", MON_10, "ann", True, False)
    [alert] = alerts.alerts_of(WF, ticket, note, "@eve please look at the logs")
    subject, text = compose_alert("zh-CN", ticket, note, alert)
    assert subject == "[T-1] ann 提到了你：Router reboots"  # noqa: RUF001
    assert "@eve please look at the logs" in text and "电子邮件" in text
    wf = parse_workflow(
        EXAMPLE.read_text() + "\nemail_notifications: {eve: {email: eve@x.example, kinds: [mention]}}\n", "t"
    )
    assert wf.email_copies["eve"].kinds == {"mention"} and wf.email_copies["eve"].language == "en"
    with pytest.raises(ConfigError, match=r"t:\d+: email_notifications.eve.kinds.0: Input should be"):
        parse_workflow(
            EXAMPLE.read_text() + "\nemail_notifications: {eve: {email: e@x.io, kinds: [x]}}\n", "t"
        )
