"""The voice adapter: Asterisk (AMI + FastAGI) in, core events out; voice commands carried out.

It owns the mapping between Asterisk's channels and our interactions:
- the caller's leg is known from the FastAGI request (``agi_uniqueid``);
- each agent leg is originated with ``ChannelId=<interaction>-<attempt>``, so its uniqueid is known
  before Asterisk creates it, and its Hangup maps back without guessing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callcenter import metrics
from callcenter.adapters import ami_events
from callcenter.adapters.agi import AgiError, AgiHangup, AgiServer, AgiSession
from callcenter.adapters.ami import AmiClient, AmiError
from callcenter.config import Settings
from callcenter.core import events as ev
from callcenter.core import ivr
from callcenter.core.commands import CancelDial, DialAgent

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class AsteriskSnapshot:
    """What Asterisk says is live right now (after a (re)connect)."""

    channels: frozenset[str]  # channel names
    uniqueids: frozenset[str]
    registered: frozenset[str]  # endpoint names with at least one contact
    endpoints: frozenset[str]  # every PJSIP endpoint Asterisk knows


@dataclass(slots=True)
class _AgentLeg:
    interaction_id: str
    agent_id: str
    channel: str | None = None
    cancelled: bool = False
    ended: bool = False  # its HangupRequest was seen


class VoiceAdapter:
    def __init__(
        self,
        settings: Settings,
        submit: Callable[[ev.Event], None],
        on_snapshot: Callable[[AsteriskSnapshot], None],
        flow_factory: Callable[[], ivr.Flow],
        clock: Clock = time.time,
    ) -> None:
        self._settings = settings
        self._submit = submit
        self._on_snapshot = on_snapshot
        self._flow_factory = flow_factory
        self._clock = clock
        self.ami = AmiClient(
            settings.asterisk,
            self._on_ami_event,
            self._reconcile,
            on_disconnected=lambda: metrics.AMI_CONNECTED.set(0),
        )
        self.agi = AgiServer(settings.agi.host, settings.agi.port, {"inbound": self._inbound})
        self._callers: dict[str, str] = {}  # caller uniqueid -> interaction id
        self._legs: dict[str, _AgentLeg] = {}  # agent leg uniqueid -> leg
        # Callers taken over from before a restart: known by channel name until a reconcile
        # tells us their uniqueid.
        self._adopted: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.agi.start()
        await self.ami.start()

    async def stop(self) -> None:
        await self.ami.stop()
        await self.agi.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def adopt_callers(self, channels: dict[str, str]) -> None:
        """Track callers restored after a restart: ``{caller channel name: interaction id}``."""
        self._adopted.update(channels)

    # -- commands ----------------------------------------------------------------------------------
    def execute(self, command: DialAgent | CancelDial) -> None:
        if isinstance(command, DialAgent):
            self._spawn(self._dial(command))
        else:
            self._spawn(self._cancel(command))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dial(self, cmd: DialAgent) -> None:
        leg_id = f"{cmd.interaction_id}-{cmd.attempt}"
        self._legs[leg_id] = _AgentLeg(cmd.interaction_id, cmd.agent_id)
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": f"PJSIP/{cmd.extension}",
            "Context": "cc-agent",
            "Exten": "bridge",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(cmd.timeout * 1000)),
            "ChannelId": leg_id,
            "CallerID": f"<{cmd.caller_id}>",
            "Variable": [
                f"CC_INTERACTION_ID={cmd.interaction_id}",
                f"CC_AGENT_ID={cmd.agent_id}",
                f"CC_CALLER_CHANNEL={cmd.caller_channel}",
            ],
        }
        log.info(
            "voice.dial_agent",
            extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id, "ext": cmd.extension},
        )
        try:
            result = await self.ami.action(fields, as_list=True, timeout=cmd.timeout + 10)
        except AmiError as err:
            if self._legs.get(leg_id, _AgentLeg("", "")).channel is None:
                self._legs.pop(leg_id, None)
            log.warning(
                "voice.dial_failed",
                extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id, "error": str(err)},
            )
            self._submit(ev.AgentDialFailed(cmd.interaction_id, cmd.agent_id, str(err), self._clock()))
            return
        final = result[-1] if isinstance(result, list) and result else result
        if str(final.get("Response", "")).lower() == "success":
            self._submit(ev.AgentAnswered(cmd.interaction_id, cmd.agent_id, self._clock()))
            return
        leg = self._legs.get(leg_id)
        if leg is not None and leg.channel is None:
            self._legs.pop(leg_id)  # no channel was created: no Hangup will come to clear it
        code = str(final.get("Reason", ""))
        reason = ami_events.ORIGINATE_REASONS.get(code, f"dial failed (reason {code or '?'})")
        log.warning(
            "voice.dial_failed",
            extra={
                "interaction": cmd.interaction_id,
                "agent": cmd.agent_id,
                "ext": cmd.extension,
                "reason": reason,
            },
        )
        self._submit(ev.AgentDialFailed(cmd.interaction_id, cmd.agent_id, reason, self._clock()))

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
        self._submit(
            ev.CallArrived(
                interaction_id=interaction_id,
                caller_number=h.get("agi_callerid", "unknown"),
                caller_name=h.get("agi_calleridname", ""),
                dialed_number=h.get("agi_extension", ""),
                caller_channel=session.channel,
                at=self._clock(),
            )
        )
        try:
            await session.set_variable("CC_INTERACTION_ID", interaction_id)
            await self._run_flow(session, interaction_id, self._flow_factory())
        except AgiHangup:
            self._caller_gone(session.uniqueid, "caller hung up in IVR")
        except (AgiError, ivr.FlowError) as err:
            log.error("voice.ivr_error", extra={"interaction": interaction_id, "error": str(err)})
            self._submit(ev.IvrFinished(interaction_id, None, None, self._clock()))

    async def _run_flow(self, session: AgiSession, interaction_id: str, flow: ivr.Flow) -> None:
        action = flow.start()
        while True:
            result: ivr.Result
            match action:
                case ivr.Answer():
                    await session.command("ANSWER")
                    result = ivr.Done()
                case ivr.Play(prompt=prompt):
                    await session.command(f'STREAM FILE {prompt} ""')
                    result = ivr.Done()
                case ivr.GetDigit(prompt=prompt, timeout=timeout):
                    answer = await session.command(
                        f"GET DATA {prompt} {int(timeout * 1000)} 1", timeout=timeout + 60
                    )
                    result = ivr.Digit(answer.result or None)
                case ivr.Finish(choice=choice, queue=queue, priority=priority):
                    if queue is not None:
                        await session.set_variable("CC_QUEUE", queue)
                    log.info(
                        "voice.ivr_finished",
                        extra={"interaction": interaction_id, "choice": choice, "queue": queue},
                    )
                    self._submit(ev.IvrFinished(interaction_id, choice, queue, self._clock(), priority))
                    return
            action = flow.next(result)

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
                    self._submit(
                        ev.AgentHungUp(requested.interaction_id, requested.agent_id, self._clock())
                    )
            case ami_events.Hangup(uniqueid=uid):
                self._caller_gone(uid, event.cause_txt or f"cause {event.cause}", system=True)
                ended = self._legs.pop(uid, None)
                if ended is not None and not ended.ended:
                    self._submit(
                        ev.AgentHungUp(ended.interaction_id, ended.agent_id, self._clock(), system=True)
                    )
            case ami_events.ContactStatus(aor=aor, registered=registered):
                cls = ev.AgentRegistered if registered else ev.AgentUnregistered
                self._submit(cls(aor, self._clock()))
            case _:
                pass

    def _caller_gone(self, uniqueid: str, cause: str, *, system: bool = False) -> None:
        interaction_id = self._callers.pop(uniqueid, None)
        if interaction_id is not None:
            self._submit(ev.CallerHungUp(interaction_id, cause, self._clock(), system))

    async def _reconcile(self) -> None:
        """Rebuild our view from Asterisk after every (re)connect; never trust stale memory."""
        metrics.AMI_CONNECTED.set(1)
        channels = await self.ami.action({"Action": "CoreShowChannels"}, as_list=True)
        endpoints = await self.ami.action({"Action": "PJSIPShowEndpoints"}, as_list=True)
        names: set[str] = set()
        uniqueids: set[str] = set()
        for message in channels if isinstance(channels, list) else []:
            if message.get("Event") == "CoreShowChannel":
                name, uid = str(message.get("Channel", "")), str(message.get("Uniqueid", ""))
                names.add(name)
                uniqueids.add(uid)
                if name in self._adopted:
                    self._callers[uid] = self._adopted.pop(name)
        self._adopted.clear()
        registered: set[str] = set()
        known: set[str] = set()
        for message in endpoints if isinstance(endpoints, list) else []:
            if message.get("Event") == "EndpointList":
                known.add(str(message.get("ObjectName", "")))
                if message.get("Contacts"):
                    registered.add(str(message.get("ObjectName", "")))
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
