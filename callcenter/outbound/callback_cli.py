"""``callcenter callback list|add|cancel`` (docs/outbound.md, "Scheduled callbacks").

On any node, server running or not: the routing owner's dialler follows the database within
``outbound.poll_seconds``. ``add`` files a callback through the same service as the API (the same
refusals); ``list`` shows the pending ones (``--all``: done too), the soonest first, in each
customer's own time. Exit status 0; 1 when a callback is refused or not found; 2 for a database
that cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import Any

from callcenter.errors import StorageError
from callcenter.settings import Settings


def add_parser(sub: Any) -> None:
    callback = sub.add_parser("callback", help="callbacks at a time the customer picks")
    actions = callback.add_subparsers(dest="callback_action", required=True)
    listed = actions.add_parser("list", help="pending callbacks, the soonest first")
    listed.add_argument("--all", action="store_true", help="done and cancelled ones too")
    add = actions.add_parser("add", help="file a callback")
    add.add_argument("queue")
    add.add_argument("number")
    add.add_argument("at", help="YYYY-MM-DDTHH:MM, the customer's local time (or with an offset)")
    add.add_argument("--timezone", help="the customer's IANA zone (default: the number's)")
    add.add_argument("--note", default="")
    cancel = actions.add_parser("cancel", help="cancel a pending callback")
    cancel.add_argument("id", type=int)


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except StorageError as err:
        print(f"callback: {err}; is the schema current? run 'callcenter db upgrade'", file=sys.stderr)
        return 2


def _all(_: str | None) -> bool:
    return True  # the command line is the operator's: every business line


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.outbound.callbacks import CallbackRefused, Callbacks, InvalidCallback, view
    from callcenter.storage.outbound_store import OutboundStore

    store = OutboundStore(settings.database.url)
    await store.start()
    service = Callbacks(store, settings.outbound, time.time)
    try:
        if args.callback_action == "list":
            for r in await service.list(pending_only=not args.all, lines=_all):
                v = view(r)
                print(
                    f"{v['id']:>8}  {v['local']:22} {v['number']:16} {v['campaign']:20} "
                    f"{v['done'] or 'pending':10} {v['source']:7} {v['note']}"
                )
            return 0
        if args.callback_action == "cancel":
            if await service.cancel(args.id, "command line", _all) is None:
                print(f"callback: no pending callback {args.id}", file=sys.stderr)
                return 1
            print(f"callback {args.id}: cancelled")
            return 0
        try:
            when = datetime.fromisoformat(args.at)
        except ValueError:
            print(f"callback: {args.at!r} is not a date and time (YYYY-MM-DDTHH:MM)", file=sys.stderr)
            return 1
        try:
            filed = await service.file(
                queue=args.queue,
                number=args.number,
                when=when,
                tz=args.timezone,
                source="cli",
                by="command line",
                note=args.note,
            )
        except (CallbackRefused, InvalidCallback) as err:
            print(f"callback: refused: {err}", file=sys.stderr)
            return 1
        print(f"callback {filed.record_id} {filed.how}: {filed.number} at {filed.local} ({filed.campaign})")
        return 0
    finally:
        await store.stop()
