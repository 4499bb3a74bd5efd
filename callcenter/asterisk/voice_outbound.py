"""Campaign calls placed on Asterisk: the dialler's ``DialDecided`` carried out, and how each
attempt ended told back to it (``AttemptEnded``, then ``CallHandled`` for a connected call).

The path of one call:

1. ``place``: AMI Originate of the number (``outbound.dial``) with the campaign's caller id and
   ring timeout, into ``cc-outbound,answered``; the channel's uniqueid is ours (``ob-<hex>``), so
   every later fact maps back to the attempt. Not answered: the OriginateResponse's reason is the
   outcome (busy, no answer, failed).
2. Answered: the dialplan opens FastAGI ``outbound`` (:meth:`OutboundCalls.answered`). The call
   enters the ACD as an inbound caller does once its IVR is over (``CallArrived``, then
   ``IvrFinished`` with the campaign's queue): **the engine picks the agent**, and the dialplan
   sends the customer to ``cc-wait``, where the agent's leg bridges it.
   With answering-machine detection on (the campaign's ``amd``), the dialplan runs ``AMD()``
   first; a MACHINE verdict (FastAGI's first argument) is reported as ``machine``, nothing is
   queued, and the campaign's machine message is left or not (``on_machine``).
3. No agent free: the engine offered the call to no one in the very ``handle`` that queued it (it
   offers at once when a qualified, available, registered agent exists). Then ``OutboundAbandoned``
   takes it out of line, the dialplan plays the campaign's message (within the FastAGI round trip
   of the answer: no wait on anything else) and hangs up; the attempt is ``abandoned``.
4. The engine's commands say the rest (:meth:`on_command`, a listener of the service): the agent
   answered (``Answered``: connected), the call ended (talk time for the pacing), or it ended with
   no agent ever answering (the customer hung up while an agent's phone rang: abandoned).

Invariant: an attempt is reported to the dialler once (``_Placed.reported``), its talk time at most
once after that. Runs on the routing owner only, with the dialler. A call answered after the owner
changed reaches the new owner's FastAGI (``cc-agi-nodes``): its campaign and queue travel as
channel variables, so it still enters the queue there; only its result is not reported (the new
owner's dialler has the record due again, docs/outbound.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from callcenter.asterisk.agi import AgiChannel, AgiError, AgiHangup
from callcenter.asterisk.ami_events import AmiEvent, Hangup
from callcenter.asterisk.asterisk_port import AmiError, AsteriskPort, Dialplan, OriginateRequest
from callcenter.asterisk.voice_state import Tasks, VoiceState
from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.commands import Command, DialAgent, SaveInteraction
from callcenter.core.ivr import flow as ivr
from callcenter.core.outbound import agentless as al
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import Outcome
from callcenter.settings import Settings

log = logging.getLogger("callcenter.asterisk.voice")

TARGET = Dialplan("cc-outbound", "answered")
ROUTE = "outbound"

#: The Q.850 cause of the dialled channel's ``Hangup`` -> the attempt's outcome. Asterisk 22's
#: OriginateResponse says Reason 0 for a busy callee (seen on the sandbox: DialEnd BUSY, Hangup
#: cause 17, OriginateResponse Reason 0), so the channel's own end decides.
CAUSE_OUTCOMES = {
    17: Outcome.BUSY,  # user busy (486)
    18: Outcome.NO_ANSWER,  # no user responding
    19: Outcome.NO_ANSWER,  # no answer (rang for the whole ring timeout)
    20: Outcome.NO_ANSWER,  # subscriber absent
    21: Outcome.NO_ANSWER,  # call rejected (603 Decline: the callee pressed "reject")
    16: Outcome.NO_ANSWER,  # normal clearing before an answer: the ring timeout
    0: Outcome.NO_ANSWER,
}
#: OriginateResponse ``Reason`` codes, when no channel was created (so no Hangup came).
ORIGINATE_OUTCOMES = {"5": Outcome.BUSY, "3": Outcome.NO_ANSWER, "1": Outcome.NO_ANSWER}
HANGUP_WAIT = 2.0  # seconds the channel's Hangup may come after the OriginateResponse

Report = Callable[[dl.AttemptEnded | dl.CallHandled | dl.AgentlessEnded], None]


@dataclass(slots=True)
class _Placed:
    decision: dl.DialDecided
    report: Report
    dialled_at: float
    answered_at: float | None = None
    interaction_id: str | None = None
    reported: bool = False  # AttemptEnded sent
    cause: int | None = None  # the dialled channel's hang-up cause, once it is gone
    gone: asyncio.Event | None = None


def dial_string(template: str, number: str, trunk: str) -> str:
    return (
        template.replace("{number}", number).replace("{digits}", number.lstrip("+")).replace("{trunk}", trunk)
    )


class OutboundCalls:
    """The :class:`~callcenter.outbound.job.Placer` on Asterisk, and its FastAGI route."""

    def __init__(
        self,
        settings: Settings,
        port: AsteriskPort,
        state: VoiceState,
        tasks: Tasks,
        decide: Callable[[ev.Event], Sequence[Command]],
        clock: Callable[[], float],
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        """``decide``: the service's ``handle`` (the event through the engine, its commands carried
        out and returned): the route reads whether the engine offered the call to an agent."""
        self._settings = settings
        self._port = port
        self._state = state
        self._tasks = tasks
        self._decide = decide
        self._clock = clock
        self._new_id = new_id
        self._placed: dict[str, _Placed] = {}  # channel uniqueid -> attempt
        self._calls: dict[str, str] = {}  # interaction id -> channel uniqueid
        # Agentless campaigns (set by the composition root): the campaign's IVR flow by name, for
        # the call (None: no such valid flow), and the sound Asterisk plays for a flow's prompt.
        self.flow_of: Callable[[str, dl.DialDecided], ivr.Flow | None] = lambda _name, _call: None
        self.sound: Callable[[str], str] = lambda name: name
        self.http_lookup: Callable[[str, ivr.HttpLookup], Awaitable[ivr.HttpResult]] | None = None
        # An agentless flow's schedule_callback step ("2 to reschedule"): the callbacks service.
        self.schedule_callback: Callable[[ivr.ScheduleCallback], Awaitable[ivr.CallbackResult]] | None = None
        # Results of calls an earlier routing owner placed (the dialling job sets it while it runs).
        self.unclaimed: Callable[[str, dl.AgentlessEnded | dl.AttemptEnded | dl.CallHandled], None] | None = (
            None
        )

    @property
    def routes(self) -> dict[str, Callable[[AgiChannel], Awaitable[None]]]:
        return {ROUTE: self.answered}

    @property
    def in_flight(self) -> int:
        return len(self._placed)

    # -- placing (the Placer protocol) -------------------------------------------------------------
    def place(self, decision: dl.DialDecided, ended: Report) -> None:
        channel_id = f"ob-{uuid.uuid4().hex}"
        self._placed[channel_id] = _Placed(decision, ended, self._clock())
        self._tasks.spawn(self._originate(channel_id))

    async def _originate(self, channel_id: str) -> None:
        p = self._placed[channel_id]
        d = p.decision
        s = self._settings
        request = OriginateRequest(
            endpoint=dial_string(s.outbound.dial, d.number, s.asterisk.trunk_username),
            target=TARGET,
            ring_timeout=d.ring_seconds,
            channel_id=channel_id,
            caller_id=f"<{d.caller_id}>" if d.caller_id else "",
            variables={
                "CC_CAMPAIGN": d.campaign,
                "CC_RECORD_ID": str(d.record_id),
                "CC_CAMPAIGN_QUEUE": d.queue,
                "CC_CUSTOMER_NUMBER": d.number,
                "CC_OUTBOUND_MESSAGE": d.message,
                "CC_AMD": "" if d.on_machine == "off" else "1",
                "CC_PREVIEW_AGENT": d.agent_id or "",
                "CC_AGENTLESS": (d.flow or "-") if d.agentless else "",  # "-": the message
                "CC_OPT_OUT_KEY": d.opt_out_key,
            },
        )
        log.info(
            "outbound.dialling",
            extra={
                "campaign": d.campaign,
                "record": d.record_id,
                "attempt": d.attempt,
                "channel": channel_id,
            },
        )
        try:
            result = await self._port.originate(request)
        except AmiError as err:
            self._end_attempt(channel_id, Outcome.FAILED, str(err))
            return
        if not result.answered:
            outcome, why = await self._failure(p, result.code, result.reason)
            self._end_attempt(channel_id, outcome, why)
            return
        if p.answered_at is None:
            p.answered_at = self._clock()
        # The FastAGI session normally came already (or comes within a moment); one that never
        # comes (the server unreachable: the dialplan played the message) is a failed attempt.
        await asyncio.sleep(self._settings.outbound.answer_grace)
        if channel_id in self._placed and p.interaction_id is None:
            self._end_attempt(channel_id, Outcome.FAILED, "answered, but never reached the server")

    async def _failure(self, p: _Placed, code: str, reason: str) -> tuple[Outcome, str]:
        """Why a dial was not answered: the channel's hang-up cause, or, when no channel was made
        (no Hangup comes), the OriginateResponse's reason."""
        if p.cause is None:
            p.gone = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.gone.wait(), HANGUP_WAIT)
        if p.cause is not None:
            return CAUSE_OUTCOMES.get(p.cause, Outcome.FAILED), f"hang-up cause {p.cause}"
        return ORIGINATE_OUTCOMES.get(code, Outcome.FAILED), reason

    def on_event(self, event: AmiEvent) -> None:
        """AMI events (the voice adapter's subscription): the dialled channel's end."""
        if isinstance(event, Hangup):
            p = self._placed.get(event.uniqueid)
            if p is not None and p.cause is None:
                p.cause = event.cause
                if p.gone is not None:
                    p.gone.set()

    def _end_attempt(self, channel_id: str, outcome: Outcome, why: str) -> None:
        """The attempt is over without a connected call: reported once, forgotten."""
        p = self._placed.pop(channel_id, None)
        if p is None:
            return
        if p.interaction_id is not None:
            self._calls.pop(p.interaction_id, None)
        self._report(p, outcome)
        log.info(
            "outbound.attempt_ended",
            extra={
                "campaign": p.decision.campaign,
                "record": p.decision.record_id,
                "outcome": outcome.value,
                "why": why,
            },
        )

    def _report(self, p: _Placed, outcome: Outcome) -> None:
        if p.reported:
            return
        p.reported = True
        now = self._clock()
        after = None if p.answered_at is None else max(0.0, p.answered_at - p.dialled_at)
        p.report(dl.AttemptEnded(p.decision.record_id, outcome, now, answered_after=after))

    # -- the answer (FastAGI "outbound") -----------------------------------------------------------
    async def answered(self, session: AgiChannel) -> None:
        uid, now = session.uniqueid, self._clock()
        p = self._placed.get(uid)
        if p is not None:
            p.answered_at = p.answered_at if p.answered_at is not None else now
        call = p.decision if p is not None else await self._from_channel(session)
        if call is not None and session.headers.get("agi_arg_1") == "MACHINE":
            await self._machine(session, call, p)
            return
        if call is None:
            log.warning("outbound.unknown_call", extra={"channel": session.channel})
            await self._done(session)
            return
        if call.agentless:
            await self._agentless(session, call, p)
            return
        interaction_id = self._new_id()
        self._state.callers[uid] = interaction_id  # its hang-up is the caller's, as for inbound
        if p is not None:
            p.interaction_id = interaction_id
            self._calls[interaction_id] = uid
        self._decide(
            ev.CallArrived(
                interaction_id, call.number, "", call.campaign, session.channel, now, call.customer_id
            )
        )
        with contextlib.suppress(AgiHangup, AgiError):  # gone already: its hang-up ends it
            await session.set_variable("CC_INTERACTION_ID", interaction_id)
        # What the agent's card shows of the call (as an IVR's collected answers): the list's
        # columns for the record (name, contract...), the campaign, the record and the script
        # filled from them. A preview call is held for the agent who chose to make it.
        data = {**call.fields, "campaign": call.campaign, "record": str(call.record_id)}
        if call.script:
            data["script"] = call.script
        queued = ev.IvrFinished(
            interaction_id,
            None,
            call.queue,
            self._clock(),
            data=data,
            outcome="outbound",
            agent=call.agent_id or None,
        )
        commands = self._decide(queued)
        if any(isinstance(c, DialAgent) and c.interaction_id == interaction_id for c in commands):
            with contextlib.suppress(AgiHangup, AgiError):
                await session.set_variable("CC_QUEUE", call.queue)
            log.info("outbound.connecting", extra={"campaign": call.campaign, "interaction": interaction_id})
        else:
            # No agent free at the answer: the message (the dialplan plays it as soon as this
            # session ends), and the call leaves the line as abandoned.
            self._state.callers.pop(uid, None)
            log.warning(
                "outbound.abandoned",
                extra={"campaign": call.campaign, "interaction": interaction_id, "sound": call.message},
            )
            if p is not None:
                self._end_attempt(uid, Outcome.ABANDONED, "no agent free")
            self._decide(ev.OutboundAbandoned(interaction_id, self._clock()))
        await self._done(session)

    async def _machine(self, session: AgiChannel, call: dl.DialDecided, p: _Placed | None) -> None:
        """AMD heard an answering machine: no contact, nothing queued. The campaign's machine
        message is left (the dialplan plays CC_OUTBOUND_MESSAGE after the greeting), or not."""
        leave = call.machine_message if call.on_machine == "message" else ""
        with contextlib.suppress(AgiHangup, AgiError):
            await session.set_variable("CC_OUTBOUND_MESSAGE", leave)
        cause = session.headers.get("agi_arg_2", "")
        log.info(
            "outbound.machine",
            extra={"campaign": call.campaign, "record": call.record_id, "amd": cause, "left": bool(leave)},
        )
        if p is not None:
            self._end_attempt(session.uniqueid, Outcome.MACHINE, f"answering machine ({cause})")
        await self._done(session)

    async def _agentless(self, session: AgiChannel, call: dl.DialDecided, p: _Placed | None) -> None:
        """No agent: the person runs the campaign's flow (or hears its message), the opt-out key
        heard at every question. The attempt is connected (a person was reached); its result is
        the flow's disposition, and an opt-out lists the number (the dialler, at the next pace)."""
        inner = self.flow_of(call.flow, call) if call.flow else None
        if call.flow and inner is None:
            log.error("outbound.no_flow", extra={"campaign": call.campaign, "flow": call.flow})
        flow = al.OptOut(inner or al.MessageFlow(call.message, call.opt_out_key), call.opt_out_key)
        result = al.AgentlessResult("hung_up", False)
        try:
            action = flow.start()
            while not isinstance(action, ivr.Finish):
                action = flow.next(await self._carry_out(session, call, action))
            result = al.result_of(action)
        except AgiHangup:
            pass  # hung up before the end: "hung_up"
        except (AgiError, ivr.FlowError) as err:
            result = al.AgentlessResult("error", False)
            log.error("outbound.flow_error", extra={"campaign": call.campaign, "error": str(err)[:300]})
        with contextlib.suppress(AgiHangup, AgiError):  # the dialplan's message is not played again
            await session.set_variable("CC_OUTBOUND_MESSAGE", "")
        log.info(
            "outbound.agentless",
            extra={
                "campaign": call.campaign,
                "record": call.record_id,
                "disposition": result.disposition,
                "opt_out": result.opt_out,
            },
        )
        ended = dl.AgentlessEnded(call.record_id, result.disposition, result.opt_out, self._clock())
        if p is not None:
            self._end_attempt(session.uniqueid, Outcome.CONNECTED, f"agentless: {result.disposition}")
            p.report(ended)
        elif self.unclaimed is not None:  # placed by an earlier owner: the opt-out still counts
            self.unclaimed(call.campaign, ended)
        await self._done(session)

    async def _carry_out(self, session: AgiChannel, call: dl.DialDecided, action: ivr.Action) -> ivr.Result:
        """One action of an agentless call's flow on the answered channel."""
        match action:
            case ivr.Answer():
                return ivr.Done()  # answered already
            case ivr.Play(prompt=prompt):
                await session.command(f'STREAM FILE {self.sound(prompt)} ""')
                return ivr.Done()
            case ivr.GetDigit(prompt=prompt, timeout=timeout):
                answer = await session.command(
                    f"GET DATA {self.sound(prompt)} {int(timeout * 1000)} 1", timeout=timeout + 60
                )
                return ivr.Digit(answer.result if answer.result.isdigit() else None)
            case ivr.CollectDigits(prompt=prompt, max_digits=max_digits, timeout=timeout):
                answer = await session.command(
                    f"GET DATA {self.sound(prompt)} {int(timeout * 1000)} {max_digits}",
                    timeout=timeout * (max_digits + 1) + 60,
                )
                if answer.result == "-1":
                    raise AgiHangup("GET DATA failed: the channel is gone")
                keys = answer.result
                return ivr.Digits(keys if keys and all(k in "0123456789*#" for k in keys) else "")
            case ivr.HttpLookup() if self.http_lookup is not None:
                return await self.http_lookup(call.campaign, action)
            case ivr.HttpLookup():
                return ivr.HttpResult(None, None, "no HTTP client")
            case ivr.ScheduleCallback() if self.schedule_callback is not None:
                return await self.schedule_callback(action)
            case ivr.ScheduleCallback():
                return ivr.CallbackResult(False, error="no callbacks service")
            case _:  # voicemail: not on a campaign's call
                raise ivr.FlowError(f"{type(action).__name__} is not available on a campaign's call")

    async def _from_channel(self, session: AgiChannel) -> dl.DialDecided | None:
        """A call placed by an earlier routing owner: what it is travels with the channel."""
        values = [
            await self._variable(session, name)
            for name in (
                "CC_CAMPAIGN",
                "CC_RECORD_ID",
                "CC_CAMPAIGN_QUEUE",
                "CC_CUSTOMER_NUMBER",
                "CC_OUTBOUND_MESSAGE",
                "CC_PREVIEW_AGENT",
                "CC_AGENTLESS",
                "CC_OPT_OUT_KEY",
            )
        ]
        campaign, record, queue, number, message, agent, agentless, key = values
        if not queue or not record.isdigit():
            return None
        now = self._clock()
        return dl.DialDecided(
            campaign,
            int(record),
            number,
            0,
            "",
            now,
            queue,
            "",
            message=message,
            agent_id=agent or None,
            agentless=bool(agentless),
            flow="" if agentless == "-" else agentless,
            opt_out_key=key,
        )

    async def _variable(self, session: AgiChannel, name: str) -> str:
        try:
            answer = await session.command(f"GET VARIABLE {name}")
        except (AgiHangup, AgiError):
            return ""
        return answer.data if answer.result == "1" else ""

    async def _done(self, session: AgiChannel) -> None:
        """With several nodes, tell the dialplan the session ended here (see voice_inbound)."""
        if self._settings.agi.nodes:
            with contextlib.suppress(AgiHangup, AgiError):
                await session.set_variable("CC_IVR_DONE", "1")

    # -- what the engine decided (a listener of the service's commands) ---------------------------
    def on_command(self, command: Command) -> None:
        match command:
            case nt.Answered(interaction_id=iid) if iid in self._calls:
                p = self._placed.get(self._calls[iid])
                if p is not None:
                    self._report(p, Outcome.CONNECTED)
            case SaveInteraction(interaction=i) if i.outcome is not None and i.id in self._calls:
                uid = self._calls.pop(i.id)
                p = self._placed.pop(uid, None)
                if p is None:
                    return
                if not p.reported:
                    # A person answered and no agent ever did (hung up while waiting or ringing).
                    self._report(p, Outcome.ABANDONED)
                elif i.answered_at is not None and i.ended_at is not None:
                    talk = max(0.0, i.ended_at - i.answered_at)
                    p.report(dl.CallHandled(p.decision.record_id, talk, 0.0, i.ended_at))
            case _:
                pass
