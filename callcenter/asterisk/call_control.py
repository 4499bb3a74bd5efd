"""Call control against Asterisk: carries out the core's call commands (core/calls.py) and reports
what happened as result events. The core owns each call's state; this module keeps only Asterisk's
facts, by interaction: the caller's channel while on hold, the consulted or invited agent's leg id,
the conference room.

The caller's leg was pulled into the agent leg's Bridge() (cc-agent). Hold and transfer move both
legs at once with one Redirect (Channel + ExtraChannel), so neither is left alone in the bridge
(Bridge() hangs up the pulled caller when the agent leg leaves it by itself). Attended transfer:
the caller waits in cc-hold, the agent's leg in cc-held; the consulted agent's phone is originated
into cc-consult, whose Bridge() pulls the first agent's leg in. Conference: caller and agent
Redirected into ConfBridge(<interaction>) (cc-conference), the invited agent originated into the
same room.

The supervisor's listen / whisper / barge (``SpyCall``: the supervisor's phone originated into
ChanSpy on the agent's leg) and the PCI recording pause (``PauseRecording`` / ``ResumeRecording``:
MixMonitorMute on the call's agent legs) are core commands too, reported back as ``SpyRinging`` and
``RecordingConfirmed``.

Asterisk is reached through the typed port (adapters/asterisk_port.py): no raw AMI action here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field

from callcenter.asterisk import devices
from callcenter.asterisk.asterisk_port import (
    AmiError,
    Application,
    AsteriskPort,
    Dialplan,
    Move,
    OriginateRequest,
)
from callcenter.asterisk.voice_state import AgentLeg, Tasks
from callcenter.core import events as ev
from callcenter.core.calls import machine as cl
from callcenter.errors import CallControlError
from callcenter.settings import Settings

log = logging.getLogger(__name__)

# A number we may transfer to: digits (optionally +), or a sandbox trunk user name.
_NUMBER = re.compile(r"\+?[A-Za-z0-9._-]{1,32}")

# ChanSpy options per mode: q quiet (no beep, no channel name spoken), E end the spy call when the
# agent's leg hangs up; w whisper (the agent hears the supervisor), B barge (both do).
SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}


@dataclass(slots=True)
class _Room:
    """A conference room of an interaction: the invited agent's leg (None once it left)."""

    caller_channel: str
    guest_leg: str | None = None
    guest: str = ""


@dataclass(slots=True)
class _Facts:
    on_hold: dict[str, str] = field(default_factory=dict)  # interaction -> the caller's channel
    consulting: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (leg id, agent)
    rooms: dict[str, _Room] = field(default_factory=dict)  # interaction -> its conference room
    unrecorded: set[str] = field(default_factory=set)  # leg ids originated here (no MixMonitor)


class CallControl:
    def __init__(
        self,
        settings: Settings,
        port: AsteriskPort,
        legs: dict[str, AgentLeg],
        submit: Callable[[cl.CallEvent | ev.Event], None],
        clock: Callable[[], float],
        tasks: Tasks,
        contacts: Mapping[str, Set[str]] | None = None,
    ) -> None:
        """``legs``: the agents' legs, shared with the voice adapter (which sees them come and go);
        ``tasks``: the voice adapter's background tasks (cancelled when it stops); ``contacts``: the
        registered contacts per endpoint (the voice adapter's), which say whether an agent's
        browser or desk phone rings (asterisk/devices.py)."""
        self._settings = settings
        self._port = port
        self._legs = legs
        self._contacts: Mapping[str, Set[str]] = contacts if contacts is not None else {}
        self._submit = submit
        self._clock = clock
        self._tasks = tasks
        self._spawn = tasks.spawn
        self._facts = _Facts()
        self._seq = 0

    # -- the core's commands -----------------------------------------------------------------------
    def execute(self, command: cl.CallCommand) -> asyncio.Task[str | None]:
        """Carry ``command`` out; the task's result is None, or why it could not be done (the
        failure is reported to the core as an event either way)."""
        # Awaited by the request that caused it (CallCenter.request): not one of the background
        # tasks, which are cancelled without waiting when the adapter stops.
        return asyncio.get_running_loop().create_task(self._run(command))

    async def _run(self, command: cl.CallCommand) -> str | None:
        try:
            await self._do(command)
        except CallControlError as err:
            log.info(
                "calls.control_failed",
                extra={
                    "interaction": command.interaction_id,
                    "command": type(command).__name__,
                    "why": str(err),
                },
            )
            self._submit(cl.failed(command, str(err), self._clock()))
            return str(err)
        return None

    async def _do(self, command: cl.CallCommand) -> None:
        iid = command.interaction_id
        match command:
            case cl.HoldCall():
                await self._hold(iid, command.agent_id, command.caller_channel)
                self._submit(cl.HoldConfirmed(iid, True, self._clock()))
            case cl.ResumeCall():
                leg = self._leg_of(iid, command.agent_id)
                await self._back_to_caller(leg)
                self._facts.on_hold.pop(iid, None)
                self._submit(cl.HoldConfirmed(iid, False, self._clock()))
            case cl.HangupCall():
                await self._hangup_call(iid, command.agent_id)
            case cl.TransferCall():
                await self._blind_transfer(command)
                self._submit(cl.TransferConfirmed(iid, self._clock()))
            case cl.OriginateConsult():
                await self._consult(command)
            case cl.BridgeConsult():
                await self._complete_consult(iid, command.agent_id, command.caller_channel)
                self._submit(cl.ConsultCompleted(iid, self._clock()))
            case cl.CancelConsult():
                await self._cancel_consult(iid, command.agent_id)
                self._submit(cl.ConsultCancelled(iid, self._clock()))
            case cl.OriginateConference():
                await self._conference(command)
            case cl.DropGuest():
                await self._drop_guest(iid)
            case cl.PauseRecording() | cl.ResumeRecording():
                paused = isinstance(command, cl.PauseRecording)
                await self._mute_recording(iid, paused)
                self._submit(cl.RecordingConfirmed(iid, paused, self._clock()))
            case cl.SpyCall():
                await self._spy(command)
                self._submit(
                    cl.SpyRinging(iid, command.supervisor, command.agent_id, command.mode, self._clock())
                )

    # -- what the voice adapter tells us -----------------------------------------------------------
    def is_held(self, interaction_id: str) -> bool:
        return interaction_id in self._facts.on_hold

    def caller_gone(self, interaction_id: str) -> None:
        """The caller hung up: a room must not go on without them; an agent's leg waiting in
        cc-held, bridged to nobody, ends too."""
        if interaction_id in self._facts.rooms:
            self._end_conference(interaction_id)
        if self._facts.on_hold.pop(interaction_id, None) is not None:
            for leg in self._legs.values():
                if leg.interaction_id == interaction_id and leg.channel is not None:
                    self._spawn(self._hangup(leg.channel))

    def leg_gone(self, leg: AgentLeg) -> None:
        """An agent's leg ended. The consulted agent hanging up ends only the consult; the invited
        one only its part of the conference; the first agent ends the room, or a held caller."""
        pending = self._facts.consulting.get(leg.interaction_id)
        if pending is not None and self._legs.get(pending[0], leg) is leg:
            self._consult_failed(leg.interaction_id, pending[0], "the consulted agent hung up")
            return
        room = self._facts.rooms.get(leg.interaction_id)
        if room is not None:
            if room.guest_leg is not None and self._legs.get(room.guest_leg, leg) is leg:
                self._guest_left(leg.interaction_id, room.guest_leg, "the invited agent hung up")
            else:
                self._end_conference(leg.interaction_id)
            return
        caller = self._facts.on_hold.pop(leg.interaction_id, None)
        if caller is not None:
            self._spawn(self._hangup(caller))

    def found_on_hold(self, interaction_id: str, caller_channel: str) -> None:
        """After a restart: the caller of a call taken over waits in cc-hold."""
        self._facts.on_hold[interaction_id] = caller_channel
        self._submit(cl.HoldFound(interaction_id, self._clock()))

    def forget(self, interaction_id: str) -> None:
        """The caller was sent elsewhere by a queue exit: nothing of ours to keep."""
        self._facts.on_hold.pop(interaction_id, None)

    # -- supervisor and PCI ------------------------------------------------------------------------
    async def _spy(self, cmd: cl.SpyCall) -> None:
        """Ring the supervisor's phone into ChanSpy on the agent's leg of the call
        (docs/supervisor.md); the answer starts spying."""
        leg = self._leg_of(cmd.interaction_id, cmd.agent_id)
        try:
            await self._port.originate(
                OriginateRequest(
                    devices.dial_endpoint(self._contacts, cmd.extension),
                    Application("ChanSpy", f"{leg.channel},{SPY_OPTIONS[cmd.mode]}"),
                    ring_timeout=30.0,
                    caller_id=f'"{cmd.mode} {cmd.agent_id}" <{cmd.agent_id}>',
                    wait=False,
                )
            )
        except AmiError as err:
            raise CallControlError(f"Asterisk refused: {err}") from err
        log.info(
            "calls.spy",
            extra={
                "interaction": cmd.interaction_id,
                "agent": cmd.agent_id,
                "ext": cmd.extension,
                "mode": cmd.mode,
            },
        )

    async def _mute_recording(self, interaction_id: str, muted: bool) -> None:
        """Pause (``muted``) or resume the recording of a call in progress, e.g. while the customer
        gives card data: the tracks get silence meanwhile. Every recorded agent leg of the call
        that is up: the dialer's (cc-record); the consult and conference legs originated here have
        no MixMonitor, and MixMonitorMute on one fails (after the recorded leg was muted)."""
        channels = [
            leg.channel
            for leg_id, leg in self._legs.items()
            if leg.interaction_id == interaction_id
            and leg.channel is not None
            and not leg.ended
            and leg_id not in self._facts.unrecorded
        ]
        if not channels:
            raise CallControlError("no recording leg is up for this call")
        for channel in channels:
            try:
                await self._port.mix_monitor_mute(channel, muted)
            except AmiError as err:
                raise CallControlError(f"Asterisk refused: {err}") from err

    def agent_channel(self, interaction_id: str, agent_id: str) -> str | None:
        """The channel of the agent's live leg on this interaction, if it is up."""
        for leg in self._legs.values():
            if (leg.interaction_id, leg.agent_id) == (interaction_id, agent_id):
                if leg.channel is not None and not leg.ended and not leg.cancelled:
                    return leg.channel
        return None

    # -- hold, hang-up, blind transfer -------------------------------------------------------------
    def _leg_of(self, interaction_id: str, agent_id: str) -> AgentLeg:
        for leg in self._legs.values():
            if (leg.interaction_id, leg.agent_id) == (interaction_id, agent_id):
                if leg.channel is not None and not leg.ended and not leg.cancelled:
                    return leg
        raise CallControlError("the agent's phone is not on this call")

    async def _hold(self, iid: str, agent_id: str, caller_channel: str) -> None:
        """The caller to ``cc-hold`` (music on hold), the agent's leg to ``cc-held`` (silence)."""
        leg = self._leg_of(iid, agent_id)
        assert leg.channel is not None
        self._leave_room(iid)
        await self._redirect(caller_channel, "cc-hold", "s", extra=(leg.channel, "cc-held", "s"))
        self._facts.on_hold[iid] = caller_channel
        log.info("calls.hold", extra={"interaction": iid, "agent": agent_id})

    async def _hangup_call(self, iid: str, agent_id: str) -> None:
        """The agent ends the call from the panel: reported as the agent hanging up (an AMI Hangup
        raises no HangupRequest, which would otherwise say the system ended it)."""
        leg = self._leg_of(iid, agent_id)
        assert leg.channel is not None
        leg.ended = True
        self._submit(ev.AgentHungUp(iid, agent_id, self._clock()))
        caller = self._facts.on_hold.pop(iid, None)
        await self._hangup(leg.channel)
        if caller is not None:  # on hold: the caller is no longer bridged to the agent's leg
            await self._hangup(caller)
        self._end_conference(iid)

    async def _blind_transfer(self, cmd: cl.TransferCall) -> None:
        """The caller back to waiting (``cc-wait``, in ``queue``: the engine then rings the target)
        or out to ``number`` (``cc-transfer``); the agent's leg ends (``cc-transferred``)."""
        leg = self._leg_of(cmd.interaction_id, cmd.agent_id)
        assert leg.channel is not None
        if cmd.number is not None and not _NUMBER.fullmatch(cmd.number):
            raise CallControlError("not a number we can dial")
        self._leave_room(cmd.interaction_id)
        if cmd.number is not None:
            dial = self._settings.acd.transfer_dial.replace("{number}", cmd.number)
            variables, context = {"CC_TRANSFER_DIAL": dial}, "cc-transfer"
        else:
            variables, context = {"CC_QUEUE": cmd.queue or ""}, "cc-wait"
        for name, value in variables.items():
            await self._setvar(cmd.caller_channel, name, value)
        leg.ended = True  # its end is the transfer, not a hang-up
        await self._redirect(cmd.caller_channel, context, "s", extra=(leg.channel, "cc-transferred", "s"))
        self._facts.on_hold.pop(cmd.interaction_id, None)
        log.info("calls.transferred", extra={"interaction": cmd.interaction_id, "to": context})

    # -- attended transfer -------------------------------------------------------------------------
    async def _consult(self, cmd: cl.OriginateConsult) -> None:
        """Put the caller on hold (if not yet) and ring the colleague; when it answers it talks to
        the first agent."""
        leg = self._leg_of(cmd.interaction_id, cmd.agent_id)
        assert leg.channel is not None
        if cmd.interaction_id not in self._facts.on_hold:
            await self._hold(cmd.interaction_id, cmd.agent_id, cmd.caller_channel)
        self._seq += 1
        leg_id = f"{cmd.interaction_id}-consult{self._seq}"
        self._facts.consulting[cmd.interaction_id] = (leg_id, cmd.to_agent)
        self._spawn(self._ring_consulted(leg_id, cmd, leg.channel))

    async def _ring_consulted(self, leg_id: str, cmd: cl.OriginateConsult, first_leg: str) -> None:
        variables = {"CC_CONSULT_CHANNEL": first_leg}
        reason = await self._originate(
            leg_id,
            cmd.interaction_id,
            cmd.to_agent,
            cmd.to_extension,
            "cc-consult",
            "Consult <consult>",
            variables,
        )
        if reason:
            self._consult_failed(cmd.interaction_id, leg_id, reason)
        elif self._facts.consulting.get(cmd.interaction_id, ("",))[0] == leg_id:
            self._submit(cl.ConsultAnswered(cmd.interaction_id, cmd.to_agent, self._clock()))

    def _consult_failed(self, interaction_id: str, leg_id: str, reason: str) -> None:
        pending = self._facts.consulting.get(interaction_id)
        if pending is None or pending[0] != leg_id:
            return
        del self._facts.consulting[interaction_id]
        log.info("calls.consult_failed", extra={"interaction": interaction_id, "reason": reason})
        self._submit(cl.ConsultFailed(interaction_id, pending[1], reason, self._clock()))

    async def _complete_consult(self, interaction_id: str, agent_id: str, caller_channel: str) -> None:
        """The consulted agent takes the caller (its leg to cc-agent,resume, whose Bridge() pulls the
        caller out of cc-hold); the first agent's leg ends."""
        first, consulted = self._consult_legs(interaction_id, agent_id)
        assert first.channel is not None and consulted.channel is not None
        await self._setvar(consulted.channel, "CC_CALLER_CHANNEL", caller_channel)
        first.ended = True
        await self._redirect(
            consulted.channel, "cc-agent", "resume", extra=(first.channel, "cc-transferred", "s")
        )
        self._facts.consulting.pop(interaction_id, None)
        self._facts.on_hold.pop(interaction_id, None)

    async def _cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        """Back to the caller: the first agent's leg to cc-agent,resume, then the consulted leg
        hung up (if answered, left alone in its Bridge(), the dialplan hangs it up anyway).

        In this order: the first leg is moved while it sits in the consult bridge or in cc-held,
        where Asterisk can always take it. Hanging up the consulted leg first sends the first leg
        out of the bridge, and a Redirect arriving while it is on its way back to the dialplan is
        refused ("Redirect failed"): one cancel in ten failed so on the sandbox."""
        pending = self._facts.consulting.get(interaction_id)
        if pending is None:
            raise CallControlError("no consult going on")
        leg = self._leg_of(interaction_id, agent_id)
        consulted = self._legs.get(pending[0])
        if consulted is not None:
            consulted.ended = True  # its end is the cancel's doing, not a failed consult
        try:
            await self._back_to_caller(leg)
        except CallControlError:
            if consulted is not None:
                consulted.ended = False
            raise
        self._facts.consulting.pop(interaction_id, None)
        self._facts.on_hold.pop(interaction_id, None)
        if consulted is not None and consulted.channel:
            await self._hangup(consulted.channel)

    def _consult_legs(self, interaction_id: str, agent_id: str) -> tuple[AgentLeg, AgentLeg]:
        pending = self._facts.consulting.get(interaction_id)
        consulted = self._legs.get(pending[0]) if pending is not None else None
        if consulted is None or consulted.channel is None or consulted.ended:
            raise CallControlError("the consulted agent is not on the line")
        return self._leg_of(interaction_id, agent_id), consulted

    # -- conference --------------------------------------------------------------------------------
    def _leave_room(self, interaction_id: str) -> None:
        """Before moving the caller and the agent elsewhere (hold, transfer, consult): refused while a
        third party is in the room (it would be left alone), else the room is forgotten."""
        room = self._facts.rooms.get(interaction_id)
        if room is not None and room.guest_leg is not None:
            raise CallControlError("drop the third party from the conference first")
        self._facts.rooms.pop(interaction_id, None)

    async def _conference(self, cmd: cl.OriginateConference) -> None:
        leg = self._leg_of(cmd.interaction_id, cmd.agent_id)
        assert leg.channel is not None
        if cmd.interaction_id not in self._facts.rooms:
            await self._redirect(
                cmd.caller_channel, "cc-conference", "s", extra=(leg.channel, "cc-conference", "s")
            )
            self._facts.on_hold.pop(cmd.interaction_id, None)
        self._seq += 1
        leg_id = f"{cmd.interaction_id}-conf{self._seq}"
        self._facts.rooms[cmd.interaction_id] = _Room(cmd.caller_channel, leg_id, cmd.to_agent)
        self._spawn(self._ring_guest(leg_id, cmd))

    async def _ring_guest(self, leg_id: str, cmd: cl.OriginateConference) -> None:
        reason = await self._originate(
            leg_id,
            cmd.interaction_id,
            cmd.to_agent,
            cmd.to_extension,
            "cc-conference",
            "Conference <conference>",
            {},
        )
        if reason:
            self._guest_left(cmd.interaction_id, leg_id, reason)
        else:
            self._submit(cl.GuestJoined(cmd.interaction_id, cmd.to_agent, self._clock()))

    def _guest_left(self, interaction_id: str, leg_id: str, reason: str) -> None:
        room = self._facts.rooms.get(interaction_id)
        if room is None or room.guest_leg != leg_id:
            return
        room.guest_leg = None  # the room stays, without it
        log.info("calls.conference_left", extra={"interaction": interaction_id, "reason": reason})
        self._submit(cl.GuestLeft(interaction_id, room.guest, reason, self._clock()))

    async def _drop_guest(self, interaction_id: str) -> None:
        """Hang up the invited agent's leg; the caller and the agent stay in the room."""
        room = self._facts.rooms.get(interaction_id)
        leg = self._legs.get(room.guest_leg) if room is not None and room.guest_leg is not None else None
        if leg is None or leg.channel is None or leg.ended:
            raise CallControlError("nobody else is in the conference")
        await self._hangup(leg.channel)

    def _end_conference(self, interaction_id: str) -> None:
        """The caller or the agent left: the room must not go on without them."""
        room = self._facts.rooms.pop(interaction_id, None)
        if room is None:
            return
        for leg in self._legs.values():
            if leg.interaction_id == interaction_id and leg.channel is not None and not leg.ended:
                leg.ended = True
                self._spawn(self._hangup(leg.channel))
        self._spawn(self._hangup(room.caller_channel))

    async def _back_to_caller(self, leg: AgentLeg) -> None:
        """The agent's leg to cc-agent,resume, whose Bridge() pulls the waiting caller back (out of
        cc-hold): resume after a hold, and a cancelled consult."""
        await self._redirect(leg.channel or "", "cc-agent", "resume")

    # -- Asterisk, through the port ----------------------------------------------------------------
    async def _redirect(
        self, channel: str, context: str, exten: str, *, extra: tuple[str, str, str] | None = None
    ) -> None:
        """One Redirect; with ``extra`` (channel, context, exten) both channels move at once."""
        also = Move(extra[0], Dialplan(extra[1], extra[2])) if extra is not None else None
        try:
            await self._port.redirect(Move(channel, Dialplan(context, exten)), also)
        except AmiError as err:
            raise CallControlError(f"Asterisk refused: {err}") from err

    async def _setvar(self, channel: str, name: str, value: str) -> None:
        try:
            await self._port.set_var(channel, name, value)
        except AmiError as err:
            raise CallControlError(f"Asterisk refused: {err}") from err

    async def _originate(
        self,
        leg_id: str,
        interaction_id: str,
        agent_id: str,
        extension: str,
        context: str,
        caller_id: str,
        variables: dict[str, str],
    ) -> str:
        """Ring an agent's phone into ``context,s,1`` (uniqueid ``leg_id``); '' once it answered,
        else why not."""
        self._legs[leg_id] = AgentLeg(interaction_id, agent_id)
        # Consult and conference legs: no cc-record. Ids of legs gone meanwhile are let go here.
        self._facts.unrecorded.intersection_update(self._legs)
        self._facts.unrecorded.add(leg_id)
        request = OriginateRequest(
            devices.dial_endpoint(self._contacts, extension),
            Dialplan(context),
            ring_timeout=self._settings.acd.ring_timeout,
            channel_id=leg_id,
            caller_id=caller_id,
            variables={"CC_INTERACTION_ID": interaction_id, "CC_AGENT_ID": agent_id, **variables},
        )
        try:
            result = await self._port.originate(request)
            reason = "" if result.answered else result.reason or "dial failed"
        except AmiError as err:
            reason = str(err)
        if reason:
            leg = self._legs.get(leg_id)
            if leg is not None and leg.channel is None:
                self._legs.pop(leg_id)  # no channel was created: no Hangup will come to clear it
        return reason

    async def _hangup(self, channel: str) -> None:
        try:
            await self._port.hangup(channel)
        except AmiError as err:
            log.info("calls.hangup_failed", extra={"channel": channel, "error": str(err)})
