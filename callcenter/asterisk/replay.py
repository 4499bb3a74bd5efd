"""``callcenter replay FILE``: a recorded Asterisk session re-run through the engine, no Asterisk.

The recording (``asterisk.session_recordings``, docs/asterisk.md) is played by
:class:`~callcenter.asterisk.session_replay.ReplayPort` into the real voice adapter and the real
engine (built from the configuration: agents, queues, IVR menu or flows), on the recording's clock
(the engine is ticked each recorded second), with an in-memory store. Each decision of the engine is
printed with its reason. The configuration should be the one the server ran with: a different ring
timeout or menu makes the adapter send other actions than the recorded ones, and the replay stops
there with the action it expected (:class:`ReplayDivergence`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.asterisk.session_replay import RecordingError, ReplayDivergence, ReplayPort
from callcenter.asterisk.voice import VoiceAdapter
from callcenter.asterisk.voice_state import AsteriskSnapshot
from callcenter.core import events as ev
from callcenter.core.acd.engine import Acd
from callcenter.core.commands import Command, RecordEvent, SaveInteraction
from callcenter.core.interaction import Interaction
from callcenter.core.notices import Notice
from callcenter.service import CallCenter
from callcenter.settings import Settings
from callcenter.storage.event_log import event_row

if TYPE_CHECKING:
    from callcenter.storage.db import StoredEvent

__all__ = ["RecordingError", "ReplayDivergence", "Replayed", "describe", "replay_session"]


class _MemoryStore:
    """The service's store, in memory: a replay writes nothing anywhere."""

    def __init__(self) -> None:
        self.interactions: dict[str, Interaction] = {}

    async def save_interaction(self, interaction: Interaction) -> None:
        self.interactions[interaction.id] = interaction

    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        return self.interactions.get(interaction_id)

    async def recent_interactions(
        self, limit: int = 50, *, queues: Collection[str] | None = None
    ) -> list[Interaction]:
        return list(self.interactions.values())[-limit:]

    async def add_notice(self, notice: Notice | RecordEvent) -> None:
        pass

    async def events_for(self, interaction_id: str) -> list[StoredEvent]:
        return []


@dataclass(slots=True)
class Replayed:
    engine: Acd
    commands: list[Command] = field(default_factory=list)
    calls_matched: int = 0

    def interactions(self) -> dict[str, Interaction]:
        """Each interaction's newest snapshot, as the database would have it."""
        return {c.interaction.id: c.interaction for c in self.commands if isinstance(c, SaveInteraction)}


async def replay_session(
    settings: Settings,
    path: Path,
    *,
    restored: Sequence[Interaction] = (),
    on_command: Callable[[Command], None] | None = None,
) -> Replayed:
    """Play ``path`` through a new engine; ``restored``: the unfinished interactions a restarted
    server read back from its database (a recording made after a restart)."""
    from callcenter.app import build_engine, flow_factory, flow_opening
    from callcenter.asterisk.recorder import record_base, spool_dirs

    replayed = Replayed(build_engine(settings))
    ticks: list[float] = []

    def tick(at: float) -> None:
        if not ticks:
            ticks.append(at)
        while ticks[-1] + 1.0 <= at:
            ticks.append(ticks[-1] + 1.0)
            service.submit(ev.Tick(ticks[-1]))

    port = ReplayPort.from_file(path, on_time=tick, on_input=lambda event: service.submit(event))
    service = CallCenter(replayed.engine, _MemoryStore(), clock=port.clock)

    def listen(command: Command) -> None:
        replayed.commands.append(command)
        if on_command is not None:
            on_command(command)

    service.listeners.append(listen)

    def on_snapshot(snapshot: AsteriskSnapshot) -> None:
        live = replayed.engine.live.values()
        found = frozenset(i.id for i in live if i.caller_channel in snapshot.channels)
        service.submit(ev.Reconciled(found, snapshot.registered, port.clock()))

    voice = VoiceAdapter(
        settings,
        submit=service.submit,
        handle=service.handle,
        on_snapshot=on_snapshot,
        flow_factory=flow_factory(settings, flows := _flows(settings)),
        opening=flow_opening(settings, flows),
        port=port,
        clock=port.clock,
        new_id=port.new_id,
        record_base=lambda iid: record_base(settings, replayed.engine, spool_dirs(settings)[1], iid),
    )
    service.dialer = voice
    service.call_control = voice.calls
    _restore(service, voice, restored, port.clock())
    try:
        await port.run(voice.inbound.routes)
    finally:
        await voice.stop()
        replayed.calls_matched = port.calls_matched
    return replayed


def _restore(service: CallCenter, voice: VoiceAdapter, restored: Sequence[Interaction], at: float) -> None:
    """As a restarted server does: the engine takes them back, the adapter looks for their calls."""
    if restored:
        service.dispatch(service.engine.restore(restored, at))
        voice.adopt_callers(
            {i.caller_channel: i.id for i in restored if i.caller_channel},
            {i.id: a for i in restored if i.caller_channel and (a := i.talking_agent)},
        )


def _flows(settings: Settings) -> Any:
    if settings.ivr.flows_dir is None:
        return None
    from callcenter.ivr.store import FlowStore

    store = FlowStore(settings.ivr, settings.ivr.flows_dir)
    store.reload()
    return store


def describe(command: Command) -> str | None:
    """One line per decision (None for the engine's snapshots): what, for whom, and why."""
    if isinstance(command, SaveInteraction):
        return None
    name = type(command).__name__
    if isinstance(command, (RecordEvent, Notice)):
        row = event_row(command)  # a notice as its event-log row: kind and data
        data = dict(row.data)
        reason = data.pop("reason", None)
        details = " ".join(f"{k}={v}" for k, v in data.items())
        return f"{row.kind} [{row.interaction_id}] {details}".rstrip() + (f" — {reason}" if reason else "")
    values = {f.name: getattr(command, f.name) for f in fields(command)} if is_dataclass(command) else {}
    reason = values.pop("reason", None)
    shown = " ".join(f"{k}={v}" for k, v in values.items() if k != "at" and not isinstance(v, dict))
    return f"{name} {shown}" + (f" — {reason}" if reason else "")


def main(args: argparse.Namespace, settings: Settings) -> int:
    # The decisions are the output; the adapters' own log lines (info) would only repeat them.
    logging.getLogger("callcenter").setLevel(max(logging.WARNING, logging.getLogger().level))
    start: list[float] = []

    def show(command: Command) -> None:
        line = describe(command)
        if line is None:
            return
        at = float(getattr(command, "at", 0.0) or 0.0)
        if at and not start:
            start.append(at)
        offset = f"{at - start[0]:8.3f}s" if at and start else " " * 9
        print(f"{offset}  {line}")

    try:
        replayed = asyncio.run(replay_session(settings, args.file, on_command=show))
    except (RecordingError, OSError) as err:
        print(f"cannot replay: {err}", file=sys.stderr)
        return 2
    except ReplayDivergence as err:
        print(f"replay diverged: {err}", file=sys.stderr)
        return 1
    ended = [i for i in replayed.interactions().values() if i.outcome is not None]
    matched = replayed.calls_matched
    print(f"replayed {args.file}: {matched} actions matched, {len(ended)} interaction(s) ended")
    for i in ended:
        assert i.outcome is not None
        print(f"  {i.id}: {i.outcome.value} queue={i.queue} agent={i.agent_id} ended_by={i.ended_by}")
    return 0
