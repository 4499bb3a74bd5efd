"""The OpenAPI description of the provider webhooks (kept apart so api.py needs no webhook imports)."""

from __future__ import annotations

from typing import Any

_SIGNED = (
    "Public for API tokens: authenticated by the provider's signature instead "
    "(see docs/omnichannel.md). 403 unsigned or wrongly signed, 400 malformed, 413 too large, "
    "404 channel not configured, 503 storage unavailable (the provider retries)."
)


def _hook(summary: str, how: str) -> dict[str, Any]:
    responses = {
        str(c): {"description": d}
        for c, d in (
            ("200", "accepted (duplicates too)"),
            ("400", "malformed"),
            ("403", "signature missing or wrong"),
            ("404", "channel not configured"),
            ("413", "body too large"),
            ("503", "storage unavailable"),
        )
    }
    return {"summary": summary, "description": f"Roles: public. {how}. {_SIGNED}", "responses": responses}


OPENAPI_PATHS: dict[str, Any] = {
    "/webhooks/twilio/sms": {
        "post": _hook("Twilio inbound SMS/MMS and status callbacks (form-encoded)", "X-Twilio-Signature"),
    },
    "/webhooks/whatsapp": {
        "get": _hook("WhatsApp verify-token handshake: echoes hub.challenge", "hub.verify_token"),
        "post": _hook("WhatsApp Cloud API notifications (messages, statuses)", "X-Hub-Signature-256"),
    },
    "/webhooks/wechat": {
        "get": _hook("WeChat server URL check: echoes echostr", "signature, timestamp, nonce"),
        "post": _hook("WeChat Official Account pushes (XML, plaintext mode)", "signature, timestamp, nonce"),
    },
}
