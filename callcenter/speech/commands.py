"""``callcenter transcribe FILE...`` and ``callcenter recordings backfill | purge | rewrap``."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from callcenter.core.qa.scoring import QaRules, score
from callcenter.core.qa.transcript import Transcript
from callcenter.qa.sentiment import anger_measure
from callcenter.settings import Settings
from callcenter.speech import transcribe as speech


def main_transcribe(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    conf = settings.transcription
    engine = args.engine or conf.engine
    adapted: str | None = None
    if conf.adaptation.enabled and engine == "pocketsphinx" and not args.no_adaptation and not args.model:
        from callcenter.speech import adaptation
        from callcenter.speech.engine import EngineError

        print(
            "adapted language model: reading the centre's text (a first build takes a minute)",
            file=sys.stderr,
        )
        try:
            model = adaptation.ensure(settings)
        except EngineError as err:
            print(f"transcribe: domain adaptation: {err}", file=sys.stderr)
            return 2
        print(f"adapted language model: {model.directory}", file=sys.stderr)
        adapted = str(model.directory)
    spec = speech.EngineSpec(
        engine,
        str(args.model) if args.model else (str(conf.model) if conf.model else None),
        args.language or conf.language,
        adapted,
        speech.decoder_options(conf) if engine == "pocketsphinx" else (),
    )
    rules = _rules(args.qa)
    requests = [
        speech.Request((str(path),), spec, tuple(args.phrase) or conf.phrases, speech.redactor_for(conf))
        for path in args.files
    ]
    results = _run_all(requests, args.workers or conf.workers, progress=not args.no_progress)
    failed = 0
    if args.format == "json":
        items: list[dict[str, Any]] = []
        for path, result in zip(args.files, results, strict=True):
            if isinstance(result, Transcript):
                item: dict[str, Any] = {"file": str(path), **speech.to_json(result)}
                if rules is not None:
                    item["qa"] = speech.qa_json(score(rules, result, anger_measure(result.language)))
            else:
                failed += 1
                item = {"file": str(path), "text": None, "error": result}
            items.append(item)
        json.dump(items, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for path, result in zip(args.files, results, strict=True):
            if isinstance(result, Transcript):
                out.write(f"{path}\t{result.text}\n")
            else:
                failed += 1
                print(f"{path}: {result}", file=sys.stderr)
    return 1 if failed else 0


def _rules(path: Path | None) -> QaRules | None:
    if path is None:
        return None
    from callcenter.qa.loader import load_rules

    return load_rules(path)


def _run_all(requests: list[speech.Request], workers: int, progress: bool) -> list[Transcript | str]:
    """Each request's transcript, or its error as text, in order."""
    bar = _progress(len(requests), progress)
    results: list[Transcript | str] = []
    try:
        if workers <= 1 or len(requests) <= 1:
            for request in requests:
                results.append(_one(request))
                bar.update(1)
            return results
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(requests)), mp_context=context) as pool:
            futures = [pool.submit(speech.run, request) for request in requests]
            # Counted here, not in done-callbacks: those may run after the last result is read,
            # and the bar would close short of its total.
            for _done in as_completed(futures):
                bar.update(1)
            return [_outcome(future) for future in futures]
    finally:
        bar.close()


def _one(request: speech.Request) -> Transcript | str:
    try:
        return speech.run(request)
    except Exception as err:  # reported per file; the others go on
        return f"{type(err).__name__}: {err}"


def _outcome(future: Future[Transcript]) -> Transcript | str:
    try:
        return future.result()
    except Exception as err:  # reported per file; the others go on
        return f"{type(err).__name__}: {err}"


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool, unit: str = "file") -> Any:
    if not enabled or total < 2:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def main_recordings(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from callcenter.storage.recordings import RecordingStore

    store = RecordingStore.from_settings(settings.recordings)
    if args.recordings_command == "rewrap":
        from callcenter.storage.recordings import RecordingError

        records = store.all()
        bar = _progress(len(records), not args.no_progress, unit="file")
        try:
            changed = store.rewrap(lambda _record, _changed: bar.update(1))
        except RecordingError as err:
            print(f"rewrap: {err}", file=sys.stderr)
            return 1
        finally:
            bar.close()
        current = store.key.current if store.key is not None else "-"
        out.write(f"rewrapped {changed} of {len(records)} file(s) with key {current!r}\n")
        return 0
    if args.recordings_command == "purge":
        now = datetime.now(UTC)
        expired = store.expired(now) if args.dry_run else store.purge(now)
        verb = "would delete" if args.dry_run else "deleted"
        for record in expired:
            out.write(f"{verb} {record.path.name} ({record.business_line}, expired {record.expires_at})\n")
        return 0
    return asyncio.run(_backfill(args, settings, store, out))


async def _backfill(args: argparse.Namespace, settings: Settings, store: Any, out: TextIO) -> int:
    from callcenter.settings.queues_file import load_queues
    from callcenter.speech.pool import TranscriptionPool
    from callcenter.speech.service import TranscriptionService
    from callcenter.storage.qa_store import QaStore
    from callcenter.storage.transcription_jobs import DONE, FAILED, JobStore

    jobs = JobStore(settings.database.url)
    await jobs.start()
    queued = 0
    try:
        for interaction_id in sorted({r.interaction_id for r in store.all()}):
            if await jobs.for_interaction(interaction_id):
                continue
            await jobs.enqueue(interaction_id, tuple(str(p) for p in store.files_of(interaction_id)))
            queued += 1
        before = await jobs.counts()
    finally:
        await jobs.stop()
    out.write(f"queued {queued} recording(s)\n")
    if args.queue_only or not before.get("queued"):
        return 0
    conf = settings.transcription
    rules = _rules(conf.qa_rules)
    # Backfilled calls are searchable and reviewable too, filed under the same business lines as
    # the server files them (the queues file's line:, see callcenter/core/business_lines.py).
    queues = load_queues(settings.acd.queues_file) if settings.acd.queues_file else {}
    results = QaStore(settings.database.url, queue_lines=lambda q: queues[q].line if q in queues else None)
    service = TranscriptionService(
        conf,
        JobStore(settings.database.url),
        TranscriptionPool(conf.workers),
        rules,
        key=store.key,
        results=results,
    )
    finished_before = before.get(DONE, 0) + before.get(FAILED, 0)
    total = before.get("queued", 0)
    bar = _progress(total, not args.no_progress, unit="recording")
    await results.start()
    await service.start()
    try:
        seen = 0
        while seen < total:
            await asyncio.sleep(0.2)
            counts = await service.store.counts()
            now_finished = counts.get(DONE, 0) + counts.get(FAILED, 0) - finished_before
            bar.update(now_finished - seen)
            seen = now_finished
        counts = await service.store.counts()
    finally:
        bar.close()
        await service.stop()
        await results.stop()
    out.write(f"done: {counts.get(DONE, 0)}, failed: {counts.get(FAILED, 0)}\n")
    return 1 if counts.get(FAILED, 0) else 0
