"""Running a flow without Asterisk: scripted key presses, mocked HTTP lookups, a given clock.

Each key-press input is consumed by the next question the flow asks (menu, language choice, digit
collection): ``"1"``, ``"4729#"``; ``""`` is silence (the question times out); ``"hangup"`` is the
caller hanging up there. When the inputs run out the caller stays silent. On chat
(:func:`simulate_chat`) each input is the customer's next message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import phonenumbers

from callcenter.core.ivr import chat
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import FlowRunner, Step
from callcenter.core.outbound import callbacks
from callcenter.outbound.lists import zone_of

MAX_ACTIONS = 500
HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class HttpMock:
    url: str
    method: str = "GET"
    status: int | None = 200
    body: object = None
    error: str = ""  # set: the lookup fails this way (status None), e.g. "timeout"

    def answer(self) -> ivr.HttpResult:
        if self.error:
            return ivr.HttpResult(None, None, self.error)
        return ivr.HttpResult(self.status, self.body)


@dataclass(slots=True)
class Simulation:
    runner: FlowRunner
    lines: list[str] = field(default_factory=list)  # what happened, one line each
    finish: ivr.Finish | None = None
    dropped_at: tuple[str, str] | None = None  # (flow, node) where the caller hung up
    unused_inputs: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.dropped_at is not None:
            return "caller_hangup"
        return self.finish.outcome if self.finish else "unfinished"

    @property
    def language(self) -> str:
        return self.runner.language

    @property
    def variables(self) -> dict[str, str]:
        return self.runner.variables

    @property
    def path(self) -> list[str]:
        """The nodes visited, in order (repeats while re-asking collapsed)."""
        out: list[str] = []
        for step in self.runner.steps:
            if not out or out[-1] != step.node:
                out.append(step.node)
        return out


def simulate(
    flows: m.FlowSet,
    entry: str,
    *,
    now: datetime,
    caller: str = "",
    dialed: str = "",
    inputs: Sequence[str] = (),
    http: Sequence[HttpMock] = (),
    callback_refused: str = "",  # the callbacks service's refusal of schedule_callback ("": filed)
) -> Simulation:
    runner = FlowRunner(flows, entry, now=now, caller=caller, dialed=dialed)
    sim = Simulation(runner)
    pending = list(inputs)
    seen_steps = 0

    def note_steps() -> None:
        nonlocal seen_steps
        for step in runner.steps[seen_steps:]:
            sim.lines.append(f"  [{step}]")
        seen_steps = len(runner.steps)

    action = runner.start()
    for _ in range(MAX_ACTIONS):
        note_steps()
        result: ivr.Result
        match action:
            case ivr.Answer():
                sim.lines.append("answer")
                result = ivr.Done()
            case ivr.Play(prompt=prompt, text=text):
                sim.lines.append(f"play {prompt}" + (f"  “{text}”" if text else ""))
                result = ivr.Done()
            case ivr.GetDigit(prompt=prompt) | ivr.CollectDigits(prompt=prompt):
                text = action.text if isinstance(action, ivr.CollectDigits) else ""
                sim.lines.append(f"ask {prompt}" + (f"  “{text}”" if text else ""))
                pressed = pending.pop(0) if pending else ""
                if pressed == HANGUP:
                    sim.lines.append("caller hangs up")
                    sim.dropped_at = runner.hung_up()
                    break
                sim.lines.append(f"  caller presses {pressed!r}" if pressed else "  (no input: timeout)")
                result = ivr.Digits(pressed)
            case ivr.HttpLookup():
                result = _http(action, http, sim)
            case ivr.ScheduleCallback():
                result = _callback(action, now, callback_refused, sim)
            case ivr.Voicemail(mailbox=mailbox):
                sim.lines.append(f"voicemail {mailbox}")
                result = ivr.Done()
            case ivr.Finish():
                sim.finish = action
                where = f" to queue {action.queue}" if action.queue else ""
                sim.lines.append(f"finish: {action.outcome}{where}")
                break
        action = runner.next(result)
    note_steps()
    sim.unused_inputs = pending
    return sim


@dataclass(frozen=True, slots=True)
class KbMock:
    """The knowledge base's answer to a question that contains ``question`` (case ignored)."""

    question: str
    answer: str
    article: int | None = None


@dataclass(slots=True)
class ChatSimulation:
    """A chat flow run on scripted messages: what the bot sent, the steps, the end."""

    state: chat.ChatState | None = None
    lines: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    finish: ivr.Finish | None = None
    ticket: chat.OpenTicket | None = None
    unused_inputs: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return self.finish.outcome if self.finish else "unfinished"

    @property
    def language(self) -> str:
        return self.state.language if self.state else ""

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.state.variables) if self.state else {}

    @property
    def path(self) -> list[str]:
        out: list[str] = []
        for step in self.steps:
            if not out or out[-1] != step.node:
                out.append(step.node)
        return out


def simulate_chat(
    flows: m.FlowSet,
    entry: str,
    *,
    now: datetime,
    caller: str = "",
    inputs: Sequence[str] = (),
    http: Sequence[HttpMock] = (),
    kb: Sequence[KbMock] = (),
    language: str | None = None,
    agents_available: bool = True,
) -> ChatSimulation:
    """Each input is the customer's next message; when they run out the customer stays silent."""
    sim = ChatSimulation()
    pending = list(inputs)

    def take(turn: chat.Turn) -> None:
        sim.state = turn.state
        for step in turn.steps:
            sim.lines.append(f"  [{step}]")
        sim.steps += turn.steps
        for reply in turn.replies:
            sim.lines.append(f"bot: {reply}")
        sim.replies += turn.replies
        if turn.ticket is not None:
            sim.ticket = turn.ticket
            sim.lines.append(f"ticket {turn.ticket.ticket_type}: {turn.ticket.title}")
        if turn.finish is not None:
            sim.finish = turn.finish
            where = f" to queue {turn.finish.queue}" if turn.finish.queue else ""
            sim.lines.append(f"finish: {turn.finish.outcome}{where}")

    variables = {"caller": caller, "channel": "chat"}
    turn = chat.begin(flows, entry, now=now, variables=variables, language=language)
    take(turn)
    for _ in range(MAX_ACTIONS):
        if turn.finish is not None:
            break
        if turn.request is not None:
            if isinstance(turn.request, chat.AgentsQuery):
                sim.lines.append(f"agents on {turn.request.queue}: {'yes' if agents_available else 'none'}")
                answer: chat.Result = chat.AgentsResult(agents_available)
            else:
                answer = _outside(turn.request, http, kb, sim.lines)
            turn = chat.resume(flows, turn.state, answer, now=now)
        elif pending:
            said = pending.pop(0)
            sim.lines.append(f"customer: {said}")
            turn = chat.message(flows, turn.state, said, now=now)
        else:
            break
        take(turn)
    sim.unused_inputs = pending
    return sim


def _outside(
    request: ivr.HttpLookup | chat.KbQuery, http: Sequence[HttpMock], kb: Sequence[KbMock], lines: list[str]
) -> ivr.HttpResult | chat.KbResult:
    """The mocked answer to a chat flow's lookup or knowledge-base question."""
    if isinstance(request, ivr.HttpLookup):
        mock = next((h for h in http if h.url == request.url and h.method.upper() == request.method), None)
        answer = mock.answer() if mock else ivr.HttpResult(None, None, "no mock for this request")
        shown = f"status {answer.status}" if answer.status is not None else answer.error
        lines.append(f"http {request.method} {request.url} -> {shown}")
        return answer
    asked = request.question.casefold()
    found = next((k for k in kb if k.question.casefold() in asked), None)
    lines.append(f"knowledge base {request.question!r} -> {'answer' if found else 'no answer'}")
    return chat.KbResult(found.answer, found.article) if found else chat.KbResult(reason="nothing found")


def _http(action: ivr.HttpLookup, http: Sequence[HttpMock], sim: Simulation) -> ivr.HttpResult:
    result = _outside(action, http, (), sim.lines)
    assert isinstance(result, ivr.HttpResult)
    return result


def _callback(step: ivr.ScheduleCallback, now: datetime, refused: str, sim: Simulation) -> ivr.CallbackResult:
    result = _filed(step, now, refused)
    shown = f"filed for {result.local}" if result.filed else f"refused: {result.error}"
    sim.lines.append(f"callback {step.number} via {step.queue} -> {shown}")
    return result


def _filed(step: ivr.ScheduleCallback, now: datetime, refused: str) -> ivr.CallbackResult:
    if refused:
        return ivr.CallbackResult(False, error=refused)
    zone: tzinfo = ZoneInfo(step.timezone) if step.timezone else (now.tzinfo or UTC)
    try:
        zone = ZoneInfo(zone_of(step.number))
    except (ValueError, phonenumbers.NumberParseException):
        pass  # not one zone for the number: the step's zone, else the simulation's
    when = callbacks.picked(now.timestamp(), zone, minutes=step.minutes, day=step.day, at=step.at)
    return ivr.CallbackResult(True, local=callbacks.local(when.timestamp(), zone))
