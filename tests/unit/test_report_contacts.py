"""First-contact resolution across channels (core/reports/resolution.py): verdicts against a
reference computed the plain way, over random contact histories, and the report's sums; and
conversations' figures (core/reports/conversations.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.reports.intervals import Granularity
from callcenter.core.reports.resolution import Contact, Verdict, fcr_report, judge
from callcenter.core.reports.rollup import Filters

DAY = 86400
CHANNELS = ("voice", "webchat", "sms", "whatsapp", "email")


def contact(ident: str, customer: str, at: float, channel: str = "voice", handled: bool = True) -> Contact:
    return Contact(ident, customer, at, channel, handled, queue="billing", agent="1001", line="money")


def test_a_chat_after_a_call_is_a_repeat_on_another_channel() -> None:
    judged = judge(
        [
            contact("call", "c1", 0),
            contact("chat", "c1", 2 * DAY, "webchat", handled=False),  # abandoned: still a repeat
            contact("other", "c2", 0, "sms"),
        ],
        window=7 * DAY,
        until=30 * DAY,
    )
    verdicts = {j.contact.id: j.verdict for j in judged}
    assert verdicts == {"call": Verdict.REPEATED, "other": Verdict.RESOLVED}, (
        "unhandled contacts are not judged"
    )
    (row,) = fcr_report(judged, Granularity.DAY, by="all")
    assert (row.handled, row.resolved, row.repeated, row.repeated_elsewhere, row.pending) == (2, 1, 1, 1, 0)
    assert row.fcr == 0.5


def test_a_contact_is_pending_until_its_window_has_passed() -> None:
    judged = judge([contact("a", "c1", 0)], window=7 * DAY, until=3 * DAY)
    assert [j.verdict for j in judged] == [Verdict.PENDING]
    (row,) = fcr_report(judged, Granularity.DAY, by="queue")
    assert row.fcr is None, "pending contacts are in neither part of the ratio"
    assert [j.verdict for j in judge([contact("a", "c1", 0)], window=7 * DAY, until=7 * DAY)] == [
        Verdict.RESOLVED
    ]


def test_a_return_after_the_window_does_not_count() -> None:
    judged = judge([contact("a", "c1", 0), contact("b", "c1", 8 * DAY)], window=7 * DAY, until=20 * DAY)
    assert [j.verdict for j in judged] == [Verdict.RESOLVED, Verdict.RESOLVED]


def test_filters_and_groups() -> None:
    judged = judge(
        [
            Contact("a", "c1", 0, "voice", True, "billing", "1001", "money"),
            Contact("b", "c2", 0, "voice", True, "support", "1002", ""),
        ],
        window=DAY,
        until=10 * DAY,
    )
    assert [r.group for r in fcr_report(judged, Granularity.DAY, by="agent")] == ["1001", "1002"]
    scoped = fcr_report(judged, Granularity.DAY, Filters(lines=frozenset({"money"})), by="queue")
    assert [r.group for r in scoped] == ["billing"], "a contact without a line is outside every line's scope"


contacts = st.lists(
    st.builds(
        Contact,
        id=st.uuids().map(lambda u: u.hex[:8]),
        customer=st.sampled_from(["c1", "c2", "c3"]),
        at=st.integers(0, 20 * DAY).map(float),
        channel=st.sampled_from(CHANNELS),
        handled=st.booleans(),
        queue=st.sampled_from(["billing", "support"]),
        agent=st.sampled_from(["1001", "1002"]),
        line=st.sampled_from(["", "money"]),
    ),
    max_size=40,
    unique_by=lambda c: c.id,
)


@settings(max_examples=300, deadline=None)
@given(contacts, st.integers(1, 10).map(lambda d: float(d * DAY)), st.integers(0, 40 * DAY).map(float))
def test_verdicts_match_a_plain_recomputation(every: list[Contact], window: float, until: float) -> None:
    judged = judge(every, window, until)
    assert sorted(j.contact.id for j in judged) == sorted(c.id for c in every if c.handled)
    for j in judged:
        c = j.contact
        later = [
            o
            for o in every
            if o.customer == c.customer
            and (o.at, o.id) > (c.at, c.id)
            and o.at <= c.at + window
            and o.at <= until
        ]
        if later:
            assert j.verdict is Verdict.REPEATED
            assert j.repeat == min(later, key=lambda o: (o.at, o.id)), (
                "the repeat is the customer's next contact"
            )
        else:
            assert j.verdict is (Verdict.RESOLVED if c.at + window <= until else Verdict.PENDING)
    rows = fcr_report(judged, Granularity.WEEK, by="channel")
    assert sum(r.handled for r in rows) == len(judged)
    for r in rows:
        assert r.resolved + r.repeated + r.pending == r.handled
        assert 0 <= r.repeated_elsewhere <= r.repeated


def test_conversation_figures() -> None:
    from callcenter.core.reports.conversations import Conversation, conversation_report

    items = [
        Conversation("a", "webchat", 0, True, 600, 30, 4, 3, "support", "1001", ""),
        Conversation("b", "webchat", 60, True, None, 100, 2, 1, "support", "1002", ""),  # still open
        Conversation("c", "sms", 120, False, 400, None, 1, 0, "support", "", ""),  # never answered
        Conversation("d", "email", DAY, True, DAY + 100, DAY + 50, 1, 1, "billing", "1001", "money"),
    ]
    rows = conversation_report(items, Granularity.DAY, by="all")
    assert [r.start for r in rows] == [0, DAY]
    first = rows[0]
    assert (first.conversations, first.answered, first.replied, first.resolved) == (3, 2, 2, 1)
    assert first.average_first_response == 35.0 and first.first_response_max == 40.0  # (30 + 40) / 2
    assert first.average_resolution == 600.0, "only answered and closed conversations are resolved"
    assert (first.messages_in, first.messages_out) == (7, 4) and first.messages_per_conversation == 11 / 3
    by_channel = conversation_report(
        items, Granularity.DAY, Filters(lines=frozenset({"money"})), by="channel"
    )
    assert [(r.group, r.conversations) for r in by_channel] == [("email", 1)]
