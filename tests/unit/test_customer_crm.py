"""A CRM's customer update: values checked (every problem named), the winners as attribute
changes (a tier replaces the tier tags and keeps the others), the mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.core.omni.customer_crm import CustomerUpdateInvalid, attributes, check, current
from callcenter.core.omni.customers import Customer
from callcenter.core.webhooks import conflict
from callcenter.crm import mapping

T = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_values_are_checked_and_every_problem_named() -> None:
    assert check({"name": " Dee ", "vip": True, "language": "zh-CN", "tier": "Gold"}) == {
        "name": "Dee", "vip": True, "language": "zh-CN", "tier": "gold"
    }  # fmt: skip
    assert check({"language": None, "tier": None}) == {"language": None, "tier": None}
    with pytest.raises(CustomerUpdateInvalid) as err:
        check({"name": "x" * 129, "vip": "yes", "language": "chinese!", "tier": "a b", "tags": []})
    assert set(err.value.problems) == {"name", "vip", "language", "tier", "tags"}
    assert err.value.problems["tags"] == "not a field a CRM may update"


def test_a_tier_replaces_the_tier_tags_only() -> None:
    c = Customer("c-1", 0.0, tags=frozenset({"tier:silver", "tier:bronze", "churn-risk"}), name="Dee")
    assert current(c) == {"name": "Dee", "vip": False, "language": None, "tier": "bronze"}
    assert attributes(c, {"tier": "gold", "vip": True}) == {
        "vip": True, "tags": frozenset({"tier:gold", "churn-risk"})
    }  # fmt: skip
    assert attributes(c, {"tier": None}) == {"tags": frozenset({"churn-risk"})}
    assert attributes(c, {"name": "D"}) == {"name": "D"}


def test_the_conflict_rule_per_field_with_the_creation_as_the_default() -> None:
    times = {"name": T.replace(hour=10)}
    won, lost = conflict.judge(times, T, {"name": "A", "vip": True}, T.replace(hour=9, minute=30))
    assert won == {"vip": True}
    assert lost == {"name": {"value": "A", "newer_at": "2026-12-07T10:00:00+00:00"}}
    won, lost = conflict.judge(times, T, {"vip": True}, T)  # a tie with the creation loses
    assert won == {} and set(lost) == {"vip"}


def test_the_customer_mapping() -> None:
    crm_fields = {"full_name": "D", "vip": 1, "preferred_language": "en", "segment": "g"}
    assert mapping.customer_changes(crm_fields) == {"name": "D", "vip": 1, "language": "en", "tier": "g"}
    with pytest.raises(mapping.UnmappedFields) as err:
        mapping.customer_changes({"full_name": "D", "email": "x", "name": "y"})
    assert err.value.names == ["email", "name"]
