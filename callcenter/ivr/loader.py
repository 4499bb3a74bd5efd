"""YAML flow files -> :class:`~callcenter.core.ivr.model.FlowSet`, every problem with file:line:column.

PyYAML's composer gives nodes with their marks, so each model piece keeps its position; the pure
validator (:mod:`callcenter.core.ivr.check`) then reports against them. A file that cannot be
read or parsed is reported and left out; the rest are still checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from callcenter.core.ivr import check as ivr_check
from callcenter.core.ivr import model as m
from callcenter.ivr import prompts
from callcenter.settings import textfile

TEST_SUFFIX = ".test.yaml"
#: text, language -> the sound name the text-to-speech prompt will be rendered to
SoundNamer = Callable[[str, str], str]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NODE_TYPES = (
    "play", "menu", "language", "collect", "hours", "set", "branch", "http", "goto",
    "queue", "voicemail", "callback", "hangup", "schedule_callback", "kb", "ticket", "agents",
)  # fmt: skip
OPS = ("equals", "not_equals", "in", "matches", "starts_with", "exists")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_KEY = re.compile(r"^[0-9*#]$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def default_sound_name(text: str, language: str) -> str:
    return prompts.sound_name(text, language, "")


def flow_files(paths: Iterable[Path]) -> list[Path]:
    """Flow files among ``paths``: files as given, directories' ``*.yaml`` except flow tests."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p
                for p in path.glob("*.y*ml")
                if p.suffix in (".yaml", ".yml") and not p.name.endswith(TEST_SUFFIX)
            )
        else:
            out.append(path)
    return out


def load(
    paths: Iterable[Path], sound_name: SoundNamer = default_sound_name
) -> tuple[m.FlowSet, list[m.Problem]]:
    """Parse and validate; the flow set is only usable when the problem list is empty."""
    flows: dict[str, m.FlowDef] = {}
    problems: list[m.Problem] = []
    for path in flow_files(paths):
        reader = _Reader(str(path), sound_name)
        flow = reader.read_file(path)
        problems += reader.problems
        if flow is None:
            continue
        if flow.name in flows:
            other = flows[flow.name].pos
            problems.append(m.Problem(flow.pos, f"flow {flow.name!r} is already defined at {other}"))
            continue
        flows[flow.name] = flow
    flow_set = m.FlowSet(flows)
    problems += ivr_check.validate(flow_set)
    return flow_set, sorted(set(problems), key=lambda p: (p.pos, p.message))


class _Invalid(Exception):
    """A piece of the file is unusable; already reported."""


class _Reader:
    def __init__(self, file: str, sound_name: SoundNamer) -> None:
        self.file = file
        self.sound_name = sound_name
        self.problems: list[m.Problem] = []
        self.flow = ""
        self.language = "en"

    def pos(self, node: yaml.Node) -> m.Pos:
        return m.Pos(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: yaml.Node | m.Pos, message: str) -> _Invalid:
        pos = node if isinstance(node, m.Pos) else self.pos(node)
        self.problems.append(m.Problem(pos, message))
        return _Invalid(message)

    # -- the file ----------------------------------------------------------------------------------
    def read_file(self, path: Path) -> m.FlowDef | None:
        try:
            text = textfile.read_text(path, "the flow file")
        except textfile.TextFileError as err:
            self.problems.append(m.Problem(m.Pos(self.file, err.line or 1, 1), err.problem))
            return None
        return self.read_text(text, default_name=path.name.split(".")[0])

    def read_text(self, text: str, default_name: str) -> m.FlowDef | None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            where = m.Pos(self.file, mark.line + 1, mark.column + 1) if mark else m.Pos(self.file, 1, 1)
            problem = getattr(err, "problem", None) or str(err)
            self.problems.append(m.Problem(where, f"invalid YAML: {problem}"))
            return None
        if root is None:
            self.problems.append(m.Problem(m.Pos(self.file, 1, 1), "the flow file is empty"))
            return None
        bad = textfile.unencodable_line(root)
        if bad is not None:
            self.problems.append(m.Problem(m.Pos(self.file, bad, 1), "an escaped surrogate is not text"))
            return None
        try:
            return self._flow(root, default_name)
        except _Invalid:
            return None

    def _flow(self, root: yaml.Node, default_name: str) -> m.FlowDef:
        fields = self.mapping(
            root,
            "a flow",
            {"flow", "start", "language", "languages", "channels", "agent", "idle", "nodes", "description"},
        )
        self.flow = self.name(fields["flow"]) if "flow" in fields else default_name
        self.language = self.string(fields["language"]) if "language" in fields else "en"
        languages: tuple[str, ...] = (self.language,)
        if "languages" in fields:
            languages = tuple(self.string(n) for n in self.sequence(fields["languages"]))
            if self.language not in languages:
                self.fail(fields["languages"], f"the default language {self.language!r} is not in languages")
        if "nodes" not in fields:
            raise self.fail(root, "a flow needs 'nodes'")
        if "start" not in fields:
            raise self.fail(root, "a flow needs 'start': the node the call begins at")
        start = self.target(fields["start"])
        channels: tuple[str, ...] = ("voice",)
        if "channels" in fields:
            channels = tuple(self.string(n) for n in self.sequence(fields["channels"]))
            for bad in sorted(set(channels) - set(m.CHANNELS)):
                self.fail(fields["channels"], f"unknown channel {bad!r} (voice, chat)")
            if not channels:
                self.fail(fields["channels"], "a flow needs at least one channel (voice, chat)")
        agent = self.target(fields["agent"]) if "agent" in fields else None
        if agent is not None and "chat" not in channels:
            self.fail(fields["agent"], "'agent' is for chat flows (channels: [chat])")
        idle = None
        if "idle" in fields:
            try:
                idle = self._idle(fields["idle"])
            except _Invalid:
                pass  # reported; the nodes are still read for their own mistakes
        if idle is not None and "chat" not in channels:
            self.fail(fields["idle"], "'idle' is for chat flows (channels: [chat])")
        nodes: dict[str, m.Node] = {}
        node_map = fields["nodes"]
        if not isinstance(node_map, yaml.MappingNode):
            raise self.fail(node_map, "'nodes' must be a mapping of node name -> node")
        for key_node, value_node in node_map.value:
            try:
                name = self.name(key_node)
            except _Invalid:
                continue
            if name in nodes:
                self.fail(key_node, f"node {name!r} is defined twice")
                continue
            before = len(self.problems)
            try:
                node = self._node(name, key_node, value_node)
            except _Invalid:
                node = m.UnparsedNode(name, self.pos(key_node))
            nodes[name] = node if len(self.problems) == before else m.UnparsedNode(name, node.pos)
        return m.FlowDef(
            self.flow, self.pos(root), start, nodes, self.language, languages, channels, agent, idle
        )

    def _idle(self, node: yaml.Node) -> m.Idle:
        f = self.mapping(node, "'idle'", {"after", "then", "prompt", "queue"})
        if "after" not in f:
            raise self.fail(node, "'idle' needs 'after': seconds without an answer before the nudge")
        after = self.number(f["after"], 1, 7 * 86400)
        then = self.number(f["then"], 1, 7 * 86400) if "then" in f else after
        prompt = self.prompt(f["prompt"]) if "prompt" in f else None
        queue = self.string(f["queue"]) if "queue" in f else None
        return m.Idle(after, then, self.pos(node), prompt, queue)

    # -- nodes -------------------------------------------------------------------------------------
    def _node(self, name: str, key: yaml.Node, node: yaml.Node) -> m.Node:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"node {name!r} must be a mapping with a 'type'")
        raw = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        if "type" not in raw:
            raise self.fail(node, f"node {name!r} has no 'type' (one of {', '.join(NODE_TYPES)})")
        kind = self.string(raw["type"])
        if kind not in NODE_TYPES:
            raise self.fail(raw["type"], f"unknown node type {kind!r} (one of {', '.join(NODE_TYPES)})")
        pos = self.pos(key)
        build = getattr(self, f"_node_{kind}")
        result: m.Node = build(name, pos, node)
        return result

    def _fields(
        self, node: yaml.Node, kind: str, allowed: set[str], required: set[str]
    ) -> dict[str, yaml.Node]:
        fields = self.mapping(node, f"a {kind} node", allowed | {"type", "description"})
        missing = sorted(required - fields.keys())
        if missing:
            raise self.fail(node, f"{kind} node needs {', '.join(repr(x) for x in missing)}")
        return fields

    def _node_play(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "play", {"prompt", "next"}, {"prompt", "next"})
        return m.PlayNode(name, pos, self.prompt(f["prompt"]), self.target(f["next"]))

    _RETRY = {"timeout", "attempts", "no_input", "invalid", "invalid_prompt", "no_input_prompt"}

    def _retry(self, f: dict[str, yaml.Node], node: yaml.Node) -> m.Retry:
        if "no_input" not in f:
            raise self.fail(node, "needs 'no_input': where to go when the attempts are used up")
        return m.Retry(
            timeout=self.number(f["timeout"], 0.5, 120) if "timeout" in f else 6.0,
            attempts=int(self.number(f["attempts"], 1, 10, whole=True)) if "attempts" in f else 3,
            no_input=self.target(f["no_input"]),
            invalid=self.target(f["invalid"]) if "invalid" in f else None,
            invalid_prompt=self.prompt(f["invalid_prompt"]) if "invalid_prompt" in f else None,
            no_input_prompt=self.prompt(f["no_input_prompt"]) if "no_input_prompt" in f else None,
        )

    def _keys(self, node: yaml.Node) -> list[tuple[str, yaml.Node]]:
        out: list[tuple[str, yaml.Node]] = []
        for key_node, value_node in self.pairs(node):
            key = self.string(key_node)
            if not _KEY.match(key):
                raise self.fail(key_node, f"choice {key!r} must be one key: 0-9, * or #")
            if any(key == seen for seen, _ in out):
                raise self.fail(key_node, f"choice {key!r} is given twice")
            out.append((key, value_node))
        return out

    def _node_menu(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "menu", {"prompt", "choices", "words", *self._RETRY}, {"prompt", "choices"})
        choices = {key: self.target(value) for key, value in self._keys(f["choices"])}
        words: dict[str, tuple[str, ...]] = {}
        for key, value in self._keys(f["words"]) if "words" in f else []:
            if key not in choices:
                self.fail(value, f"words for {key!r}, which is not one of the choices")
            words[key] = tuple(self.string(n) for n in self.sequence(value))
        return m.MenuNode(name, pos, self.prompt(f["prompt"]), choices, self._retry(f, node), words)

    def _node_language(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node, "language", {"prompt", "choices", "next", *self._RETRY}, {"prompt", "choices", "next"}
        )
        choices = {key: self.string(value) for key, value in self._keys(f["choices"])}
        if "no_input" in f:
            retry = self._retry(f, node)
        else:  # no choice keeps the default language and goes on
            retry = m.Retry(
                timeout=self.number(f["timeout"], 0.5, 120) if "timeout" in f else 6.0,
                attempts=int(self.number(f["attempts"], 1, 10, whole=True)) if "attempts" in f else 2,
                no_input=self.target(f["next"]),
                invalid_prompt=self.prompt(f["invalid_prompt"]) if "invalid_prompt" in f else None,
            )
        return m.LanguageNode(name, pos, self.prompt(f["prompt"]), choices, retry, self.target(f["next"]))

    def _node_collect(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node,
            "collect",
            {
                "prompt",
                "variable",
                "input",
                "max_digits",
                "min_digits",
                "max_length",
                "pattern",
                "terminator",
                "next",
                *self._RETRY,
            },
            {"prompt", "variable", "next"},
        )
        text = False
        if "input" in f:
            kind = self.string(f["input"])
            if kind not in ("digits", "text"):
                self.fail(f["input"], f"input is 'digits' (keys, the default) or 'text' (chat), not {kind!r}")
            text = kind == "text"
        if text and ("max_digits" in f or "min_digits" in f):
            self.fail(f.get("max_digits") or f["min_digits"], "a text collect takes max_length, not digits")
        if not text and "max_length" in f:
            self.fail(f["max_length"], "max_length is for a text collect (input: text)")
        if not text and "max_digits" not in f:
            raise self.fail(node, "collect node needs 'max_digits' (or input: text on chat)")
        if "terminator" in f and self.string(f["terminator"]) != "#":
            self.fail(f["terminator"], "only '#' can end the input (Asterisk's GET DATA terminator)")
        max_digits = int(self.number(f["max_digits"], 1, 64, whole=True)) if "max_digits" in f else 64
        min_digits = int(self.number(f["min_digits"], 1, 64, whole=True)) if "min_digits" in f else 1
        if min_digits > max_digits:
            self.fail(f["min_digits"], "min_digits is greater than max_digits")
        pattern_node = f.get("pattern")
        return m.CollectNode(
            name,
            pos,
            self.prompt(f["prompt"]),
            self.name(f["variable"]),
            max_digits,
            min_digits,
            self.string(pattern_node) if pattern_node is not None else None,
            self.pos(pattern_node) if pattern_node is not None else pos,
            self._retry(f, node),
            self.target(f["next"]),
            text,
            int(self.number(f["max_length"], 1, 2000, whole=True)) if "max_length" in f else 200,
        )

    def _node_hours(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node,
            "hours",
            {"timezone", "week", "holidays", "open", "closed"},
            {"timezone", "week", "open", "closed"},
        )
        zone_name = self.string(f["timezone"])
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            raise self.fail(f["timezone"], f"unknown time zone {zone_name!r} (e.g. Europe/Madrid)") from None
        week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for key_node, value_node in self.pairs(f["week"]):
            days = self._days(key_node)
            spans = (
                [self._span(n) for n in self.sequence(value_node)]
                if isinstance(value_node, yaml.SequenceNode)
                else [self._span(value_node)]
            )
            for day in days:
                week[day] += spans
        holidays = (
            frozenset(self._date(n) for n in self.sequence(f["holidays"])) if "holidays" in f else frozenset()
        )
        return m.HoursNode(
            name,
            pos,
            zone,
            tuple(tuple(d) for d in week),
            holidays,
            self.target(f["open"]),
            self.target(f["closed"]),
        )

    def _days(self, node: yaml.Node) -> list[int]:
        text = self.string(node).lower()
        first, _, last = text.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise self.fail(node, f"{text!r} is not a day or range of days (mon..sun, e.g. mon-fri)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]

    def _span(self, node: yaml.Node) -> tuple[int, int]:
        text = self.string(node)
        start, _, end = text.partition("-")
        a, b = _TIME.match(start.strip()), _TIME.match(end.strip())
        if not a or not b:
            raise self.fail(node, f"{text!r} is not a time span like 09:00-17:30")
        lo, hi = int(a[1]) * 60 + int(a[2]), int(b[1]) * 60 + int(b[2])
        if end.strip() == "00:00":
            hi = 24 * 60
        if hi <= lo:
            raise self.fail(node, f"{text!r} ends before it starts")
        return lo, hi

    def _date(self, node: yaml.Node) -> date:
        text = self.string(node)
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self.fail(node, f"{text!r} is not a date like 2026-12-25") from None

    def _node_set(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "set", {"variables", "next"}, {"variables", "next"})
        variables = {self.name(k): self.string(v) for k, v in self.pairs(f["variables"])}
        return m.SetNode(name, pos, variables, self.target(f["next"]))

    def _node_branch(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "branch", {"cases", "else"}, {"cases", "else"})
        cases = []
        for case_node in self.sequence(f["cases"]):
            c = self.mapping(case_node, "a case", {"if", "goto"})
            if "if" not in c or "goto" not in c:
                raise self.fail(case_node, "a case needs 'if' and 'goto'")
            cases.append(m.Case(self._condition(c["if"]), self.target(c["goto"])))
        return m.BranchNode(name, pos, tuple(cases), self.target(f["else"]))

    def _condition(self, node: yaml.Node) -> m.Condition:
        c = self.mapping(node, "a condition", {"var", *OPS})
        ops = [op for op in OPS if op in c]
        if "var" not in c or len(ops) != 1:
            raise self.fail(node, f"a condition is 'var' and one of {', '.join(OPS)}")
        op = ops[0]
        value: str | tuple[str, ...] | bool
        if op == "in":
            value = tuple(self.string(n) for n in self.sequence(c[op]))
        elif op == "exists":
            value = self.boolean(c[op])
        else:
            value = self.string(c[op])
        return m.Condition(self.name(c["var"]), op, value, self.pos(c[op]))

    def _node_http(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node,
            "http",
            {"method", "url", "timeout", "headers", "body", "result", "next", "failure"},
            {"url", "next", "failure"},
        )
        method = self.string(f["method"]).upper() if "method" in f else "GET"
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.fail(f["method"], f"unknown HTTP method {method!r}")
        url = self.string(f["url"])
        if not url.startswith(("http://", "https://")):
            self.fail(f["url"], f"the URL must start with http:// or https:// (got {url!r})")
        headers = (
            {self.string(k): self.string(v) for k, v in self.pairs(f["headers"])} if "headers" in f else {}
        )
        body = {self.string(k): self.string(v) for k, v in self.pairs(f["body"])} if "body" in f else None
        result = {self.name(k): self.string(v) for k, v in self.pairs(f["result"])} if "result" in f else {}
        timeout = self.number(f["timeout"], 0.1, 30) if "timeout" in f else 3.0
        return m.HttpNode(
            name,
            pos,
            method,
            url,
            timeout,
            headers,
            body,
            result,
            self.target(f["next"]),
            self.target(f["failure"]),
        )

    def _node_goto(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "goto", {"flow", "node"}, {"flow"})
        target = m.Target(
            self.string(f["node"]) if "node" in f else "", self.pos(f["flow"]), self.name(f["flow"])
        )
        return m.GotoNode(name, pos, target)

    def _node_queue(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "queue", {"queue", "skills", "priority", "prompt"}, {"queue"})
        skills = tuple(self.string(n) for n in self.sequence(f["skills"])) if "skills" in f else ()
        priority = int(self.number(f["priority"], -100, 100, whole=True)) if "priority" in f else 0
        return m.QueueNode(name, pos, self.string(f["queue"]), skills, priority, self.optional_prompt(f))

    def _node_voicemail(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "voicemail", {"mailbox", "prompt", "chat"}, {"mailbox"})
        chat = self.target(f["chat"]) if "chat" in f else None
        return m.VoicemailNode(name, pos, self.string(f["mailbox"]), self.optional_prompt(f), chat)

    def _node_callback(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "callback", {"queue", "number", "prompt", "chat"}, {"queue"})
        number = self.string(f["number"]) if "number" in f else "{caller}"
        chat = self.target(f["chat"]) if "chat" in f else None
        return m.CallbackNode(name, pos, self.string(f["queue"]), number, self.optional_prompt(f), chat)

    def _node_schedule_callback(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node,
            "schedule_callback",
            {"prompt", "queue", "number", "choices", "next", "refused", "timezone", *self._RETRY},
            {"prompt", "queue", "choices", "next", "refused"},
        )
        choices = {key: self._callback_time(value) for key, value in self._keys(f["choices"])}
        number = self.string(f["number"]) if "number" in f else "{caller}"
        return m.ScheduleCallbackNode(
            name,
            pos,
            self.prompt(f["prompt"]),
            self.string(f["queue"]),
            number,
            choices,
            self._retry(f, node),
            self.target(f["next"]),
            self.target(f["refused"]),
            self._zone_name(f["timezone"]) if "timezone" in f else "",
        )

    def _zone_name(self, node: yaml.Node) -> str:
        name = self.string(node)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.fail(node, f"unknown time zone {name[:64]!r} (an IANA name, e.g. Europe/Madrid)")
        return name

    def _callback_time(self, node: yaml.Node) -> m.CallbackTime:
        """``{in: minutes}`` or ``{day: today | tomorrow | 0-30, at: "HH:MM"}``."""
        f = self.mapping(
            node, 'a callback time ({in: minutes} or {day: tomorrow, at: "09:00"})', {"in", "day", "at"}
        )
        if "in" in f:
            if set(f) != {"in"}:
                raise self.fail(node, "a callback time is either {in: minutes} or {day: ..., at: HH:MM}")
            return m.CallbackTime(minutes=int(self.number(f["in"], 1, 43200, whole=True)))
        if "at" not in f:
            raise self.fail(node, "a callback time needs 'in' (minutes) or 'at' (HH:MM, the caller's time)")
        at = self.string(f["at"])
        if not _HHMM.match(at):
            self.fail(f["at"], f"'at' is a time of day as HH:MM (got {at!r})")
        day = 0
        if "day" in f:
            word = self.string(f["day"])
            if word in ("today", "tomorrow"):
                day = 0 if word == "today" else 1
            elif word.isdigit() and int(word) <= 30:
                day = int(word)
            else:
                self.fail(f["day"], f"'day' is today, tomorrow or a number of days (0-30), got {word!r}")
        return m.CallbackTime(day=day, at=at)

    def _node_hangup(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "hangup", {"prompt"}, set())
        return m.HangupNode(name, pos, self.optional_prompt(f))

    def _node_kb(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(node, "kb", {"question", "answered", "unanswered"}, {"answered", "unanswered"})
        question = self.string(f["question"]) if "question" in f else "{message}"
        return m.KbNode(name, pos, question, self.target(f["answered"]), self.target(f["unanswered"]))

    def _node_ticket(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node, "ticket", {"ticket_type", "title", "fields", "prompt"}, {"ticket_type", "title"}
        )
        fields = {self.name(k): self.string(v) for k, v in self.pairs(f["fields"])} if "fields" in f else {}
        return m.TicketNode(
            name, pos, self.string(f["ticket_type"]), self.string(f["title"]), self.optional_prompt(f), fields
        )

    # -- pieces ------------------------------------------------------------------------------------
    def _node_agents(self, name: str, pos: m.Pos, node: yaml.Node) -> m.Node:
        f = self._fields(
            node,
            "agents",
            {"queue", "skills", "available", "unavailable"},
            {"queue", "available", "unavailable"},
        )
        skills = tuple(self.string(n) for n in self.sequence(f["skills"])) if "skills" in f else ()
        return m.AgentsNode(
            name,
            pos,
            self.string(f["queue"]),
            skills,
            self.target(f["available"]),
            self.target(f["unavailable"]),
        )

    def optional_prompt(self, f: Mapping[str, yaml.Node]) -> m.Prompt | None:
        return self.prompt(f["prompt"]) if "prompt" in f else None

    def prompt(self, node: yaml.Node) -> m.Prompt:
        """``"text"`` (said in the default language), ``{say: text | {lang: text}}``,
        ``{file: sound | {lang: sound}}``."""
        pos = self.pos(node)
        if isinstance(node, yaml.ScalarNode):
            text = self.string(node)
            return m.Prompt({self.language: m.PromptVariant(self.sound_name(text, self.language), text)}, pos)
        f = self.mapping(node, "a prompt", {"say", "file"})
        if len(f) != 1:
            raise self.fail(node, "a prompt is either 'say' (text to speech) or 'file' (a sound file)")
        kind, value = next(iter(f.items()))
        if isinstance(value, yaml.ScalarNode):
            text = self.string(value)
            if kind == "file":
                return m.Prompt({}, pos, any=m.PromptVariant(text))
            return m.Prompt({self.language: m.PromptVariant(self.sound_name(text, self.language), text)}, pos)
        variants = {}
        for lang_node, text_node in self.pairs(value):
            language, text = self.string(lang_node), self.string(text_node)
            if kind == "file":
                variants[language] = m.PromptVariant(text)
            else:
                variants[language] = m.PromptVariant(self.sound_name(text, language), text)
        return m.Prompt(variants, pos)

    def target(self, node: yaml.Node) -> m.Target:
        """``node`` or ``flow.node``... a node of this flow; other flows are entered with goto."""
        return m.Target(self.string(node), self.pos(node))

    def mapping(self, node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in self.pairs(node, what):
            key = self.string(key_node)
            if key not in allowed:
                self.fail(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")
                continue
            if key in out:
                self.fail(key_node, f"key {key!r} given twice")
            out[key] = value_node
        return out

    def pairs(self, node: yaml.Node, what: str = "this") -> list[tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"expected a mapping for {what}")
        return list(node.value)

    def sequence(self, node: yaml.Node) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "expected a list")
        return list(node.value)

    def string(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            raise self.fail(node, "expected a text value")
        return str(node.value)

    def name(self, node: yaml.Node) -> str:
        text = self.string(node)
        if not _NAME.match(text):
            raise self.fail(node, f"{text!r} is not a valid name (letters, digits, _ and -)")
        return text

    def number(self, node: yaml.Node, low: float, high: float, *, whole: bool = False) -> float:
        text = self.string(node)
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise self.fail(node, f"{text!r} is not a {'whole ' if whole else ''}number") from None
        if not low <= value <= high:
            raise self.fail(node, f"{value} is out of range ({low}..{high})")
        return value

    def boolean(self, node: yaml.Node) -> bool:
        text = self.string(node).lower()
        if text not in ("true", "false", "yes", "no"):
            raise self.fail(node, f"{text!r} is not true or false")
        return text in ("true", "yes")


def parse_text(
    text: str, file: str = "<text>", sound_name: SoundNamer = default_sound_name
) -> tuple[m.FlowDef | None, list[m.Problem]]:
    """One flow from text (tests, the API): parse problems only; validate with the others."""
    reader = _Reader(file, sound_name)
    flow = reader.read_text(text, default_name=Path(file).name.split(".")[0] or "flow")
    return flow, reader.problems


def check(flows: Mapping[str, m.FlowDef]) -> list[m.Problem]:
    return ivr_check.validate(m.FlowSet(dict(flows)))
