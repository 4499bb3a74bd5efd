"""The agent panel: the ``/agent`` page and the call side of the ``/agent`` Socket.IO namespace.

:class:`PanelNamespace` extends the chat namespace (:class:`~callcenter.web.chat_agent.AgentNamespace`:
offers, accept/decline/reply/typing/close/transfer) with what an agent needs for calls and its own
state. Everything here is the agent's own: events go to the room ``agent:<id>`` only, and every
action names an interaction the engine says this agent holds — a forged id gets an error ack and
changes nothing.

Out (room ``agent:<id>``): ``me`` (state, reason, since, registration, wrap-up deadline), ``call``
(a call ringing or in progress, with the caller's customer, cross-channel timeline and what the IVR
collected), ``call_ended``, ``wrap_up`` (an interaction waiting for its disposition).
In (role agent): ``panel_sync``, ``set_state``, ``call_hangup``, ``call_hold``, ``call_transfer``,
``call_recording``, ``wrap_up``.

Call controls go to Asterisk first (the voice adapter), then the engine hears what happened, so a
refused AMI action leaves the record as it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from aiohttp import web

from callcenter import identity
from callcenter.adapters.ami import AmiError
from callcenter.adapters.voice import CallControlError
from callcenter.config import ApiToken, RealtimeSettings
from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.agents import Agent, AgentState
from callcenter.core.commands import (
    AgentStateChanged,
    CancelDial,
    Command,
    DialAgent,
    RecordEvent,
    SaveInteraction,
)
from callcenter.core.interaction import Interaction
from callcenter.messaging import Messaging
from callcenter.service import CallCenter
from callcenter.web import api, pages
from callcenter.web.auth import allow
from callcenter.web.chat_agent import TIMELINE, AgentNamespace, agent_room, message_view
from callcenter.web.chat_desk import Desk
from callcenter.web.realtime import Ack, BadRequest, event, flag, text

log = logging.getLogger(__name__)

MAX_NOTES = 2000
IVR_KEEP = 5000  # IVR data kept for interactions not ended yet (bounded against a flood)


class CallControl(Protocol):
    """What the panel asks of the voice adapter."""

    async def hangup_call(self, interaction_id: str, agent_id: str) -> None: ...

    async def hold(self, interaction_id: str, agent_id: str, caller_channel: str, held: bool) -> None: ...

    async def blind_transfer(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        *,
        queue: str | None = None,
        number: str | None = None,
    ) -> None: ...

    async def mute_recording(self, interaction_id: str, muted: bool) -> bool: ...

    def is_held(self, interaction_id: str) -> bool: ...

    async def consult(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        to_agent: str,
        to_extension: str,
        on_failed: Callable[[str], None],
    ) -> None: ...

    async def complete_consult(self, interaction_id: str, agent_id: str, caller_channel: str) -> None: ...

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None: ...

    async def conference(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        to_agent: str,
        to_extension: str,
        on_joined: Callable[[], None],
        on_left: Callable[[str], None],
    ) -> None: ...

    async def drop_from_conference(self, interaction_id: str) -> None: ...


class PanelNamespace(AgentNamespace):
    def __init__(
        self,
        settings: RealtimeSettings,
        tokens: tuple[ApiToken, ...],
        service: CallCenter,
        messaging: Messaging,
        desk: Desk,
        names: Mapping[str, str],
        *,
        voice: Callable[[], CallControl | None],
        pause_reasons: tuple[str, ...],
        dispositions: tuple[str, ...],
        phone_region: str = "US",
    ) -> None:
        super().__init__(settings, tokens, service, messaging, desk, names)
        self.voice = voice
        self.pause_reasons = pause_reasons
        self.dispositions = dispositions
        self.phone_region = phone_region
        self._calls: dict[str, str] = {}  # agent -> the call ringing or in progress on its phone
        self._ivr: dict[str, dict[str, str]] = {}  # interaction -> what the IVR collected
        self._recording_paused: set[str] = set()

    def restore(
        self, live: Iterable[Interaction], ivr: Mapping[str, Mapping[str, object]] | None = None
    ) -> None:
        """After a restart, from the interactions the engine restored: the chats agents had
        accepted (the desk) and the calls they were talking on, so panels show them again; and
        what the IVR collected from each call (``ivr``: interaction -> its ``ivr_finished`` data)
        for their cards."""
        live = list(live)
        self.desk.restore(live)
        for i in live:
            if (agent := i.talking_agent) is not None:
                self._calls[agent] = i.id
        for interaction_id, collected in (ivr or {}).items():
            self._keep_ivr(interaction_id, collected)

    def _keep_ivr(self, interaction_id: str, collected: object) -> None:
        if isinstance(collected, Mapping) and collected and len(self._ivr) < IVR_KEEP:
            self._ivr[interaction_id] = {str(k): str(v) for k, v in collected.items()}

    # --- engine -> panels --------------------------------------------------------------------------

    def on_command(self, command: Command) -> None:
        super().on_command(command)
        match command:
            case DialAgent():
                self._calls[command.agent_id] = command.interaction_id
                i = self.service.engine.interactions.get(command.interaction_id)
                if i is not None:
                    self._emit("call", self.call_view(i, "ringing"), agent_room(command.agent_id))
            case CancelDial():
                self._call_over(command.agent_id, command.interaction_id, "withdrawn")
            case nt.IvrFinished():
                self._keep_ivr(command.interaction_id, command.data)
            case nt.Transferred():
                if self._call_over(command.from_agent, command.interaction_id, "transferred"):
                    self._offer_wrap_up(command.from_agent, command.interaction_id)
            case RecordEvent(kind="transferred"):
                sender = str(command.data.get("from", ""))
                if self._call_over(sender, command.interaction_id, "transferred"):
                    self._offer_wrap_up(sender, command.interaction_id)
            case RecordEvent(kind="consult_started"):
                to_agent = str(command.data.get("to_agent", ""))
                i = self.service.engine.interactions.get(command.interaction_id)
                if i is not None:
                    self._calls[to_agent] = i.id
                    self._emit("call", self.call_view(i, "consult"), agent_room(to_agent))
            case RecordEvent(kind="conference_invited"):
                to_agent = str(command.data.get("agent", ""))
                i = self.service.engine.interactions.get(command.interaction_id)
                if i is not None:
                    self._calls[to_agent] = i.id
                    self._emit("call", self.call_view(i, "conference"), agent_room(to_agent))
            case RecordEvent(kind="conference_left"):
                self._call_over(
                    str(command.data.get("agent", "")), command.interaction_id, "conference ended"
                )
            case RecordEvent(kind="consult_cancelled"):
                self._call_over(
                    str(command.data.get("to_agent", "")), command.interaction_id, "consult ended"
                )
            case SaveInteraction():
                self._saved(command.interaction)
            case AgentStateChanged():
                agent = self.service.engine.agents.get(command.agent_id)
                if agent is not None:
                    self._emit("me", self.me_view(agent), agent_room(agent.id))
            case _:
                pass

    def _saved(self, i: Interaction) -> None:
        if i.is_ended:
            self._ivr.pop(i.id, None)
            self._recording_paused.discard(i.id)
            for agent_id in [a for a, held in self._calls.items() if held == i.id and a != i.agent_id]:
                self._call_over(agent_id, i.id, "call ended")  # a consulted or conference agent
            if i.agent_id is not None:
                self._call_over(i.agent_id, i.id, i.outcome.value if i.outcome else "ended")
                if i.answered_at is not None:
                    self._offer_wrap_up(i.agent_id, i.id)
            return
        if (agent := i.talking_agent) is not None:
            self._calls[agent] = i.id
            self._emit("call", self.call_view(i, "talking"), agent_room(agent))

    def _call_over(self, agent_id: str, interaction_id: str, reason: str) -> bool:
        if self._calls.get(agent_id) != interaction_id:
            return False
        del self._calls[agent_id]
        payload = {"interaction_id": interaction_id, "reason": reason}
        self._emit("call_ended", payload, agent_room(agent_id))
        return True

    def _offer_wrap_up(self, agent_id: str, interaction_id: str) -> None:
        for i in self.service.engine.wrap_ups_of(agent_id):
            if i.id == interaction_id:
                self._emit("wrap_up", self.wrap_up_view(agent_id, i), agent_room(agent_id))

    # --- views ---------------------------------------------------------------------------------------

    def me_view(self, agent: Agent) -> dict[str, Any]:
        return {
            "agent_id": agent.id,
            "name": self.names.get(agent.id, agent.id),
            "extension": agent.extension,
            "state": agent.state.value,
            "reason": agent.reason,
            "since": agent.since,
            "registered": agent.registered,
            "wrap_up_until": agent.wrap_up_until,
        }

    def customer_view(self, i: Interaction) -> dict[str, Any]:
        """The caller's customer (by the number they call from) and its cross-channel timeline."""
        customers = self.messaging.customers
        customer = None
        try:
            if i.customer_id is not None:
                customer = customers.current(i.customer_id)
            elif i.caller_number:
                customer = customers.owner(identity.phone(i.caller_number, self.phone_region))
                customer = customers.current(customer.id) if customer is not None else None
        except (KeyError, ValueError):  # not a phone number, or a customer the book lost
            customer = None
        if customer is None:
            return {"id": None, "name": i.caller_name, "identities": [], "timeline": []}
        timeline = self.messaging.conversations.timeline(customers.members(customer.id))[-TIMELINE:]
        return {
            "id": customer.id,
            "name": customer.name,
            "identities": sorted(str(x) for x in customer.identities),
            "timeline": [message_view(m) for m in timeline],
        }

    def call_view(self, i: Interaction, phase: str) -> dict[str, Any]:
        voice = self.voice()
        if phase == "talking" and voice is not None and voice.is_held(i.id):
            phase = "held"
        return {
            "interaction_id": i.id,
            "phase": phase,
            "caller_number": i.caller_number,
            "caller_name": i.caller_name,
            "queue": i.queue,
            "answered_at": i.answered_at,
            "transferred_to": i.transferred_to,
            "ivr": self._ivr.get(i.id, {}),
            "customer": self.customer_view(i),
            "recording_paused": i.id in self._recording_paused,
            "consulting": self.service.engine.consults.get(i.id),
            "conference_with": self.service.engine.conferences.get(i.id),
        }

    def wrap_up_view(self, agent_id: str, i: Interaction) -> dict[str, Any]:
        agent = self.service.engine.agents.get(agent_id)
        until = None
        if agent is not None and agent.state == AgentState.WRAP_UP and not i.is_messaging:
            until = agent.wrap_up_until
        return {
            "interaction_id": i.id,
            "channel": i.channel.value,
            "who": self.customer_view(i)["name"] or i.caller_name or i.caller_number or (i.customer_id or ""),
            "outcome": i.outcome.value if i.outcome else None,
            "transferred_to": i.transferred_to,
            "until": until,
            "dispositions": list(self.dispositions),
        }

    # --- panel -> engine and Asterisk -------------------------------------------------------------

    def _agent(self, sid: str) -> Agent:
        me = self._me(sid)
        agent = self.service.engine.agents.get(me)
        if agent is None:
            raise BadRequest("this agent is not configured")
        return agent

    def _my_call(self, data: Mapping[str, Any], me: str) -> Interaction:
        interaction_id = text(data, "interaction_id", limit=128)
        i = self.service.engine.interactions.get(interaction_id)
        if i is None or i.is_messaging or i.agent_id != me or i.answered_at is None:
            raise BadRequest("not your call")
        return i

    def _control(self) -> CallControl:
        voice = self.voice()
        if voice is None:
            raise BadRequest("no connection to Asterisk")
        return voice

    @event("panel_sync", "agent")
    async def on_panel_sync(self, sid: str, data: dict[str, Any]) -> Ack:
        """The agent's state, call and pending wrap-ups (at start and after a reconnect)."""
        agent = self._agent(sid)
        engine = self.service.engine
        call = None
        current = self._calls.get(agent.id)
        if current is not None and current in engine.interactions:
            i = engine.interactions[current]
            if i.agent_id == agent.id:
                phase = "talking"
            else:
                phase = "consult" if engine.consults.get(i.id) == agent.id else "ringing"
            call = self.call_view(i, phase)
        return {
            "me": self.me_view(agent),
            "call": call,
            "wrap_ups": [self.wrap_up_view(agent.id, i) for i in engine.wrap_ups_of(agent.id)],
            "pause_reasons": list(self.pause_reasons),
            "dispositions": list(self.dispositions),
        }

    @event("set_state", "agent")
    async def on_set_state(self, sid: str, data: dict[str, Any]) -> Ack:
        agent = self._agent(sid)
        wanted = text(data, "state", limit=32)
        make: Callable[[float], ev.Event]
        if wanted == "available":
            if agent.state == AgentState.LOGGED_OUT:
                make = lambda now: ev.AgentLogin(agent.id, now)  # noqa: E731
            else:
                make = lambda now: ev.AgentResume(agent.id, now)  # noqa: E731
        elif wanted == "paused":
            reason = text(data, "reason", limit=64)
            if self.pause_reasons and reason not in self.pause_reasons:
                raise BadRequest(f"pause reason: one of {', '.join(self.pause_reasons)}")
            make = lambda now: ev.AgentPause(agent.id, reason, now)  # noqa: E731
        elif wanted == "logged_out":
            make = lambda now: ev.AgentLogout(agent.id, now)  # noqa: E731
        else:
            raise BadRequest("state: available, paused or logged_out")
        self._run(make)
        return {"ok": True, "me": self.me_view(self.service.engine.agents[agent.id])}

    @event("call_hangup", "agent")
    async def on_call_hangup(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        i = self._my_call(data, me)
        try:
            await self._control().hangup_call(i.id, me)
        except CallControlError as err:
            raise BadRequest(str(err)) from err
        return {"ok": True}

    @event("call_hold", "agent")
    async def on_call_hold(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        i = self._my_call(data, me)
        held = flag(data, "held")
        if i.caller_channel is None:
            raise BadRequest("this call has no caller leg to hold")
        try:
            await self._control().hold(i.id, me, i.caller_channel, held)
        except CallControlError as err:
            raise BadRequest(str(err)) from err
        self._run(lambda now: ev.CallHeld(i.id, me, held, now))
        current = self.service.engine.interactions.get(i.id, i)
        self._emit("call", self.call_view(current, "talking"), agent_room(me))
        return {"ok": True, "held": held}

    @event("call_transfer", "agent")
    async def on_call_transfer(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        i = self._my_call(data, me)
        to_agent = text(data, "to_agent", limit=64, required=False) or None
        to_queue = text(data, "to_queue", limit=64, required=False) or None
        to_number = text(data, "to_number", limit=32, required=False) or None
        if sum(x is not None for x in (to_agent, to_queue, to_number)) != 1:
            raise BadRequest("give exactly one of to_agent, to_queue and to_number")
        if to_agent is not None and (to_agent not in self.service.engine.agents or to_agent == me):
            raise BadRequest("no such agent to transfer to")
        if i.caller_channel is None:
            raise BadRequest("this call has no caller leg to transfer")
        queue = to_queue or i.queue
        try:
            await self._control().blind_transfer(
                i.id, me, i.caller_channel, queue=None if to_number else queue, number=to_number
            )
        except CallControlError as err:
            raise BadRequest(str(err)) from err
        transfer = ev.CallTransferred
        self._run(
            lambda now: transfer(i.id, me, now, to_agent=to_agent, to_queue=to_queue, to_number=to_number)
        )
        return {"ok": True}

    def _colleague(self, data: Mapping[str, Any], me: str, i: Interaction, unknown: str) -> tuple[Agent, str]:
        """The other agent ``to_agent`` names (for a consult or a conference) and the caller's
        channel; ``unknown`` is the refusal when there is no such other agent."""
        to_agent = text(data, "to_agent", limit=64)
        target = self.service.engine.agents.get(to_agent)
        if target is None or to_agent == me:
            raise BadRequest(unknown)
        if i.caller_channel is None:
            raise BadRequest("this call has no caller leg")
        return target, i.caller_channel

    @event("call_consult", "agent")
    async def on_call_consult(self, sid: str, data: dict[str, Any]) -> Ack:
        """Attended transfer, step one: the caller on hold, ring ``to_agent`` to talk first."""
        me = self._me(sid)
        i = self._my_call(data, me)
        target, caller = self._colleague(data, me, i, "no such agent to consult")
        to_agent = target.id
        self._run(lambda now: ev.ConsultStarted(i.id, me, to_agent, now))  # reserves the target

        def failed(reason: str) -> None:
            try:
                self.service.handle(ev.ConsultEnded(i.id, me, False, self.service.clock(), reason))
            except Exception as err:  # the call ended meanwhile: nothing to undo
                log.info("panel.consult_end_refused", extra={"interaction": i.id, "error": str(err)})
            self._emit("consult_failed", {"interaction_id": i.id, "reason": reason}, agent_room(me))
            current = self.service.engine.interactions.get(i.id)
            if current is not None and current.agent_id == me:
                self._emit("call", self.call_view(current, "talking"), agent_room(me))

        try:
            await self._control().consult(i.id, me, caller, to_agent, target.extension, failed)
        except (CallControlError, BadRequest) as err:
            why = str(err)
            self._run(lambda now: ev.ConsultEnded(i.id, me, False, now, why))
            raise BadRequest(why) from err
        self._emit("call", self.call_view(i, "talking"), agent_room(me))
        return {"ok": True}

    @event("call_consult_end", "agent")
    async def on_call_consult_end(self, sid: str, data: dict[str, Any]) -> Ack:
        """Attended transfer, step two: ``complete`` hands the caller over; otherwise back to them."""
        me = self._me(sid)
        i = self._my_call(data, me)
        complete = flag(data, "complete")
        if i.id not in self.service.engine.consults:
            raise BadRequest("no consult going on")
        voice = self._control()
        try:
            if complete:
                if i.caller_channel is None:
                    raise BadRequest("this call has no caller leg")
                await voice.complete_consult(i.id, me, i.caller_channel)
            else:
                await voice.cancel_consult(i.id, me)
        except CallControlError as err:
            raise BadRequest(str(err)) from err
        self._run(lambda now: ev.ConsultEnded(i.id, me, complete, now, "" if complete else "cancelled"))
        if not complete:
            current = self.service.engine.interactions.get(i.id, i)
            self._emit("call", self.call_view(current, "talking"), agent_room(me))
        return {"ok": True}

    @event("call_conference", "agent")
    async def on_call_conference(self, sid: str, data: dict[str, Any]) -> Ack:
        """Three parties: bring ``to_agent`` into the call (the call stays this agent's)."""
        me = self._me(sid)
        i = self._my_call(data, me)
        target, caller = self._colleague(data, me, i, "no such agent to bring in")
        to_agent = target.id
        self._run(lambda now: ev.ConferenceInvited(i.id, me, to_agent, now))
        room = agent_room(me)

        def settle(make: Callable[[float], ev.Event]) -> None:
            try:
                self.service.handle(make(self.service.clock()))
            except Exception as err:  # the call ended meanwhile
                log.info("panel.conference_refused", extra={"interaction": i.id, "error": str(err)})
            current = self.service.engine.interactions.get(i.id)
            if current is not None and current.agent_id == me:
                self._emit("call", self.call_view(current, "talking"), room)

        def joined() -> None:
            settle(lambda now: ev.ConferenceJoined(i.id, to_agent, now))

        def left(reason: str) -> None:
            settle(lambda now: ev.ConferenceLeft(i.id, to_agent, now, reason))

        try:
            await self._control().conference(i.id, me, caller, to_agent, target.extension, joined, left)
        except (CallControlError, BadRequest) as err:
            why = str(err)
            self._run(lambda now: ev.ConferenceLeft(i.id, to_agent, now, why))
            raise BadRequest(why) from err
        self._emit("call", self.call_view(i, "talking"), room)
        return {"ok": True}

    @event("call_conference_end", "agent")
    async def on_call_conference_end(self, sid: str, data: dict[str, Any]) -> Ack:
        """Drop the invited agent; the caller and this agent go on talking."""
        me = self._me(sid)
        i = self._my_call(data, me)
        if i.id not in self.service.engine.conferences:
            raise BadRequest("nobody else is in the conference")
        try:
            await self._control().drop_from_conference(i.id)
        except CallControlError as err:
            raise BadRequest(str(err)) from err
        return {"ok": True}

    @event("call_recording", "agent")
    async def on_call_recording(self, sid: str, data: dict[str, Any]) -> Ack:
        """PCI pause: the recording of the agent's own call stops (silence) until resumed."""
        me = self._me(sid)
        i = self._my_call(data, me)
        paused = flag(data, "paused")
        try:
            done = await self._control().mute_recording(i.id, paused)
        except AmiError as err:
            raise BadRequest(f"Asterisk refused: {err}") from err
        if not done:
            raise BadRequest("no recording leg is up for this call")
        (self._recording_paused.add if paused else self._recording_paused.discard)(i.id)
        api.record_recording_pause(self.service, i.id, paused, me, "agent")
        return {"ok": True, "paused": paused}

    @event("wrap_up", "agent")
    async def on_wrap_up(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        interaction_id = text(data, "interaction_id", limit=128)
        disposition = text(data, "disposition", limit=64, required=bool(self.dispositions))
        notes = text(data, "notes", limit=MAX_NOTES, required=False)
        self._run(lambda now: ev.WrapUpDone(me, interaction_id, disposition, notes, now))
        agent = self.service.engine.agents[me]
        return {"ok": True, "me": self.me_view(agent)}


# --- the page --------------------------------------------------------------------------------------


@allow("agent")
async def agent_page(request: web.Request) -> web.Response:
    """The agent panel. Agents only: a supervisor follows agents on the supervisor console."""
    settings = request.app[pages.PAGE_SETTINGS]
    config = {
        "pause_reasons": list(settings.acd.pause_reasons),
        "dispositions": list(settings.acd.dispositions),
        "agents": [{"id": a.id, "name": a.name or a.id} for a in settings.agents],
        "queues": request.app[api.SERVICE].engine.queue_names(),
        "offer_timeout": settings.acd.offer_timeout,
    }
    return pages.render(request, "agent.html", config=json.dumps(config))


def setup_routes(app: web.Application) -> None:
    pages.add_nav(app, "Agent panel", "/agent", "agent")
    app.router.add_get("/agent", agent_page)
