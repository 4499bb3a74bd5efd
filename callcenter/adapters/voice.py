"""The voice adapter: Asterisk (AMI + FastAGI) in, core events out; voice commands carried out.

It owns the mapping between Asterisk's channels and our interactions:
- the caller's leg is known from the FastAGI request (``agi_uniqueid``);
- each agent leg is originated with ``ChannelId=<interaction>-<attempt>``, so its uniqueid is known
  before Asterisk creates it, and its Hangup maps back without guessing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from callcenter import metrics
from callcenter.adapters import ami_events
from callcenter.adapters.agi import AgiError, AgiHangup, AgiServer, AgiSession
from callcenter.adapters.ami import AmiClient, AmiError
from callcenter.adapters.call_control import AgentLeg, CallControl
from callcenter.aio import within
from callcenter.config import Settings
from callcenter.core import calls as cl
from callcenter.core import events as ev
from callcenter.core import ivr
from callcenter.core.commands import Announce, CancelDial, DialAgent, DialCustomer, ExitQueue
from callcenter.core.ivr_runner import FlowRunner
from callcenter.ivr import prompts

log = logging.getLogger(__name__)

# A number we may dial back: digits (optionally +), or a sandbox trunk user name.
_CALLBACK_NUMBER = re.compile(r"\+?[A-Za-z0-9._-]{1,32}")

Clock = Callable[[], float]

MAX_LOOKUP_BYTES = 256 * 1024
IDENTIFY_SECONDS = 1.0
_DIGITS = re.compile(r"[0-9*#]*")


def _known(value: str) -> str:
    return "" if value.strip().lower() == "unknown" else value


def _agi_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _speaks(action: ivr.Action) -> bool:
    return isinstance(action, (ivr.Play, ivr.GetDigit, ivr.CollectDigits))


def _var_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


@dataclass(frozen=True, slots=True)
class AsteriskSnapshot:
    """What Asterisk says is live right now (after a (re)connect)."""

    channels: frozenset[str]  # channel names
    uniqueids: frozenset[str]
    registered: frozenset[str]  # endpoint names with at least one contact
    endpoints: frozenset[str]  # every PJSIP endpoint Asterisk knows


class VoiceAdapter:
    def __init__(
        self,
        settings: Settings,
        submit: Callable[[ev.Event | cl.CallEvent], None],
        on_snapshot: Callable[[AsteriskSnapshot], None],
        flow_factory: Callable[[ev.CallArrived], ivr.Flow],
        clock: Clock = time.time,
        http: aiohttp.ClientSession | None = None,
        handle: Callable[[ev.Event], object] | None = None,
        record_base: Callable[[str], str | None] | None = None,
        identify_caller: Callable[[str, float], Awaitable[str | None]] | None = None,
    ) -> None:
        """``record_base``: for an interaction id, where Asterisk should record the call (a path
        without extension, as Asterisk sees it), or None not to record it."""
        self._settings = settings
        self._record_base = record_base
        self._identify_caller = identify_caller
        self._submit = submit
        # Like submit, but a refused event raises (the agent's phone then hears an error tone).
        self._handle = handle
        self._on_snapshot = on_snapshot
        self._flow_factory = flow_factory
        self._clock = clock
        self.ami = AmiClient(
            settings.asterisk,
            self._on_ami_event,
            self._reconcile,
            on_disconnected=lambda: metrics.AMI_CONNECTED.set(0),
        )
        self.agi = AgiServer(
            settings.agi.host,
            settings.agi.port,
            {"inbound": self._inbound, "agent-feature": self._agent_feature},
        )
        self._callers: dict[str, str] = {}  # caller uniqueid -> interaction id
        self._legs: dict[str, AgentLeg] = {}  # agent leg uniqueid -> leg
        # Callers taken over from before a restart: known by channel name until a reconcile
        # tells us their uniqueid.
        self._adopted: dict[str, str] = {}
        # Answered calls taken over from before a restart: interaction -> its agent. A reconcile
        # finds the agent's leg by its uniqueid (<interaction>-<attempt>) and whether the caller
        # is on hold (in cc-hold), so the panel's call controls work on them again.
        self._adopted_answered: dict[str, str] = {}
        # Callers in the IVR -> the hang-up Asterisk reported meanwhile (cause, by the system).
        self._in_ivr: dict[str, tuple[str, bool] | None] = {}
        self._late_identifications: set[asyncio.Task[str | None]] = set()  # over the bound, still running
        self._contacts: dict[str, set[str]] = {}  # AOR -> its registered contact URIs
        self._tasks: set[asyncio.Task[None]] = set()
        # Hold, transfers, consults, conferences: the core's call commands, carried out.
        self.calls = CallControl(settings, lambda: self.ami, self._legs, submit, clock, self._spawn)
        # The IVR's lookups to outside systems; ours to close unless it was given.
        self._http = http
        self._own_http = http is None

    async def start(self) -> None:
        if self._own_http:
            self._http = aiohttp.ClientSession(headers={"User-Agent": "callcenter-ivr"})
        await self.agi.start()
        await self.ami.start()

    async def stop(self) -> None:
        await self.ami.stop()
        await self.agi.stop()
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None
        pending = [*self._tasks, *self._late_identifications]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def adopt_callers(self, channels: dict[str, str], answered: dict[str, str] | None = None) -> None:
        """Track callers restored after a restart: ``{caller channel name: interaction id}``, and
        of those an agent was talking to, ``{interaction id: agent id}``."""
        self._adopted.update(channels)
        self._adopted_answered.update(answered or {})

    # -- commands ----------------------------------------------------------------------------------
    def execute(self, command: DialAgent | CancelDial) -> None:
        if isinstance(command, DialAgent):
            self._spawn(self._dial(command))
        else:
            self._spawn(self._cancel(command))

    async def _agent_feature(self, session: AgiSession) -> None:
        """An agent's phone dialled a feature code (*21 log in, *22 log out, *23 pause, *24
        resume): the agent is the one whose extension the calling endpoint is."""
        extension = session.channel.split("/", 1)[-1].rsplit("-", 1)[0]
        agent = next((a for a in self._settings.agents if a.extension == extension), None)
        code = session.headers.get("agi_arg_1", "")
        now = self._clock()
        event: ev.Event | None = None
        if agent is not None:
            moves: dict[str, ev.Event] = {
                "*21": ev.AgentLogin(agent.id, now),
                "*22": ev.AgentLogout(agent.id, now),
                "*23": ev.AgentPause(agent.id, "phone", now),
                "*24": ev.AgentResume(agent.id, now),
            }
            event = moves.get(code)
        sound = "beeperr"
        if event is not None and self._handle is not None:
            try:
                self._handle(event)
            except Exception as err:  # a move the agent's state does not allow: say so
                log.info(
                    "voice.feature_refused",
                    extra={"agent": agent.id if agent else None, "code": code, "why": str(err)},
                )
            else:
                sound = {"*21": "agent-loginok", "*22": "agent-loggedoff"}.get(code, "beep")
                log.info("voice.feature", extra={"agent": agent.id if agent else None, "code": code})
        else:
            log.warning("voice.feature_unknown", extra={"extension": extension, "code": code})
        try:
            await session.command(f'STREAM FILE {sound} ""')
        except (AgiHangup, AgiError):
            pass

    def execute_queue(self, command: DialCustomer | Announce | ExitQueue) -> None:
        """Queue features: callbacks are carried out; announcements and max-wait exits are not yet
        (the caller stays on hold; see docs/acd.md)."""
        if isinstance(command, DialCustomer):
            self._spawn(self._dial_customer(command))
        elif isinstance(command, Announce):
            self._spawn(self._announce(command))
        else:
            self._spawn(self._exit_queue(command))

    async def _redirect(self, channel: str, context: str, exten: str, variables: dict[str, str]) -> bool:
        """Set channel variables, then send the channel to ``context,exten,1``; False if it failed."""
        try:
            for name, value in variables.items():
                await self.ami.action(
                    {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
                )
            await self.ami.action(
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Context": context,
                    "Exten": exten,
                    "Priority": "1",
                }
            )
        except AmiError as err:
            log.info(
                "voice.redirect_failed", extra={"channel": channel, "context": context, "error": str(err)}
            )
            return False
        return True

    async def _announce(self, cmd: Announce) -> None:
        """Position and estimated wait (cc-announce), then back to waiting on hold."""
        minutes = max(1, -(-int(cmd.estimated_wait) // 60))
        if await self._redirect(
            cmd.caller_channel,
            "cc-announce",
            "s",
            {"CC_POSITION": str(cmd.position), "CC_WAIT_MINUTES": str(minutes)},
        ):
            log.info(
                "voice.announced",
                extra={"interaction": cmd.interaction_id, "position": cmd.position, "minutes": minutes},
            )

    async def _exit_queue(self, cmd: ExitQueue) -> None:
        """The queue's maximum wait: voicemail, a callback confirmation, or (another queue) nothing
        to do on Asterisk's side but say which queue the caller is in now."""
        if not cmd.caller_channel:
            return
        if cmd.kind == "queue":
            try:
                await self.ami.action(
                    {
                        "Action": "Setvar",
                        "Channel": cmd.caller_channel,
                        "Variable": "CC_QUEUE",
                        "Value": cmd.target or "",
                    }
                )
            except AmiError as err:
                log.info("voice.setvar_failed", extra={"interaction": cmd.interaction_id, "error": str(err)})
            return
        if cmd.kind == "callback":
            # The caller is hung up after the confirmation: that ends only their line, not the
            # callback (the engine keeps their place).
            for uid, interaction_id in list(self._callers.items()):
                if interaction_id == cmd.interaction_id:
                    self._caller_gone(uid, "hung up after the callback offer")
        mailbox = self._settings.acd.exit_mailbox
        if await self._redirect(cmd.caller_channel, "cc-exit", cmd.kind, {"CC_EXIT_MAILBOX": mailbox}):
            log.info("voice.queue_exit", extra={"interaction": cmd.interaction_id, "kind": cmd.kind})

    async def _dial_customer(self, cmd: DialCustomer) -> None:
        """Ring the reserved agent; when they answer, the dialplan (cc-callback) dials the customer
        and reports CCCallbackConnected / CCCallbackFailed as UserEvents."""
        customer = self._settings.acd.callback_dial.replace("{number}", cmd.number)
        log.info("voice.callback_dial", extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id})
        await self._originate_agent(
            f"{cmd.interaction_id}-cb{cmd.attempt}",
            cmd.interaction_id,
            cmd.agent_id,
            cmd.extension,
            context="cc-callback",
            exten="dial",
            caller_id=f"Callback <{cmd.number}>",
            ring_timeout=self._settings.acd.ring_timeout,
            variables=[f"CC_CUSTOMER_DIAL={customer}", f"CC_CUSTOMER_TIMEOUT={max(1, int(cmd.timeout))}"],
        )

    def _on_user_event(self, event: ami_events.UserEvent) -> None:
        h = event.headers
        interaction_id = h.get("InteractionId", "")
        now = self._clock()
        match event.name:
            case "CCCallbackRequested":
                number = h.get("Number", "")
                if not _CALLBACK_NUMBER.fullmatch(number):
                    log.warning(
                        "voice.callback_refused",
                        extra={"interaction": interaction_id, "why": "no usable caller number"},
                    )
                    return
                self._submit(ev.CallbackRequested(interaction_id, number, now))
                # The dialplan hangs the caller up after the confirmation: that is their choice.
                self._caller_gone(event.uniqueid, "hung up after asking for a callback")
            case "CCCallbackConnected":
                self._submit(ev.CallbackConnected(interaction_id, h.get("AgentId", ""), now))
            case "CCCallbackFailed":
                status = h.get("Status", "") or "no answer"
                self._submit(ev.CallbackFailed(interaction_id, h.get("AgentId", ""), status.lower(), now))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dial(self, cmd: DialAgent) -> None:
        log.info(
            "voice.dial_agent",
            extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id, "ext": cmd.extension},
        )
        await self._originate_agent(
            f"{cmd.interaction_id}-{cmd.attempt}",
            cmd.interaction_id,
            cmd.agent_id,
            cmd.extension,
            context="cc-agent",
            exten="bridge",
            caller_id=f"<{cmd.caller_id}>",
            ring_timeout=cmd.timeout,
            variables=[f"CC_CALLER_CHANNEL={cmd.caller_channel}"],
        )

    async def _originate_agent(
        self,
        leg_id: str,
        interaction_id: str,
        agent_id: str,
        extension: str,
        *,
        context: str,
        exten: str,
        caller_id: str,
        ring_timeout: float,
        variables: list[str],
    ) -> None:
        """Ring an agent's phone into ``context,exten,1`` (uniqueid ``leg_id``, known in advance)
        and report the result: AgentAnswered, or AgentDialFailed with the reason in words."""
        self._legs[leg_id] = AgentLeg(interaction_id, agent_id)
        base = self._record_base(interaction_id) if self._record_base is not None else None
        if base:
            variables = [*variables, f"CC_RECORD_BASE={base}"]
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": f"PJSIP/{extension}",
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(ring_timeout * 1000)),
            "ChannelId": leg_id,
            "CallerID": caller_id,
            "Variable": [f"CC_INTERACTION_ID={interaction_id}", f"CC_AGENT_ID={agent_id}", *variables],
        }
        try:
            result = await self.ami.action(fields, as_list=True, timeout=ring_timeout + 10)
        except AmiError as err:
            reason = str(err)
        else:
            final = result[-1] if isinstance(result, list) and result else result
            if str(final.get("Response", "")).lower() == "success":
                self._submit(ev.AgentAnswered(interaction_id, agent_id, self._clock()))
                return
            code = str(final.get("Reason", ""))
            reason = ami_events.ORIGINATE_REASONS.get(code, f"dial failed (reason {code or '?'})")
        leg = self._legs.get(leg_id)
        if leg is not None and leg.channel is None:
            self._legs.pop(leg_id)  # no channel was created: no Hangup will come to clear it
        log.warning(
            "voice.dial_failed",
            extra={"interaction": interaction_id, "agent": agent_id, "ext": extension, "reason": reason},
        )
        self._submit(ev.AgentDialFailed(interaction_id, agent_id, reason, self._clock()))

    async def _cancel(self, cmd: CancelDial) -> None:
        for leg in self._legs.values():
            if leg.interaction_id == cmd.interaction_id and leg.agent_id == cmd.agent_id:
                leg.cancelled = True
                if leg.channel is not None:
                    await self._hangup(leg.channel)

    async def _hangup(self, channel: str) -> None:
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiError as err:
            log.info("voice.hangup_failed", extra={"channel": channel, "error": str(err)})

    # -- FastAGI: the inbound call -----------------------------------------------------------------
    async def _inbound(self, session: AgiSession) -> None:
        interaction_id = uuid.uuid4().hex
        h = session.headers
        self._callers[session.uniqueid] = interaction_id
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
        self._submit(arrived)
        # While the IVR runs, the FastAGI session decides how the call ended (a hang-up during a
        # voicemail is a voicemail): AMI hang-up events for this caller wait until it is done.
        self._in_ivr[session.uniqueid] = None
        try:
            await self._ivr(session, interaction_id, arrived)
        finally:
            deferred = self._in_ivr.pop(session.uniqueid, None)
            if deferred is not None:
                self._caller_gone(session.uniqueid, deferred[0], system=deferred[1])

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

    async def _ivr(self, session: AgiSession, interaction_id: str, arrived: ev.CallArrived) -> None:
        flow: ivr.Flow | None = None
        try:
            await session.set_variable("CC_INTERACTION_ID", interaction_id)
            flow = self._flow_factory(arrived)
            await self._run_flow(session, interaction_id, flow)
        except AgiHangup:
            where = flow.hung_up() if isinstance(flow, FlowRunner) else ("", "")
            metrics.IVR_OUTCOMES.labels(flow=where[0], node=where[1], outcome="caller_hangup").inc()
            log.info(
                "voice.ivr_abandoned",
                extra={"interaction": interaction_id, "flow": where[0], "node": where[1]},
            )
            self._caller_gone(session.uniqueid, "caller hung up in IVR")
        except (AgiError, ivr.FlowError) as err:
            where = flow.position if isinstance(flow, FlowRunner) else ("", "")
            metrics.IVR_OUTCOMES.labels(flow=where[0], node=where[1], outcome="error").inc()
            log.error(
                "voice.ivr_error",
                extra={"interaction": interaction_id, "error": str(err), "flow": where[0], "node": where[1]},
            )
            self._submit(ev.IvrFinished(interaction_id, None, None, self._clock(), outcome="error"))

    async def _run_flow(self, session: AgiSession, interaction_id: str, flow: ivr.Flow) -> None:
        action = flow.start()
        language: str | None = None
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
                    await session.command(f'STREAM FILE {self._sound(prompt)} ""')
                    result = ivr.Done()
                case ivr.GetDigit(prompt=prompt, timeout=timeout):
                    answer = await session.command(
                        f"GET DATA {prompt} {int(timeout * 1000)} 1", timeout=timeout + 60
                    )
                    result = ivr.Digit(answer.result or None)
                case ivr.CollectDigits(prompt=prompt, max_digits=max_digits, timeout=timeout):
                    # GET DATA's timeout is per key; '#' ends the input and is not returned.
                    answer = await session.command(
                        f"GET DATA {self._sound(prompt)} {int(timeout * 1000)} {max_digits}",
                        timeout=timeout * (max_digits + 1) + 60,
                    )
                    if answer.result == "-1":
                        raise AgiHangup("GET DATA failed: the channel is gone")
                    result = ivr.Digits(answer.result if _DIGITS.fullmatch(answer.result) else "")
                case ivr.HttpLookup():
                    result = await self._http_lookup(interaction_id, action)
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
        self, session: AgiSession, interaction_id: str, flow: ivr.Flow, done: ivr.Finish
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

    async def _http_lookup(self, interaction_id: str, lookup: ivr.HttpLookup) -> ivr.HttpResult:
        """Every failure becomes a result the flow routes on (its failure path); never an exception."""
        if self._http is None:
            return ivr.HttpResult(None, None, "the HTTP client is not running")
        try:
            async with self._http.request(
                lookup.method,
                lookup.url,
                headers=dict(lookup.headers),
                json=dict(lookup.body) if lookup.body is not None else None,
                timeout=aiohttp.ClientTimeout(total=lookup.timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.content.read(MAX_LOOKUP_BYTES + 1)
                if len(raw) > MAX_LOOKUP_BYTES:
                    return ivr.HttpResult(None, None, "answer too large")
                status = response.status
        except TimeoutError:
            error = "timeout"
        except (aiohttp.ClientError, ValueError) as err:
            error = f"{type(err).__name__}: {err}"[:200]
        else:
            try:
                body = json.loads(raw) if raw.strip() else None
            except (ValueError, UnicodeDecodeError):
                if 200 <= status < 300:
                    return ivr.HttpResult(None, None, "the answer is not JSON")
                body = None
            return ivr.HttpResult(status, body)
        log.warning(
            "voice.ivr_lookup_failed",
            extra={"interaction": interaction_id, "url": lookup.url, "error": error},
        )
        return ivr.HttpResult(None, None, error)

    def _sound(self, name: str) -> str:
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

    # -- AMI events --------------------------------------------------------------------------------
    def _on_ami_event(self, event: ami_events.AmiEvent) -> None:
        match event:
            case ami_events.Newchannel(uniqueid=uid, channel=name) if uid in self._legs:
                leg = self._legs[uid]
                leg.channel = name
                if leg.cancelled:
                    self._spawn(self._hangup(name))
            case ami_events.HangupRequest(uniqueid=uid):
                # Raised only on the side whose person hung up, before any Hangup: it decides
                # "ended by". A Hangup with no HangupRequest before it was the system's doing.
                self._caller_gone(uid, "caller hung up")
                requested = self._legs.get(uid)
                if requested is not None and not requested.ended:
                    requested.ended = True
                    self._submit(ev.AgentHungUp(requested.interaction_id, requested.agent_id, self._clock()))
                    self.calls.leg_gone(requested)
            case ami_events.Hangup(uniqueid=uid):
                self._caller_gone(uid, event.cause_txt or f"cause {event.cause}", system=True)
                ended = self._legs.pop(uid, None)
                if ended is not None and not ended.ended:
                    self._submit(
                        ev.AgentHungUp(ended.interaction_id, ended.agent_id, self._clock(), system=True)
                    )
                    self.calls.leg_gone(ended)
            case ami_events.UserEvent():
                self._on_user_event(event)
            case ami_events.ContactStatus(aor=aor, registered=registered, uri=uri):
                # A phone is registered while its AOR has any contact. With remove_existing, a
                # re-registering phone's new contact may be reported before the old one's removal.
                contacts = self._contacts.setdefault(aor, set())
                before = bool(contacts)
                (contacts.add if registered else contacts.discard)(uri)
                if bool(contacts) != before or (registered and not before):
                    cls = ev.AgentRegistered if contacts else ev.AgentUnregistered
                    self._submit(cls(aor, self._clock()))
            case _:
                pass

    def _caller_gone(self, uniqueid: str, cause: str, *, system: bool = False) -> None:
        if uniqueid in self._in_ivr:
            if self._in_ivr[uniqueid] is None:  # the first word (HangupRequest) decides who hung up
                self._in_ivr[uniqueid] = (cause, system)
            return
        interaction_id = self._callers.pop(uniqueid, None)
        if interaction_id is not None:
            self._submit(ev.CallerHungUp(interaction_id, cause, self._clock(), system))
            self.calls.caller_gone(interaction_id)

    def _adopt_leg(self, uid: str, channel: str) -> None:
        """After a restart: a live channel whose uniqueid is ``<interaction>-<attempt>`` of an
        answered call we took over is that call's agent leg."""
        interaction_id, _, attempt = uid.rpartition("-")
        agent_id = self._adopted_answered.get(interaction_id)
        if agent_id is not None and attempt.isdigit() and uid not in self._legs:
            self._legs[uid] = AgentLeg(interaction_id, agent_id, channel)
            log.info("voice.leg_adopted", extra={"interaction": interaction_id, "agent": agent_id})

    async def _reconcile(self) -> None:
        """Rebuild our view from Asterisk after every (re)connect; never trust stale memory."""
        metrics.AMI_CONNECTED.set(1)
        channels = await self.ami.action({"Action": "CoreShowChannels"}, as_list=True)
        endpoints = await self.ami.action({"Action": "PJSIPShowEndpoints"}, as_list=True)
        names: set[str] = set()
        uniqueids: set[str] = set()
        held: dict[str, str] = {}  # adopted interaction -> its caller's channel, in cc-hold
        for message in channels if isinstance(channels, list) else []:
            if message.get("Event") == "CoreShowChannel":
                name, uid = str(message.get("Channel", "")), str(message.get("Uniqueid", ""))
                names.add(name)
                uniqueids.add(uid)
                if name in self._adopted:
                    self._callers[uid] = iid = self._adopted.pop(name)
                    if message.get("Context") == "cc-hold":
                        held[iid] = name
                self._adopt_leg(uid, name)
        for iid, caller in held.items():
            if self.calls.agent_channel(iid, self._adopted_answered.get(iid, "")) is not None:
                self.calls.found_on_hold(iid, caller)
        self._adopted.clear()
        self._adopted_answered.clear()
        registered: set[str] = set()
        known: set[str] = set()
        for message in endpoints if isinstance(endpoints, list) else []:
            if message.get("Event") == "EndpointList":
                known.add(str(message.get("ObjectName", "")))
                name = str(message.get("ObjectName", ""))
                contacts = {c.split("/", 1)[-1] for c in str(message.get("Contacts", "")).split(",") if c}
                self._contacts[name] = contacts
                if contacts:
                    registered.add(name)
        for uid in [u for u in self._callers if u not in uniqueids]:
            self._callers.pop(uid)
        for uid in [u for u in self._legs if u not in uniqueids]:
            self._legs.pop(uid)
        log.info(
            "voice.reconciled",
            extra={"channels": len(names), "registered": sorted(registered)},
        )
        self._on_snapshot(
            AsteriskSnapshot(frozenset(names), frozenset(uniqueids), frozenset(registered), frozenset(known))
        )
