"""Live transcription on the screens: the agent panel and the supervisor's console (docs/qa.md).

Who gets what (rooms joined when the socket was accepted, on whichever node: the emits reach them
through the Socket.IO fan-out):

- the agent on the call (``/agent``, the agent's own room): ``live_text`` — partial and final text
  of both speakers — and ``live_checklist``, the required phrases of the QA rules said so far;
- supervisors and admins whose business lines include the call's (``/supervisor``, the scope
  rooms): ``live_text`` for final text only (every call of their lines; the console shows the one
  they pick, e.g. the call they listen to) and ``alert`` for live QA alerts (an emergency word,
  the caller's anger), the same ``alert`` event as the offline emergency word, with ``live: true``.

Everything shown is already redacted in the recognizer's worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from callcenter.aio import Background
from callcenter.core.acd.engine import Acd
from callcenter.core.business_lines import call_line
from callcenter.core.qa.live import ChecklistItem, LiveAlert, LiveCall, LiveText
from callcenter.web.chat_agent import AgentNamespace, agent_room
from callcenter.web.supervisor import SupervisorNamespace

log = logging.getLogger(__name__)

AGENT_NAMESPACE = "/agent"


def text_view(text: LiveText) -> dict[str, Any]:
    return {
        "interaction_id": text.interaction_id,
        "speaker": text.speaker,
        "final": text.final,
        "text": text.text,
        "start": round(text.start, 2),
        "end": round(text.end, 2),
    }


class LiveScreens:
    """The :class:`~callcenter.core.qa.live.LiveSink` of the server: emits to the rooms above."""

    def __init__(
        self,
        engine: Callable[[], Acd],
        names: Mapping[str, str],
        agents: AgentNamespace | None,
        supervisors: SupervisorNamespace | None,
    ) -> None:
        self._engine = engine
        self._names = names
        self._agents = agents
        self._supervisors = supervisors
        self._tasks = Background(log, "live.emit_failed")

    def _line(self, call: LiveCall) -> str | None:
        engine = self._engine()
        found = engine.interactions.get(call.interaction_id)
        queue_name = found.queue if found is not None else call.queue
        queue = engine.queues.get(queue_name) if queue_name is not None else None
        return call_line(queue_name, queue.line if queue is not None else None, found.skills if found else {})

    def _about(self, call: LiveCall) -> dict[str, Any]:
        return {
            "interaction_id": call.interaction_id,
            "queue": call.queue,
            "agent_id": call.agent_id,
            "agent_name": self._names.get(call.agent_id, call.agent_id),
        }

    def text(self, call: LiveCall, text: LiveText) -> None:
        view = text_view(text)
        if self._agents is not None:
            self._emit(self._agents.emit("live_text", view, room=agent_room(call.agent_id)))
        if text.final and self._supervisors is not None:
            payload = {**view, **self._about(call)}
            for room in self._supervisor_rooms(call):
                self._emit(self._supervisors.emit("live_text", payload, room=room))

    def alert(self, call: LiveCall, alert: LiveAlert) -> None:
        if self._supervisors is None:
            return
        payload = {
            **self._about(call),
            "kind": alert.kind,
            "live": True,
            "word": alert.word,
            "speaker": alert.evidence.speaker,
            "level": alert.level,
        }
        self._supervisors.send_alert(payload, self._line(call))

    def checklist(self, call: LiveCall, items: tuple[ChecklistItem, ...]) -> None:
        if self._agents is None:
            return
        payload = {
            "interaction_id": call.interaction_id,
            "items": [{"rule": i.rule, "phrases": list(i.phrases), "said": i.said} for i in items],
        }
        self._emit(self._agents.emit("live_checklist", payload, room=agent_room(call.agent_id)))

    def _supervisor_rooms(self, call: LiveCall) -> list[str]:
        assert self._supervisors is not None
        line = self._line(call)
        return [
            room
            for room, lines in self._supervisors.scopes().items()
            if lines is None or (line is not None and line in lines)
        ]

    def _emit(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    async def drain(self) -> None:
        await self._tasks.drain()
