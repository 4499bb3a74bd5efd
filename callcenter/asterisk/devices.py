"""Which of an agent's two phones rings: the desk phone (``<ext>``) or the browser softphone
(``<ext>-web``, WebRTC; names and password in settings/phones.py).

The rule, everywhere the server rings an agent (the ACD's offers, callbacks' agent legs, consults,
conferences, a supervisor's listen/whisper/barge): the browser while it is registered, else the desk
phone. Turning the softphone on in the panel registers the browser, so that is how an agent picks
"browser" or "desk phone"; the choice lives in Asterisk's registrations, which every reconnect reads
back. The agent counts as registered (reachable) while either endpoint has a contact.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from callcenter.settings.phones import WEB_SUFFIX, extension_of, web_endpoint

__all__ = ["WEB_SUFFIX", "dial_endpoint", "extension_of", "is_registered"]


def is_registered(contacts: Mapping[str, Set[str]], extension: str) -> bool:
    """Whether the agent of ``extension`` can be rung: either of its endpoints has a contact."""
    return bool(contacts.get(extension)) or bool(contacts.get(web_endpoint(extension)))


def dial_endpoint(contacts: Mapping[str, Set[str]], extension: str) -> str:
    """The channel to ring for ``extension``: the browser while it is registered, else the desk phone
    (also when neither is: Asterisk then says why the call failed)."""
    web = web_endpoint(extension)
    return f"PJSIP/{web}" if contacts.get(web) else f"PJSIP/{extension}"
