"""The engine's dialling commands carried out on the Asterisk port.

``DialAgent`` rings an agent's phone into ``cc-agent`` (whose ``Bridge()`` pulls the waiting caller
in), ``DialCustomer`` rings the reserved agent into ``cc-callback`` (which then dials the customer),
``CancelDial`` ends a ringing leg, ``Announce`` and ``ExitQueue`` move a waiting caller. Each result
comes back to the engine as an event (``AgentAnswered``, ``AgentDialFailed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.asterisk import devices
from callcenter.asterisk.asterisk_port import AmiError, AsteriskPort, Dialplan, Move, OriginateRequest
from callcenter.asterisk.voice_state import AgentLeg, Tasks, VoiceState
from callcenter.core import events as ev
from callcenter.core.commands import Announce, CancelDial, DialAgent, DialCustomer, ExitQueue
from callcenter.settings import Settings

log = logging.getLogger("callcenter.asterisk.voice")


class VoiceDialer:
    def __init__(
        self,
        settings: Settings,
        port: AsteriskPort,
        state: VoiceState,
        tasks: Tasks,
        submit: Callable[[ev.Event], None],
        clock: Callable[[], float],
        caller_gone: Callable[[str, str], None],
        record_base: Callable[[str], str | None] | None = None,
    ) -> None:
        """``caller_gone(uniqueid, cause)``: a caller's line ended by our doing (after a callback
        offer). ``record_base``: for an interaction id, where Asterisk records the call (a path
        without extension, as Asterisk sees it), or None not to record it."""
        self._settings = settings
        self._port = port
        self._state = state
        self._tasks = tasks
        self._submit = submit
        self._clock = clock
        self._caller_gone = caller_gone
        self._record_base = record_base

    def execute(self, command: DialAgent | CancelDial) -> None:
        if isinstance(command, DialAgent):
            self._tasks.spawn(self._dial(command))
        else:
            self._tasks.spawn(self._cancel(command))

    def execute_queue(self, command: DialCustomer | Announce | ExitQueue) -> None:
        if isinstance(command, DialCustomer):
            self._tasks.spawn(self._dial_customer(command))
        elif isinstance(command, Announce):
            self._tasks.spawn(self._announce(command))
        else:
            self._tasks.spawn(self._exit_queue(command))

    async def hangup(self, channel: str) -> None:
        """Hang a channel up; a channel already gone is not an error worth more than a log line."""
        try:
            await self._port.hangup(channel)
        except AmiError as err:
            log.info("voice.hangup_failed", extra={"channel": channel, "error": str(err)})

    # -- agents' legs ------------------------------------------------------------------------------
    async def _dial(self, cmd: DialAgent) -> None:
        log.info(
            "voice.dial_agent",
            extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id, "ext": cmd.extension},
        )
        await self._originate_agent(
            f"{cmd.interaction_id}-{cmd.attempt}",
            cmd,
            Dialplan("cc-agent", "bridge"),
            caller_id=f"<{cmd.caller_id}>",
            ring_timeout=cmd.timeout,
            variables={"CC_CALLER_CHANNEL": cmd.caller_channel},
        )

    async def _dial_customer(self, cmd: DialCustomer) -> None:
        """Ring the reserved agent; when they answer, the dialplan (cc-callback) dials the customer
        and reports CCCallbackConnected / CCCallbackFailed as UserEvents."""
        customer = self._settings.acd.callback_dial.replace("{number}", cmd.number)
        log.info("voice.callback_dial", extra={"interaction": cmd.interaction_id, "agent": cmd.agent_id})
        await self._originate_agent(
            f"{cmd.interaction_id}-cb{cmd.attempt}",
            cmd,
            Dialplan("cc-callback", "dial"),
            caller_id=f"Callback <{cmd.number}>",
            ring_timeout=self._settings.acd.ring_timeout,
            variables={
                "CC_CUSTOMER_DIAL": customer,
                "CC_CUSTOMER_TIMEOUT": str(max(1, int(cmd.timeout))),
            },
        )

    async def _originate_agent(
        self,
        leg_id: str,
        cmd: DialAgent | DialCustomer,
        target: Dialplan,
        *,
        caller_id: str,
        ring_timeout: float,
        variables: dict[str, str],
    ) -> None:
        """Ring an agent's phone into ``target`` (uniqueid ``leg_id``, known in advance) and report
        the result: AgentAnswered, or AgentDialFailed with the reason in words."""
        interaction_id, agent_id = cmd.interaction_id, cmd.agent_id
        self._state.legs[leg_id] = AgentLeg(interaction_id, agent_id)
        base = self._record_base(interaction_id) if self._record_base is not None else None
        request = OriginateRequest(
            endpoint=devices.dial_endpoint(self._state.contacts, cmd.extension),
            target=target,
            ring_timeout=ring_timeout,
            channel_id=leg_id,
            caller_id=caller_id,
            variables={
                "CC_INTERACTION_ID": interaction_id,
                "CC_AGENT_ID": agent_id,
                **variables,
                **({"CC_RECORD_BASE": base} if base else {}),
            },
        )
        try:
            result = await self._port.originate(request)
        except AmiError as err:
            reason = str(err)
        else:
            if result.answered:
                self._submit(ev.AgentAnswered(interaction_id, agent_id, self._clock()))
                return
            reason = result.reason
        leg = self._state.legs.get(leg_id)
        if leg is not None and leg.channel is None:
            self._state.legs.pop(leg_id)  # no channel was created: no Hangup will come to clear it
        log.warning(
            "voice.dial_failed",
            extra={"interaction": interaction_id, "agent": agent_id, "ext": cmd.extension, "reason": reason},
        )
        self._submit(ev.AgentDialFailed(interaction_id, agent_id, reason, self._clock()))

    async def _cancel(self, cmd: CancelDial) -> None:
        for leg in list(self._state.legs.values()):
            if leg.interaction_id == cmd.interaction_id and leg.agent_id == cmd.agent_id:
                leg.cancelled = True  # a channel not created yet is hung up at its Newchannel
                if leg.channel is not None:
                    await self.hangup(leg.channel)

    # -- waiting callers ---------------------------------------------------------------------------
    async def _redirect(self, channel: str, to: Dialplan, variables: dict[str, str]) -> bool:
        """Set channel variables, then send the channel to ``to``; False if it failed."""
        try:
            for name, value in variables.items():
                await self._port.set_var(channel, name, value)
            await self._port.redirect(Move(channel, to))
        except AmiError as err:
            log.info(
                "voice.redirect_failed",
                extra={"channel": channel, "context": to.context, "error": str(err)},
            )
            return False
        return True

    async def _announce(self, cmd: Announce) -> None:
        """Position and estimated wait (cc-announce), then back to waiting on hold."""
        minutes = max(1, -(-int(cmd.estimated_wait) // 60))
        variables = {"CC_POSITION": str(cmd.position), "CC_WAIT_MINUTES": str(minutes)}
        if await self._redirect(cmd.caller_channel, Dialplan("cc-announce"), variables):
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
                await self._port.set_var(cmd.caller_channel, "CC_QUEUE", cmd.target or "")
            except AmiError as err:
                log.info("voice.setvar_failed", extra={"interaction": cmd.interaction_id, "error": str(err)})
            return
        if cmd.kind == "callback":
            # The caller is hung up after the confirmation: that ends only their line, not the
            # callback (the engine keeps their place).
            for uid in self._state.callers_of(cmd.interaction_id):
                self._caller_gone(uid, "hung up after the callback offer")
        variables = {"CC_EXIT_MAILBOX": self._settings.acd.exit_mailbox}
        if await self._redirect(cmd.caller_channel, Dialplan("cc-exit", cmd.kind), variables):
            log.info("voice.queue_exit", extra={"interaction": cmd.interaction_id, "kind": cmd.kind})
