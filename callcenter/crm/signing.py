"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, as Stripe does.

The header is ``X-Callcenter-Signature: t=<unix seconds>,v1=<hex digest>``, where the digest is
HMAC-SHA256(secret, "<t>.<body bytes>"). A receiver recomputes it over the raw body it got, compares
in constant time, and refuses a ``t`` too far from its own clock (replays); docs/webhooks.md has
a receiver in a few lines. Several ``v1=`` values may come while a secret is being rotated.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Callcenter-Signature"
TOLERANCE = 300.0  # seconds a receiver should accept between t and its clock


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, value: str, body: bytes, now: float, tolerance: float = TOLERANCE) -> bool:
    """What a receiver does: the header's time within ``tolerance`` of ``now``, and one of its
    ``v1`` digests equal to the one computed over ``body``."""
    parts = [p.partition("=") for p in value.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    digests = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not digests:
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, d) for d in digests)
