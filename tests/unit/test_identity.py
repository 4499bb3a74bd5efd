"""Normalising identities at the edge: E.164 phones, emails, WhatsApp ids, signed web identities."""

from __future__ import annotations

import pytest

from callcenter.core.omni.customers import IdentityKind
from callcenter.messaging import identity


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "FR", "+14155550100"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("0033 1 42 68 53 00", "FR", "+33142685300"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert identity.e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "123", "+999 1234"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(identity.InvalidIdentity):
        identity.e164(raw, "US")


def test_emails_are_normalised() -> None:
    assert identity.email("Ann Example <Ann.B+x@Example.COM>").value == "ann.b+x@example.com"
    for bad in ["", "ann", "ann@localhost", "@x.com", "a b@x.com"]:
        with pytest.raises(identity.InvalidIdentity):
            identity.email_address(bad)


def test_whatsapp_ids() -> None:
    assert identity.whatsapp("16505551234").value == "16505551234"
    assert identity.whatsapp_phone("16505551234").value == "+16505551234"
    with pytest.raises(identity.InvalidIdentity):
        identity.whatsapp("abc")


def test_signed_web_identity() -> None:
    secret = b"site-shared-secret"
    token = identity.web_token("user-42", secret)
    found = identity.signed_web_identity("user-42", token, secret)
    assert found.kind == IdentityKind.WEB and found.value == "user-42"
    for user, tok in [
        ("user-43", token),
        ("user-42", token[:-1] + ("1" if token[-1] == "0" else "0")),
        ("", token),
    ]:
        with pytest.raises(identity.InvalidIdentity):
            identity.signed_web_identity(user, tok, secret)


def test_a_site_can_vouch_for_a_phone_with_the_signed_identity() -> None:
    from callcenter.messaging.identity import signed_web_phone, web_token

    secret = b"site-secret"
    token = web_token("u-1", secret, "+14155550123")
    account, phone = signed_web_phone("u-1", "+14155550123", token, secret)
    assert (account.kind.value, account.value) == ("web", "u-1")
    assert (phone.kind.value, phone.value) == ("phone", "+14155550123")
    assert token != web_token("u-1", secret)  # the phone is part of what is signed
    for user, number, signature in [
        ("u-1", "+14155550124", token),  # another number
        ("u-2", "+14155550123", token),  # another account
        ("u-1", "4155550123", web_token("u-1", secret, "4155550123")),  # not E.164
        ("u-1", "+1 415 555 0123", web_token("u-1", secret, "+1 415 555 0123")),  # not normalised
    ]:
        with pytest.raises(identity.InvalidIdentity):
            signed_web_phone(user, number, signature, secret)
