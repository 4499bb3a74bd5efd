"""Runs a validated :class:`~callcenter.core.ivr.model.FlowSet` as a :class:`~callcenter.core.ivr.flow.Flow`.

Pure: given the result of the last action it returns the next one; it never awaits and never
reads a clock (``now``, an aware datetime, is given when the call starts and decides business
hours). Nodes that need no caller or outside system (set, branch, hours, goto) are passed through
at once; a guard ends the flow with outcome "error" if that ever loops (the validator refuses
such flows, the guard keeps a bug from hanging a call).

``steps`` records every node entered and what happened there, for simulation, flow tests and
"where did callers drop out"; ``position`` is the node the caller is at now.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m

MAX_PASS_THROUGH = 100  # instant nodes in a row before we call it a loop

Continuation = Callable[[ivr.Result], ivr.Action]
Asking = m.MenuNode | m.LanguageNode | m.CollectNode | m.ScheduleCallbackNode


@dataclass(frozen=True, slots=True)
class Step:
    flow: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.flow}.{self.node}: {self.detail}"


class FlowRunner:
    def __init__(
        self,
        flows: m.FlowSet,
        entry: str,
        *,
        now: datetime,
        caller: str = "",
        caller_name: str = "",
        dialed: str = "",
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        if entry not in flows.flows:
            raise ivr.FlowError(f"no flow named {entry!r}")
        self._flows = flows
        self._now = now
        self._flow = flows.flows[entry]
        self.language = self._flow.language
        self.variables: dict[str, str] = {"caller": caller, "caller_name": caller_name, "dialed": dialed}
        self.steps: list[Step] = []
        self.position: tuple[str, str] = (entry, self._flow.start.node)
        self.finished: ivr.Finish | None = None
        self._choice: str | None = None
        self._then: Continuation | None = None

    # -- the Flow protocol -------------------------------------------------------------------------
    def start(self) -> ivr.Action:
        return self._emit(ivr.Answer(), lambda _: self._goto(self._flow.start))

    def next(self, result: ivr.Result) -> ivr.Action:
        then = self._then
        if then is None:
            raise ivr.FlowError("flow already finished or not started")
        self._then = None
        return then(result)

    def opening(self) -> ivr.Opening:
        """The plays and the first question every call of the entry flow starts with, when its
        start reaches a question through play nodes only (anything else may differ per call)."""
        actions: list[ivr.Play | ivr.CollectDigits | ivr.GetDigit] = []
        target = self._flow.start
        for _ in range(MAX_PASS_THROUGH):
            if target.flow is not None and target.flow != self._flow.name:
                break
            match self._flow.nodes.get(target.node):
                case m.PlayNode(prompt=prompt, next=following):
                    variant = self._variant(prompt)
                    actions.append(ivr.Play(variant.sound, variant.text))
                    target = following
                case m.MenuNode() | m.LanguageNode() | m.CollectNode() as node:
                    actions.append(self._question(node))
                    return ivr.Opening(tuple(actions), self.language)
                case _:
                    break
        return ivr.Opening()

    def hung_up(self) -> tuple[str, str]:
        """The caller hung up: record it; returns where (flow, node). The flow is over."""
        self._then = None
        self._step("caller hung up")
        return self.position

    # -- moving ------------------------------------------------------------------------------------
    def _emit(self, action: ivr.Action, then: Continuation | None) -> ivr.Action:
        self._then = then
        if isinstance(action, ivr.Finish):
            self.finished = action
        return action

    def _step(self, detail: str) -> None:
        self.steps.append(Step(self._flow.name, self.position[1], detail))

    def _goto(self, target: m.Target) -> ivr.Action:
        for _ in range(MAX_PASS_THROUGH):
            if target.flow is not None and target.flow != self._flow.name:
                flow = self._flows.flows.get(target.flow)
                if flow is None:
                    return self._finish("error", f"no flow {target.flow!r}")
                self._flow = flow
                if not target.node:
                    target = flow.start
            node = self._flow.nodes.get(target.node)
            if node is None:
                return self._finish("error", f"no node {target.node!r}")
            self.position = (self._flow.name, node.name)
            following = self._instant(node)
            if isinstance(following, m.Target):
                target = following
                continue
            return self._enter(node)
        return self._finish("error", "the flow went round in a loop without asking the caller")

    def _instant(self, node: m.Node) -> m.Target | None:
        """The next target for nodes that need nothing from outside; None for the others."""
        match node:
            case m.SetNode(variables=variables, next=following):
                for name, template in variables.items():
                    self._set(name, m.render(template, self._vars()))
                self._step("set " + ", ".join(f"{k}={self._vars().get(k, '')}" for k in variables))
                return following
            case m.BranchNode(cases=cases, otherwise=otherwise):
                for index, case in enumerate(cases, 1):
                    if self._holds(case.when):
                        self._step(f"case {index} ({case.when.var} {case.when.op}) -> {case.goto.node}")
                        return case.goto
                self._step(f"else -> {otherwise.node}")
                return otherwise
            case m.HoursNode():
                is_open = self._open(node)
                self._step("open" if is_open else "closed")
                return node.open if is_open else node.closed
            case m.GotoNode(target=target):
                self._step(f"go to flow {target.flow}")
                return target
        return None

    def _enter(self, node: m.Node) -> ivr.Action:
        match node:
            case m.PlayNode(prompt=prompt, next=following):
                self._step("play")
                return self._play(prompt, lambda _: self._goto(following))
            case m.MenuNode() | m.LanguageNode() | m.CollectNode() | m.ScheduleCallbackNode():
                return self._ask(node, 1)
            case m.HttpNode():
                return self._http(node)
            case m.QueueNode(queue=queue, skills=skills, priority=priority, prompt=prompt):
                self._step(f"queue {queue}")
                finish = ivr.Finish(
                    self._choice, queue, priority, skills, self.language, self._data(), "queue"
                )
                return self._then_finish(prompt, finish)
            case m.VoicemailNode(mailbox=mailbox, prompt=prompt):
                self._step(f"voicemail {mailbox}")
                finish = self._final("voicemail")

                def leave_message(_: ivr.Result) -> ivr.Action:
                    return self._emit(
                        ivr.Voicemail(mailbox, greeting=prompt is None), lambda _: self._emit(finish, None)
                    )

                return self._play(prompt, leave_message) if prompt else leave_message(ivr.Done())
            case m.CallbackNode(queue=queue, number=number, prompt=prompt):
                self._set("callback_number", m.render(number, self._vars()))
                self._set("callback_queue", queue)
                self._step(f"callback {self.variables['callback_number']} via {queue}")
                return self._then_finish(prompt, self._final("callback"))
            case m.HangupNode(prompt=prompt):
                self._step("hang up")
                return self._then_finish(prompt, self._final("hangup"))
        return self._finish("error", f"cannot run node type {type(node).__name__}")

    # -- input nodes -------------------------------------------------------------------------------
    def _ask(self, node: Asking, attempt: int) -> ivr.Action:
        return self._emit(self._question(node), lambda result: self._answered(node, attempt, result))

    def _question(self, node: Asking) -> ivr.CollectDigits:
        variant = self._variant(node.prompt)
        max_digits = node.max_digits if isinstance(node, m.CollectNode) else 1
        return ivr.CollectDigits(variant.sound, max_digits, node.retry.timeout, variant.text)

    def _answered(self, node: Asking, attempt: int, result: ivr.Result) -> ivr.Action:
        if isinstance(result, ivr.Digit):
            result = ivr.Digits(result.digit or "")
        if not isinstance(result, ivr.Digits):
            raise ivr.FlowError(f"expected digits, got {result!r}")
        digits = result.digits.rstrip("#")
        retry = node.retry
        if not digits:
            self._step(f"no input (attempt {attempt} of {retry.attempts})")
            failed, prompt = retry.no_input, retry.no_input_prompt
        elif isinstance(node, m.ScheduleCallbackNode) and digits in node.choices:
            return self._schedule(node, digits)
        else:
            following = self._accept(node, digits)
            if following is not None:
                return self._goto(following)
            self._step(f"invalid input {digits!r} (attempt {attempt} of {retry.attempts})")
            failed, prompt = retry.invalid or retry.no_input, retry.invalid_prompt
        if attempt >= retry.attempts:
            if isinstance(node, m.MenuNode):
                self._choice = digits or None
            return self._goto(failed)
        if prompt is None:
            return self._ask(node, attempt + 1)
        return self._play(prompt, lambda _: self._ask(node, attempt + 1))

    def _accept(self, node: Asking, digits: str) -> m.Target | None:
        match node:
            case m.MenuNode(choices=choices) if digits in choices:
                self._choice = digits
                self._step(f"pressed {digits} -> {choices[digits].node}")
                return choices[digits]
            case m.LanguageNode(choices=choices, next=following) if digits in choices:
                self.language = choices[digits]
                self._step(f"pressed {digits}: language {self.language}")
                return following
            case m.CollectNode(variable=variable, next=following):
                long_enough = node.min_digits <= len(digits) <= node.max_digits
                if long_enough and (node.pattern is None or re.fullmatch(node.pattern, digits)):
                    self._set(variable, digits)
                    self._step(f"collected {variable}={digits}")
                    return following
        return None

    # -- a callback at the time the caller picks ----------------------------------------------------
    def _schedule(self, node: m.ScheduleCallbackNode, digits: str) -> ivr.Action:
        when = node.choices[digits]
        number = m.render(node.number, self._vars())
        self._step(f"pressed {digits}: callback for {number} via {node.queue}")
        action = ivr.ScheduleCallback(node.queue, number, when.minutes, when.day, when.at, node.timezone)
        return self._emit(action, lambda result: self._scheduled(node, result))

    def _scheduled(self, node: m.ScheduleCallbackNode, result: ivr.Result) -> ivr.Action:
        if not isinstance(result, ivr.CallbackResult):
            raise ivr.FlowError(f"expected a callback result, got {result!r}")
        if not result.filed:
            self._set("callback_error", result.error)
            self._step(f"callback refused: {result.error} -> {node.refused.node}")
            return self._goto(node.refused)
        self._set("callback_at", result.local)
        self._step(f"callback filed for {result.local}")
        return self._goto(node.next)

    # -- HTTP --------------------------------------------------------------------------------------
    def _http(self, node: m.HttpNode) -> ivr.Action:
        values = self._vars()
        url = m.render(node.url, values, url=True)
        headers = {k: m.render(v, values) for k, v in node.headers.items()}
        body = None if node.body is None else {k: m.render(v, values) for k, v in node.body.items()}
        self._step(f"{node.method} {url}")
        action = ivr.HttpLookup(node.method, url, node.timeout, headers, body)
        return self._emit(action, lambda result: self._http_answered(node, result))

    def _http_answered(self, node: m.HttpNode, result: ivr.Result) -> ivr.Action:
        if not isinstance(result, ivr.HttpResult):
            raise ivr.FlowError(f"expected an HTTP result, got {result!r}")
        if result.status is None or not 200 <= result.status < 300:
            why = result.error or f"status {result.status}"
            self._set("http_error", why)
            self._step(f"lookup failed: {why} -> {node.failure.node}")
            return self._goto(node.failure)
        for variable, path in node.result.items():
            found = lookup(result.body, path)
            if found is not None:
                self._set(variable, found)
        self._step("lookup ok: " + ", ".join(f"{v}={self.variables.get(v, '')}" for v in node.result))
        return self._goto(node.next)

    # -- helpers -----------------------------------------------------------------------------------
    def _play(self, prompt: m.Prompt | None, then: Continuation) -> ivr.Action:
        if prompt is None:
            return then(ivr.Done())
        variant = self._variant(prompt)
        return self._emit(ivr.Play(variant.sound, variant.text), then)

    def _then_finish(self, prompt: m.Prompt | None, finish: ivr.Finish) -> ivr.Action:
        return self._play(prompt, lambda _: self._emit(finish, None))

    def _final(self, outcome: str) -> ivr.Finish:
        return ivr.Finish(self._choice, None, language=self.language, data=self._data(), outcome=outcome)

    def _finish(self, outcome: str, why: str) -> ivr.Action:
        self._set("ivr_error", why)
        self._step(f"{outcome}: {why}")
        return self._emit(self._final(outcome), None)

    def _variant(self, prompt: m.Prompt) -> m.PromptVariant:
        variant = prompt.for_language(self.language) or prompt.for_language(self._flow.language)
        if variant is None:  # the validator refuses this; keep the call going regardless
            variant = next(iter(prompt.variants.values()), m.PromptVariant("silence/1"))
        return variant

    def _vars(self) -> dict[str, str]:
        return {**self.variables, "language": self.language}

    def _set(self, name: str, value: str) -> None:
        if name == "language":
            self.language = value
        else:
            self.variables[name] = value

    def _data(self) -> dict[str, str]:
        return {k: v for k, v in self.variables.items() if v != "" or k == "caller"}

    def _holds(self, cond: m.Condition) -> bool:
        return holds(cond, self._vars())

    def _open(self, node: m.HoursNode) -> bool:
        return is_open(node, self._now)


def holds(cond: m.Condition, values: Mapping[str, str]) -> bool:
    """Whether a branch's condition holds for these variables (voice and chat)."""
    value = values.get(cond.var)
    match cond.op:
        case "exists":
            return (value not in (None, "")) == cond.value
        case "equals":
            return value == cond.value
        case "not_equals":
            return value != cond.value
        case "in":
            return value in cond.value if isinstance(cond.value, tuple) else False
        case "starts_with":
            return isinstance(cond.value, str) and (value or "").startswith(cond.value)
        case "matches":
            return isinstance(cond.value, str) and re.fullmatch(cond.value, value or "") is not None
    return False


def is_open(node: m.HoursNode, now: datetime) -> bool:
    local = now.astimezone(node.zone)
    if local.date() in node.holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in node.week[local.weekday()])


def lookup(body: object, path: str) -> str | None:
    """``customer.vip`` in ``{"customer": {"vip": true}}`` -> "true"; lists by index."""
    node = body
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None or isinstance(node, (Mapping, list)):
        return None
    return str(node)
