"""Fuzz targets: every parser fed from outside, with a hypothesis strategy and an outcome rule.

The rule (issue 13): every input is either accepted, and then what came out is sane (times finite
and in range, ids free of NUL bytes and of bounded length), or refused with the parser's own typed
error (``WebhookError`` for webhooks and e-mail, ``file:line: message`` for the YAML loaders). Any
other exception is a crash. ``check`` returns ``"accepted"`` or ``"rejected"`` and raises
``Crash`` otherwise; the same targets run briefly in the test suite (tests/unit/test_fuzz.py) and
for long in ``bench/fuzz.py``, which counts the outcomes.

Inputs start from the providers' documented examples (tests/data/channels) and the repository's own
example files, then mutate them: a fuzzer that only sends noise never gets past the first check.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from callcenter.messaging.channels import email, twilio, wechat, whatsapp
from callcenter.messaging.channels.base import InboundMessage, StatusUpdate, WebhookError
from callcenter.messaging.service import check_storable
from tests.channel_data import DATA, http, raw

ROOT = Path(__file__).resolve().parents[2]

# Times a message may carry once accepted: after the epoch, before 2100.
_LATEST = 4102444800.0
_MAX_ID = 512  # messaging.MAX_ID: no provider id, sender or Message-ID we store is longer


class Crash(AssertionError):
    """An input the rule does not allow for: an untyped exception, or an insane accepted value."""


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], str]


# --- shared strategies ------------------------------------------------------------------------------

# Text that breaks parsers: control characters, NUL, surrogate-free unicode, very long runs, numbers
# spelled in every way a float() or int() accepts or refuses.
_weird_numbers = st.sampled_from(
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e309",
        "-1",
        "0",
        "253402300800",
        "99999999999999999999",
        "1e18",
        "0x10",
        "1_000",
        " 12 ",
        "",
        "1.5",
        "-0",
        "9" * 5000,
    ]
)
_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=40),
    _weird_numbers,
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "\x00", "\r\n", "9", "<", "&"]), st.integers(0, 3000)
    ),
)
_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), _texts
)
JSON = _json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_texts, inner, max_size=4)),
    max_leaves=20,
)


def _mutate_json(doc: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """Replace, drop or keep each value of a JSON document, recursively."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace"]))
            if action == "drop":
                continue
            out[key] = draw(_json) if action == "replace" else _mutate_json(value, draw)
        return out
    if isinstance(doc, list):
        return [_mutate_json(v, draw) for v in doc] * draw(st.integers(0, 2))
    return draw(_json) if draw(st.booleans()) else doc


def _deep(depth: int, kind: str) -> bytes:
    return (b"[" * depth + b"]" * depth) if kind == "list" else (b'{"a":' * depth + b"1" + b"}" * depth)


# --- outcome rules ------------------------------------------------------------------------------------


def _sane(item: InboundMessage | StatusUpdate) -> None:
    """What the edge let through: a time that can be stored and ids of bounded length, NUL-free."""
    if not (math.isfinite(item.at) and 0 <= item.at < _LATEST):
        raise Crash(f"accepted a time out of range: {item.at!r}")
    values = [item.provider_id]
    if isinstance(item, InboundMessage):
        values += [item.sender.value, item.message_id or "", item.in_reply_to or ""]
    for value in values:
        if "\x00" in value:
            raise Crash(f"accepted a NUL byte in {value[:40]!r}")
        if len(value) > _MAX_ID:
            raise Crash(f"accepted an id of {len(value)} characters")


def _webhook(parse: Callable[[], Any]) -> str:
    try:
        result = parse()
        for item in result if isinstance(result, list) else [result]:
            if isinstance(item, InboundMessage):
                check_storable(item)  # the rest of the edge: Messaging.receive refuses these
    except WebhookError:
        return "rejected"
    except Exception as err:  # the rule: anything untyped is a crash
        raise Crash(f"{type(err).__name__}: {err}"[:300]) from err
    items = result if isinstance(result, list) else [result]
    for item in items:
        if item is not None:
            _sane(item)
    return "accepted"


# --- Twilio ---------------------------------------------------------------------------------------------

_TWILIO_KEYS = [
    "MessageSid",
    "SmsSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "MessageStatus",
    "ErrorCode",
    "AccountSid",
]


@st.composite
def _twilio_form(draw: Callable[[st.SearchStrategy[Any]], Any]) -> list[tuple[str, str]]:
    base = (
        http("twilio/inbound_sms.http").form
        if draw(st.booleans())
        else http("twilio/status_callback_undelivered.http").form
    )
    form = [(k, draw(_texts) if draw(st.integers(0, 3)) == 0 else v) for k, v in base]
    form += draw(st.lists(st.tuples(st.one_of(st.sampled_from(_TWILIO_KEYS), _texts), _texts), max_size=4))
    return draw(st.permutations(form))


# --- WhatsApp -------------------------------------------------------------------------------------------

_WA_DOCS = ["inbound_text.json", "inbound_image.json", "status_delivered.json", "status_failed.json"]


@st.composite
def _whatsapp_body(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "noise", "deep"]))
    if kind == "noise":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        return _deep(draw(st.integers(100, 20000)), draw(st.sampled_from(["list", "dict"])))
    doc = json.loads((DATA / "whatsapp" / draw(st.sampled_from(_WA_DOCS))).read_text())
    text = json.dumps(_mutate_json(doc, draw), allow_nan=True)
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16"])))


# --- WeChat ---------------------------------------------------------------------------------------------

_WECHAT_FIELDS = [
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "MediaId",
    "PicUrl",
    "Format",
    "Event",
]


@st.composite
def _wechat_body(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "noise", "dtd"]))
    if kind == "noise":
        return draw(st.binary(max_size=200))
    doc = raw(f"wechat/{draw(st.sampled_from(['inbound_text.xml', 'inbound_image.xml']))}").decode()
    for name in draw(st.lists(st.sampled_from(_WECHAT_FIELDS), max_size=4)):
        value = draw(_texts).replace("]]>", "")
        pattern = re.compile(rf"<{name}>.*?</{name}>", re.S)
        cdata = f"<{name}><![CDATA[{value}]]></{name}>"
        doc = (
            pattern.sub(lambda _m, c=cdata: c, doc)
            if pattern.search(doc)
            else doc.replace("</xml>", cdata + "</xml>")
        )
    if kind == "dtd":
        doc = (
            '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            + doc.replace("this is a test", "&b;")
        )
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-16-le"]))
    if encoding != "utf-8" and draw(st.booleans()):
        doc = f'<?xml version="1.0" encoding="{encoding}"?>' + doc
    return doc.encode(encoding)


# --- e-mail ---------------------------------------------------------------------------------------------

_DATES = st.one_of(
    st.sampled_from(
        [
            "Fri, 31 Dec 9999 23:59:59 -2359",
            "Mon, 1 Jan 0001 00:00:00 +0000",
            "Tue, 30 Feb 2026 10:00:00 +0000",
            "Wed, 2 Dec 2026 25:61:61 +9999",
            "nan",
            "Thu, 3 Dec 2026 07:00:00 +0000",
            "1 Jan 1900 00:00 GMT",
            "",
        ]
    ),
    _texts,
)


@st.composite
def _email_message(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=300))
    headers = {
        "From": draw(st.one_of(st.just('"Ana" <ana@example.com>'), _texts)),
        "To": "support@cc.example.com",
        "Subject": draw(_texts),
        "Date": draw(_DATES),
        "Message-ID": draw(st.one_of(st.just("<m1@example.com>"), _texts.map(lambda t: f"<{t}>"))),
    }
    if draw(st.booleans()):
        headers["In-Reply-To"] = draw(_texts)
    lines = [f"{k}: {v}".replace("\n", " ").replace("\r", " ") for k, v in headers.items()]
    body = draw(_texts)
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


# --- YAML loaders ---------------------------------------------------------------------------------------

_YAML_SCALARS = st.one_of(
    _texts.map(json.dumps),
    st.sampled_from(
        [
            "9" * 5000,
            "2026-02-30",
            "2026-13-01",
            "0x",
            "!!python/object:os.system ls",
            "&a [*a]",
            "*undefined",
            "{",
            "]",
            "\t",
            "\x07",
            "- - -",
            "~",
            "null",
            "-1e999",
            ".nan",
            ".inf",
        ]
    ),
)


@st.composite
def _yaml_text(draw: Callable[[st.SearchStrategy[Any]], Any], source: Path) -> bytes:
    lines = source.read_text().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "drop", "dup", "indent", "bytes"]))
        if action == "value" and ":" in lines[i]:
            key, _, _ = lines[i].partition(":")
            lines[i] = f"{key}: {draw(_YAML_SCALARS)}"
        elif action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = " " * draw(st.integers(0, 9)) + lines[i].lstrip()
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 6)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b"\xed\xa0\x80"])) + data[at:]
    return data


def _loader(
    load: Callable[[Path], Any], errors: tuple[type[Exception], ...], name: str = "fuzzed.yaml"
) -> Callable[[bytes], str]:
    def check(data: bytes) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            try:
                load(path)
            except errors as err:
                message = str(err)
                if not message.startswith(str(path)):
                    raise Crash(f"error without file:line: {message[:200]!r}") from err
                return "rejected"
            except Exception as err:
                raise Crash(f"{type(err).__name__}: {err}"[:300]) from err
            return "accepted"

    return check


def _ivr_load(path: Path) -> None:
    """The fuzzed main flow among the example flows it calls, as the server loads a flows folder."""
    from callcenter.ivr import loader

    others = [
        p for p in (ROOT / "ivr_flows").glob("*.yaml") if p.name != "main.yaml" and ".test." not in p.name
    ]
    _, problems = loader.load([path, *others])
    mine = [p for p in problems if str(p.pos).startswith(str(path))]
    if mine:
        raise _IvrProblems(f"{mine[0].pos}: {mine[0].message}")
    if problems:
        raise Crash(f"the fuzzed flow broke another file: {problems[0]}")


class _IvrProblems(Exception):
    pass


def _loaders() -> list[Target]:
    from callcenter import settings as config
    from callcenter.kb import importer as kb_importer
    from callcenter.qa import loader as qa_loader
    from callcenter.qa import scorecards
    from callcenter.reports import mail_schedule
    from callcenter.settings import agents_file, queues_file
    from callcenter.tickets import workflow_file

    agents_example = ROOT / "tests" / "fuzz" / "agents.example.yaml"
    return [
        Target(
            "config",
            _yaml_text(ROOT / "callcenter.example.yaml"),
            _loader(lambda p: config.load_settings(p, environ={}), (config.ConfigError,)),
        ),
        Target(
            "queues",
            _yaml_text(ROOT / "queues.example.yaml"),
            _loader(queues_file.load_queues, (config.ConfigError,)),
        ),
        Target(
            "agents",
            _yaml_text(agents_example),
            _loader(lambda p: agents_file.load_agents(p, {"1001", "1002", "1003"}), (config.ConfigError,)),
        ),
        Target(
            "ivr",
            _yaml_text(ROOT / "ivr_flows" / "main.yaml"),
            _loader(_ivr_load, (_IvrProblems,), "main.yaml"),
        ),
        Target(
            "qa_rules",
            _yaml_text(ROOT / "qa_rules.example.yaml"),
            _loader(qa_loader.load_rules, (qa_loader.QaRulesError,)),
        ),
        Target(
            "kb_article",  # callcenter kb import: front matter + Markdown
            _yaml_text(ROOT / "bench" / "data" / "kb_eval" / "damaged-item.md"),
            _loader(kb_importer.parse, (kb_importer.ImportError_,), "damaged-item.md"),
        ),
        Target(
            "scorecards",
            _yaml_text(ROOT / "scorecards.example.yaml"),
            _loader(scorecards.load_scorecards, (scorecards.ScorecardError,)),
        ),
        Target(
            "tickets",
            _yaml_text(ROOT / "tickets.example.yaml"),
            _loader(workflow_file.load_workflow, (config.ConfigError,)),
        ),
        Target(
            "report_mail",
            _yaml_text(ROOT / "report-mail.example.yaml"),
            _loader(mail_schedule.load_schedules, (config.ConfigError,)),
        ),
    ]


# --- AMI ------------------------------------------------------------------------------------------------

_AMI_EVENTS = [
    "Newchannel",
    "Hangup",
    "HangupRequest",
    "SoftHangupRequest",
    "BridgeEnter",
    "BridgeLeave",
    "ContactStatus",
    "UserEvent",
    "FullyBooted",
    "Shutdown",
    "OriginateResponse",
    "VarSet",
]
_AMI_KEYS = [
    "Event",
    "Channel",
    "Uniqueid",
    "Linkedid",
    "Context",
    "Exten",
    "Cause",
    "Cause-txt",
    "BridgeUniqueid",
    "AOR",
    "EndpointName",
    "ContactStatus",
    "URI",
    "UserEvent",
    "Variable",
    "Value",
    "Response",
    "ActionID",
    "Reason",
]


@st.composite
def _ami_message(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, object]:
    """A message with every key an event may need, some of them replaced, dropped or added."""
    message: dict[str, object] = {key: f"v-{key}" for key in _AMI_KEYS}
    message["Event"] = draw(st.one_of(st.sampled_from(_AMI_EVENTS), _texts))
    for key in draw(st.lists(st.sampled_from(_AMI_KEYS), max_size=6)):
        if draw(st.booleans()):
            message.pop(key, None)
        else:
            message[key] = draw(st.one_of(_texts, st.lists(_texts, max_size=3), st.none(), st.integers()))
    return message


def _ami_check(message: dict[str, object]) -> str:
    from callcenter.asterisk import ami_events

    try:
        parsed = ami_events.parse(message)
    except Exception as err:
        raise Crash(f"{type(err).__name__}: {err}"[:300]) from err
    return "rejected" if parsed is None else "accepted"


# --- all of them ----------------------------------------------------------------------------------------


def targets() -> list[Target]:
    """Every pure parser fed from outside (the server-level runs: tests/integration/test_fuzz_server.py)."""
    now = 1764745200.0
    return [
        Target("twilio", _twilio_form(), lambda form: _webhook(lambda: twilio.parse(form, now))),
        Target("whatsapp", _whatsapp_body(), lambda body: _webhook(lambda: whatsapp.parse(body))),
        Target("wechat", _wechat_body(), lambda body: _webhook(lambda: wechat.parse(body))),
        Target("email", _email_message(), lambda msg: _webhook(lambda: email.parse(msg, now))),
        Target("ami", _ami_message(), _ami_check),
        *_loaders(),
    ]


TARGETS_BY_NAME = {t.name: t for t in targets()}
