"""The stored schedule (migration 0020): shifts, each with its agent (or none: an open shift).

``replace`` swaps every shift starting in a period for new ones in one transaction, so saving a
schedule twice stores it once. Any node reads the shifts (adherence, the agent panel).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa

from callcenter.aio import cancel_safe
from callcenter.core.reports.adherence import Shift
from callcenter.storage.db import ConnectionStore
from callcenter.storage.db_models import ScheduleShiftRow

SHIFTS = cast(sa.Table, ScheduleShiftRow.__table__)


def _dt(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _secs(d: datetime | None) -> int | None:
    return None if d is None else int(d.timestamp())


@cancel_safe
class ScheduleStore(ConnectionStore):
    """Shifts over the shared engine (or its own, for the command line and tests)."""

    _name = "schedule store"

    async def start(self) -> None:
        await self._open()

    async def replace(self, start: int, end: int, shifts: Sequence[Shift], label: str) -> int:
        """Every shift starting in ``[start, end)`` replaced by ``shifts`` (which must start there)."""
        outside = [s for s in shifts if not start <= s.start < end]
        if outside:
            raise ValueError(f"a shift starting at {outside[0].start} is outside the period replaced")
        # Adherence judges whole 15-minute intervals (core/reports/adherence.py).
        for s in shifts:
            times = (s.start, s.end, s.break_start, s.break_end)
            if any(t is not None and t % 900 for t in times) or not s.start < s.end:
                raise ValueError(f"a shift from {s.start} to {s.end} is not on 15-minute boundaries")
        async with self._begin("store the schedule", write=True) as db:
            await db.execute(
                SHIFTS.delete().where((SHIFTS.c.starts_at >= _dt(start)) & (SHIFTS.c.starts_at < _dt(end)))
            )
            if shifts:
                await db.execute(
                    SHIFTS.insert(),
                    [
                        {
                            "agent": s.agent,
                            "starts_at": _dt(s.start),
                            "ends_at": _dt(s.end),
                            "break_starts_at": _dt(s.break_start),
                            "break_ends_at": _dt(s.break_end),
                            "label": label,
                        }
                        for s in shifts
                    ],
                )
        return len(shifts)

    async def shifts(self, start: int, end: int, agents: Sequence[str] | None = None) -> list[Shift]:
        """Shifts overlapping ``[start, end)`` (of ``agents`` only, when given), by start."""
        where = (SHIFTS.c.starts_at < _dt(end)) & (SHIFTS.c.ends_at > _dt(start))
        if agents is not None:
            where &= SHIFTS.c.agent.in_(list(agents))
        cols = (SHIFTS.c.starts_at, SHIFTS.c.ends_at, SHIFTS.c.break_starts_at, SHIFTS.c.break_ends_at)
        async with self._begin("read the schedule") as db:
            rows = await db.execute(
                sa.select(*cols, SHIFTS.c.agent).where(where).order_by(SHIFTS.c.starts_at, SHIFTS.c.id)
            )
            return [
                Shift(cast(int, _secs(r[0])), cast(int, _secs(r[1])), _secs(r[2]), _secs(r[3]), r[4])
                for r in rows
            ]
