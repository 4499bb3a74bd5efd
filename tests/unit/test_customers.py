"""The customer book: resolution rules, merge/unmerge (audited, exactly reversible), routing seam."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.omni.customers import (
    AuditEntry,
    Claim,
    Customer,
    CustomerBook,
    CustomerError,
    Identity,
    IdentityKind,
    Suggestion,
    routing_of,
)

PHONE = Identity(IdentityKind.PHONE, "+14155550100")
EMAIL = Identity(IdentityKind.EMAIL, "ann@example.com")
WEB_ANN = Identity(IdentityKind.WEB, "user-ann")
WEB_BOB = Identity(IdentityKind.WEB, "user-bob")
WECHAT = Identity(IdentityKind.WECHAT, "oABC")


def strong(i: Identity) -> Claim:
    return Claim(i, True)


def weak(i: Identity) -> Claim:
    return Claim(i, False)


def test_unknown_sender_creates_a_customer_and_known_sender_finds_it() -> None:
    book = CustomerBook()
    first = book.identify(strong(PHONE), 1.0, new_id="c1")
    again = book.identify(weak(PHONE), 2.0, new_id="c2")
    assert first.created and not again.created
    assert again.customer.id == "c1"
    assert [e.kind for e in book.audit] == ["created"]


def test_strong_claim_links_and_weak_claim_only_suggests() -> None:
    book = CustomerBook()
    r = book.identify(strong(WEB_ANN), 1.0, new_id="c1", also=[strong(EMAIL), weak(PHONE)])
    assert r.linked == (EMAIL,)
    assert r.customer.identities == {WEB_ANN, EMAIL}
    assert book.owner(PHONE) is None
    assert [s.reason for s in r.suggestions] == ["weak claim"]


def test_strong_personal_identity_of_another_customer_merges_newer_into_older() -> None:
    book = CustomerBook()
    book.identify(strong(EMAIL), 1.0, new_id="by-email")
    r = book.identify(strong(WEB_ANN), 2.0, new_id="by-web", also=[strong(EMAIL)])
    assert [(m.source.id, m.target_id) for m in r.merged] == [("by-web", "by-email")]
    assert r.customer.id == "by-email"
    assert book.owner(EMAIL) == book.owner(WEB_ANN) == r.customer
    assert book.get("by-web").merged_into == "by-email"
    assert book.members("by-email") == {"by-web", "by-email"}
    assert book.current("by-web").id == "by-email"
    # The same visitor again: found directly.
    assert book.identify(strong(WEB_ANN), 3.0, new_id="x").customer.id == "by-email"


def test_household_phone_is_never_fused_silently() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(PHONE)])
    r = book.identify(strong(WEB_BOB), 2.0, new_id="bob", also=[strong(PHONE)])
    assert r.merged == () and r.customer.id == "bob"
    assert r.suggestions[0].other == "ann" and r.suggestions[0].reason == "shareable identity"
    assert book.owner(PHONE) is not None and book.owner(PHONE).id == "ann"  # type: ignore[union-attr]


def test_two_site_accounts_sharing_an_email_are_a_suggestion() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(EMAIL)])
    r = book.identify(strong(WEB_BOB), 2.0, new_id="bob", also=[strong(EMAIL)])
    assert r.merged == ()
    assert r.suggestions[0].reason == "conflicting site accounts"


def test_merge_then_unmerge_restores_exactly_and_is_audited() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    book.update("a", 1.5, by="sup", vip=True, tags=frozenset({"gold"}))
    book.identify(strong(WECHAT), 2.0, new_id="b", also=[strong(EMAIL)])
    before = book.state()
    book.merge("a", "b", 3.0, merge_id="m1", by="sup", reason="same person")
    assert book.owner(PHONE) == book.get("b")
    book.unmerge("m1", 4.0, by="sup", reason="mistake")
    assert book.state() == before
    assert [(e.kind, e.by) for e in book.audit[-2:]] == [("merged", "sup"), ("unmerged", "sup")]
    with pytest.raises(CustomerError):
        book.unmerge("m1", 5.0, by="sup", reason="twice")


def test_illegal_merges_change_nothing() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    book.identify(strong(EMAIL), 1.0, new_id="b")
    book.identify(strong(WECHAT), 1.0, new_id="c")
    before = book.state()
    with pytest.raises(CustomerError):
        book.merge("a", "a", 2.0, merge_id="x", by="s", reason="r")
    book.merge("a", "b", 2.0, merge_id="m1", by="s", reason="r")
    with pytest.raises(CustomerError):
        book.merge("c", "a", 2.0, merge_id="m2", by="s", reason="merged source")
    book.merge("b", "c", 3.0, merge_id="m2", by="s", reason="r")
    with pytest.raises(CustomerError, match="undo that merge first"):
        book.unmerge("m1", 4.0, by="s", reason="r")
    book.unmerge("m2", 5.0, by="s", reason="r")
    book.unmerge("m1", 6.0, by="s", reason="r")
    assert book.state() == before


def test_routing_from_attributes() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    c = book.update("a", 2.0, by="s", vip=True, language="fr", business_line="mobile", tags=frozenset({"x"}))
    r = routing_of(c)
    assert (r.priority, r.skills, r.language) == (10, ("line:mobile", "tag:x"), "fr")
    with pytest.raises(CustomerError):
        book.update("a", 3.0, by="s", id="evil")


IDENTITIES = [
    Identity(k, v)
    for k in (IdentityKind.PHONE, IdentityKind.EMAIL, IdentityKind.WEB, IdentityKind.WECHAT)
    for v in ("1", "2", "3")
]
step = st.one_of(
    st.tuples(
        st.just("identify"),
        st.sampled_from(IDENTITIES),
        st.booleans(),
        st.lists(st.tuples(st.sampled_from(IDENTITIES), st.booleans()), max_size=3),
    ),
    st.tuples(st.just("merge"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("unmerge"), st.integers(0, 20)),
)


def check_invariants(book: CustomerBook) -> None:
    seen: dict[Identity, str] = {}
    for c in book.customers():
        if not c.active:
            assert c.identities == frozenset()
            continue
        for i in c.identities:
            assert i not in seen, f"{i} owned by {seen[i]} and {c.id}"
            seen[i] = c.id
            assert book.owner(i) == c
    _, owners = book.state()
    assert owners == seen
    # members() follows an index of merges; a scan of every record must find the same customers.
    for c in book.customers():
        scanned = {c.id}
        while grown := {d.id for d in book.customers() if d.merged_into in scanned} - scanned:
            scanned |= grown
        assert book.members(c.id) == scanned


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=40))
def test_no_identity_belongs_to_two_customers_and_unmerge_inverts_merge(steps: list[tuple]) -> None:
    book = CustomerBook()
    merges: list[str] = []
    for n, s in enumerate(steps):
        ids = sorted(c.id for c in book.customers())
        if s[0] == "identify":
            book.identify(Claim(s[1], s[2]), float(n), new_id=f"c{n}", also=[Claim(i, b) for i, b in s[3]])
        elif s[0] == "merge" and ids:
            a, b = ids[s[1] % len(ids)], ids[s[2] % len(ids)]
            before = book.state()
            try:
                book.merge(a, b, float(n), merge_id=f"m{n}", by="t", reason="r")
            except CustomerError:
                assert book.state() == before
                continue
            merges.append(f"m{n}")
            # Undoing at once always restores exactly.
            book.unmerge(f"m{n}", float(n), by="t", reason="r")
            assert book.state() == before
            book.merge(a, b, float(n), merge_id=f"m{n}b", by="t", reason="r")
            merges.append(f"m{n}b")
        elif s[0] == "unmerge" and merges:
            before = book.state()
            try:
                book.unmerge(merges[s[1] % len(merges)], float(n), by="t", reason="r")
            except CustomerError:
                assert book.state() == before
        check_invariants(book)


def test_restore_rebuilds_owners_and_open_suggestions() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(PHONE)])
    book.identify(strong(WEB_BOB), 2.0, new_id="bob", also=[strong(PHONE), strong(EMAIL)])
    book.identify(strong(WECHAT), 3.0, new_id="c")
    book.merge("c", "bob", 4.0, merge_id="m1", by="s", reason="r")
    copy = CustomerBook()
    customers, _ = book.state()
    copy.restore(customers.values(), [book.merge_record("m1")], book.audit)
    assert copy.state() == book.state() and copy.suggestions == book.suggestions
    copy.unmerge("m1", 5.0, by="s", reason="r")
    assert copy.owner(WECHAT) == copy.get("c")


WHATSAPP = Identity(IdentityKind.WHATSAPP, "14155550100")
VISITOR = Identity(IdentityKind.VISITOR, "cookie-1")


def test_routing_of_an_ordinary_customer_and_the_vip_priority() -> None:
    book = CustomerBook()
    plain = book.identify(strong(PHONE), 1.0, new_id="a").customer
    assert routing_of(plain) == routing_of(plain, vip_priority=50)
    r = routing_of(plain)
    assert (r.priority, r.skills, r.language) == (0, (), None)
    vip = book.update("a", 2.0, by="s", vip=True)
    assert routing_of(vip, vip_priority=50).priority == 50
    tagged = book.update("a", 3.0, by="s", vip=False, tags=frozenset({"b", "a"}))
    assert routing_of(tagged) == type(r)(0, ("tag:a", "tag:b"), None)


@pytest.mark.parametrize("shared", [PHONE, WHATSAPP, VISITOR])
def test_shareable_kinds_are_only_suggested_even_when_strong(shared: Identity) -> None:
    """A household's number (phone or WhatsApp) or a shared browser never merges two customers."""
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(shared)])
    r = book.identify(strong(EMAIL), 2.0, new_id="bob", also=[strong(shared)])
    assert r.merged == () and r.customer.id == "bob"
    assert [(s.other, s.reason) for s in r.suggestions] == [("ann", "shareable identity")]
    assert book.get("bob").active and book.owner(shared) == book.get("ann")


@pytest.mark.parametrize("personal", [EMAIL, WECHAT, WEB_BOB])
def test_personal_kinds_merge_when_strong(personal: Identity) -> None:
    book = CustomerBook()
    book.identify(strong(personal), 1.0, new_id="old")
    r = book.identify(strong(PHONE), 2.0, new_id="new", also=[strong(personal)])
    assert [(m.id, m.source.id, m.target_id, m.reason) for m in r.merged] == [
        ("new/0", "new", "old", f"strong {personal}")
    ]
    assert r.created and r.customer.id == "old"
    assert r.customer.identities == {personal, PHONE}
    # A weak claim of the same kind only suggests.
    book.identify(strong(WEB_ANN), 3.0, new_id="third")
    weakly = book.identify(strong(WEB_ANN), 4.0, new_id="x", also=[weak(personal)])
    assert weakly.merged == () and [s.reason for s in weakly.suggestions] == ["weak claim"]


def test_the_older_record_absorbs_the_newer_and_ties_go_by_id() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 5.0, new_id="b")
    r = book.identify(strong(EMAIL), 5.0, new_id="a", also=[strong(WEB_ANN)])
    assert [(m.source.id, m.target_id) for m in r.merged] == [("b", "a")]
    book2 = CustomerBook()
    book2.identify(strong(WEB_ANN), 1.0, new_id="z")
    r2 = book2.identify(strong(EMAIL), 9.0, new_id="a", also=[strong(WEB_ANN)])
    assert [(m.source.id, m.target_id) for m in r2.merged] == [("a", "z")]


def test_a_taken_id_and_bad_updates_are_refused() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    with pytest.raises(CustomerError, match="taken"):
        book.identify(strong(EMAIL), 2.0, new_id="a")
    assert book.owner(EMAIL) is None
    book.identify(strong(EMAIL), 2.0, new_id="b")
    book.identify(strong(WECHAT), 2.0, new_id="c")
    book.merge("a", "b", 3.0, merge_id="m", by="s", reason="r")
    with pytest.raises(CustomerError, match="taken"):
        book.merge("c", "b", 3.0, merge_id="m", by="s", reason="r")
    assert book.get("c").active
    with pytest.raises(CustomerError, match="merged into 'b'"):
        book.update("a", 4.0, by="s", name="x")
    with pytest.raises(CustomerError, match="no merge"):
        book.merge_record("nope")
    with pytest.raises(CustomerError, match="no customer"):
        book.get("nope")
    updated = book.update("b", 5.0, by="sup", name="Bea")
    assert updated.name == "Bea" and book.get("b").name == "Bea"
    assert book.audit[-1] == type(book.audit[-1])(5.0, "updated", "b", "sup", {"name": "Bea"})


def test_unmerge_marks_the_record_and_gives_identities_back() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    book.identify(strong(EMAIL), 2.0, new_id="b")
    book.merge("a", "b", 3.0, merge_id="m1", by="s", reason="r")
    record = book.merge_record("m1")
    assert not record.undone
    book.unmerge("m1", 5.0, by="s", reason="r")
    assert book.merge_record("m1").undone
    assert book.owner(PHONE) == book.get("a") and book.owner(EMAIL) == book.get("b")
    assert book.members("b") == {"b"} and book.current("a").id == "a"


def test_restore_ignores_suggestions_of_unknown_kinds() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[weak(PHONE)])
    audit = list(book.audit)
    bad = type(audit[0])(2.0, "suggested", "ann", "s", {"identity": "fax:123", "other": "", "reason": "r"})
    copy = CustomerBook()
    customers, _ = book.state()
    copy.restore(customers.values(), [], [*audit, bad, audit[-1]])
    assert copy.suggestions == book.suggestions
    assert copy.suggestions[0].other is None and copy.suggestions[0].reason == "weak claim"
    assert len(copy.audit) == len(audit) + 2


def test_the_audit_trail_says_who_did_what() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(EMAIL), weak(PHONE)], by="bot")
    book.identify(strong(WECHAT), 2.0, new_id="w", also=[strong(EMAIL)], by="bot")
    book.unmerge("w/0", 3.0, by="sup", reason="oops")
    book.update("ann", 4.0, by="sup", vip=True)
    assert [(e.at, e.kind, e.customer_id, e.by, dict(e.detail)) for e in book.audit] == [
        (1.0, "created", "ann", "bot", {"identity": "web:user-ann"}),
        (1.0, "linked", "ann", "bot", {"identity": "email:ann@example.com"}),
        (
            1.0,
            "suggested",
            "ann",
            "bot",
            {"identity": "phone:+14155550100", "other": "", "reason": "weak claim"},
        ),
        (2.0, "created", "w", "bot", {"identity": "wechat:oABC"}),
        (
            2.0,
            "merged",
            "ann",
            "bot",
            {"source": "w", "merge": "w/0", "reason": "strong email:ann@example.com"},
        ),
        (3.0, "unmerged", "ann", "sup", {"source": "w", "merge": "w/0", "reason": "oops"}),
        (4.0, "updated", "ann", "sup", {"vip": "True"}),
    ]
    # A suggestion already open is not suggested (nor audited) twice.
    book.identify(strong(WEB_ANN), 5.0, new_id="x", also=[weak(PHONE)])
    assert len(book.suggestions) == 1 and len(book.audit) == 7
    assert str(PHONE) == "phone:+14155550100"


def test_refusals_say_why() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann")
    book.identify(strong(WECHAT), 2.0, new_id="w", also=[strong(WEB_ANN)])
    for call, message in (
        (
            lambda: book.merge("ann", "ann", 3.0, merge_id="x", by="s", reason="r"),
            "cannot be merged into itself",
        ),
        (lambda: book.merge("w", "ann", 3.0, merge_id="x", by="s", reason="r"), "only active customers"),
        (lambda: book.update("ann", 3.0, by="s", id="x", name="n"), r"cannot change \['id'\]"),
        (lambda: book.identify(strong(EMAIL), 3.0, new_id="w"), "customer id 'w' is taken"),
        (lambda: book.get("zz"), "no customer 'zz'"),
        (lambda: book.merge_record("zz"), "no merge 'zz'"),
    ):
        with pytest.raises(CustomerError, match=message):
            call()
    book.unmerge("w/0", 4.0, by="s", reason="r")
    with pytest.raises(CustomerError, match="merge 'w/0' is already undone"):
        book.unmerge("w/0", 5.0, by="s", reason="r")
    book.identify(strong(EMAIL), 6.0, new_id="e")
    book.merge("w", "ann", 7.0, merge_id="m", by="s", reason="r")
    with pytest.raises(CustomerError, match="merge id 'm' is taken"):
        book.merge("e", "ann", 8.0, merge_id="m", by="s", reason="r")


def test_the_default_actor_is_the_system() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    assert [e.by for e in book.audit] == ["system"]


def test_restored_suggestions_without_a_reason_and_inconsistent_merges() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    book.identify(strong(EMAIL), 2.0, new_id="b")
    record = book.merge("a", "b", 3.0, merge_id="m", by="s", reason="r")
    copy = CustomerBook()
    customers, _ = book.state()
    # The saved target lost the identity the merge brought (a damaged database): refused, with why.
    damaged = [
        c if c.id != "b" else type(c)(c.id, c.created_at, frozenset({EMAIL})) for c in customers.values()
    ]
    suggested = type(book.audit[0])(4.0, "suggested", "b", "s", {"identity": str(WECHAT)})
    copy.restore(damaged, [record], [suggested])
    assert copy.suggestions[0].reason == "" and copy.suggestions[0].other is None
    with pytest.raises(CustomerError, match=r"'b' no longer holds \['phone:\+14155550100'\]"):
        copy.unmerge("m", 5.0, by="s", reason="r")


def test_a_claim_the_customer_already_owns_does_not_stop_the_next_claims() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann", also=[strong(EMAIL)])
    r = book.identify(strong(WEB_ANN), 2.0, new_id="x", also=[strong(EMAIL), strong(WECHAT), weak(PHONE)])
    assert r.customer.id == "ann" and not r.created
    assert r.linked == (WECHAT,)
    assert r.customer.identities == {WEB_ANN, EMAIL, WECHAT}
    assert [(s.identity, s.reason) for s in r.suggestions] == [(PHONE, "weak claim")]


def test_refusal_messages_are_exact() -> None:
    book = CustomerBook()
    book.identify(strong(WEB_ANN), 1.0, new_id="ann")
    book.identify(strong(WECHAT), 2.0, new_id="w", also=[strong(WEB_ANN)])
    for call, message in (
        (
            lambda: book.merge("ann", "ann", 3.0, merge_id="x", by="s", reason="r"),
            "a customer cannot be merged into itself",
        ),
        (
            lambda: book.merge("w", "ann", 3.0, merge_id="x", by="s", reason="r"),
            "only active customers can be merged",
        ),
        (lambda: book.update("ann", 3.0, by="s", id="x", name="n"), "cannot change ['id']"),
        (lambda: book.update("w", 3.0, by="s", name="n"), "'w' was merged into 'ann'"),
        (lambda: book.identify(strong(EMAIL), 3.0, new_id="w"), "customer id 'w' is taken"),
        (lambda: book.get("zz"), "no customer 'zz'"),
        (lambda: book.merge_record("zz"), "no merge 'zz'"),
        (
            lambda: book.merge("ann", "w", 3.0, merge_id="w/0", by="s", reason="r"),
            "only active customers can be merged",
        ),
    ):
        with pytest.raises(CustomerError) as refused:
            call()
        assert str(refused.value) == message
    book.unmerge("w/0", 4.0, by="s", reason="r")
    with pytest.raises(CustomerError) as refused:
        book.unmerge("w/0", 5.0, by="s", reason="r")
    assert str(refused.value) == "merge 'w/0' is already undone"
    book.merge("w", "ann", 6.0, merge_id="m", by="s", reason="r")
    book.identify(strong(EMAIL), 7.0, new_id="e")
    with pytest.raises(CustomerError) as refused:
        book.merge("e", "ann", 8.0, merge_id="m", by="s", reason="r")
    assert str(refused.value) == "merge id 'm' is taken"
    book.merge("ann", "e", 9.0, merge_id="m2", by="s", reason="r")
    with pytest.raises(CustomerError) as refused:
        book.unmerge("m", 10.0, by="s", reason="r")
    assert str(refused.value) == "'ann' was merged since: undo that merge first"


def test_merge_records_and_suggestions_of_owned_identities_say_when_who_and_whom() -> None:
    book = CustomerBook()
    book.identify(strong(PHONE), 1.0, new_id="a")
    book.identify(strong(EMAIL), 2.0, new_id="b")
    record = book.merge("a", "b", 3.0, merge_id="m1", by="sup", reason="same person")
    assert (
        record.id,
        record.source,
        record.target_id,
        record.at,
        record.by,
        record.reason,
        record.undone,
    ) == (
        "m1",
        Customer("a", 1.0, frozenset({PHONE})),
        "b",
        3.0,
        "sup",
        "same person",
        False,
    )
    # A strong claim of a shareable identity someone else owns: a suggestion, audited.
    r = book.identify(strong(WEB_BOB), 4.0, new_id="bob", also=[strong(PHONE)], by="bot")
    assert r.suggestions == (Suggestion("bob", PHONE, "b", "shareable identity"),)
    assert book.suggestions == list(r.suggestions)
    last = book.audit[-1]
    assert (last.at, last.kind, last.customer_id, last.by, dict(last.detail)) == (
        4.0,
        "suggested",
        "bob",
        "bot",
        {"identity": str(PHONE), "other": "b", "reason": "shareable identity"},
    )


def test_restore_keeps_the_audit_and_reads_identities_with_a_colon() -> None:
    book = CustomerBook()
    web_colon = Identity(IdentityKind.WEB, "user:ann")
    book.identify(strong(PHONE), 1.0, new_id="a", also=[weak(web_colon)])
    assert str(web_colon) == "web:user:ann"
    audit = list(book.audit)
    # A suggestion row without an identity (a damaged row) is kept in the trail and skipped.
    no_identity = AuditEntry(2.0, "suggested", "a", "s", {"reason": "r"})
    copy = CustomerBook()
    customers, _ = book.state()
    copy.restore(customers.values(), [], [*audit, no_identity])
    assert copy.audit == [*audit, no_identity]
    assert copy.suggestions == [Suggestion("a", web_colon, None, "weak claim")]
