"""Routing rules: a new ticket's team and priority from its type, fields, customer tier, language
and business line. The first rule whose every condition matches wins; none: the defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from callcenter.core.tickets.fields import FieldValue
from callcenter.core.tickets.model import RoutingRule, Workflow


def tier_of(tags: Iterable[str], vip: bool) -> str | None:
    """The customer's tier for routing: its ``tier:<x>`` tag, else ``vip`` for a VIP."""
    tier = next((t[5:] for t in sorted(tags) if t.startswith("tier:")), None)
    return tier or ("vip" if vip else None)


def facts(
    type_name: str,
    fields: Mapping[str, FieldValue],
    tier: str | None,
    language: str | None,
    line: str | None,
) -> dict[str, str]:
    out = {"type": type_name, "tier": tier or "", "language": language or "", "line": line or ""}
    out.update({f"field.{k}": str(v) for k, v in fields.items()})
    return out


def matches(rule: RoutingRule, known: Mapping[str, str]) -> bool:
    return all(known.get(key, "") in accepted for key, accepted in rule.when.items())


def route(wf: Workflow, known: Mapping[str, str]) -> tuple[str, str, str]:
    """(team, priority, why in words)."""
    for n, rule in enumerate(wf.rules):
        if matches(rule, known):
            return rule.team, rule.priority, f"routing rule {n + 1}"
    return wf.default_team, wf.default_priority, "no rule matched: the defaults"
