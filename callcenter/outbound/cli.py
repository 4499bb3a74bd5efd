"""``callcenter campaign import|list|start|pause|stop|dnc`` (docs/outbound.md).

``import campaigns.yaml`` stores the file's definitions (all or nothing: every problem as
``file:line: key: problem``); ``import --list NAME leads.csv`` adds a call list to a campaign,
with a progress bar, good rows added and each bad one reported as ``file:line: message``;
``dnc numbers.csv`` adds to the do-not-call list. They work on any node, server running or not:
the routing owner's dialler picks the changes up within ``outbound.poll_seconds``. Exit status 0;
1 when some rows were refused; 2 for bad arguments, a bad file or a database that cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from callcenter.errors import StorageError
from callcenter.settings import ConfigError, Settings


def add_parser(sub: Any) -> None:
    campaign = sub.add_parser("campaign", help="outbound campaigns")
    actions = campaign.add_subparsers(dest="campaign_action", required=True)
    imp = actions.add_parser("import", help="import campaign definitions (YAML), or a call list (--list)")
    imp.add_argument("path", help="campaigns YAML, or a CSV list with --list")
    imp.add_argument(
        "--list", dest="into", metavar="CAMPAIGN", help="import PATH as this campaign's call list"
    )
    actions.add_parser("list", help="campaigns, their state and progress")
    for verb in ("start", "pause", "stop"):
        moved = actions.add_parser(verb, help=f"{verb} a campaign")
        moved.add_argument("name")
    dnc = actions.add_parser("dnc", help="add a CSV's numbers (a 'number' column) to the do-not-call list")
    dnc.add_argument("path")


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except ConfigError as err:
        print(f"campaign: not imported:\n{err}", file=sys.stderr)
        return 2
    except StorageError as err:
        print(f"campaign: {err}; is the schema current? run 'callcenter db upgrade'", file=sys.stderr)
        return 2


def _read(path: str, what: str) -> str:
    from callcenter.settings import textfile

    try:
        return textfile.read_text(path, what)
    except textfile.TextFileError as err:
        raise ConfigError(str(err)) from err


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.core.outbound.campaign import CampaignMove, IllegalCampaignMove
    from callcenter.outbound.lists import ListError
    from callcenter.outbound.service import Campaigns, UnknownCampaign, describe
    from callcenter.storage.outbound_store import OutboundStore

    store = OutboundStore(settings.database.url)
    await store.start()
    service = Campaigns(store, settings.outbound, time.time)
    action = args.campaign_action
    try:
        if action == "import" and args.into is None:
            new, replaced = await service.import_definitions(_read(args.path, "campaigns"), args.path)
            print(f"campaigns imported: {len(new)} new ({', '.join(new) or '-'}), {len(replaced)} replaced")
            return 0
        if action == "import":
            return await _import_list(service, args.into, args.path, settings)
        if action == "dnc":
            result = await service.import_dnc(_read(args.path, "do-not-call list"), args.path)
            for problem in result.errors:
                print(problem, file=sys.stderr)
            print(
                f"do-not-call: {result.added} added, {result.duplicates} already listed, "
                f"{len(result.errors)} refused"
            )
            return 1 if result.errors else 0
        if action == "list":
            for c in await service.all():
                shown = describe(c, await service.progress(c.name))
                p = shown["progress"]
                rate = "-" if p["abandon_rate"] is None else f"{100 * p['abandon_rate']:.2f}%"
                print(
                    f"{c.name:20} {c.state.value:8} {shown['mode']:11} records {p['records']:>7}"
                    f"  pending {p['pending']:>7}  dialled {p['dialled']:>7}  abandoned {rate}"
                )
            return 0
        state = await service.move(args.name, CampaignMove(action), "command line")
        print(f"campaign {args.name}: {state.value}")
        return 0
    except UnknownCampaign as err:
        print(f"campaign: no campaign named {err.args[0]!r}", file=sys.stderr)
        return 2
    except IllegalCampaignMove as err:
        print(f"campaign: {err}", file=sys.stderr)
        return 2
    except ListError as err:
        print(f"campaign: not imported: {err}", file=sys.stderr)
        return 2
    finally:
        await store.stop()


class _Bar:
    """tqdm's bar (the speech and test extras install it), else a line per thousand rows."""

    def __init__(self, name: str) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(desc=f"import {name}", unit="row", file=sys.stderr)

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            print(f"imported {done}/{total}", file=sys.stderr)
            return
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


async def _import_list(service: Any, name: str, path: str, settings: Settings) -> int:
    text = _read(path, "call list")
    lookup = await _customer_lookup(settings)
    bar = _Bar(name)
    try:
        result = await service.import_list(name, text, path, lookup, bar)
    finally:
        bar.close()
    for problem in result.errors:
        print(problem, file=sys.stderr)
    print(
        f"list {path}: {result.added} added, {result.duplicates} already in the campaign, "
        f"{len(result.errors) - result.duplicates} refused"
    )
    return 1 if len(result.errors) > result.duplicates else 0


async def _customer_lookup(settings: Settings) -> Any:
    """Numbers and addresses of the stored customers (the server's book, read from the database)."""
    from callcenter.core.omni.customers import IdentityKind
    from callcenter.storage.messaging_store import MessagingStore

    store = MessagingStore(settings.database.url)
    await store.start()
    try:
        customers, _, _ = await store.customers()
    finally:
        await store.stop()
    owners: dict[tuple[str, str], str] = {}
    for c in customers:
        if not c.active:
            continue
        for identity in c.identities:
            if identity.kind in (IdentityKind.PHONE, IdentityKind.EMAIL):
                owners[(identity.kind.value, identity.value)] = c.id

    def find(number: str | None, email: str | None) -> str | None:
        return owners.get(("phone", number or "")) or owners.get(("email", email or ""))

    return find
