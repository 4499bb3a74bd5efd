"""Customers: one person, many identities (phones, emails, WhatsApp ids, WeChat openids, site accounts).

Invariants (checked by property tests):

- An identity belongs to at most one *active* customer (``CustomerBook.owner``).
- A merged customer keeps its record (``merged_into`` set) but owns nothing; its identities live on
  the customer it was merged into.
- ``merge`` then ``unmerge`` restores the book exactly (customers, owners), apart from the audit
  trail, which only grows.
- Nothing is fused silently unless the evidence is strong *and* personal (see ``identify``).

Identity values arrive normalised: E.164 phones, lower-case emails (``callcenter/messaging/identity.py`` does
that at the edge, with ``phonenumbers``), so the core stays free of third-party libraries.

Resolution rules, for an identity claimed alongside the sender's own (``identify``):

- unowned + strong (verified phone, verified email, signed site identity): linked to the customer;
- unowned + weak (a number typed into a chat form): only a suggestion;
- owned by another customer + strong + personal kind (email, site account, WeChat openid) and no
  conflicting site accounts: merged automatically, the newer record into the older (audited,
  reversible);
- anything else owned by another customer — in particular a phone or a WhatsApp number, which a
  household may share — only a suggestion for a person to decide.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from callcenter.core.errors import DomainError


class IdentityKind(enum.StrEnum):
    PHONE = "phone"  # E.164
    EMAIL = "email"  # lower case
    WHATSAPP = "whatsapp"  # WhatsApp id (wa_id): digits of the phone number
    WECHAT = "wechat"  # openid, unique per official account
    WEB = "web"  # user id on the company's site, presented with a signed token
    VISITOR = "visitor"  # anonymous web-chat visitor (cookie id): never strong


# Kinds a household or a team may share: equality of these never proves the same person.
SHAREABLE = frozenset({IdentityKind.PHONE, IdentityKind.WHATSAPP, IdentityKind.VISITOR})


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    kind: IdentityKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True, slots=True)
class Claim:
    """An identity seen with the sender's, and whether it was verified (by us or the company's site)."""

    identity: Identity
    strong: bool


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    created_at: float
    identities: frozenset[Identity] = frozenset()
    name: str = ""
    vip: bool = False
    language: str | None = None
    business_line: str | None = None
    tags: frozenset[str] = frozenset()
    merged_into: str | None = None

    @property
    def active(self) -> bool:
        return self.merged_into is None


@dataclass(frozen=True, slots=True)
class Routing:
    """What the customer's record tells the ACD: the seam between customers and routing."""

    priority: int
    skills: tuple[str, ...]
    language: str | None


def routing_of(customer: Customer, *, vip_priority: int = 10) -> Routing:
    skills = [f"line:{customer.business_line}"] if customer.business_line else []
    skills += [f"tag:{t}" for t in sorted(customer.tags)]
    return Routing(vip_priority if customer.vip else 0, tuple(skills), customer.language)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change of the book. ``kind``: created, linked, suggested, merged, unmerged, updated."""

    at: float
    kind: str
    customer_id: str
    by: str
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A possible merge a person should look at: ``identity`` links ``customer_id`` to ``other``
    (``None``: the identity is unowned and was only weakly claimed)."""

    customer_id: str
    identity: Identity
    other: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class MergeRecord:
    id: str
    source: Customer  # the source exactly as it was before the merge
    target_id: str
    at: float
    by: str
    reason: str
    undone: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    customer: Customer
    created: bool
    linked: tuple[Identity, ...] = ()
    merged: tuple[MergeRecord, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()


class CustomerError(DomainError):
    """A merge or change the book does not allow; nothing was changed."""


class UnknownCustomer(CustomerError):
    pass


class CustomerBook:
    """Every customer, who owns which identity, the merge records and the audit trail."""

    def __init__(self) -> None:
        self._customers: dict[str, Customer] = {}
        self._owner: dict[Identity, str] = {}
        self._merges: dict[str, MergeRecord] = {}
        self._merged_from: dict[str, set[str]] = {}  # customer -> those merged into it directly
        self.audit: list[AuditEntry] = []
        self.suggestions: list[Suggestion] = []

    # --- reading --------------------------------------------------------------------------------
    def get(self, customer_id: str) -> Customer:
        try:
            return self._customers[customer_id]
        except KeyError:
            raise UnknownCustomer(f"no customer {customer_id!r}") from None

    def current(self, customer_id: str) -> Customer:
        """The active customer that ``customer_id`` is now part of (itself if never merged)."""
        customer = self.get(customer_id)
        while customer.merged_into is not None:
            customer = self.get(customer.merged_into)
        return customer

    def owner(self, identity: Identity) -> Customer | None:
        owner = self._owner.get(identity)
        return None if owner is None else self._customers[owner]

    def members(self, customer_id: str) -> frozenset[str]:
        """The customer and every customer merged into it, directly or not (for its timeline)."""
        found = {customer_id}
        todo = [customer_id]
        while todo:
            for source in self._merged_from.get(todo.pop(), ()):
                if source not in found:
                    found.add(source)
                    todo.append(source)
        return frozenset(found)

    def customers(self) -> Iterator[Customer]:
        return iter(self._customers.values())

    def merge_record(self, merge_id: str) -> MergeRecord:
        try:
            return self._merges[merge_id]
        except KeyError:
            raise CustomerError(f"no merge {merge_id!r}") from None

    def state(self) -> tuple[dict[str, Customer], dict[Identity, str]]:
        """A copy of what merge/unmerge must restore (for tests and snapshots)."""
        return dict(self._customers), dict(self._owner)

    # --- changing -------------------------------------------------------------------------------
    def identify(
        self,
        sender: Claim,
        at: float,
        *,
        new_id: str,
        also: Iterable[Claim] = (),
        by: str = "system",
    ) -> Resolution:
        """The customer behind ``sender`` (created with id ``new_id`` if nobody owns it), applying
        the resolution rules of the module header to the identities in ``also``."""
        customer = self.owner(sender.identity)
        created = customer is None
        if customer is None:
            if new_id in self._customers:
                raise CustomerError(f"customer id {new_id!r} is taken")
            customer = Customer(id=new_id, created_at=at, identities=frozenset({sender.identity}))
            self._put(customer)
            self._log(at, "created", new_id, by, identity=str(sender.identity))
        linked: list[Identity] = []
        merged: list[MergeRecord] = []
        suggestions: list[Suggestion] = []
        for claim in also:
            identity = claim.identity
            owner = self.owner(identity)
            if owner is not None and owner.id == customer.id:
                continue
            if owner is None:
                if claim.strong:
                    customer = self._put(replace(customer, identities=customer.identities | {identity}))
                    linked.append(identity)
                    self._log(at, "linked", customer.id, by, identity=str(identity))
                else:
                    suggestions.append(self._suggest(at, by, customer.id, identity, None, "weak claim"))
            elif claim.strong and identity.kind not in SHAREABLE and not self._conflict(customer, owner):
                # The older record absorbs the newer one, so long-known customers keep their id.
                source, target = sorted((customer, owner), key=lambda c: (c.created_at, c.id), reverse=True)
                record = self.merge(
                    source.id,
                    target.id,
                    at,
                    merge_id=f"{new_id}/{len(merged)}",
                    by=by,
                    reason=f"strong {identity}",
                )
                merged.append(record)
                customer = self.get(target.id)
            else:
                why = "shareable identity" if identity.kind in SHAREABLE else "weak claim"
                if claim.strong and identity.kind not in SHAREABLE:
                    why = "conflicting site accounts"
                suggestions.append(self._suggest(at, by, customer.id, identity, owner.id, why))
        return Resolution(customer, created, tuple(linked), tuple(merged), tuple(suggestions))

    def merge(
        self, source_id: str, target_id: str, at: float, *, merge_id: str, by: str, reason: str
    ) -> MergeRecord:
        """Move every identity of ``source`` to ``target``; the source's record is kept (and its
        attributes: the target's win) so :meth:`unmerge` can put it back exactly."""
        source, target = self.get(source_id), self.get(target_id)
        if source_id == target_id:
            raise CustomerError("a customer cannot be merged into itself")
        if not source.active or not target.active:
            raise CustomerError("only active customers can be merged")
        if merge_id in self._merges:
            raise CustomerError(f"merge id {merge_id!r} is taken")
        record = MergeRecord(merge_id, source, target_id, at, by, reason)
        self._merges[merge_id] = record
        self._put(replace(source, identities=frozenset(), merged_into=target_id))
        self._put(replace(target, identities=target.identities | source.identities))
        self._log(at, "merged", target_id, by, source=source_id, merge=merge_id, reason=reason)
        return record

    def unmerge(self, merge_id: str, at: float, *, by: str, reason: str) -> Customer:
        """Undo a merge: the source gets back exactly the record and identities it had."""
        record = self.merge_record(merge_id)
        if record.undone:
            raise CustomerError(f"merge {merge_id!r} is already undone")
        target = self.get(record.target_id)
        if not target.active:
            raise CustomerError(f"{target.id!r} was merged since: undo that merge first")
        missing = record.source.identities - target.identities
        if missing:
            raise CustomerError(f"{target.id!r} no longer holds {sorted(map(str, missing))}")
        self._put(replace(target, identities=target.identities - record.source.identities))
        for identity in record.source.identities:
            self._owner.pop(identity, None)
        self._put(record.source)
        self._merges[merge_id] = replace(record, undone=True)
        self._log(at, "unmerged", target.id, by, source=record.source.id, merge=merge_id, reason=reason)
        return record.source

    def update(self, customer_id: str, at: float, *, by: str, **changes: object) -> Customer:
        """Change attributes (name, vip, language, business_line, tags) of an active customer."""
        allowed = {"name", "vip", "language", "business_line", "tags"}
        if set(changes) - allowed:
            raise CustomerError(f"cannot change {sorted(set(changes) - allowed)}")
        customer = self.get(customer_id)
        if not customer.active:
            raise CustomerError(f"{customer_id!r} was merged into {customer.merged_into!r}")
        updated = self._put(replace(customer, **changes))  # type: ignore[arg-type]
        self._log(at, "updated", customer_id, by, **{k: str(v) for k, v in changes.items()})
        return updated

    def restore(
        self, customers: Iterable[Customer], merges: Iterable[MergeRecord], audit: Iterable[AuditEntry] = ()
    ) -> None:
        """Load a saved book (from the database): owners are derived from the active customers,
        open suggestions from the audit trail."""
        for c in customers:
            self._put(c)
        for m in merges:
            self._merges[m.id] = m
        for entry in audit:
            self.audit.append(entry)
            if entry.kind == "suggested":
                kind, _, value = entry.detail.get("identity", "").partition(":")
                if kind in IdentityKind.__members__.values():
                    other = entry.detail.get("other") or None
                    suggestion = Suggestion(
                        entry.customer_id,
                        Identity(IdentityKind(kind), value),
                        other,
                        entry.detail.get("reason", ""),
                    )
                    if suggestion not in self.suggestions:
                        self.suggestions.append(suggestion)

    # --- internals ------------------------------------------------------------------------------
    def _put(self, customer: Customer) -> Customer:
        before = self._customers.get(customer.id)
        if before is not None and before.merged_into is not None:
            self._merged_from[before.merged_into].discard(customer.id)
        if customer.merged_into is not None:
            self._merged_from.setdefault(customer.merged_into, set()).add(customer.id)
        self._customers[customer.id] = customer
        if customer.active:
            for identity in customer.identities:
                self._owner[identity] = customer.id
        return customer

    def _conflict(self, a: Customer, b: Customer) -> bool:
        def web(c: Customer) -> set[Identity]:
            return {i for i in c.identities if i.kind == IdentityKind.WEB}

        return bool(web(a)) and bool(web(b)) and web(a) != web(b)

    def _suggest(
        self, at: float, by: str, customer_id: str, identity: Identity, other: str | None, reason: str
    ) -> Suggestion:
        suggestion = Suggestion(customer_id, identity, other, reason)
        if suggestion not in self.suggestions:
            self.suggestions.append(suggestion)
            self._log(
                at, "suggested", customer_id, by, identity=str(identity), other=other or "", reason=reason
            )
        return suggestion

    def _log(self, at: float, kind: str, customer_id: str, by: str, **detail: str) -> None:
        self.audit.append(AuditEntry(at, kind, customer_id, by, detail))
