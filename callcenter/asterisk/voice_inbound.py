"""Inbound calls over FastAGI: a new caller becomes an interaction, then runs its IVR flow.

``_run_flow`` pumps a pure :class:`~callcenter.core.ivr.flow.Flow` (the httpcore way around an h11-style
core): each action the flow returns is carried out on the AGI session, and its result is fed back.
While the flow runs, the AGI session decides how the call ended (a hang-up during a voicemail is a
voicemail), so AMI hang-up events for that caller are held back (:meth:`InboundCalls.hold_back`).
Also the agents' feature codes (``*21``..``*24``), which arrive the same way.

The opening menu: the flows' :class:`~callcenter.core.ivr.flow.Opening` is published to Asterisk as
the global variable ``CC_OPENING`` (``digits|timeout|language|sound&sound``); the dialplan plays it
with ``Read()`` before the FastAGI session starts and hands over what it played and the keys
pressed (``agi_arg_1``..``3``). ``_run_flow`` then skips the actions the dialplan carried out and
feeds the keys to the flow as the answer to its first question, so nothing is said twice and no
key is lost, however late the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from callcenter import metrics
from callcenter.aio import within
from callcenter.asterisk.agi import AgiChannel, AgiError, AgiHangup
from callcenter.asterisk.voice_state import VoiceState
from callcenter.core import events as ev
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr.runner import FlowRunner
from callcenter.ivr import http as ivr_http
from callcenter.ivr import prompts
from callcenter.settings import Settings

log = logging.getLogger("callcenter.asterisk.voice")

IDENTIFY_SECONDS = 1.0
_DIGITS = re.compile(r"[0-9*#]*")
_SOUND = re.compile(r"[A-Za-z0-9_./-]+")  # what the dialplan's Read() and the AGI arguments carry
OPENING_VARIABLE = "CC_OPENING"


def _known(value: str) -> str:
    return "" if value.strip().lower() == "unknown" else value


def _agi_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _speaks(action: ivr.Action) -> bool:
    return isinstance(action, (ivr.Play, ivr.GetDigit, ivr.CollectDigits))


def _var_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


@dataclass(slots=True)
class _Early:
    """What the dialplan played before the session started (``CC_OPENING``) and what it heard."""

    sounds: list[str]
    max_digits: str
    timeout: str
    language: str | None
    digits: str
    status: str  # Read()'s READSTATUS: OK, TIMEOUT, HANGUP, ERROR...

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> _Early | None:
        fields = headers.get("agi_arg_1", "").split("|")
        if len(fields) != 4 or not fields[3]:
            return None
        max_digits, timeout, language, sounds = fields
        digits = headers.get("agi_arg_2", "")
        status = headers.get("agi_arg_3", "")
        return cls(sounds.split("&"), max_digits, timeout, language or None, digits, status)


class InboundCalls:
    def __init__(
        self,
        settings: Settings,
        state: VoiceState,
        submit: Callable[[ev.Event], None],
        clock: Callable[[], float],
        flow_factory: Callable[[ev.CallArrived], ivr.Flow],
        caller_gone: Callable[[str, str, bool], None],
        handle: Callable[[ev.Event], object] | None = None,
        identify_caller: Callable[[str, float], Awaitable[str | None]] | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        opening: Callable[[], ivr.Opening] = ivr.Opening,
    ) -> None:
        """``caller_gone(uniqueid, cause, system)``: the caller's line ended. ``handle``: like
        ``submit``, but a refused event raises (the agent's phone then hears an error tone).
        ``new_id``: a new interaction's id (a recorded session's ids, when replaying).
        ``opening``: what the current flows start with (published to the dialplan)."""
        self._settings = settings
        # The agent whose phone an extension is (feature codes). The composition root points it at
        # the engine's roster, which follows agents added and removed at runtime.
        self.agent_of: Callable[[str], str | None] = lambda ext: next(
            (a.id for a in settings.agents if a.extension == ext), None
        )
        self._state = state
        self._submit = submit
        self._clock = clock
        self._flow_factory = flow_factory
        self._caller_gone = caller_gone
        self._handle = handle
        self._identify_caller = identify_caller
        self._new_id = new_id
        self._opening = opening
        self.published_opening: str | None = None  # CC_OPENING as last set in Asterisk
        self.on_opening_changed: Callable[[], None] | None = None
        # Callers in the IVR -> the hang-up Asterisk reported meanwhile (cause, by the system).
        self._in_ivr: dict[str, tuple[str, bool] | None] = {}
        self._late_identifications: set[asyncio.Task[str | None]] = set()  # over the bound, still running
        self.http: aiohttp.ClientSession | None = None  # the IVR's lookups to outside systems
        # Whether callers get the post-call survey (CC_SURVEY on the channel: callcenter/surveys/ivr.py).
        self.survey_wanted: Callable[[], bool] | None = None
        # The IVR's schedule_callback step: the callbacks service (outbound/callbacks.py), set by
        # the composition root; None: every such step is refused ("no callbacks service").
        self.schedule_callback: Callable[[ivr.ScheduleCallback], Awaitable[ivr.CallbackResult]] | None = None

    @property
    def routes(self) -> dict[str, Callable[[AgiChannel], Awaitable[None]]]:
        """The FastAGI routes of the dialplan (``agi://host:port/<route>``)."""
        return {"inbound": self.inbound, "agent-feature": self.agent_feature}

    def hold_back(self, uniqueid: str, cause: str, system: bool) -> bool:
        """A caller's hang-up seen on AMI: kept until its IVR finishes (True), else not ours."""
        if uniqueid not in self._in_ivr:
            return False
        if self._in_ivr[uniqueid] is None:  # the first word (HangupRequest) decides who hung up
            self._in_ivr[uniqueid] = (cause, system)
        return True

    async def stop(self) -> None:
        pending = list(self._late_identifications)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def agent_feature(self, session: AgiChannel) -> None:
        """An agent's phone dialled a feature code (*21 log in, *22 log out, *23 pause, *24
        resume): the agent is the one whose extension the calling endpoint is."""
        extension = session.channel.split("/", 1)[-1].rsplit("-", 1)[0]
        agent_id = self.agent_of(extension)
        code = session.headers.get("agi_arg_1", "")
        now = self._clock()
        event: ev.Event | None = None
        if agent_id is not None:
            moves: dict[str, ev.Event] = {
                "*21": ev.AgentLogin(agent_id, now),
                "*22": ev.AgentLogout(agent_id, now),
                "*23": ev.AgentPause(agent_id, "phone", now),
                "*24": ev.AgentResume(agent_id, now),
            }
            event = moves.get(code)
        sound = "beeperr"
        if event is not None and self._handle is not None:
            try:
                self._handle(event)
            except Exception as err:  # a move the agent's state does not allow: say so
                log.info(
                    "voice.feature_refused",
                    extra={"agent": agent_id, "code": code, "why": str(err)},
                )
            else:
                sound = {"*21": "agent-loginok", "*22": "agent-loggedoff"}.get(code, "beep")
                log.info("voice.feature", extra={"agent": agent_id, "code": code})
        else:
            log.warning("voice.feature_unknown", extra={"extension": extension, "code": code})
        try:
            await session.command(f'STREAM FILE {sound} ""')
        except (AgiHangup, AgiError):
            pass

    def opening_text(self) -> str:
        """``CC_OPENING`` for the current flows: ``digits|timeout|language|sound&sound``; empty
        (no opening menu: the server plays everything) when the flows start otherwise."""
        opening = self._opening()
        if not opening.actions:
            return ""
        question = opening.actions[-1]
        if not isinstance(question, (ivr.GetDigit, ivr.CollectDigits)):
            return ""
        sounds = [self._asterisk_sound(action) for action in opening.actions]
        if not all(_SOUND.fullmatch(sound) for sound in sounds):
            return ""  # a character the dialplan would read as a separator: not worth the risk
        digits = question.max_digits if isinstance(question, ivr.CollectDigits) else 1
        return f"{digits}|{question.timeout:g}|{opening.language or ''}|{'&'.join(sounds)}"

    def opening_changed(self) -> bool:
        return self.opening_text() != self.published_opening

    async def inbound(self, session: AgiChannel) -> None:
        if self.on_opening_changed is not None and self.opening_changed():
            self.on_opening_changed()
        # A caller already known here came back from the IVR of a node that died (the dialplan
        # tries the next node, docs/cluster.md): the interaction restored from the database goes on.
        known = self._state.callers.get(session.uniqueid)
        interaction_id = known if known is not None else self._new_id()
        h = session.headers
        self._state.callers[session.uniqueid] = interaction_id
        number, now = h.get("agi_callerid", "unknown"), self._clock()
        arrived = ev.CallArrived(
            interaction_id=interaction_id,
            caller_number=number,
            # Asterisk says "unknown" when the caller sent no name (and no number).
            caller_name=_known(h.get("agi_calleridname", "")),
            dialed_number=h.get("agi_extension", ""),
            caller_channel=session.channel,
            at=now,
            customer_id=await self._customer_of(interaction_id, number, now),
        )
        if known is None:
            self._submit(arrived)
        # While the IVR runs, the FastAGI session decides how the call ended (a hang-up during a
        # voicemail is a voicemail): AMI hang-up events for this caller wait until it is done.
        self._in_ivr[session.uniqueid] = None
        try:
            await self._ivr(session, interaction_id, arrived)
        finally:
            deferred = self._in_ivr.pop(session.uniqueid, None)
            if deferred is not None:
                self._caller_gone(session.uniqueid, deferred[0], deferred[1])

    async def _customer_of(self, interaction_id: str, number: str, at: float) -> str | None:
        """The caller's customer record (screen-pop, routing by VIP/language/line); never holds
        the call up for long: unknown after a second."""
        if self._identify_caller is None:
            return None
        task = asyncio.ensure_future(self._identify_caller(number, at))
        try:
            # Shielded: past the bound the call goes on, and the lookup finishes on its own (the
            # customer record it may create is stored; cancelling it would tear its transaction).
            return await within(asyncio.shield(task), IDENTIFY_SECONDS)
        except Exception as err:  # the call goes on without it
            log.warning(
                "voice.caller_not_identified",
                extra={"interaction": interaction_id, "error": type(err).__name__},
            )
            if not task.done():
                self._late_identifications.add(task)
                task.add_done_callback(self._late_identification_done)
            return None

    def _late_identification_done(self, task: asyncio.Task[str | None]) -> None:
        self._late_identifications.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("voice.late_identification_failed", extra={"error": type(task.exception()).__name__})

    async def _ivr(self, session: AgiChannel, interaction_id: str, arrived: ev.CallArrived) -> None:
        flow: ivr.Flow | None = None
        try:
            flow = self._flow_factory(arrived)
            await session.set_variable("CC_INTERACTION_ID", interaction_id)
            if self.survey_wanted is not None and self.survey_wanted():
                await session.set_variable("CC_SURVEY", "1")
            await self._run_flow(session, interaction_id, flow)
            await self._done(session)
        except AgiHangup:
            where = flow.hung_up() if isinstance(flow, FlowRunner) else ("", "")
            metrics.IVR_OUTCOMES.labels(flow=where[0], node=where[1], outcome="caller_hangup").inc()
            log.info(
                "voice.ivr_abandoned",
                extra={"interaction": interaction_id, "flow": where[0], "node": where[1]},
            )
            self._caller_gone(session.uniqueid, "caller hung up in IVR", False)
        except (AgiError, ivr.FlowError) as err:
            where = flow.position if isinstance(flow, FlowRunner) else ("", "")
            metrics.IVR_OUTCOMES.labels(flow=where[0], node=where[1], outcome="error").inc()
            log.error(
                "voice.ivr_error",
                extra={"interaction": interaction_id, "error": str(err), "flow": where[0], "node": where[1]},
            )
            self._submit(ev.IvrFinished(interaction_id, None, None, self._clock(), outcome="error"))
            await self._done(session)

    async def _done(self, session: AgiChannel) -> None:
        """Several nodes (``agi.nodes``): tell the dialplan the session ended here, not with its
        node — without CC_IVR_DONE it tries the next node (a FastAGI server that dies mid-session
        still ends it with AGISTATUS=SUCCESS). One node: nothing to tell (and nothing sent)."""
        if not self._settings.agi.nodes:
            return
        with contextlib.suppress(AgiError):  # the caller hung up meanwhile: nothing to tell
            await session.set_variable("CC_IVR_DONE", "1")

    def _asterisk_sound(self, action: ivr.Play | ivr.GetDigit | ivr.CollectDigits) -> str:
        """The sound Asterisk plays for a speaking action (as ``_run_flow`` sends it)."""
        return action.prompt if isinstance(action, ivr.GetDigit) else self.sound(action.prompt)

    def _early_result(self, early: _Early, action: ivr.Action) -> ivr.Result | None:
        """The result of ``action`` if the dialplan carried it out already (the opening menu);
        None when the flow went elsewhere (the opening changed since the call began)."""
        match action:
            case ivr.Answer():
                return ivr.Done()
            case ivr.Play() if early.sounds[:-1] and early.sounds[0] == self._asterisk_sound(action):
                early.sounds.pop(0)
                return ivr.Done()
            case ivr.GetDigit() | ivr.CollectDigits() if early.sounds == [self._asterisk_sound(action)]:
                max_digits = action.max_digits if isinstance(action, ivr.CollectDigits) else 1
                if early.max_digits != str(max_digits) or early.timeout != f"{action.timeout:g}":
                    return None
                if early.status == "HANGUP":
                    raise AgiHangup("the caller hung up during the opening menu")
                if early.status not in ("OK", "TIMEOUT"):
                    return None
                digits = early.digits if _DIGITS.fullmatch(early.digits) else ""
                if isinstance(action, ivr.GetDigit):
                    return ivr.Digit(digits[:1] or None)
                return ivr.Digits(digits)
        return None

    def _after_opening(self, flow: ivr.Flow, early: _Early | None, interaction_id: str) -> ivr.Action:
        """Start the flow and feed it what the dialplan's opening already did (prompts played, the
        caller's keys); the first action the server must carry out itself."""
        action = flow.start()
        while early is not None:
            answered = self._early_result(early, action)
            if answered is None:
                break  # the flow went elsewhere: carried out as usual from here
            action = flow.next(answered)
            if isinstance(answered, (ivr.Digit, ivr.Digits)):
                # The opening is over: the flow goes on from its answer.
                pressed = bool(answered.digit if isinstance(answered, ivr.Digit) else answered.digits)
                log.info("voice.ivr_opening", extra={"interaction": interaction_id, "pressed": pressed})
                break
        return action

    async def _run_flow(self, session: AgiChannel, interaction_id: str, flow: ivr.Flow) -> None:
        early = _Early.of(session.headers)
        action = self._after_opening(flow, early, interaction_id)
        # The dialplan set the opening's language before playing it.
        language: str | None = early.language if early is not None else None
        while True:
            result: ivr.Result
            if isinstance(flow, FlowRunner) and flow.language != language and _speaks(action):
                # Asterisk looks for sound files in the channel language's folder first.
                language = flow.language
                await session.set_variable("CHANNEL(language)", language)
            match action:
                case ivr.Answer():
                    await session.command("ANSWER")
                    result = ivr.Done()
                case ivr.Play(prompt=prompt):
                    await session.command(f'STREAM FILE {self.sound(prompt)} ""')
                    result = ivr.Done()
                case ivr.GetDigit(prompt=prompt, timeout=timeout):
                    answer = await session.command(
                        f"GET DATA {prompt} {int(timeout * 1000)} 1", timeout=timeout + 60
                    )
                    result = ivr.Digit(answer.result or None)
                case ivr.CollectDigits(prompt=prompt, max_digits=max_digits, timeout=timeout):
                    # GET DATA's timeout is per key; '#' ends the input and is not returned.
                    answer = await session.command(
                        f"GET DATA {self.sound(prompt)} {int(timeout * 1000)} {max_digits}",
                        timeout=timeout * (max_digits + 1) + 60,
                    )
                    if answer.result == "-1":
                        raise AgiHangup("GET DATA failed: the channel is gone")
                    result = ivr.Digits(answer.result if _DIGITS.fullmatch(answer.result) else "")
                case ivr.HttpLookup():
                    result = await self.http_lookup(interaction_id, action)
                case ivr.ScheduleCallback():
                    if self.schedule_callback is None:
                        result = ivr.CallbackResult(False, error="no callbacks service")
                    else:
                        result = await self.schedule_callback(action)
                case ivr.Voicemail(mailbox=mailbox, greeting=greeting):
                    # u: Asterisk's "unavailable" greeting; s: only the beep (the flow greeted).
                    option = "u" if greeting else "s"
                    try:
                        await session.command(f'EXEC VoiceMail "{_agi_quote(mailbox)},{option}"', timeout=600)
                    except AgiHangup:
                        # Hanging up is how most callers end a message: the voicemail is done.
                        done = flow.next(ivr.Done())
                        if not isinstance(done, ivr.Finish):
                            raise
                        self._report_finish(interaction_id, flow, done)
                        return
                    result = ivr.Done()
                case ivr.Finish():
                    await self._finish(session, interaction_id, flow, action)
                    return
            action = flow.next(result)

    async def _finish(
        self, session: AgiChannel, interaction_id: str, flow: ivr.Flow, done: ivr.Finish
    ) -> None:
        """Tell Asterisk (channel variables, for the dialplan and the agent's screen) and the engine."""
        if done.queue is not None:
            await session.set_variable("CC_QUEUE", done.queue)
        if done.skills:
            await session.set_variable("CC_SKILLS", ",".join(done.skills))
        if done.language:
            await session.set_variable("CHANNEL(language)", done.language)
        for name, value in done.data.items():
            await session.set_variable(f"CC_VAR_{_var_name(name)}", value)
        self._report_finish(interaction_id, flow, done)

    def _report_finish(self, interaction_id: str, flow: ivr.Flow, done: ivr.Finish) -> None:
        where = flow.position if isinstance(flow, FlowRunner) else ("", "")
        outcome = done.outcome or ("queue" if done.queue else "no_input")
        metrics.IVR_OUTCOMES.labels(flow=where[0], node=where[1], outcome=outcome).inc()
        log.info(
            "voice.ivr_finished",
            extra={
                "interaction": interaction_id,
                "choice": done.choice,
                "queue": done.queue,
                "outcome": outcome,
                "flow": where[0],
                "node": where[1],
            },
        )
        self._submit(
            ev.IvrFinished(
                interaction_id,
                done.choice,
                done.queue,
                self._clock(),
                done.priority,
                skills=done.skills,
                language=done.language,
                data=dict(done.data),
                outcome=done.outcome,
            )
        )

    async def http_lookup(self, interaction_id: str, lookup: ivr.HttpLookup) -> ivr.HttpResult:
        """Every failure becomes a result the flow routes on (its failure path); never an exception."""
        return await ivr_http.http_lookup(self.http, interaction_id, lookup)

    def sound(self, name: str) -> str:
        """Our prompts are played by absolute path (Asterisk adds the extension); others as named."""
        ivr_settings = self._settings.ivr
        found = prompts.find(name, [ivr_settings.prompts_dir])
        if found is None:
            return name
        path = found.resolve().with_suffix("")
        if ivr_settings.asterisk_prompts_dir is None:
            return str(path)
        relative = path.relative_to(ivr_settings.prompts_dir.resolve())
        return str(ivr_settings.asterisk_prompts_dir / relative.as_posix())
