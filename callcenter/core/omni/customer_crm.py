"""A CRM's update of a customer's attributes: each value checked, and the winners (of
``core/webhooks/conflict.py``) as the attribute changes ``Customers.update`` takes.

Fields (ours): ``name`` (text, at most 128), ``vip`` (true/false), ``language`` (a tag such as
``zh-CN``, or null), ``tier`` (the ``tier:<x>`` tag the tickets' routing reads; null removes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from callcenter.core.errors import InvalidRequest
from callcenter.core.omni.customers import Customer

FIELDS = ("name", "vip", "language", "tier")
TIER_TAG = "tier:"
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TIER = re.compile(r"^[a-z0-9_-]{1,32}$")


class CustomerUpdateInvalid(InvalidRequest):
    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def check(changes: Mapping[str, object]) -> dict[str, object]:
    """The values as stored, or CustomerUpdateInvalid with every problem."""
    problems: dict[str, str] = {}
    out: dict[str, object] = {}
    for name, value in changes.items():
        if name == "name" and isinstance(value, str) and len(value.strip()) <= 128:
            out[name] = value.strip()
        elif name == "vip" and isinstance(value, bool):
            out[name] = value
        elif name == "language" and (
            value is None or (isinstance(value, str) and _LANGUAGE.fullmatch(value))
        ):
            out[name] = value
        elif name == "tier" and (
            value is None or (isinstance(value, str) and _TIER.fullmatch(value.lower()))
        ):
            out[name] = value.lower() if isinstance(value, str) else None
        elif name in FIELDS:
            problems[name] = {
                "name": "must be text of at most 128 characters",
                "vip": "must be true or false",
                "language": "must be a language tag such as en or zh-CN, or null",
                "tier": "must be 1 to 32 of a-z, 0-9, - and _, or null",
            }[name]
        else:
            problems[name] = "not a field a CRM may update"
    if problems:
        raise CustomerUpdateInvalid(problems)
    return out


def current(customer: Customer) -> dict[str, object]:
    tiers = sorted(t[len(TIER_TAG) :] for t in customer.tags if t.startswith(TIER_TAG))
    return {"name": customer.name, "vip": customer.vip, "language": customer.language,
            "tier": tiers[0] if tiers else None}  # fmt: skip


def attributes(customer: Customer, won: Mapping[str, object]) -> dict[str, object]:
    """What ``Customers.update`` is given for the winning values (a tier replaces the tier tags)."""
    out = {k: v for k, v in won.items() if k != "tier"}
    if "tier" in won:
        tags = {t for t in customer.tags if not t.startswith(TIER_TAG)}
        if won["tier"] is not None:
            tags.add(f"{TIER_TAG}{won['tier']}")
        out["tags"] = frozenset(tags)
    return out
