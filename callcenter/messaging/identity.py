"""Normalising identities at the edge, before they reach the core's customer book.

``phonenumbers`` is pure Python, but it is a third-party library with a large, regularly updated
metadata set; keeping it here leaves the core importing only the standard library (the rule of
``tests/unit/test_architecture.py``) and puts the region choice (configuration) at the edge.
"""

from __future__ import annotations

import hashlib
import hmac
from email.utils import parseaddr

import phonenumbers

from callcenter.core.omni.customers import Identity, IdentityKind


class InvalidIdentity(ValueError):
    """The value cannot be an identity of that kind."""


def e164(raw: str, region: str = "US") -> str:
    """``raw`` as an E.164 number ("+14155550100"); national forms are read in ``region``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as err:
        raise InvalidIdentity(f"{raw[:32]!r} is not a phone number: {err}") from err
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity(f"{raw[:32]!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(raw: str) -> str:
    """The address of ``raw`` ("Ann <Ann@Example.COM>" -> "ann@example.com").

    The whole address is lower-cased: local parts are case-sensitive in theory, never in practice.
    Provider-specific aliases (dots, "+tag") are kept: they may be different people elsewhere.
    """
    _, address = parseaddr(raw)
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        raise InvalidIdentity(f"{raw[:64]!r} is not an email address")
    return address


def phone(raw: str, region: str = "US") -> Identity:
    return Identity(IdentityKind.PHONE, e164(raw, region))


def email(raw: str) -> Identity:
    return Identity(IdentityKind.EMAIL, email_address(raw))


def whatsapp(wa_id: str) -> Identity:
    """WhatsApp ids are the number's digits without "+": kept as E.164 digits."""
    digits = wa_id.strip().lstrip("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise InvalidIdentity(f"{wa_id[:32]!r} is not a WhatsApp id")
    return Identity(IdentityKind.WHATSAPP, digits)


def whatsapp_phone(wa_id: str) -> Identity:
    """The phone number behind a WhatsApp id (a shareable, weak link to the phone identity)."""
    return Identity(IdentityKind.PHONE, "+" + whatsapp(wa_id).value)


def wechat(openid: str) -> Identity:
    if not openid or len(openid) > 128 or not openid.isprintable():
        raise InvalidIdentity("bad WeChat openid")
    return Identity(IdentityKind.WECHAT, openid)


def web_token(user_id: str, secret: bytes, phone: str | None = None) -> str:
    """The token the company's site gives its logged-in visitors: hex HMAC-SHA256 of the user id,
    or of ``user_id + "\n" + phone`` when the site also vouches for the visitor's (verified) phone
    number, written in E.164."""
    message = user_id if phone is None else f"{user_id}\n{phone}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def signed_web_identity(user_id: str, token: str, secret: bytes) -> Identity:
    """The site account ``user_id`` if ``token`` is its signature; :class:`InvalidIdentity` otherwise."""
    if not user_id or len(user_id) > 256 or not hmac.compare_digest(web_token(user_id, secret), token):
        raise InvalidIdentity("web identity signature does not match")
    return Identity(IdentityKind.WEB, user_id)


def signed_web_phone(user_id: str, phone_number: str, token: str, secret: bytes) -> tuple[Identity, Identity]:
    """The site account and the phone number the site verified for it (both strong identities),
    if ``token`` signs the two; :class:`InvalidIdentity` otherwise."""
    if not user_id or len(user_id) > 256 or not phone_number.startswith("+"):
        raise InvalidIdentity("a signed phone must be in E.164 (+country...)")
    number = e164(phone_number)
    if number != phone_number or not hmac.compare_digest(web_token(user_id, secret, number), token):
        raise InvalidIdentity("web identity signature does not match")
    return Identity(IdentityKind.WEB, user_id), Identity(IdentityKind.PHONE, number)
