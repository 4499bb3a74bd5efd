"""A CRM's update of a ticket's fields: the mapping, and the conflict rule (the last update wins by
its own timestamp; the losing values recorded, never dropped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.tickets import crm
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.fields import TicketInvalid
from callcenter.crm import mapping
from callcenter.tickets import codec
from tests.unit.tickets_fixtures import example

WF = example()
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def ticket() -> wfl.Ticket:
    created, _ = wfl.create(WF, wfl.Draft("fault", "Router reboots", {"product": "router"}), "T-1", T0, "ann")
    return created


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_newer_update_applies_and_an_older_one_is_recorded_as_lost() -> None:
    t, events = crm.update(
        WF, ticket(), {"title": " New title ", "fields.product": "tv"}, at(10), at(11), "crm"
    )
    assert (t.title, t.fields["product"]) == ("New title", "tv")
    assert t.field_times == {"title": at(10), "fields.product": at(10)}
    (e,) = events
    assert e.kind == "crm_updated" and e.by == "crm" and e.source_at == at(10) and e.at == at(11)
    assert e.applied == {"title": {"before": "Router reboots", "after": "New title"},
                         "fields.product": {"before": "router", "after": "tv"}}  # fmt: skip
    assert e.lost == {}
    # An older update arriving later: title loses (10 > 5); priority was never set since creation.
    t2, (e2,) = crm.update(WF, t, {"title": "Old title", "priority": "high"}, at(5), at(12), "crm")
    assert (t2.title, t2.priority) == ("New title", "high")
    assert e2.applied == {"priority": {"before": "normal", "after": "high"}}
    assert e2.lost == {"title": {"value": "Old title", "newer_at": at(10).isoformat()}}


def test_a_tie_loses_so_a_repeated_update_changes_nothing() -> None:
    t, _ = crm.update(WF, ticket(), {"title": "A"}, at(10), at(10), "crm")
    again, (e,) = crm.update(WF, t, {"title": "A"}, at(10), at(11), "crm")
    assert again == t and e.applied == {} and set(e.lost) == {"title"}


def test_an_update_older_than_the_ticket_loses_and_our_priority_change_counts() -> None:
    t, (e,) = crm.update(WF, ticket(), {"title": "Before it existed"}, at(-1), at(1), "crm")
    assert t.title == "Router reboots" and e.lost["title"]["newer_at"] == T0.isoformat()
    ours, _ = wfl.set_priority(WF, ticket(), "urgent", at(20), "sup")
    t, (e,) = crm.update(WF, ours, {"priority": "low"}, at(15), at(21), "crm")
    assert t.priority == "urgent" and set(e.lost) == {"priority"}
    t, (e,) = crm.update(WF, ours, {"priority": "low"}, at(25), at(26), "crm")
    assert t.priority == "low" and e.applied == {"priority": {"before": "urgent", "after": "low"}}


def test_bad_values_are_refused_whole_with_every_problem() -> None:
    with pytest.raises(TicketInvalid) as err:
        crm.update(WF, ticket(), {"title": "", "priority": "asap", "fields.colour": "red", "status": "x"},
                   at(10), at(10), "crm")  # fmt: skip
    assert err.value.problems == {
        "title": "must be text of 1 to 200 characters",
        "priority": "unknown priority 'asap'",
        "fields.colour": "not a field of 'fault'",
        "status": "not a field a CRM may update",
    }
    with pytest.raises(TicketInvalid) as err:
        crm.update(WF, ticket(), {"fields.product": "toaster"}, at(10), at(10), "crm")
    assert set(err.value.problems) == {"product"}
    with pytest.raises(TicketInvalid):  # required: cannot be cleared
        crm.update(WF, ticket(), {"fields.product": None}, at(10), at(10), "crm")


def test_the_mapping_names_every_unmapped_field() -> None:
    assert mapping.ticket_changes({"subject": "S", "priority": "high", "custom.product": "tv"}) == {
        "title": "S", "priority": "high", "fields.product": "tv"
    }  # fmt: skip
    with pytest.raises(mapping.UnmappedFields) as err:
        mapping.ticket_changes({"subject": "S", "owner": "x", "custom.": 1, "status": "closed"})
    assert err.value.names == ["custom.", "owner", "status"]


def test_the_times_and_the_event_survive_the_storage_format() -> None:
    t, (e,) = crm.update(WF, ticket(), {"title": "New"}, at(10), at(11), "crm")
    assert codec.ticket_from_json(codec.ticket_json(t)) == t
    assert codec.event_json(e) == {"source_at": at(10).isoformat(),
                                   "applied": {"title": {"before": "Router reboots", "after": "New"}},
                                   "lost": {}}  # fmt: skip
    old = codec.ticket_json(ticket())
    del old["field_times"]  # a row written before this field existed
    assert codec.ticket_from_json(old).field_times == {}


NAMES = ["title", "priority", "fields.product"]
VALUES = {"title": ["A", "B", "C"], "priority": ["urgent", "high", "low"], "fields.product": ["router", "tv"]}


@given(
    st.lists(
        st.tuples(
            st.integers(-5, 30),  # the update's own minute (some older than the ticket)
            st.dictionaries(st.sampled_from(NAMES), st.integers(0, 2), min_size=1),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_in_any_arrival_order_each_field_ends_with_its_newest_update_and_nothing_is_dropped(
    updates: list[tuple[int, dict[str, int]]],
) -> None:
    t = ticket()
    start = {"title": t.title, "priority": t.priority, "fields.product": t.fields["product"]}
    recorded = 0
    for n, (minute, picks) in enumerate(updates):
        changes = {k: VALUES[k][i % len(VALUES[k])] for k, i in picks.items()}
        t, (e,) = crm.update(WF, t, changes, at(minute), at(100 + n), "crm")
        assert set(e.applied) | set(e.lost) == set(changes) and not set(e.applied) & set(e.lost)
        recorded += len(e.applied) + len(e.lost)
    assert recorded == sum(len(p) for _, p in updates)
    now = {"title": t.title, "priority": t.priority, "fields.product": t.fields["product"]}
    for name in NAMES:
        newer = [(m, n) for n, (m, p) in enumerate(updates) if name in p and at(m) > T0]
        if not newer:
            assert now[name] == start[name]
            continue
        best = max(m for m, _ in newer)
        first = min(n for m, n in newer if m == best)  # a tie loses: the first to arrive stays
        i = updates[first][1][name]
        assert now[name] == VALUES[name][i % len(VALUES[name])]
