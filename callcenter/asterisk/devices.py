"""An agent's two phones: the desk phone and the browser softphone.

Each agent extension ``<ext>`` has two PJSIP endpoints (asterisk_conf/pjsip-agent.tmpl): ``<ext>``,
the ordinary SIP phone (UDP, ulaw/alaw), and ``<ext>-web``, the agent panel's softphone (WebRTC:
SIP over a WebSocket, DTLS-SRTP, ICE). Media settings are fixed per endpoint, hence two.

The rule, everywhere the server rings an agent (the ACD's offers, consults, conferences, a
supervisor's listen/whisper/barge): the browser rings while it is registered, else the desk phone.
Turning the softphone on in the panel registers the browser, so that is how an agent picks "browser"
or "desk phone"; the choice lives in Asterisk's registrations, which every reconnect reads back.
The agent counts as registered (reachable) while either endpoint has a contact.

The browser's SIP password is not the desk phones' shared one: it is derived per extension
(HMAC-SHA256 of the extension under ``asterisk.agent_password``), rendered into the endpoint's auth
and handed to the signed-in owner of that extension only (``GET /api/softphone``), so one agent's
browser cannot register as another's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Set

__all__ = [
    "WEB_SUFFIX",
    "dial_endpoint",
    "extension_of",
    "is_registered",
    "web_endpoint",
    "web_password",
]

WEB_SUFFIX = "-web"


def web_endpoint(extension: str) -> str:
    """The browser softphone's endpoint (also its AOR and SIP user name) of ``extension``."""
    return extension + WEB_SUFFIX


def extension_of(endpoint: str) -> str:
    """The agent extension an endpoint (desk phone or browser) belongs to."""
    return endpoint.removesuffix(WEB_SUFFIX)


def web_password(agent_password: str, extension: str) -> str:
    """The browser endpoint's SIP password of ``extension``: 32 hex digits, stable across restarts."""
    digest = hmac.new(agent_password.encode(), b"webrtc:" + extension.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def is_registered(contacts: Mapping[str, Set[str]], extension: str) -> bool:
    """Whether the agent of ``extension`` can be rung: either of its endpoints has a contact."""
    return bool(contacts.get(extension)) or bool(contacts.get(web_endpoint(extension)))


def dial_endpoint(contacts: Mapping[str, Set[str]], extension: str) -> str:
    """The channel to ring for ``extension``: the browser while it is registered, else the desk phone
    (also when neither is: Asterisk then says why the call failed)."""
    web = web_endpoint(extension)
    return f"PJSIP/{web}" if contacts.get(web) else f"PJSIP/{extension}"
