"""The PJSIP endpoints of agents added while the server runs (docs/admin.md).

The agents of the settings file have their endpoints in pjsip.conf, rendered before Asterisk
starts. Those added later (the agents file, ``settings/agents_file.py``) get theirs here: the
routing owner renders them from the same template (``pjsip-agent.tmpl``: the desk phone and
``<ext>-web``) into ``pjsip_added_agents.inc`` in Asterisk's configuration directory
(``asterisk.config_dir``), which pjsip.conf ``#tryinclude``s, and asks Asterisk to reload
res_pjsip (AMI ``Reload``, class ``system``). A reload keeps calls in progress and the
registrations of the other phones (their contacts live in the astdb).

Invariants: the file is replaced atomically and only when its text changes; syncs run one at a
time, in order, so the newest roster is the one left on disk and loaded. The file holds the agents'
SIP passwords: it is written 0640 and never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from callcenter.asterisk.asterisk_port import AmiError, AsteriskPort
from callcenter.asterisk.sandbox import agent_endpoints, read_agent_template
from callcenter.files import write_atomically
from callcenter.settings import AgentSettings, Settings

log = logging.getLogger(__name__)

FILE_NAME = "pjsip_added_agents.inc"
MODULE = "res_pjsip.so"
_HEADER = "; Written by the callcenter server (asterisk/added_agents.py): agents added at runtime.\n"


class AddedEndpoints:
    def __init__(self, settings: Settings, config_dir: Path, port: AsteriskPort) -> None:
        self._settings = settings
        self.path = config_dir / FILE_NAME
        self._port = port
        self._template = read_agent_template()
        self._lock = asyncio.Lock()
        self._unloaded = False  # written, but Asterisk was not told yet

    def render(self, agents: Iterable[AgentSettings]) -> str:
        return _HEADER + agent_endpoints(self._template, self._settings, agents) + "\n"

    async def sync(self, agents: Iterable[AgentSettings], wait: float = 10.0) -> bool:
        """Write the endpoints of ``agents`` and reload res_pjsip when they changed (or an earlier
        reload failed). True when Asterisk reloaded. Raises AmiError when it could not be told
        (the file is written: the next sync, or Asterisk's next start, loads it)."""
        text = self.render(agents)
        async with self._lock:
            try:
                old = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
            except OSError:
                old = None
            if old == text and not self._unloaded:
                return False
            if old != text:
                await asyncio.to_thread(write_atomically, self.path, text, 0o640)
                self._unloaded = True
            if not self._port.connected and not await self._port.wait_connected(wait):
                raise AmiError("Asterisk is not connected: the new endpoints load at the next sync")
            await self._port.reload(MODULE)
            self._unloaded = False
            log.info("agents.endpoints_reloaded", extra={"file": str(self.path)})
            return True
