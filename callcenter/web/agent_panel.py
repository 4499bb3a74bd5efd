"""The agent panel: the ``/agent`` page and the call side of the ``/agent`` Socket.IO namespace.

:class:`PanelNamespace` extends the chat namespace (:class:`~callcenter.web.chat_agent.AgentNamespace`:
offers, accept/decline/reply/typing/close/transfer) with what an agent needs for calls and its own
state. Everything here is the agent's own: events go to the room ``agent:<id>`` only, and every
action names an interaction the engine says this agent holds — a forged id gets an error ack and
changes nothing.

Out (room ``agent:<id>``): ``me`` (state, reason, since, registration, wrap-up deadline), ``call``
(a call ringing or in progress, with the caller's customer, cross-channel timeline and what the IVR
collected; a campaign's call with its campaign, record and filled script), ``call_ended``,
``wrap_up`` (an interaction waiting for its disposition: a campaign call's from the campaign),
``preview`` / ``preview_withdrawn`` (a preview campaign's record shown to this agent, or taken back).
In (role agent): ``panel_sync``, ``set_state``, ``call_hangup``, ``call_hold``, ``call_transfer``,
``call_recording``, ``wrap_up``, ``preview_answer`` (the agent's own card only).

Campaigns (docs/outbound.md): the dialling job runs on the routing owner, as this namespace's back
does, so the composition root hands it over as :attr:`PanelNamespace.campaigns` (the
:class:`CampaignDesk` protocol); an agent connected to a follower reaches it over ``cc:sockets``.

Call controls are requests to the core (``CallCenter.request``): the core checks them and answers
with commands that the call-control adapter carries out against Asterisk; the ack comes once Asterisk
did. A refusal is a domain error, turned into the error ack in one place (``realtime``). The call's
state (held, consulting, in conference, the recording paused) is the core's (``engine.calls``): the
cards render it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from aiohttp import web

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.calls import machine as cl
from callcenter.core.commands import (
    AgentStateChanged,
    CancelDial,
    Command,
    DialAgent,
    SaveInteraction,
)
from callcenter.core.interaction import Interaction
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import CampaignState
from callcenter.errors import StorageError
from callcenter.messaging import identity
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.settings import ApiToken, RealtimeSettings
from callcenter.web import api, callbacks_api, pages, softphone
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.chat_agent import TIMELINE, AgentNamespace, agent_room, message_view
from callcenter.web.chat_desk import Desk
from callcenter.web.openapi import doc
from callcenter.web.realtime import Ack, BadRequest, event, flag, text

log = logging.getLogger(__name__)

MAX_NOTES = 2000
IVR_KEEP = 5000  # IVR data kept for interactions not ended yet (bounded against a flood)
CAMPAIGN_KEYS = ("campaign", "record", "script")  # a campaign call's own IVR data (voice_outbound)


class CampaignDesk(Protocol):
    """What the panel asks of the dialling job (``outbound/job.py``'s ``Dialling``)."""

    def previews_of(self, agent_id: str) -> list[dl.PreviewOffered]: ...

    def answer_preview(self, agent_id: str, campaign: str, record_id: int, dial: bool) -> bool: ...

    def dispositions(self, campaign: str) -> tuple[str, ...]: ...

    async def record_disposition(
        self, campaign: str, record_id: int, interaction_id: str, agent_id: str, disposition: str
    ) -> None: ...


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
        pause_reasons: tuple[str, ...],
        dispositions: tuple[str, ...],
        phone_region: str = "US",
    ) -> None:
        super().__init__(settings, tokens, service, messaging, desk, names)
        self.pause_reasons = pause_reasons
        self.dispositions = dispositions
        self.phone_region = phone_region
        self._calls: dict[str, str] = {}  # agent -> the call ringing or in progress on its phone
        self._ivr: dict[str, dict[str, str]] = {}  # interaction -> what the IVR collected
        # interaction -> (campaign, record): a campaign's call, until its wrap-up is done
        self._campaign_calls: dict[str, tuple[str, int]] = {}
        self.campaigns: CampaignDesk | None = None  # set on the owner with the dialling job

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

    def collected(self, interaction_id: str) -> dict[str, str]:
        return dict(self._ivr.get(interaction_id, {}))

    def _keep_ivr(self, interaction_id: str, collected: object) -> None:
        if isinstance(collected, Mapping) and collected and len(self._ivr) < IVR_KEEP:
            self._ivr[interaction_id] = {str(k): str(v) for k, v in collected.items()}
            campaign, record = str(collected.get("campaign", "")), str(collected.get("record", ""))
            if campaign and record.isdigit():
                if len(self._campaign_calls) >= IVR_KEEP:  # wrap-ups never done: the oldest go
                    del self._campaign_calls[next(iter(self._campaign_calls))]
                self._campaign_calls[interaction_id] = (campaign, int(record))

    # --- the dialling job -> panels (preview cards) -------------------------------------------------

    def on_preview(self, command: dl.PreviewOffered | dl.PreviewWithdrawn) -> None:
        if not command.agent_id:
            return
        room = agent_room(command.agent_id)
        if isinstance(command, dl.PreviewOffered):
            self._emit("preview", preview_view(command), room)
        else:
            payload = {"campaign": command.campaign, "record_id": command.record_id, "reason": command.reason}
            self._emit("preview_withdrawn", payload, room)

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
            case nt.Transferred() | cl.TransferredOut() | cl.TransferredAttended():
                if self._call_over(command.from_agent, command.interaction_id, "transferred"):
                    self._offer_wrap_up(command.from_agent, command.interaction_id)
            case cl.ConsultStarted() | cl.ConferenceInvited():
                consult = isinstance(command, cl.ConsultStarted)
                to_agent = command.to_agent if isinstance(command, cl.ConsultStarted) else command.agent
                i = self.service.engine.interactions.get(command.interaction_id)
                if i is not None:
                    self._calls[to_agent] = i.id
                    self._emit(
                        "call",
                        self.call_view(i, "consult" if consult else "conference"),
                        agent_room(to_agent),
                    )
            case cl.ConsultEnded():
                self._call_over(command.to_agent, command.interaction_id, "consult ended")
                if command.reason != "cancelled":
                    payload = {"interaction_id": command.interaction_id, "reason": command.reason}
                    self._emit("consult_failed", payload, agent_room(command.from_agent))
            case cl.ConferenceLeft():
                self._call_over(command.agent, command.interaction_id, "conference ended")
            case cl.CallChanged(call=cl.Call(agent_id=owner)):
                i = self.service.engine.interactions.get(command.interaction_id)
                if i is not None and i.agent_id == owner:
                    self._calls[owner] = i.id
                    self._emit("call", self.call_view(i, "talking"), agent_room(owner))
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
            if i.answered_at is None:
                self._campaign_calls.pop(i.id, None)  # no wrap-up will come
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
        call = self.service.engine.calls.get(i.id)
        state = call.state if call is not None and call.agent_id == i.agent_id else None
        if phase == "talking" and state == cl.CallState.HELD:
            phase = "held"
        colleague = call.colleague if call is not None else None
        return {
            "interaction_id": i.id,
            "phase": phase,
            "caller_number": i.caller_number,
            "caller_name": i.caller_name,
            "queue": i.queue,
            "answered_at": i.answered_at,
            "transferred_to": i.transferred_to,
            "ivr": self._ivr.get(i.id, {}),
            "campaign": campaign_view(self._ivr.get(i.id, {})),
            "customer": self.customer_view(i),
            "recording_paused": call is not None and call.recording_paused,
            "consulting": colleague if state in (cl.CallState.CONSULTING, cl.CallState.CONSULTED) else None,
            "conference_with": colleague
            if state in (cl.CallState.INVITING, cl.CallState.CONFERENCE)
            else None,
        }

    def wrap_up_view(self, agent_id: str, i: Interaction) -> dict[str, Any]:
        agent = self.service.engine.agents.get(agent_id)
        until = None
        if agent is not None and agent.state == AgentState.WRAP_UP and not i.is_messaging:
            until = agent.wrap_up_until
        customer = self.customer_view(i)
        return {
            "interaction_id": i.id,
            "channel": i.channel.value,
            "who": customer["name"] or i.caller_name or i.caller_number or (i.customer_id or ""),
            "outcome": i.outcome.value if i.outcome else None,
            "transferred_to": i.transferred_to,
            "until": until,
            "dispositions": list(self._dispositions_for(i.id)),
            "campaign": self._campaign_calls[i.id][0] if i.id in self._campaign_calls else None,
            # For "Create ticket" at the wrap-up (tickets-panel.js), prefilled as from the call or chat.
            "customer_id": customer["id"],
            "ivr": self._ivr.get(i.id, {}),
            # For "Schedule a callback" (callbacks-panel.js): the number and queue to call back on.
            "number": i.caller_number or "",
            "queue": i.queue or "",
        }

    def _dispositions_for(self, interaction_id: str) -> tuple[str, ...]:
        """A campaign call's dispositions are its campaign's (when it names some), else the server's."""
        found = self._campaign_calls.get(interaction_id)
        if found is not None and self.campaigns is not None:
            return self.campaigns.dispositions(found[0]) or self.dispositions
        return self.dispositions

    # --- panel -> engine and Asterisk -------------------------------------------------------------

    def _agent(self, sid: str) -> Agent:
        me = self._me(sid)
        agent = self.service.engine.agents.get(me)
        if agent is None:
            raise BadRequest("this agent is not configured")
        return agent

    def _request(self, data: Mapping[str, Any]) -> tuple[str, float]:
        """The interaction a call control names, and now."""
        return text(data, "interaction_id", limit=128), self.service.clock()

    @event("panel_sync", "agent")
    async def on_panel_sync(self, sid: str, data: dict[str, Any]) -> Ack:
        """The agent's state, call and pending wrap-ups (at start and after a reconnect)."""
        agent = self._agent(sid)
        engine = self.service.engine
        call = None
        current = self._calls.get(agent.id)
        if current is not None and current in engine.interactions:
            i = engine.interactions[current]
            helped = engine.calls.get(i.id)
            if i.agent_id == agent.id:
                phase = "talking"
            elif helped is None or helped.colleague != agent.id:
                phase = "ringing"
            elif helped.state in (cl.CallState.CONSULTING, cl.CallState.CONSULTED):
                phase = "consult"
            else:
                phase = "conference"
            call = self.call_view(i, phase)
        return {
            "me": self.me_view(agent),
            "call": call,
            "wrap_ups": [self.wrap_up_view(agent.id, i) for i in engine.wrap_ups_of(agent.id)],
            "pause_reasons": list(self.pause_reasons),
            "dispositions": list(self.dispositions),
            "previews": [preview_view(p) for p in self.campaigns.previews_of(agent.id)]
            if self.campaigns is not None
            else [],
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

    # Call controls: requests to the core; a refusal (a DomainError) becomes the error ack in
    # realtime.GuardedNamespace, for every handler at once.

    @event("call_hangup", "agent")
    async def on_call_hangup(self, sid: str, data: dict[str, Any]) -> Ack:
        return await self._simple(sid, data, cl.HangupRequested)

    @event("call_hold", "agent")
    async def on_call_hold(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        iid, now = self._request(data)
        held = flag(data, "held")
        make = cl.HoldRequested if held else cl.ResumeRequested
        await self.service.request(make(iid, me, now))
        return {"ok": True, "held": held}

    @event("call_transfer", "agent")
    async def on_call_transfer(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        iid, now = self._request(data)
        to_agent = text(data, "to_agent", limit=64, required=False) or None
        to_queue = text(data, "to_queue", limit=64, required=False) or None
        to_number = text(data, "to_number", limit=32, required=False) or None
        if sum(x is not None for x in (to_agent, to_queue, to_number)) != 1:
            raise BadRequest("give exactly one of to_agent, to_queue and to_number")
        await self.service.request(
            cl.BlindTransferRequested(iid, me, now, to_agent=to_agent, to_queue=to_queue, to_number=to_number)
        )
        return {"ok": True}

    @event("call_consult", "agent")
    async def on_call_consult(self, sid: str, data: dict[str, Any]) -> Ack:
        """Attended transfer, step one: the caller on hold, ring ``to_agent`` to talk first."""
        return await self._bring_in(sid, data, cl.ConsultRequested)

    @event("call_consult_end", "agent")
    async def on_call_consult_end(self, sid: str, data: dict[str, Any]) -> Ack:
        """Attended transfer, step two: ``complete`` hands the caller over; otherwise back to them."""
        make = cl.ConsultCompleteRequested if flag(data, "complete") else cl.ConsultCancelRequested
        return await self._simple(sid, data, make)

    @event("call_conference", "agent")
    async def on_call_conference(self, sid: str, data: dict[str, Any]) -> Ack:
        """Three parties: bring ``to_agent`` into the call (the call stays this agent's)."""
        return await self._bring_in(sid, data, cl.ConferenceRequested)

    @event("call_conference_end", "agent")
    async def on_call_conference_end(self, sid: str, data: dict[str, Any]) -> Ack:
        """Drop the invited agent; the caller and this agent go on talking."""
        return await self._simple(sid, data, cl.ConferenceDropRequested)

    async def _bring_in(
        self, sid: str, data: dict[str, Any], make: Callable[[str, str, str, float], cl.Request]
    ) -> Ack:
        """A request that brings a colleague (``to_agent``) to the agent's call."""
        me = self._me(sid)
        iid, now = self._request(data)
        await self.service.request(make(iid, me, text(data, "to_agent", limit=64), now))
        return {"ok": True}

    async def _simple(
        self, sid: str, data: dict[str, Any], make: Callable[[str, str, float], cl.Request]
    ) -> Ack:
        """A request about the agent's call that takes nothing else."""
        me = self._me(sid)
        iid, now = self._request(data)
        await self.service.request(make(iid, me, now))
        return {"ok": True}

    @event("call_recording", "agent")
    async def on_call_recording(self, sid: str, data: dict[str, Any]) -> Ack:
        """PCI pause: the recording of the agent's own call stops (silence) until resumed."""
        me = self._me(sid)
        iid, now = self._request(data)
        paused = flag(data, "paused")
        await self.service.request(cl.RecordingPauseRequested(iid, paused, me, "agent", now, agent_id=me))
        return {"ok": True, "paused": paused}

    @event("wrap_up", "agent")
    async def on_wrap_up(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        interaction_id = text(data, "interaction_id", limit=128)
        allowed = self._dispositions_for(interaction_id)
        disposition = text(data, "disposition", limit=64, required=bool(allowed))
        notes = text(data, "notes", limit=MAX_NOTES, required=False)
        campaign_call = self._campaign_calls.get(interaction_id)
        own: tuple[str, ...] | None = None  # the engine's list, unless a campaign names its own
        if campaign_call is not None and self.campaigns is not None:
            own = allowed
            if allowed and disposition not in allowed:
                raise BadRequest(f"disposition {disposition!r}: expected one of {', '.join(allowed)}")
            if not any(i.id == interaction_id for i in self.service.engine.wrap_ups_of(me)):
                raise BadRequest("no wrap-up of yours for this interaction")
            # Stored with the attempt first: a wrap-up that fails to store is not done.
            campaign, record_id = campaign_call
            await self.campaigns.record_disposition(campaign, record_id, interaction_id, me, disposition)
        self._run(lambda now: ev.WrapUpDone(me, interaction_id, disposition, notes, now, own))
        self._campaign_calls.pop(interaction_id, None)
        agent = self.service.engine.agents[me]
        return {"ok": True, "me": self.me_view(agent)}

    @event("preview_answer", "agent")
    async def on_preview_answer(self, sid: str, data: dict[str, Any]) -> Ack:
        """ "Call" (``dial``: the checks are made again, then the call goes out for this agent) or
        "Skip" on a preview card. Only the card's own agent may answer it."""
        me = self._me(sid)
        campaign = text(data, "campaign", limit=128)
        record_id = data.get("record_id")
        if not isinstance(record_id, int) or isinstance(record_id, bool) or record_id < 0:
            raise BadRequest("record_id must be a whole number")
        dial = flag(data, "dial")
        if self.campaigns is None or not self.campaigns.answer_preview(me, campaign, record_id, dial):
            raise BadRequest("no such preview card of yours")
        log.info(
            "outbound.preview_answered",
            extra={"agent": me, "campaign": campaign, "record": record_id, "dial": dial},
        )
        return {"ok": True}


def preview_view(p: dl.PreviewOffered) -> dict[str, Any]:
    return {
        "campaign": p.campaign,
        "record_id": p.record_id,
        "number": p.number,
        "queue": p.queue,
        "fields": dict(p.fields),
        "script": p.script,
    }


def campaign_view(ivr: Mapping[str, str]) -> dict[str, Any] | None:
    """A campaign call's card: the campaign, the record, the filled script and the list's columns
    (from what the placer put in the call's IVR data); None for other calls."""
    if not ivr.get("campaign"):
        return None
    return {
        "name": ivr["campaign"],
        "record": ivr.get("record", ""),
        "script": ivr.get("script", ""),
        "fields": {k: v for k, v in ivr.items() if k not in CAMPAIGN_KEYS},
    }


# --- the page --------------------------------------------------------------------------------------


async def _callback_queues(request: web.Request) -> list[str]:
    """Queues with a callbacks campaign the agent may file with ("Schedule a callback"; none: the
    form is hidden)."""
    service = request.app.get(callbacks_api.CALLBACKS)
    if service is None:
        return []
    try:
        found = await service.campaigns()
    except StorageError:
        return []
    principal = request[PRINCIPAL]
    return sorted(
        {c.queue for s, c in found if s.state != CampaignState.STOPPED and principal.may_see(s.line)}
    )


@doc(
    "The agent panel: state, offers, the call with its screen-pop, chats, wrap-up (live over the"
    " /agent Socket.IO namespace, docs/agent-panel.md)",
    content="text/html",
)
@allow("agent")
async def agent_page(request: web.Request) -> web.Response:
    """The agent panel. Agents only: a supervisor follows agents on the supervisor console."""
    settings = request.app[pages.PAGE_SETTINGS]
    config = {
        "pause_reasons": list(settings.acd.pause_reasons),
        "dispositions": list(settings.acd.dispositions),
        "agents": [{"id": a, "name": n} for a, n in request.app[api.DIRECTORY].names.items()],
        "queues": request.app[api.SERVICE].engine.queue_names(),
        "offer_timeout": settings.acd.offer_timeout,
        "callback_queues": await _callback_queues(request),
    }
    phone = softphone.page_config(request)
    return pages.render(
        request,
        "agent.html",
        config=json.dumps(config),
        softphone=json.dumps(phone) if phone else "",
        connect=softphone.connect_sources(request) if phone else (),
        tickets=settings.tickets.workflow_file is not None,  # docs/tickets.md
    )


def setup_routes(app: web.Application) -> None:
    pages.add_nav(app, "Agent panel", "/agent", "agent")
    app.router.add_get("/agent", agent_page)
