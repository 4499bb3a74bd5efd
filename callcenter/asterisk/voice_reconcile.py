"""After every (re)connect: our view of Asterisk rebuilt from Asterisk itself, never from memory.

Callers and agents' legs whose channels are gone are forgotten; the snapshot (live channels,
registered and known endpoints) goes to the engine, which ends what vanished as ``lost``. After a
restart, the callers the engine restored are adopted: known by channel name until the first reconcile
tells us their uniqueid, and of answered calls, the agent's leg (uniqueid ``<interaction>-<attempt>``)
and whether the caller is on hold (in ``cc-hold``).

Leftovers (issue 13 #11): Asterisk has been seen to leave a ``Surrogate/PJSIP/caller-...`` channel
in ``cc-wait`` after the Bridge() that takes a caller off hold, with nothing attached, until it
restarts (the waits are holding bridges since, which the Bridge() moves callers out of without a
Surrogate). A channel that is a Surrogate, or sits in one of our waiting contexts without being a
call of ours, in no bridge but a holding one, for longer than ``asterisk.leftover_seconds``, is
hung up at every reconcile and every ``asterisk.leftover_sweep_seconds`` (:meth:`Reconciler.sweep`), logged
(``voice.leftover_hung_up``) and counted (``callcenter_asterisk_leftovers_hung_up_total``).

Surrogates need more: AMI's CoreShowChannels does not list them (only the CLI's ``core show
channels`` does), and on Asterisk 22.10 they have no thread, so an AMI Hangup is accepted but never
carried out (a Redirect or Bridge of one is refused). The sweep therefore looks each ended caller's
``Surrogate/<channel>`` up by name, asks for its hang-up anyway, and reports what it found
(``voice.surrogate_left``, ``callcenter_asterisk_surrogates_found_total``): only a restart of
Asterisk removes them (bench/bridge_leak.py reproduces them; docs/asterisk.md).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from callcenter import metrics
from callcenter.asterisk import devices
from callcenter.asterisk.asterisk_port import AmiError, AsteriskPort, ChannelInfo
from callcenter.asterisk.voice_state import AgentLeg, AsteriskSnapshot, VoiceState, WaitingCaller

log = logging.getLogger("callcenter.asterisk.voice")

ENDED_KEPT = 5000  # ended callers whose Surrogate the next sweep looks for

# Where only our calls wait: a channel here that is not ours has nobody to take it out.
WAITING_CONTEXTS = frozenset({"cc-wait", "cc-hold", "cc-held"})


def leftovers(channels: list[ChannelInfo], state: VoiceState, older_than: float) -> list[ChannelInfo]:
    """The channels nobody will ever take out: Surrogates, and channels of our waiting contexts
    that are no call of ours, in no bridge but a holding one (cc-wait's and cc-hold's BridgeWait),
    older than ``older_than`` seconds. Ours: a caller or
    agent leg we track, or any leg named after an interaction we know (``<interaction>-...``)."""
    interactions = set(state.callers.values()) | {leg.interaction_id for leg in state.legs.values()}

    def ours(uniqueid: str) -> bool:
        tracked = uniqueid in state.callers or uniqueid in state.legs
        return tracked or uniqueid.rpartition("-")[0] in interactions

    return [
        c
        for c in channels
        if (not c.bridge_id or c.holding)
        and c.duration >= older_than
        and (c.channel.startswith("Surrogate/") or (c.context in WAITING_CONTEXTS and not ours(c.uniqueid)))
    ]


@dataclass(frozen=True, slots=True)
class Reconciled:
    snapshot: AsteriskSnapshot
    # adopted interaction -> (its caller's channel, waiting in cc-hold; the agent it was talking to)
    held: dict[str, tuple[str, str]]


class Reconciler:
    def __init__(
        self, port: AsteriskPort, state: VoiceState, leftover_seconds: float = 120.0, take_back: bool = False
    ) -> None:
        self._port = port
        self._take_back = take_back  # several nodes: callers waiting unstored are taken back
        self._state = state
        self._leftover_seconds = leftover_seconds
        self._ended: deque[str] = deque(maxlen=ENDED_KEPT)
        self._adopted: dict[str, str] = {}  # caller channel name -> interaction id
        self._adopted_answered: dict[str, str] = {}  # interaction id -> the agent talking on it

    def adopt(self, channels: dict[str, str], answered: dict[str, str] | None = None) -> None:
        """Track callers restored after a restart: ``{caller channel name: interaction id}``, and
        of those an agent was talking to, ``{interaction id: agent id}``."""
        self._adopted.update(channels)
        self._adopted_answered.update(answered or {})

    async def run(self) -> Reconciled:
        metrics.AMI_CONNECTED.set(1)
        channels = await self._port.channels()
        asked = self._state.contact_changes
        endpoints = await self._port.endpoints()
        held = self._adopt(channels)
        waiting = await self._waiting(channels) if self._take_back else {}
        self._adopted.clear()
        self._adopted_answered.clear()
        uniqueids = {c.uniqueid for c in channels}
        # A phone that registered (or went) while this reconcile ran is as its event says: the
        # list is older. (Agents registering during a new owner's reconcile were marked
        # unregistered by the list and never offered again: bench/failover.py --callers.)
        contacts = self._state.contacts
        for endpoint in endpoints:
            if self._state.contact_changed.get(endpoint.name, -1) <= asked:
                contacts[endpoint.name] = set(endpoint.contacts)
        for uid in [u for u in self._state.callers if u not in uniqueids]:
            self._state.callers.pop(uid)
        for uid in [u for u in self._state.legs if u not in uniqueids]:
            self._state.legs.pop(uid)
        # An agent is registered while its desk phone or its browser is (asterisk/devices.py).
        registered = frozenset(devices.extension_of(e.name) for e in endpoints if contacts.get(e.name))
        log.info("voice.reconciled", extra={"channels": len(channels), "registered": sorted(registered)})
        await self._hang_up_leftovers(channels)
        snapshot = AsteriskSnapshot(
            frozenset(c.channel for c in channels),
            frozenset(uniqueids),
            registered,
            frozenset(e.name for e in endpoints),
            waiting,
        )
        return Reconciled(snapshot, held)

    async def _waiting(self, channels: list[ChannelInfo]) -> dict[str, WaitingCaller]:
        """Callers in cc-wait, by the interaction id their FastAGI session set (CC_INTERACTION_ID),
        with the queue it chose (CC_QUEUE); one not adopted yet is from now on."""
        waiting: dict[str, WaitingCaller] = {}
        for info in channels:
            if info.context != "cc-wait":
                continue
            try:
                iid = self._state.callers.get(info.uniqueid) or await self._port.get_var(
                    info.channel, "CC_INTERACTION_ID"
                )
                queue = await self._port.get_var(info.channel, "CC_QUEUE")
                number = await self._port.get_var(info.channel, "CALLERID(num)")
            except AmiError:  # gone meanwhile
                continue
            if iid and queue:
                self._state.callers.setdefault(info.uniqueid, iid)
                waiting[iid] = WaitingCaller(queue, info.channel, number or "unknown", info.duration)
        return waiting

    def caller_ended(self, channel: str) -> None:
        """A caller of ours hung up: the next sweep looks for a Surrogate it left behind."""
        if channel and not channel.startswith("Surrogate/"):
            self._ended.append(channel)

    async def sweep(self) -> int:
        """Between reconciles: hang up the leftovers found now, and look for the Surrogates of the
        callers that ended since the last sweep; returns how many leftovers were found."""
        found = await self._hang_up_leftovers(await self._port.channels())
        return found + await self._surrogates()

    async def _surrogates(self) -> int:
        found = 0
        while self._ended:
            name = "Surrogate/" + self._ended.popleft()
            try:
                state = await self._port.get_var(name, "CHANNEL(state)")
            except AmiError:  # no such channel: nothing was left
                continue
            if state is None:
                continue
            found += 1
            metrics.SURROGATES_FOUND.inc()
            try:
                await self._port.hangup(name)  # accepted; Asterisk 22.10 never carries it out
            except AmiError:
                pass
            log.warning(
                "voice.surrogate_left",
                extra={"channel": name, "state": state, "remedy": "restart Asterisk when convenient"},
            )
        return found

    async def _hang_up_leftovers(self, channels: list[ChannelInfo]) -> int:
        found = leftovers(channels, self._state, self._leftover_seconds)
        for info in found:
            kind = "surrogate" if info.channel.startswith("Surrogate/") else "unowned"
            try:
                await self._port.hangup(info.channel)
            except AmiError as err:  # gone meanwhile, or Asterisk refused: the next sweep sees it
                log.warning("voice.leftover_not_hung_up", extra={"channel": info.channel, "error": str(err)})
                continue
            metrics.LEFTOVER_CHANNELS.labels(kind=kind).inc()
            log.warning(
                "voice.leftover_hung_up",
                extra={
                    "channel": info.channel,
                    "kind": kind,
                    "context": info.context,
                    "application": info.application,
                    "seconds": info.duration,
                },
            )
        return len(found)

    def _adopt(self, channels: list[ChannelInfo]) -> dict[str, tuple[str, str]]:
        """Restored callers get their uniqueid; answered calls their agent's leg."""
        held: dict[str, tuple[str, str]] = {}
        for info in channels:
            if info.channel in self._adopted:
                self._state.callers[info.uniqueid] = iid = self._adopted.pop(info.channel)
                if info.context == "cc-hold":
                    held[iid] = (info.channel, self._adopted_answered.get(iid, ""))
            interaction_id, _, attempt = info.uniqueid.rpartition("-")
            agent_id = self._adopted_answered.get(interaction_id)
            if agent_id is not None and attempt.isdigit() and info.uniqueid not in self._state.legs:
                self._state.legs[info.uniqueid] = AgentLeg(interaction_id, agent_id, info.channel)
                log.info("voice.leg_adopted", extra={"interaction": interaction_id, "agent": agent_id})
        return held
