"""The audit log: who did what to what, when, from where (table ``audit``, ``GET /api/audit``).

``record`` never fails the action it records: the action has happened by then. A write the
database refuses is logged (``audit.write_failed``, with the entry) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from callcenter.accounts import AuditStore
from callcenter.errors import StorageError
from callcenter.principal import Principal

log = logging.getLogger(__name__)


class Audit:
    def __init__(self, store: AuditStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        who: Principal | str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        client: str | None = None,
    ) -> None:
        name, role = (who.name, who.role) if isinstance(who, Principal) else (who, None)
        try:
            await self._store.add_audit(
                at=self._clock(),
                who=name,
                role=role,
                action=action,
                target=target,
                detail=dict(detail or {}),
                client=client,
            )
        except StorageError as err:
            log.error(
                "audit.write_failed",
                extra={"who": name, "action": action, "target": target, "detail": str(err)},
            )
