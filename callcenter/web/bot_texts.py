"""The virtual agent's own words (messaging/bot_flows.py), marked here for the translation catalogue
(scripts/i18n.sh extracts ``callcenter/web``). A flow's texts are the admin's (its YAML); these are
the ones the server adds: the composition root hands :func:`nudge` to the flows' adapter."""

from __future__ import annotations

from callcenter.web import i18n
from callcenter.web.i18n import N_

NUDGE = N_("Are you still there?")


def nudge(language: str) -> str:
    """The idle nudge in the conversation's language (a flow's ``en``, ``zh-CN``...), else English."""
    return i18n.gettext(i18n.known(language) or i18n.DEFAULT, NUDGE)
