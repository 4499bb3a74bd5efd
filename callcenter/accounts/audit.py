"""The audit log: who did what to what, when, from where (table ``audit``, ``GET /api/audit``).

An action whose audit record cannot be written does not happen. :meth:`Audit.record` is called
*before* the action takes effect and raises :class:`~callcenter.errors.AuditUnavailable` when the
database refuses the row; the caller then leaves everything as it was (the web layer answers 503).
Account changes go further: the change and its row are written in one transaction of the account
store (:meth:`Audit.entry` builds the row), so either both are stored or neither.

:meth:`Audit.try_record` is only for refusals (a wrong password, a throttled sign-in): the refusal
stands whether or not its row can be written, so a failed write is logged (``audit.write_failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from callcenter.accounts.model import AuditStore, AuditWrite
from callcenter.accounts.principal import Principal
from callcenter.errors import AuditUnavailable, StorageError

log = logging.getLogger(__name__)


class Audit:
    def __init__(self, store: AuditStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def entry(
        self,
        who: Principal | str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        client: str | None = None,
    ) -> AuditWrite:
        """The row of an action, stamped now (for a store that writes it with the action)."""
        name, role = (who.name, who.role) if isinstance(who, Principal) else (who, None)
        return AuditWrite(self._clock(), name, role, action, target, dict(detail or {}), client)

    async def record(
        self,
        who: Principal | str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        client: str | None = None,
    ) -> None:
        """Write the row of an action about to happen; :class:`AuditUnavailable` if it cannot be."""
        entry = self.entry(who, action, target, detail, client)
        try:
            await self._store.add_audit(entry)
        except StorageError as err:
            log.error(
                "audit.write_failed",
                extra={"who": entry.who, "action": action, "target": target, "detail": str(err)},
            )
            if isinstance(err, AuditUnavailable):
                raise
            raise AuditUnavailable(f"the audit log cannot be written ({action} refused): {err}") from err

    async def try_record(
        self,
        who: Principal | str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        client: str | None = None,
    ) -> bool:
        """Write the row of a refusal if possible; a failed write is logged, never raised."""
        try:
            await self.record(who, action, target, detail, client)
        except AuditUnavailable:
            return False  # logged by record
        return True
