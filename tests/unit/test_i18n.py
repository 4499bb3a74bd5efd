"""Translations are complete and stay so: every message of the templates, the pages' scripts, the
widget and the pages' Python is in every catalogue, translated, with the same placeholders and
markup; templates have no text outside {% trans %} / _(); scripts show no English literal outside
t("..."). Plus the language rules (Accept-Language, tags) and the Jinja2/JSON plumbing.

Run ``scripts/i18n.sh update`` after adding strings, then translate the new entries (docs/i18n.md).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from callcenter.accounts import model
from callcenter.web import i18n, pages, widget

WEB = Path(pages.__file__).parent
ROOT = WEB.parent
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "t": None,
    "tr": (2,),
    "add_nav": (2,),
}
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT]


def extracted() -> dict[str, set[str]]:
    """Message id -> the files it is in, as scripts/i18n.sh extracts them."""
    with (ROOT / "locale" / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    found: dict[str, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, set()).add(filename)
    return found


def po(language: str) -> dict[str, tuple[str, bool]]:
    path = ROOT / "locale" / language.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f)
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): (
            m.string if isinstance(m.string, str) else (m.string or ("",))[0],
            m.fuzzy,
        )
        for m in catalog
        if m.id
    }


EXTRACTED = extracted()


def test_the_extraction_finds_every_kind_of_source() -> None:
    # If a source kind stopped being read (a bad babel.cfg), the completeness check would pass empty.
    files = {name for names in EXTRACTED.values() for name in names}
    for expected in (
        "templates/agent.html",
        "static/agent-panel.js",
        "static/widget.js",
        "static/qa/call.js",
    ):
        assert expected in files, expected
    assert (
        "Sign in" in EXTRACTED and "Chat with us" in EXTRACTED and "Wrong username or password." in EXTRACTED
    )
    assert "Agent panel" in EXTRACTED  # add_nav's title (web/agent_panel.py)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    catalogue = po(language)
    missing = sorted(m for m in EXTRACTED if m not in catalogue)
    untranslated = sorted(m for m in EXTRACTED if m in catalogue and (not catalogue[m][0] or catalogue[m][1]))
    stale = sorted(m for m in catalogue if m not in EXTRACTED)
    assert not missing, f"not in the {language} catalogue (run scripts/i18n.sh update): {missing}"
    assert not untranslated, f"empty or fuzzy in the {language} catalogue: {untranslated}"
    assert not stale, f"in the {language} catalogue but in no source (run scripts/i18n.sh update): {stale}"


PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s|</?\w+>")


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_placeholders_and_markup(language: str) -> None:
    wrong = {
        message: text
        for message, (text, _fuzzy) in po(language).items()
        if sorted(PLACEHOLDER.findall(message)) != sorted(PLACEHOLDER.findall(text))
    }
    assert not wrong


def test_navigation_titles_are_messages() -> None:
    # add_nav is also called outside web/ (app.py): its titles are shown through _(item.title).
    titles = set()
    for path in ROOT.rglob("*.py"):
        titles |= set(re.findall(r'add_nav\(\s*app,\s*"([^"]+)"', path.read_text(encoding="utf-8")))
    assert "QA review" in titles
    assert titles <= set(EXTRACTED), titles - set(EXTRACTED)


# --- no bare text ---------------------------------------------------------------------------------
# What may stay as it is: key names, the product's name, the format's name.
ALLOWED_TEXT = re.compile(r"(?:(?:Alt|Shift|Esc|Ctrl|[A-Z?])(?:\+(?:Alt|Shift|[A-Z?]))*|callcenter|YAML)")
SHOWN_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "label"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[int, str]] = []
        self.in_script = False

    def _check(self, text: str) -> None:
        rest = ALLOWED_TEXT.sub(" ", text)
        if re.search(r"[^\W\d_]", rest):
            leading = text[: len(text) - len(text.lstrip())]
            self.found.append((self.getpos()[0] + leading.count("\n"), text.strip()))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_script = tag in ("script", "style")
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False

    def handle_data(self, data: str) -> None:
        if not self.in_script:
            self._check(data)


def bare_text(source: str) -> list[tuple[int, str]]:
    """Text of a template a person would see that is not a message: after dropping {% trans %}
    blocks, {{ expressions }}, {% tags %} and comments (newlines kept, for line numbers)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group())

    for pattern in (
        r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}",
        r"\{#.*?#\}",
        r"\{\{.*?\}\}",
        r"\{%.*?%\}",
    ):
        source = re.sub(pattern, blank, source, flags=re.S)
    parser = _Text()
    parser.feed(source)
    parser.close()
    return parser.found


def test_the_bare_text_check_finds_bare_text() -> None:
    assert bare_text('<p>{{ _("Fine") }} <kbd>Alt+Shift+V</kbd></p>') == []
    assert bare_text("<p>{% trans %}Fine, <code>x</code>{% endtrans %}</p>") == []
    assert bare_text('<p>\n{{ x }} Left out</p><input placeholder="e.g. 1">') == [
        (2, "Left out"),
        (2, "e.g. 1"),
    ]
    assert bare_text('<p>{{ _("Fine") }}</p><p>中文</p>') == [(1, "中文")]


@pytest.mark.parametrize("template", sorted(p.name for p in (WEB / "templates").glob("*.html")))
def test_templates_have_no_bare_text(template: str) -> None:
    found = bare_text((WEB / "templates" / template).read_text(encoding="utf-8"))
    assert not found, [f"templates/{template}:{line}: {text!r}" for line, text in found]


def _literals(line: str) -> list[tuple[int, str, str]]:
    """(column, quote, body) of each string literal of one line of JavaScript, before any // comment."""
    found, i = [], 0
    while i < len(line):
        if line.startswith("//", i):
            break
        quote = line[i]
        if quote in "\"'`":
            j = i + 1
            while j < len(line) and line[j] != quote:
                j += 2 if line[j] == "\\" else 1
            found.append((i, quote, line[i + 1 : j]))
            i = j
        i += 1
    return found


CODE_WORDS = {"use strict", "Notification", "Escape", "Enter"}


def english_literals(source: str) -> list[tuple[int, str]]:
    """String literals that look like words for people (two words, or one capitalised word) and are
    not the message of a t("...") call, a class list or a selector. A heuristic: it sees
    literals, not where they go; a lower-case single word ("none") passes unseen."""
    found, in_comment = [], False
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if in_comment or stripped.startswith("/*"):
            in_comment = "*/" not in line
            continue
        for column, quote, body in _literals(line):
            before = line[:column]
            text = re.sub(r"\$\{[^}]*\}", " ", body) if quote == "`" else body
            if before.endswith("t(") or text in CODE_WORDS:
                continue
            if re.search(r"""(class|className)["']?\s*[:=][^,;]*$""", before) or re.match(r"[#.\[]", text):
                continue
            if re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", text) or re.fullmatch(r"[A-Z][a-z]+\W?", text.strip()):
                found.append((number, body))
    return found


def test_the_script_check_finds_english() -> None:
    source = 'el("p", { text: "Not saved" });\nb.textContent = `Error: ${e}`;\nx = t("Fine words");\n'
    assert english_literals(source) == [(1, "Not saved"), (2, "Error: ${e}")]
    assert english_literals('el("p", { class: "card offer" }, t("Save"));') == []


@pytest.mark.parametrize(
    "script",
    sorted(
        str(p.relative_to(WEB / "static"))
        for p in (WEB / "static").rglob("*.js")
        if "vendor" not in p.parts and p.name != "i18n.js"
    ),
)
def test_scripts_show_no_english_outside_t(script: str) -> None:
    found = english_literals((WEB / "static" / script).read_text(encoding="utf-8"))
    assert not found, [f"static/{script}:{line}: {text!r}" for line, text in found]


# --- the language rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh;q=0.5", "zh-CN"),  # French is not there: the next one asked for
        ("fr, de", "en"),
        ("en;q=0.1, zh-Hans-CN;q=0.7", "zh-CN"),
        ("zh-CN;q=0, en;q=0.2", "en"),  # q=0: not acceptable
        ("zh-CN;q=banana, en", "en"),
        ("x" * 5000, "en"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language


def test_known_tags() -> None:
    assert i18n.known("zh_cn") == "zh-CN" and i18n.known("EN-gb") == "en"
    assert i18n.known("fr") is None and i18n.known("") is None and i18n.known(None) is None


def test_gettext_falls_back_to_english() -> None:
    assert i18n.gettext("zh-CN", "Sign in") == "登录"
    assert i18n.gettext("zh-CN", "a message nobody wrote") == "a message nobody wrote"
    assert i18n.gettext("en", "Sign in") == "Sign in"
    with pytest.raises(ValueError, match="no such language"):
        i18n.catalogue("xx")


def test_dates_and_numbers_per_locale() -> None:
    when = 1_780_000_000  # 2026-05-28 20:26:40 UTC
    assert "2026" in i18n.format_datetime("en", when) and "May" in i18n.format_datetime("en", when)
    assert "2026年5月28日" in i18n.format_datetime("zh-CN", when)
    assert i18n.format_number("en", 1234567.5) == "1,234,567.5"
    assert i18n.format_number("zh-CN", 1234567.5) == "1,234,567.5"


def test_templates_render_in_the_language_of_the_context() -> None:
    env = pages.templates()
    source = '{{ _("Sign in") }}|{% trans name=who %}Welcome, {{ name }}{% endtrans %}|{{ when | datetime }}'
    template = env.from_string(source)
    english = template.render(language="en", who="<b>", when=1_780_000_000)
    chinese = template.render(language="zh-CN", who="<b>", when=1_780_000_000)
    assert english.startswith("Sign in|Welcome, &lt;b&gt;|")  # values stay escaped
    assert chinese.startswith("登录|欢迎，&lt;b&gt;|2026年")


def test_script_catalogue_is_safe_inside_a_script_element() -> None:
    text = i18n.script_catalogue("zh-CN")
    assert "<" not in text and ">" not in text and "&" not in text
    data = json.loads(text)
    assert data["language"] == "zh-CN"
    assert data["messages"]["Hang up"] == "挂断"  # a script's message
    assert "Sign in" not in data["messages"]  # templates' messages stay on the server


def test_the_widget_carries_its_catalogues() -> None:
    served = widget._with_catalogues(b"x; var CATALOGUES = {}; y;").decode()
    catalogues = json.loads(served.split("var CATALOGUES = ", 1)[1].split(";", 1)[0])
    assert catalogues["en"] == {}
    assert catalogues["zh-CN"]["Chat with us"] == "在线咨询"
    assert "Hang up" not in catalogues["zh-CN"]  # only the widget's own messages
    with pytest.raises(RuntimeError):
        widget._with_catalogues(b"no catalogue here")


def test_an_unknown_template_language_is_english() -> None:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    i18n.install(env)
    assert env.from_string('{{ _("Sign in") }}').render() == "Sign in"


def test_accounts_offer_the_languages_the_pages_have() -> None:
    assert set(model.LANGUAGES) == set(i18n.LANGUAGES)
    assert model.check_language("zh-CN") == "zh-CN" and model.check_language("") is None
    with pytest.raises(model.AccountError, match="language must be one of"):
        model.check_language("fr")
