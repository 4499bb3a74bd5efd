"""The names and the password of an agent's browser softphone endpoint, derived from the settings.

Each agent extension ``<ext>`` has two PJSIP endpoints (asterisk_conf/pjsip-agent.tmpl): ``<ext>``,
the desk phone, and ``<ext>-web``, the agent panel's browser softphone (WebRTC). The Asterisk
configuration (asterisk/sandbox.py), the voice adapter (asterisk/devices.py: which one rings) and
the web (web/softphone.py: the browser's credentials) agree on them here; pure functions, standard
library only (the Asterisk image renders its configuration with callcenter.settings alone).

The browser's SIP password is not the desk phones' shared one: HMAC-SHA256 of the extension under
``asterisk.agent_password``, so a browser given its own password cannot register as another's.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["WEB_SUFFIX", "extension_of", "web_endpoint", "web_password"]

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
