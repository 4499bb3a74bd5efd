"""The voice adapter: Asterisk (the port + FastAGI) in, core events out; voice commands carried out.

It composes parts with one job each around one :class:`VoiceState` (the mapping between Asterisk's
channels and our interactions): ``voice_inbound`` (FastAGI, the IVR flow, feature codes),
``voice_dialer`` (the engine's dialling commands), ``voice_events`` (AMI events to core events),
``voice_reconcile`` (after every (re)connect), and the agent panel's call controls below.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from callcenter import metrics
from callcenter.adapters import ami_events
from callcenter.adapters.asterisk_port import AmiError, LegacyAsteriskPort, RawActions
from callcenter.adapters.voice_dialer import VoiceDialer
from callcenter.adapters.voice_events import CALLBACK_NUMBER as _CALLBACK_NUMBER
from callcenter.adapters.voice_events import EventMapper
from callcenter.adapters.voice_inbound import InboundCalls
from callcenter.adapters.voice_reconcile import Reconciler
from callcenter.adapters.voice_state import AgentLeg, AsteriskSnapshot, Tasks, VoiceState
from callcenter.config import Settings
from callcenter.core import events as ev
from callcenter.core import ivr
from callcenter.core.commands import Announce, CancelDial, DialAgent, DialCustomer, ExitQueue

log = logging.getLogger(__name__)

_AgentLeg = AgentLeg  # the name the call-control section uses


class CallControlError(Exception):
    """A call control (hang up, hold, transfer) that cannot be done now; the message says why."""


class VoiceAdapter:
    def __init__(
        self,
        settings: Settings,
        submit: Callable[[ev.Event], None],
        on_snapshot: Callable[[AsteriskSnapshot], None],
        flow_factory: Callable[[ev.CallArrived], ivr.Flow],
        *,
        port: LegacyAsteriskPort,
        clock: Callable[[], float] = time.time,
        http: aiohttp.ClientSession | None = None,
        handle: Callable[[ev.Event], object] | None = None,
        record_base: Callable[[str], str | None] | None = None,
        identify_caller: Callable[[str, float], Awaitable[str | None]] | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        """``port`` and the FastAGI server of ``self.inbound.routes`` are started by the composition
        root. ``record_base``: where Asterisk records a call (None: not recorded)."""
        self._settings = settings
        self._submit = submit
        self._on_snapshot = on_snapshot
        self._clock = clock
        self.port = port
        # The call-control section below still sends raw AMI actions (until it moves to the port).
        self.ami: RawActions = port
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
        )
        self.dialer = VoiceDialer(
            settings, port, self._state, self._background, submit, clock, self._caller_gone, record_base
        )
        self.events = self._listen(port)
        self.reconciler = Reconciler(port, self._state)
        self._on_hold: dict[str, str] = {}  # interaction on hold -> the caller's channel
        # interaction -> (the consulted agent's leg id, what to do when the consult fails)
        self._consulting: dict[str, tuple[str, Callable[[str], None]]] = {}
        self._consult_seq = 0
        # interaction -> (the invited agent's leg id, what to do when it leaves, the caller's channel)
        self._conferences: dict[str, tuple[str, Callable[[str], None] | None, str]] = {}
        # The IVR's lookups to outside systems; ours to close unless it was given.
        self.inbound.http = http
        self._own_http = http is None

    def _listen(self, port: LegacyAsteriskPort) -> EventMapper:
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
        port.subscribe(
            events.on_event,
            on_connected=self._reconcile,
            on_disconnected=lambda: metrics.AMI_CONNECTED.set(0),
        )
        return events

    async def start(self) -> None:
        if self._own_http:
            self.inbound.http = aiohttp.ClientSession(headers={"User-Agent": "callcenter-ivr"})

    async def stop(self) -> None:
        if self._own_http and self.inbound.http is not None:
            await self.inbound.http.close()
            self.inbound.http = None
        await self._background.cancel_all()
        await self.inbound.stop()

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
        if interaction_id in self._conferences:
            self._end_conference(interaction_id)
        if self._on_hold.pop(interaction_id, None) is not None:
            # The agent's leg waits in cc-held, bridged to nobody: end it too.
            for leg in self._legs.values():
                if leg.interaction_id == interaction_id and leg.channel is not None:
                    self._spawn(self._hangup(leg.channel))

    def _agent_leg_gone(self, leg: _AgentLeg) -> None:
        """An agent's leg ended while its caller was on hold: the caller hears music alone; end it.
        A consulted agent hanging up before the transfer completes only ends the consult."""
        pending = self._consulting.get(leg.interaction_id)
        if pending is not None and self._legs.get(pending[0], leg) is leg:
            self._consult_failed(leg.interaction_id, pending[0], "the consulted agent hung up")
            return
        room = self._conferences.get(leg.interaction_id)
        if room is not None:
            if self._legs.get(room[0], leg) is leg:
                self._conference_left(leg.interaction_id, room[0], "the invited agent hung up")
            else:
                self._end_conference(leg.interaction_id)
            return
        caller = self._on_hold.pop(leg.interaction_id, None)
        if caller is not None:
            self._spawn(self._hangup(caller))

    async def _reconcile(self) -> None:
        """After every (re)connect; adopted calls found on hold are on hold again."""
        found = await self.reconciler.run()
        for iid, (caller, agent_id) in found.held.items():
            if self.agent_channel(iid, agent_id) is not None:
                self._on_hold[iid] = caller
        self._on_snapshot(found.snapshot)

    # ChanSpy options per mode: q quiet (no beep, no channel name spoken), E end the spy call
    # when the agent's leg hangs up; w whisper (the agent hears the supervisor), B barge (both do).
    SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}

    async def spy(self, agent_id: str, extension: str, mode: str) -> bool:
        """Ring the supervisor's phone ``extension`` into ChanSpy on the agent's live call leg
        (docs/supervisor.md). False when the agent has no call leg up; AmiError when refused."""
        channels = [
            leg.channel
            for leg in self._legs.values()
            if leg.agent_id == agent_id and leg.channel is not None and not leg.ended and not leg.cancelled
        ]
        if not channels:
            return False
        await self.ami.action(
            {
                "Action": "Originate",
                "Channel": f"PJSIP/{extension}",
                "Application": "ChanSpy",
                "Data": f"{channels[-1]},{self.SPY_OPTIONS[mode]}",
                "Async": "true",
                "Timeout": "30000",
                "CallerID": f'"{mode} {agent_id}" <{agent_id}>',
            }
        )
        log.info("voice.spy", extra={"agent": agent_id, "ext": extension, "mode": mode})
        return True

    async def mute_recording(self, interaction_id: str, muted: bool) -> bool:
        """Pause (``muted``) or resume the recording of a call in progress, e.g. while the customer
        gives card data: the tracks get silence meanwhile. False when no agent leg of this
        interaction is up (nothing to pause); AmiError when Asterisk refuses."""
        channels = [
            leg.channel
            for leg in self._legs.values()
            if leg.interaction_id == interaction_id and leg.channel is not None and not leg.ended
        ]
        if not channels:
            return False
        for channel in channels:
            await self.ami.action(
                {
                    "Action": "MixMonitorMute",
                    "Channel": channel,
                    "Direction": "both",
                    "State": "1" if muted else "0",
                }
            )
        return True

    # -- call controls from the agent panel -------------------------------------------------------
    # The caller's leg was pulled into the agent leg's Bridge() (cc-agent). Hold and transfer move
    # both legs at once with one Redirect (Channel + ExtraChannel), so neither is left alone in the
    # bridge (Bridge() hangs up the pulled caller when the agent leg leaves it by itself).

    def agent_channel(self, interaction_id: str, agent_id: str) -> str | None:
        """The channel of the agent's live leg on this interaction, if it is up."""
        for leg in self._legs.values():
            if (leg.interaction_id, leg.agent_id) == (interaction_id, agent_id):
                if leg.channel is not None and not leg.ended and not leg.cancelled:
                    return leg.channel
        return None

    def _leg_of(self, interaction_id: str, agent_id: str) -> _AgentLeg:
        for leg in self._legs.values():
            if (leg.interaction_id, leg.agent_id) == (interaction_id, agent_id):
                if leg.channel is not None and not leg.ended and not leg.cancelled:
                    return leg
        raise CallControlError("the agent's phone is not on this call")

    def is_held(self, interaction_id: str) -> bool:
        return interaction_id in self._on_hold

    async def hangup_call(self, interaction_id: str, agent_id: str) -> None:
        """The agent ends the call from the panel: reported as the agent hanging up (an AMI Hangup
        raises no HangupRequest, which would otherwise say the system ended it)."""
        leg = self._leg_of(interaction_id, agent_id)
        assert leg.channel is not None
        leg.ended = True
        self._submit(ev.AgentHungUp(interaction_id, agent_id, self._clock()))
        caller = self._on_hold.pop(interaction_id, None)
        await self._hangup(leg.channel)
        if caller is not None:  # on hold: the caller is no longer bridged to the agent's leg
            await self._hangup(caller)
        self._end_conference(interaction_id)

    async def hold(self, interaction_id: str, agent_id: str, caller_channel: str, held: bool) -> None:
        """Hold: the caller to ``cc-hold`` (music on hold), the agent's leg to ``cc-held`` (silence);
        resume: the agent's leg to ``cc-agent,resume``, whose Bridge() pulls the caller back."""
        leg = self._leg_of(interaction_id, agent_id)
        assert leg.channel is not None
        if held == (interaction_id in self._on_hold):
            raise CallControlError("the call is already on hold" if held else "the call is not on hold")
        self._leave_room(interaction_id)
        if held:
            await self._control(
                {
                    "Action": "Redirect",
                    "Channel": caller_channel,
                    "Context": "cc-hold",
                    "Exten": "s",
                    "Priority": "1",
                    "ExtraChannel": leg.channel,
                    "ExtraContext": "cc-held",
                    "ExtraExten": "s",
                    "ExtraPriority": "1",
                }
            )
            self._on_hold[interaction_id] = caller_channel
        else:
            await self._back_to_caller(leg.channel)
            self._on_hold.pop(interaction_id, None)
        log.info("voice.hold", extra={"interaction": interaction_id, "agent": agent_id, "held": held})

    async def blind_transfer(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        *,
        queue: str | None = None,
        number: str | None = None,
    ) -> None:
        """Send the caller back to waiting (``cc-wait``, in ``queue``: the engine then rings the
        target) or out to ``number`` (``cc-transfer``); the agent's leg ends (``cc-transferred``)."""
        leg = self._leg_of(interaction_id, agent_id)
        assert leg.channel is not None
        self._leave_room(interaction_id)
        if number is not None:
            if not _CALLBACK_NUMBER.fullmatch(number):
                raise CallControlError("not a number we can dial")
            dial = self._settings.acd.transfer_dial.replace("{number}", number)
            variables, context = {"CC_TRANSFER_DIAL": dial}, "cc-transfer"
        else:
            variables, context = {"CC_QUEUE": queue or ""}, "cc-wait"
        for name, value in variables.items():
            await self._control(
                {"Action": "Setvar", "Channel": caller_channel, "Variable": name, "Value": value}
            )
        leg.ended = True  # its end is the transfer, not a hang-up
        await self._control(
            {
                "Action": "Redirect",
                "Channel": caller_channel,
                "Context": context,
                "Exten": "s",
                "Priority": "1",
                "ExtraChannel": leg.channel,
                "ExtraContext": "cc-transferred",
                "ExtraExten": "s",
                "ExtraPriority": "1",
            }
        )
        self._on_hold.pop(interaction_id, None)
        log.info("voice.transferred", extra={"interaction": interaction_id, "agent": agent_id, "to": context})

    # Attended transfer: the caller waits in cc-hold, the agent's leg in cc-held; the consulted
    # agent's phone is originated into cc-consult, whose Bridge() pulls the first agent's leg in.

    async def consult(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        to_agent: str,
        to_extension: str,
        on_failed: Callable[[str], None],
    ) -> None:
        """Put the caller on hold (if not yet) and ring ``to_agent``; when it answers it talks to
        ``agent_id``. ``on_failed(reason)`` when its phone does not answer or its leg ends first."""
        leg = self._leg_of(interaction_id, agent_id)
        assert leg.channel is not None
        if interaction_id not in self._on_hold:
            await self.hold(interaction_id, agent_id, caller_channel, True)
        self._consult_seq += 1
        leg_id = f"{interaction_id}-consult{self._consult_seq}"
        self._consulting[interaction_id] = (leg_id, on_failed)
        self._spawn(self._originate_consult(leg_id, interaction_id, to_agent, to_extension, leg.channel))

    async def _originate_consult(
        self, leg_id: str, interaction_id: str, to_agent: str, extension: str, first_leg: str
    ) -> None:
        self._legs[leg_id] = _AgentLeg(interaction_id, to_agent)
        ring = self._settings.acd.ring_timeout
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": f"PJSIP/{extension}",
            "Context": "cc-consult",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(ring * 1000)),
            "ChannelId": leg_id,
            "CallerID": "Consult <consult>",
            "Variable": [
                f"CC_INTERACTION_ID={interaction_id}",
                f"CC_AGENT_ID={to_agent}",
                f"CC_CONSULT_CHANNEL={first_leg}",
            ],
        }
        reason = ""
        try:
            result = await self.ami.action(fields, as_list=True, timeout=ring + 10)
        except AmiError as err:
            reason = str(err)
        else:
            final = result[-1] if isinstance(result, list) and result else result
            if str(final.get("Response", "")).lower() != "success":
                code = str(final.get("Reason", ""))
                reason = ami_events.ORIGINATE_REASONS.get(code, f"dial failed (reason {code or '?'})")
        if reason:
            leg = self._legs.get(leg_id)
            if leg is not None and leg.channel is None:
                self._legs.pop(leg_id)
            self._consult_failed(interaction_id, leg_id, reason)

    def _consult_failed(self, interaction_id: str, leg_id: str, reason: str) -> None:
        pending = self._consulting.get(interaction_id)
        if pending is None or pending[0] != leg_id:
            return
        del self._consulting[interaction_id]
        log.info("voice.consult_failed", extra={"interaction": interaction_id, "reason": reason})
        pending[1](reason)

    async def complete_consult(self, interaction_id: str, agent_id: str, caller_channel: str) -> None:
        """The consulted agent takes the caller (its leg to cc-agent,resume, whose Bridge() pulls the
        caller out of cc-hold); the first agent's leg ends."""
        first, consulted = self._consult_legs(interaction_id, agent_id)
        assert first.channel is not None and consulted.channel is not None
        await self._control(
            {
                "Action": "Setvar",
                "Channel": consulted.channel,
                "Variable": "CC_CALLER_CHANNEL",
                "Value": caller_channel,
            }
        )
        first.ended = True
        await self._control(
            {
                "Action": "Redirect",
                "Channel": consulted.channel,
                "Context": "cc-agent",
                "Exten": "resume",
                "Priority": "1",
                "ExtraChannel": first.channel,
                "ExtraContext": "cc-transferred",
                "ExtraExten": "s",
                "ExtraPriority": "1",
            }
        )
        self._consulting.pop(interaction_id, None)
        self._on_hold.pop(interaction_id, None)

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        """Back to the caller: the first agent's leg to cc-agent,resume, then the consulted leg
        hung up (if answered, left alone in its Bridge(), the dialplan hangs it up anyway).

        In this order: the first leg is moved while it sits in the consult bridge or in cc-held,
        where Asterisk can always take it. Hanging up the consulted leg first sends the first leg
        out of the bridge, and a Redirect arriving while it is on its way back to the dialplan is
        refused ("Redirect failed"): one cancel in ten failed so on the sandbox."""
        pending = self._consulting.get(interaction_id)
        if pending is None:
            raise CallControlError("no consult going on")
        leg = self._leg_of(interaction_id, agent_id)
        consulted = self._legs.get(pending[0])
        if consulted is not None:
            consulted.ended = True  # its end is the cancel's doing, not a failed consult
        try:
            await self._back_to_caller(leg.channel or "")
        except CallControlError:
            if consulted is not None:
                consulted.ended = False
            raise
        self._consulting.pop(interaction_id, None)
        self._on_hold.pop(interaction_id, None)
        if consulted is not None and consulted.channel:
            await self._hangup(consulted.channel)

    def _consult_legs(self, interaction_id: str, agent_id: str) -> tuple[_AgentLeg, _AgentLeg]:
        pending = self._consulting.get(interaction_id)
        consulted = self._legs.get(pending[0]) if pending is not None else None
        if consulted is None or consulted.channel is None or consulted.ended:
            raise CallControlError("the consulted agent is not on the line")
        return self._leg_of(interaction_id, agent_id), consulted

    # Conference: caller and agent Redirected into ConfBridge(<interaction>) (cc-conference), the
    # invited agent originated into the same room.

    def in_conference(self, interaction_id: str) -> bool:
        return interaction_id in self._conferences

    def _leave_room(self, interaction_id: str) -> None:
        """Before moving the caller and the agent elsewhere (hold, transfer, consult): refused while a
        third party is in the room (it would be left alone), else the room is forgotten."""
        room = self._conferences.get(interaction_id)
        if room is not None and room[1] is not None:
            raise CallControlError("drop the third party from the conference first")
        self._conferences.pop(interaction_id, None)

    async def conference(
        self,
        interaction_id: str,
        agent_id: str,
        caller_channel: str,
        to_agent: str,
        to_extension: str,
        on_joined: Callable[[], None],
        on_left: Callable[[str], None],
    ) -> None:
        leg = self._leg_of(interaction_id, agent_id)
        assert leg.channel is not None
        if interaction_id not in self._conferences:
            await self._control(
                {
                    "Action": "Redirect",
                    "Channel": caller_channel,
                    "Context": "cc-conference",
                    "Exten": "s",
                    "Priority": "1",
                    "ExtraChannel": leg.channel,
                    "ExtraContext": "cc-conference",
                    "ExtraExten": "s",
                    "ExtraPriority": "1",
                }
            )
            self._on_hold.pop(interaction_id, None)
        self._consult_seq += 1
        leg_id = f"{interaction_id}-conf{self._consult_seq}"
        self._conferences[interaction_id] = (leg_id, on_left, caller_channel)
        self._spawn(self._originate_conference(leg_id, interaction_id, to_agent, to_extension, on_joined))

    async def _originate_conference(
        self, leg_id: str, interaction_id: str, to_agent: str, extension: str, on_joined: Callable[[], None]
    ) -> None:
        self._legs[leg_id] = _AgentLeg(interaction_id, to_agent)
        ring = self._settings.acd.ring_timeout
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": f"PJSIP/{extension}",
            "Context": "cc-conference",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(ring * 1000)),
            "ChannelId": leg_id,
            "CallerID": "Conference <conference>",
            "Variable": [f"CC_INTERACTION_ID={interaction_id}", f"CC_AGENT_ID={to_agent}"],
        }
        reason = ""
        try:
            result = await self.ami.action(fields, as_list=True, timeout=ring + 10)
        except AmiError as err:
            reason = str(err)
        else:
            final = result[-1] if isinstance(result, list) and result else result
            if str(final.get("Response", "")).lower() == "success":
                on_joined()
                return
            code = str(final.get("Reason", ""))
            reason = ami_events.ORIGINATE_REASONS.get(code, f"dial failed (reason {code or '?'})")
        leg = self._legs.get(leg_id)
        if leg is not None and leg.channel is None:
            self._legs.pop(leg_id)
        self._conference_left(interaction_id, leg_id, reason)

    def _conference_left(self, interaction_id: str, leg_id: str, reason: str) -> None:
        pending = self._conferences.get(interaction_id)
        if pending is None or pending[0] != leg_id or pending[1] is None:
            return
        on_left = pending[1]
        self._conferences[interaction_id] = (leg_id, None, pending[2])  # the room stays, without it
        log.info("voice.conference_left", extra={"interaction": interaction_id, "reason": reason})
        on_left(reason)

    async def drop_from_conference(self, interaction_id: str) -> None:
        """Hang up the invited agent's leg; the caller and the agent stay in the room."""
        pending = self._conferences.get(interaction_id)
        leg = self._legs.get(pending[0]) if pending is not None else None
        if leg is None or leg.channel is None or leg.ended:
            raise CallControlError("nobody else is in the conference")
        await self._hangup(leg.channel)

    def _end_conference(self, interaction_id: str) -> None:
        """The caller or the agent left: the room must not go on without them."""
        pending = self._conferences.pop(interaction_id, None)
        if pending is None:
            return
        for leg in self._legs.values():
            if leg.interaction_id == interaction_id and leg.channel is not None and not leg.ended:
                leg.ended = True
                self._spawn(self._hangup(leg.channel))
        self._spawn(self._hangup(pending[2]))

    async def _back_to_caller(self, agent_channel: str) -> None:
        """The agent's leg to cc-agent,resume, whose Bridge() pulls the waiting caller back (out of
        cc-hold): resume after a hold, and a cancelled consult."""
        await self._control(
            {
                "Action": "Redirect",
                "Channel": agent_channel,
                "Context": "cc-agent",
                "Exten": "resume",
                "Priority": "1",
            }
        )

    async def _control(self, fields: dict[str, str]) -> None:
        try:
            await self.ami.action(fields)
        except AmiError as err:
            raise CallControlError(f"Asterisk refused: {err}") from err

    async def _hangup(self, channel: str) -> None:
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiError as err:
            log.info("voice.hangup_failed", extra={"channel": channel, "error": str(err)})
