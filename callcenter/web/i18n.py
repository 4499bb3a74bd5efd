"""Translations of the pages and the widget: gettext message catalogues, a request's language, dates
and numbers per locale (docs/i18n.md).

Invariants:
- English is the source language: the message ids are the English texts, so English needs no
  catalogue, and a message a catalogue lacks shows in English (never an empty string).
- Catalogues are the ``.po`` files under ``callcenter/locale`` read with Babel once, at start: no
  compiled ``.mo`` to build or to fall out of date.
- One catalogue serves the templates (Jinja2's i18n extension), the pages' scripts (the messages
  found in ``static/**.js``, embedded in the page as JSON data) and the widget (the messages of
  ``widget.js``, served inside ``/widget.js``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import babel
import babel.dates
import babel.numbers
import jinja2
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DEFAULT = "en"
# Language tag (as in <html lang>, Accept-Language, data-language, users.language) -> its own name.
LANGUAGES: Mapping[str, str] = {"en": "English", "zh-CN": "简体中文"}


def N_(message: str) -> str:
    """Marks a message for the extraction without translating it (it is translated where shown)."""
    return message


# Words the pages show from data (roles, listen modes, the users page's notices): marked here so
# the extraction finds them; the templates translate them with _(word).
DATA_WORDS = (
    N_("agent"),
    N_("supervisor"),
    N_("qa"),
    N_("admin"),
    N_("listen"),
    N_("whisper"),
    N_("barge"),
    N_("Account created."),
    N_("Changes saved."),
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's translations: message id -> translated text (plural forms: id -> forms)."""

    language: str
    messages: Mapping[str, str]
    plurals: Mapping[str, tuple[str, ...]]
    scripts: Mapping[str, str]  # the messages the pages' scripts use
    widget: Mapping[str, str]  # the messages of widget.js


def _babel_name(language: str) -> str:
    return language.replace("-", "_")


def _read(language: str) -> Catalogue:
    if language == DEFAULT:
        return Catalogue(language, {}, {}, {}, {})
    path = LOCALE_DIR / _babel_name(language) / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        po = read_po(f, locale=_babel_name(language))
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    scripts: dict[str, str] = {}
    widget: dict[str, str] = {}
    for message in po:
        if not message.id or message.fuzzy or not message.string:
            continue
        if isinstance(message.id, (list, tuple)):
            forms = tuple(message.string) if isinstance(message.string, (list, tuple)) else ()
            if forms and all(forms):
                plurals[message.id[0]] = forms
            continue
        text = str(message.string)
        messages[message.id] = text
        files = {name for name, _line in message.locations}
        if any(name.endswith(".js") for name in files):
            scripts[message.id] = text
        if any(name.endswith("widget.js") for name in files):
            widget[message.id] = text
    return Catalogue(language, messages, plurals, scripts, widget)


@cache
def catalogue(language: str) -> Catalogue:
    if language not in LANGUAGES:
        raise ValueError(f"no such language {language!r} (known: {', '.join(LANGUAGES)})")
    return _read(language)


def load_all() -> None:
    """Read every catalogue now (at start: a broken .po stops the server, not a page)."""
    for language in LANGUAGES:
        catalogue(language)


def gettext(language: str, message: str) -> str:
    return catalogue(language).messages.get(message, message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    forms = catalogue(language).plurals.get(singular)
    if forms is None:
        return singular if n == 1 else plural
    index = 0 if len(forms) == 1 else int(babel.Locale.parse(_babel_name(language)).plural_form(n) != "one")
    return forms[min(index, len(forms) - 1)]


def known(tag: str | None) -> str | None:
    """The supported language a tag asks for (``zh``, ``zh-cn``, ``zh-Hans-CN`` -> ``zh-CN``), or None."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        return "zh-CN"
    if parts[0] == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The best supported language of an Accept-Language header, else English."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((accept_language or "")[:1024].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        language = known(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else DEFAULT


def format_datetime(language: str, when: float | int, fmt: str = "medium") -> str:
    """A POSIX time as the language writes dates (server side; the scripts use Intl)."""
    moment = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
    return babel.dates.format_datetime(moment, fmt, locale=_babel_name(language))


def format_number(language: str, number: float | int) -> str:
    return babel.numbers.format_decimal(number, locale=_babel_name(language))


def script_catalogue(language: str) -> str:
    """The JSON the pages embed for their scripts (``static/i18n.js`` reads it)."""
    text = json.dumps(
        {"language": language, "messages": dict(catalogue(language).scripts)},
        ensure_ascii=False,
        sort_keys=True,
    )
    # Inside <script type="application/json">: no "</script>" or "<!--" can end or bend it.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def widget_catalogues() -> dict[str, dict[str, str]]:
    """Every language's widget messages (served inside /widget.js: one request, no inline script)."""
    return {language: dict(catalogue(language).widget) for language in LANGUAGES}


# --- Jinja2 ---------------------------------------------------------------------------------------
# The templates' gettext reads the language from the render context (``language``), so one
# environment serves every request.


@jinja2.pass_context
def _template_gettext(context: jinja2.runtime.Context, message: str) -> str:
    return gettext(context.get("language", DEFAULT), message)


@jinja2.pass_context
def _template_ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return ngettext(context.get("language", DEFAULT), singular, plural, n)


@jinja2.pass_context
def _template_datetime(context: jinja2.runtime.Context, when: float | int, fmt: str = "medium") -> str:
    return format_datetime(context.get("language", DEFAULT), when, fmt)


@jinja2.pass_context
def _template_number(context: jinja2.runtime.Context, number: float | int) -> str:
    return format_number(context.get("language", DEFAULT), number)


def install(env: jinja2.Environment) -> None:
    """Give an environment (created with the ``jinja2.ext.i18n`` extension) our translations."""
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True
    )
    env.filters["datetime"] = _template_datetime
    env.filters["number"] = _template_number
    env.globals["languages"] = LANGUAGES


def context(language: str) -> dict[str, Any]:
    """What every page's template is given about its language."""
    return {"language": language, "i18n_json": script_catalogue(language)}
