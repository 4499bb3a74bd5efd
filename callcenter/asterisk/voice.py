"""The voice adapter: Asterisk (the port + FastAGI) in, core events out; voice commands carried out.

It composes parts with one job each around one :class:`VoiceState` (the mapping between Asterisk's
channels and our interactions): ``voice_inbound`` (FastAGI, the IVR flow, feature codes),
``voice_dialer`` (the engine's dialling commands), ``voice_events`` (AMI events to core events),
``voice_outbound`` (campaigns' calls: placed, answered into the queue, their results),
``voice_reconcile`` (after every (re)connect) and ``call_control`` (the core's call commands: hold,
transfers, consults, conferences; supervisor spy; recording pause).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from callcenter import metrics
from callcenter.asterisk import devices
from callcenter.asterisk.agi import AgiChannel
from callcenter.asterisk.ami_events import AmiEvent, Hangup, HangupRequest
from callcenter.asterisk.asterisk_port import AmiError, AsteriskPort
from callcenter.asterisk.call_control import CallControl
from callcenter.asterisk.voice_dialer import VoiceDialer
from callcenter.asterisk.voice_events import EventMapper
from callcenter.asterisk.voice_inbound import OPENING_VARIABLE, InboundCalls
from callcenter.asterisk.voice_outbound import OutboundCalls
from callcenter.asterisk.voice_reconcile import Reconciler
from callcenter.asterisk.voice_state import AgentLeg, AsteriskSnapshot, Tasks, VoiceState
from callcenter.core import events as ev
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Announce, CancelDial, Command, DialAgent, DialCustomer, ExitQueue
from callcenter.core.ivr import flow as ivr
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class VoiceAdapter:
    def __init__(
        self,
        settings: Settings,
        submit: Callable[[ev.Event | cl.CallEvent], None],
        on_snapshot: Callable[[AsteriskSnapshot], None],
        flow_factory: Callable[[ev.CallArrived], ivr.Flow],
        *,
        port: AsteriskPort,
        clock: Callable[[], float] = time.time,
        http: aiohttp.ClientSession | None = None,
        handle: Callable[[ev.Event], object] | None = None,
        record_base: Callable[[str], str | None] | None = None,
        identify_caller: Callable[[str, float], Awaitable[str | None]] | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        opening: Callable[[], ivr.Opening] = ivr.Opening,
    ) -> None:
        """``port`` and the FastAGI server of ``self.routes`` are started by the composition
        root. ``record_base``: where Asterisk records a call (None: not recorded). ``opening``:
        what the current IVR flows start with, played by the dialplan itself (voice_inbound)."""
        self._settings = settings
        self._submit = submit
        self._on_snapshot = on_snapshot
        self._clock = clock
        self.port = port
        self._state = VoiceState()
        self._legs = self._state.legs  # agent leg uniqueid -> leg
        self._background = Tasks()
        self.inbound = InboundCalls(
            settings,
            self._state,
            submit,
            clock,
            flow_factory,
            self._caller_gone,
            handle=handle,
            identify_caller=identify_caller,
            new_id=new_id,
            opening=opening,
        )
        # A flow reload that changed the opening is published with the next call.
        self.inbound.on_opening_changed = lambda: self._spawn(self.publish_opening())
        self.dialer = VoiceDialer(
            settings, port, self._state, self._background, submit, clock, self._caller_gone, record_base
        )
        self.events = self._listen(port)
        self.reconciler = Reconciler(
            port, self._state, settings.asterisk.leftover_seconds, take_back=bool(settings.agi.nodes)
        )
        self.outbound: OutboundCalls | None = None  # campaigns' calls: place_campaign_calls()
        self._new_id = new_id
        # Hold, transfers, consults, conferences: the core's call commands, carried out.
        self.calls = CallControl(
            settings, port, self._legs, submit, clock, self._background, self._state.contacts
        )
        # The IVR's lookups to outside systems; ours to close unless it was given.
        self.inbound.http = http
        self._own_http = http is None

    def _listen(self, port: AsteriskPort) -> EventMapper:
        """AMI events mapped to core events; our view rebuilt after every (re)connect."""
        events = EventMapper(
            self._state,
            self._background,
            self._submit,
            self._clock,
            self.dialer.hangup,
            self.inbound.hold_back,
            self._call_ended,
            self._agent_leg_gone,
        )
        callers = self._state.callers

        def on_event(event: AmiEvent) -> None:
            # A caller of ours ending (HangupRequest, or Hangup when the system ended it): the sweep
            # looks for the Surrogate a Bridge() may have left of it.
            if isinstance(event, (HangupRequest, Hangup)) and event.uniqueid in callers:
                self.reconciler.caller_ended(event.channel)
            events.on_event(event)
            if self.outbound is not None:
                self.outbound.on_event(event)

        port.subscribe(
            on_event,
            on_connected=self._reconcile,
            on_disconnected=lambda: metrics.AMI_CONNECTED.set(0),
        )
        return events

    def place_campaign_calls(self, decide: Callable[[ev.Event], Sequence[Command]]) -> OutboundCalls:
        """Campaigns' calls placed here (the dialler's placer, with its FastAGI route).
        ``decide``: the service's ``handle``, which returns the engine's commands."""
        self.outbound = OutboundCalls(
            self._settings, self.port, self._state, self._background, decide, self._clock, self._new_id
        )
        return self.outbound

    @property
    def routes(self) -> dict[str, Callable[[AgiChannel], Awaitable[None]]]:
        """The FastAGI routes of the dialplan: inbound calls, feature codes, campaigns' answers."""
        routes: dict[str, Callable[[AgiChannel], Awaitable[None]]] = dict(self.inbound.routes)
        if self.outbound is not None:
            routes.update(self.outbound.routes)
        return routes

    async def start(self) -> None:
        if self._own_http:
            self.inbound.http = aiohttp.ClientSession(headers={"User-Agent": "callcenter-ivr"})
        if self._settings.asterisk.leftover_sweep_seconds > 0:
            self._spawn(self._sweep_leftovers(self._settings.asterisk.leftover_sweep_seconds))

    async def _sweep_leftovers(self, every: float) -> None:
        """Leftover channels are found at each reconcile, and between them here (voice_reconcile)."""
        while True:
            await asyncio.sleep(every)
            if not self.port.connected:
                continue
            try:
                await self.reconciler.sweep()
            except AmiError as err:
                log.warning("voice.leftover_sweep_failed", extra={"error": str(err)})

    async def stop(self) -> None:
        if self._own_http and self.inbound.http is not None:
            await self.inbound.http.close()
            self.inbound.http = None
        await self._background.cancel_all()
        await self.inbound.stop()

    def registered(self, extension: str) -> bool:
        """Whether Asterisk reported a contact for the extension's desk phone or browser."""
        return devices.is_registered(self._state.contacts, extension)

    def adopt_callers(self, channels: dict[str, str], answered: dict[str, str] | None = None) -> None:
        """Track callers restored after a restart: ``{caller channel name: interaction id}``, and
        of those an agent was talking to, ``{interaction id: agent id}``."""
        self.reconciler.adopt(channels, answered)

    # -- commands (service.Dialer, service.QueueVoice) ---------------------------------------------
    def execute(self, command: DialAgent | CancelDial) -> None:
        self.dialer.execute(command)

    def execute_queue(self, command: DialCustomer | Announce | ExitQueue) -> None:
        self.dialer.execute_queue(command)

    def _spawn(self, coro: Any) -> None:
        self._background.spawn(coro)

    # -- what a line's end means for call control --------------------------------------------------
    def _caller_gone(self, uniqueid: str, cause: str, system: bool = False) -> None:
        self.events.caller_gone(uniqueid, cause, system)

    def _call_ended(self, interaction_id: str) -> None:
        """The caller's line ended: a conference must not go on, a held agent is left alone."""
        self.calls.caller_gone(interaction_id)

    def _agent_leg_gone(self, leg: AgentLeg) -> None:
        self.calls.leg_gone(leg)

    async def publish_opening(self) -> None:
        """Tell the dialplan what the flows start with (the global variable ``CC_OPENING``)."""
        text = self.inbound.opening_text()
        try:
            await self.port.set_var("", OPENING_VARIABLE, text)
        except AmiError as err:
            log.warning("voice.opening_not_published", extra={"error": str(err)})
            return
        self.inbound.published_opening = text
        log.info("voice.opening_published", extra={"opening": text})

    async def _reconcile(self) -> None:
        """After every (re)connect; adopted calls found on hold are on hold again."""
        await self.publish_opening()
        found = await self.reconciler.run()
        for iid, (caller, agent_id) in found.held.items():
            if self.calls.agent_channel(iid, agent_id) is not None:
                self.calls.found_on_hold(iid, caller)
        self._on_snapshot(found.snapshot)
