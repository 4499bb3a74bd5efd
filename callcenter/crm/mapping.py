"""The field mapping of the inbound update API: which CRM field is which of ours
(docs/webhooks.md, "Field mapping"). Names not listed are refused (400), never ignored."""

from __future__ import annotations

from collections.abc import Mapping

# CRM field -> the ticket's field (core/tickets/crm.py names: title, priority, fields.<name>).
TICKET_FIELDS: Mapping[str, str] = {
    "subject": "title",
    "priority": "priority",
}
# "custom.<name>" -> the ticket type's field <name> (its template validates the value).
TICKET_CUSTOM_PREFIX = "custom."


# CRM field -> the customer's (core/omni/customer_crm.py).
CUSTOMER_FIELDS: Mapping[str, str] = {
    "full_name": "name",
    "vip": "vip",
    "preferred_language": "language",
    "segment": "tier",
}


class UnmappedFields(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(f"fields with no mapping: {', '.join(names)}")
        self.names = names


def ticket_changes(crm_fields: Mapping[str, object]) -> dict[str, object]:
    """The CRM's fields as ours; UnmappedFields names every one that has no mapping."""
    out: dict[str, object] = {}
    unknown = []
    for name, value in crm_fields.items():
        if name in TICKET_FIELDS:
            out[TICKET_FIELDS[name]] = value
        elif name.startswith(TICKET_CUSTOM_PREFIX) and len(name) > len(TICKET_CUSTOM_PREFIX):
            out["fields." + name[len(TICKET_CUSTOM_PREFIX) :]] = value
        else:
            unknown.append(name[:64])
    if unknown:
        raise UnmappedFields(sorted(unknown))
    return out


def customer_changes(crm_fields: Mapping[str, object]) -> dict[str, object]:
    unknown = sorted(n[:64] for n in crm_fields if n not in CUSTOMER_FIELDS)
    if unknown:
        raise UnmappedFields(unknown)
    return {CUSTOMER_FIELDS[n]: v for n, v in crm_fields.items()}
