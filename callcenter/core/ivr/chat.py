"""Runs a flow set on chat (web chat, SMS, WhatsApp...): the customer's messages instead of key presses.

Pure, like :mod:`callcenter.core.ivr.runner`, and over the same validated :class:`~m.FlowSet`, but
turn by turn with its whole state in a :class:`ChatState` (plain values, JSON both ways), so a
conversation's flow can be stored between messages and picked up by another node or after a
restart. Each call — :func:`begin`, :func:`message`, :func:`resume` — takes the state and what
happened and returns a :class:`Turn`: the new state, the messages to send, at most one request for
the adapter (an HTTP lookup, a knowledge-base answer) and, at the end, the ``Finish`` (a queue,
with what the flow collected in ``data``) and maybe a ticket to open.

Invariants:

- Asking for a person ("agent please", "转人工"...: a request, not any message with the word;
  :func:`callcenter.core.kb.person.asks_for_person`) wins in every message the flow reads, the
  conversation's first message included, before the flow sees it: it goes to the flow's ``agent`` target, or
  finishes with outcome ``agent`` and no queue (the conversation's own queue).
- A menu is answered by its key or by words (the choice's ``words``, the target node's name); a
  message matching two choices is not a choice. A ``collect`` takes digits (spaces and dashes
  dropped) or, with ``input: text``, the message itself, checked against ``pattern``.
- Nodes that only voice has never run here: the validator refuses them in chat flows, and a
  voicemail or callback goes to its ``chat`` target. A state that no longer fits the flows (a
  reload removed its node) finishes with outcome ``error`` and no queue: a person takes over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import MAX_PASS_THROUGH, Step, holds, is_open, lookup
from callcenter.core.kb.person import asks_for_person

TEXT, HTTP, KB, AGENTS, DONE = "text", "http", "kb", "agents", "done"  # what a state waits for
ABANDONED = "abandoned"  # the outcome of a flow whose customer stopped answering


@dataclass(frozen=True, slots=True)
class KbQuery:
    """Answer ``question`` from the public articles, in ``language``; comes back as :class:`KbResult`."""

    question: str
    language: str


@dataclass(frozen=True, slots=True)
class KbResult:
    """``answer`` empty: the knowledge base had no confident answer (``reason`` says why)."""

    answer: str = ""
    article: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OpenTicket:
    ticket_type: str
    title: str
    data: Mapping[str, str] = field(default_factory=dict)  # everything the flow collected
    fields: Mapping[str, str] = field(default_factory=dict)  # the ticket type's fields, filled


@dataclass(frozen=True, slots=True)
class AgentsQuery:
    """Could a person take the conversation now: an agent logged in to ``queue`` with ``skills``?
    Comes back as :class:`AgentsResult`."""

    queue: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentsResult:
    available: bool


Request = ivr.HttpLookup | KbQuery | AgentsQuery
Result = ivr.HttpResult | KbResult | AgentsResult


@dataclass(frozen=True, slots=True)
class ChatState:
    flow: str
    node: str
    language: str
    variables: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1
    choice: str | None = None
    waiting: str = TEXT
    asked_at: float | None = None  # when the flow last waited for the customer (epoch seconds)
    nudged: bool = False  # the idle nudge was sent since

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "node": self.node,
            "language": self.language,
            "variables": dict(self.variables),
            "attempt": self.attempt,
            "choice": self.choice,
            "waiting": self.waiting,
            "asked_at": self.asked_at,
            "nudged": self.nudged,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ChatState:
        """Raises ValueError on anything but what :meth:`to_json` wrote."""
        try:
            variables = raw["variables"]
            if not isinstance(variables, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
            ):
                raise ValueError("variables must map text to text")
            state = cls(
                str(raw["flow"]),
                str(raw["node"]),
                str(raw["language"]),
                dict(variables),
                int(raw["attempt"]),
                None if raw["choice"] is None else str(raw["choice"]),
                str(raw["waiting"]),
                None if raw.get("asked_at") is None else float(raw["asked_at"]),
                bool(raw.get("nudged", False)),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a chat flow state: {err}") from err
        if state.waiting not in (TEXT, HTTP, KB, AGENTS, DONE):
            raise ValueError(f"not a chat flow state: waiting {state.waiting!r}")
        return state


@dataclass(frozen=True, slots=True)
class Turn:
    state: ChatState
    replies: tuple[str, ...] = ()
    request: Request | None = None
    finish: ivr.Finish | None = None
    ticket: OpenTicket | None = None
    steps: tuple[Step, ...] = ()
    nudge: bool = False  # send the built-in "Are you still there?" (the flow's idle gives no prompt)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_of(text: str, languages: Sequence[str]) -> str | None:
    """The flow's language a customer with none known most likely writes in: a Chinese one of the
    flow's when the message has Han characters, else None (the flow's own). Only a guess for the
    first turn; a flow may still ask (a menu) and its choice wins."""
    if _HAN.search(text):
        return next((lang for lang in languages if lang.lower().startswith("zh")), None)
    return None


def begin(
    flows: m.FlowSet,
    entry: str,
    *,
    now: datetime,
    variables: Mapping[str, str] = {},
    language: str | None = None,
) -> Turn:
    """The flow's first turn: from its start up to its first question (or its end)."""
    flow = flows.flows.get(entry)
    if flow is None:
        raise ivr.FlowError(f"no flow named {entry!r}")
    if "chat" not in flow.channels:
        raise ivr.FlowError(f"flow {entry!r} does not run on chat (channels: {', '.join(flow.channels)})")
    chosen = language if language in flow.languages else flow.language
    state = ChatState(entry, flow.start.node, chosen or flow.language, dict(variables))
    run = _Run(flows, state, now)
    first = variables.get("first_message", "").strip()
    if asks_for_person(first):  # "agent please" as the first words
        return run.turn(run.person(flow))
    finish = run.goto(flow.start)
    node = run.node()
    if finish is None and run.waiting == TEXT and isinstance(node, m.MenuNode) and menu_choice(node, first):
        # The first words already answer the first menu ("I want to make a complaint"): the menu
        # is not put to the customer, its choice is taken (the greetings before it stay).
        del run.replies[run.asked_from :]
        run.step("the first message answers the menu")
        finish = run.answered(node, first)
    return run.turn(finish)


def message(flows: m.FlowSet, state: ChatState, text: str, *, now: datetime) -> Turn:
    """The customer wrote ``text``."""
    run = _Run(flows, state, now)
    run.variables["message"] = text.strip()
    if state.waiting == DONE:
        return run.turn(None)
    if asks_for_person(text):
        return run.turn(run.person(flows.flows.get(state.flow)))
    if state.waiting != TEXT:  # a lookup is under way: the message is kept in ``message`` only
        run.step("message while waiting for " + state.waiting)
        return run.turn(None)
    node = run.node()
    if not isinstance(node, (m.MenuNode, m.LanguageNode, m.CollectNode)):
        return run.turn(run.fail(f"node {state.node!r} does not take a message"))
    return run.turn(run.answered(node, text))


def resume(flows: m.FlowSet, state: ChatState, result: Result, *, now: datetime) -> Turn:
    """The adapter's answer to the turn's request."""
    run = _Run(flows, state, now)
    node = run.node()
    match node, result:
        case m.HttpNode(), ivr.HttpResult() if state.waiting == HTTP:
            return run.turn(run.http_answered(node, result))
        case m.KbNode(), KbResult() if state.waiting == KB:
            return run.turn(run.kb_answered(node, result))
        case m.AgentsNode(), AgentsResult() if state.waiting == AGENTS:
            run.request = None
            target = node.available if result.available else node.unavailable
            run.step(f"{'agents' if result.available else 'no agent'} on {node.queue} -> {target.node}")
            return run.turn(run.goto(target))
    raise ivr.FlowError(f"{type(result).__name__} does not answer {state.waiting!r} at {state.node!r}")


def idle_due(flows: m.FlowSet, state: ChatState) -> datetime | None:
    """When the customer's silence next needs something (the nudge, then the end); None: never
    (the flow has no ``idle``, or does not wait for the customer)."""
    flow = flows.flows.get(state.flow)
    if flow is None or flow.idle is None or state.waiting != TEXT or state.asked_at is None:
        return None
    wait = flow.idle.after + (flow.idle.then if state.nudged else 0.0)
    return datetime.fromtimestamp(state.asked_at + wait, UTC)


def idle(flows: m.FlowSet, state: ChatState, *, now: datetime) -> Turn:
    """The idle timer fired (the adapter's clock said :func:`idle_due` came). Early, or when the
    customer answered meanwhile, nothing happens; else the first time a nudge, the second the flow
    ends with outcome ``abandoned`` (to ``idle.queue`` when it names one, else no queue: closed)."""
    due = idle_due(flows, state)
    if due is None or now < due:
        return Turn(state)
    flow = flows.flows[state.flow]
    settings = flow.idle
    assert settings is not None
    run = _Run(flows, state, now)
    if not state.nudged:
        run.step("no answer: are you still there?")
        run.say(settings.prompt)
        turn = run.turn(None)
        return replace(turn, state=replace(state, nudged=True), nudge=settings.prompt is None)
    run.step("no answer: abandoned" + (f" -> queue {settings.queue}" if settings.queue else ""))
    run.variables["handoff_reason"] = "no answer"
    if settings.queue:
        run.waiting = DONE
        data = run.data()
        return run.turn(
            ivr.Finish(run.choice, settings.queue, language=run.language, data=data, outcome=ABANDONED)
        )
    return run.turn(run.final(ABANDONED))


class _Run:
    """One turn's work on a copy of the state; :meth:`turn` freezes it again."""

    def __init__(self, flows: m.FlowSet, state: ChatState, now: datetime) -> None:
        self.flows = flows
        self.now = now
        self.flow_name = state.flow
        self.node_name = state.node
        self.language = state.language
        self.variables = dict(state.variables)
        self.attempt = state.attempt
        self.choice = state.choice
        self.waiting = state.waiting
        self.asked_at = state.asked_at
        self.nudged = state.nudged
        self.replies: list[str] = []
        self.asked_from = 0
        self.steps: list[Step] = []
        self.request: Request | None = None
        self.ticket: OpenTicket | None = None

    def turn(self, finish: ivr.Finish | None) -> Turn:
        if finish is not None:
            self.waiting = DONE
        if self.waiting == TEXT:  # waits for the customer from now: the idle clock starts again
            self.asked_at, self.nudged = self.now.timestamp(), False
        state = ChatState(
            self.flow_name,
            self.node_name,
            self.language,
            self.variables,
            self.attempt,
            self.choice,
            self.waiting,
            self.asked_at,
            self.nudged,
        )
        return Turn(state, tuple(self.replies), self.request, finish, self.ticket, tuple(self.steps))

    def step(self, detail: str) -> None:
        self.steps.append(Step(self.flow_name, self.node_name, detail))

    def node(self) -> m.Node | None:
        flow = self.flows.flows.get(self.flow_name)
        return flow.nodes.get(self.node_name) if flow is not None else None

    # -- moving ------------------------------------------------------------------------------------
    def goto(self, target: m.Target) -> ivr.Finish | None:
        for _ in range(MAX_PASS_THROUGH):
            if target.flow is not None and target.flow != self.flow_name:
                other = self.flows.flows.get(target.flow)
                if other is None:
                    return self.fail(f"no flow {target.flow!r}")
                self.flow_name = other.name
                if not target.node:
                    target = other.start
            flow = self.flows.flows.get(self.flow_name)
            node = flow.nodes.get(target.node) if flow is not None else None
            if node is None:
                return self.fail(f"no node {target.node!r}")
            self.node_name = node.name
            following = self.instant(node)
            if isinstance(following, m.Target):
                target = following
                continue
            return self.enter(node)
        return self.fail("the flow went round in a loop without asking the customer")

    def instant(self, node: m.Node) -> m.Target | None:
        """The next target of nodes that wait for nothing; None for the others."""
        match node:
            case m.PlayNode(prompt=prompt, next=following):
                self.say(prompt)
                self.step("say")
                return following
            case m.SetNode(variables=variables, next=following):
                for name, template in variables.items():
                    self.set(name, m.render(template, self.values()))
                self.step("set " + ", ".join(f"{k}={self.values().get(k, '')}" for k in variables))
                return following
            case m.BranchNode(cases=cases, otherwise=otherwise):
                for index, case in enumerate(cases, 1):
                    if holds(case.when, self.values()):
                        self.step(f"case {index} ({case.when.var} {case.when.op}) -> {case.goto.node}")
                        return case.goto
                self.step(f"else -> {otherwise.node}")
                return otherwise
            case m.HoursNode():
                opened = is_open(node, self.now)
                self.step("open" if opened else "closed")
                return node.open if opened else node.closed
            case m.GotoNode(target=target):
                self.step(f"go to flow {target.flow}")
                return target
            case m.VoicemailNode(chat=chat) | m.CallbackNode(chat=chat) if chat is not None:
                self.step(f"voice only: on chat -> {chat.node}")
                return chat
        return None

    def enter(self, node: m.Node) -> ivr.Finish | None:
        match node:
            case m.MenuNode() | m.LanguageNode() | m.CollectNode():
                return self.ask(node, 1)
            case m.HttpNode():
                values = self.values()
                url = m.render(node.url, values, url=True)
                headers = {k: m.render(v, values) for k, v in node.headers.items()}
                body = None if node.body is None else {k: m.render(v, values) for k, v in node.body.items()}
                self.step(f"{node.method} {url}")
                self.request = ivr.HttpLookup(node.method, url, node.timeout, headers, body)
                self.waiting = HTTP
                return None
            case m.AgentsNode(queue=queue, skills=skills):
                self.step(f"agents on {queue}?")
                self.request = AgentsQuery(queue, skills)
                self.waiting = AGENTS
                return None
            case m.KbNode(question=question):
                asked = m.render(question, self.values())
                self.step(f"knowledge base: {asked!r}")
                self.request = KbQuery(asked, self.language)
                self.waiting = KB
                return None
            case m.QueueNode(queue=queue, skills=skills, priority=priority, prompt=prompt):
                self.step(f"queue {queue}")
                self.say(prompt)
                return ivr.Finish(self.choice, queue, priority, skills, self.language, self.data(), "queue")
            case m.TicketNode(ticket_type=ticket_type, title=title, prompt=prompt, fields=fields):
                self.step(f"ticket {ticket_type}")
                self.say(prompt)
                values = self.values()
                filled = {name: m.render(template, values) for name, template in fields.items()}
                self.ticket = OpenTicket(ticket_type, m.render(title, values), self.data(), filled)
                return self.final("ticket")
            case m.HangupNode(prompt=prompt):
                self.step("end")
                self.say(prompt)
                return self.final("hangup")
        return self.fail(f"cannot run node type {type(node).__name__} on chat")

    # -- questions ---------------------------------------------------------------------------------
    def ask(self, node: m.MenuNode | m.LanguageNode | m.CollectNode, attempt: int) -> ivr.Finish | None:
        self.attempt = attempt
        self.waiting = TEXT
        self.asked_from = len(self.replies)  # where the question's own words start
        self.say(node.prompt)
        return None  # the customer's next message answers

    def answered(self, node: m.MenuNode | m.LanguageNode | m.CollectNode, text: str) -> ivr.Finish | None:
        retry = node.retry
        said = text.strip()
        if not said:
            self.step(f"no input (attempt {self.attempt} of {retry.attempts})")
            failed, prompt = retry.no_input, retry.no_input_prompt
        else:
            following = self.accept(node, said)
            if following is not None:
                return self.goto(following)
            self.step(f"invalid input {said!r} (attempt {self.attempt} of {retry.attempts})")
            failed, prompt = retry.invalid or retry.no_input, retry.invalid_prompt
        if self.attempt >= retry.attempts:
            return self.goto(failed)
        self.say(prompt)
        return self.ask(node, self.attempt + 1)

    def accept(self, node: m.MenuNode | m.LanguageNode | m.CollectNode, text: str) -> m.Target | None:
        match node:
            case m.MenuNode(choices=choices):
                key = menu_choice(node, text)
                if key is None:
                    return None
                self.choice = key
                self.step(f"chose {key} -> {choices[key].node}")
                return choices[key]
            case m.LanguageNode(choices=choices, next=following):
                wanted = text.strip().rstrip(".").casefold()
                found = choices.get(wanted) or next(
                    (c for c in choices.values() if c.casefold() == wanted), None
                )
                if found is None:
                    return None
                self.language = found
                self.step(f"language {found}")
                return following
            case m.CollectNode(variable=variable, next=following):
                value = collected(node, text)
                if value is None:
                    return None
                self.set(variable, value)
                self.step(f"collected {variable}={value}")
                return following
        return None

    # -- outside answers ---------------------------------------------------------------------------
    def http_answered(self, node: m.HttpNode, result: ivr.HttpResult) -> ivr.Finish | None:
        self.request = None
        if result.status is None or not 200 <= result.status < 300:
            why = result.error or f"status {result.status}"
            self.set("http_error", why)
            self.step(f"lookup failed: {why} -> {node.failure.node}")
            return self.goto(node.failure)
        for variable, path in node.result.items():
            found = lookup(result.body, path)
            if found is not None:
                self.set(variable, found)
        self.step("lookup ok: " + ", ".join(f"{v}={self.variables.get(v, '')}" for v in node.result))
        return self.goto(node.next)

    def kb_answered(self, node: m.KbNode, result: KbResult) -> ivr.Finish | None:
        if not result.answer:
            self.set("kb_reason", result.reason or "no answer")
            self.step(f"no answer ({result.reason or 'no answer'}) -> {node.unanswered.node}")
            return self.goto(node.unanswered)
        self.replies.append(result.answer)
        if result.article is not None:
            self.set("kb_article", str(result.article))
        self.step(f"answered with article {result.article} -> {node.answered.node}")
        return self.goto(node.answered)

    # -- helpers -----------------------------------------------------------------------------------
    def say(self, prompt: m.Prompt | None) -> None:
        if prompt is None:
            return
        flow = self.flows.flows.get(self.flow_name)
        variant = prompt.for_language(self.language) or (
            prompt.for_language(flow.language) if flow is not None else None
        )
        if variant is not None and variant.text:
            self.replies.append(variant.text)

    def values(self) -> dict[str, str]:
        return {**self.variables, "language": self.language}

    def set(self, name: str, value: str) -> None:
        if name == "language":
            self.language = value
        else:
            self.variables[name] = value

    def data(self) -> dict[str, str]:
        return {k: v for k, v in self.variables.items() if v != ""}

    def final(self, outcome: str) -> ivr.Finish:
        return ivr.Finish(self.choice, None, language=self.language, data=self.data(), outcome=outcome)

    def person(self, flow: m.FlowDef | None) -> ivr.Finish | None:
        """The customer asked for a person: the flow's ``agent`` target, else the conversation's queue."""
        self.step("asked for a person")
        self.variables["handoff_reason"] = "asked for a person"
        if flow is not None and flow.agent is not None:
            return self.goto(flow.agent)
        return self.final("agent")

    def fail(self, why: str) -> ivr.Finish:
        self.set("ivr_error", why)
        self.step(f"error: {why}")
        return self.final("error")


# -- reading a message -----------------------------------------------------------------------------

_EDGE = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _normal(text: str) -> str:
    return " ".join(_EDGE.sub("", text).casefold().split())


def _says(text: str, phrase: str) -> bool:
    """Whether ``phrase`` is in ``text``: as whole words, or anywhere for Chinese, Japanese, Korean."""
    phrase = _normal(phrase)
    if not phrase:
        return False
    if _CJK.search(phrase):
        return phrase in text
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def menu_choice(node: m.MenuNode, text: str) -> str | None:
    """The key a message picks: the key itself, or words of exactly one choice."""
    said = _normal(text)
    if said in node.choices:
        return said
    picked = {
        key
        for key, target in node.choices.items()
        if any(
            _says(said, w)
            for w in (*node.words.get(key, ()), target.node.replace("_", " ").replace("-", " "))
        )
    }
    return picked.pop() if len(picked) == 1 else None


def collected(node: m.CollectNode, text: str) -> str | None:
    """The value a ``collect`` takes from a message, or None when it does not fit."""
    if node.text:
        value = text.strip()
        if not 1 <= len(value) <= node.max_length:
            return None
    else:
        value = re.sub(r"[\s\-.()]", "", text).rstrip("#")
        if not re.fullmatch(r"[0-9*]+", value) or not node.min_digits <= len(value) <= node.max_digits:
            return None
    if node.pattern is not None and re.fullmatch(node.pattern, value) is None:
        return None
    return value
