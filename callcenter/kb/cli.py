"""``callcenter kb import DIR`` (docs/knowledge-base.md): every ``*.md`` under DIR (front matter +
Markdown, callcenter/kb/importer.py) saved as a new version of its article (by key and language)
and published, with a progress bar. An article whose text did not change gets no new version.
Problems are printed as ``file:line: message``; the others are imported. Exit status: 0, 1 when a
file was refused, 2 for a directory or database that cannot be used. Each version names its
author (``--author``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callcenter.core.kb.articles import Draft
from callcenter.errors import StorageError
from callcenter.kb.importer import ImportError_, files, parse
from callcenter.kb.records import KbError, KnowledgeBase
from callcenter.settings import Settings


def add_parser(sub: Any) -> None:
    kb = sub.add_parser("kb", help="the knowledge base")
    actions = kb.add_subparsers(dest="kb_action", required=True)
    load = actions.add_parser("import", help="import Markdown articles (front matter) from a directory")
    load.add_argument("directory", help="a directory of *.md files")
    load.add_argument("--draft", action="store_true", help="save new versions without publishing them")
    load.add_argument("--author", default="import", help="who the versions are by (default: import)")


def main(args: argparse.Namespace, settings: Settings) -> int:
    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"{directory}: not a directory", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_import(directory, settings, publish=not args.draft, author=args.author))
    except StorageError as err:
        print(f"database: {err}", file=sys.stderr)
        return 2


async def _import(directory: Path, settings: Settings, *, publish: bool, author: str) -> int:
    from tqdm import tqdm

    from callcenter.storage.kb_store import KbStore

    store = KbStore(settings.database.url)
    await store.start()
    refused = saved = unchanged = 0
    try:
        paths = files(directory)
        with tqdm(total=len(paths), desc="import", unit="article", file=sys.stderr) as bar:
            for path in paths:
                try:
                    changed = await _one(store, parse(path).draft, author, publish)
                    saved, unchanged = saved + changed, unchanged + (not changed)
                except (ImportError_, KbError) as err:
                    refused += 1
                    tqdm.write(
                        str(err) if isinstance(err, ImportError_) else f"{path}: {err}", file=sys.stderr
                    )
                bar.update(1)
    finally:
        await store.stop()
    print(f"{saved} saved, {unchanged} unchanged, {refused} refused")
    return 1 if refused else 0


async def _one(store: KnowledgeBase, draft: Draft, author: str, publish: bool) -> bool:
    """Save (and publish) one draft; False when the article already has exactly this text."""
    now = datetime.now(UTC)
    current = await store.find(draft.key, draft.language)
    if current is not None:
        latest = await store.version(current.id, current.version)
        same = latest is not None and (latest.title, latest.summary, latest.body) == (
            draft.title,
            draft.summary,
            draft.body,
        )
        settings_same = (current.business_line, current.visibility, current.queues, current.ticket_types) == (
            draft.business_line,
            draft.visibility,
            tuple(sorted(draft.queues)),
            tuple(sorted(draft.ticket_types)),
        )
        if same and settings_same and (not publish or current.published_version == current.version):
            return False
    article = await store.save(draft, author, now)
    if publish:
        await store.publish(article.id, article.version, author, now)
    return True
