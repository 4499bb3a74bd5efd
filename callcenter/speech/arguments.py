"""The ``transcribe`` and ``recordings`` commands' arguments: apart from the commands themselves, so
that building the command line's parser loads no recognizer, numpy or audio code."""

from __future__ import annotations

import argparse
from pathlib import Path

from callcenter.speech.engine import ENGINES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tr = sub.add_parser("transcribe", help="transcribe recordings (WAV) offline; transcripts are redacted")
    tr.add_argument("files", nargs="+", type=Path, metavar="FILE", help="WAV files (stereo: caller left)")
    tr.add_argument("--engine", choices=ENGINES, help="default: transcription.engine")
    tr.add_argument("--model", type=Path, metavar="DIR", help="model directory (vosk: required)")
    tr.add_argument("--language", help="language reported in the transcript")
    tr.add_argument("--format", choices=["text", "json"], default="text")
    tr.add_argument("--phrase", action="append", default=[], help="a domain word or phrase (repeatable)")
    tr.add_argument("--qa", type=Path, metavar="RULES", help="QA rules YAML: score each file (json only)")
    tr.add_argument("--workers", type=int, help="worker processes (default: transcription.workers)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    tr.add_argument(
        "--no-adaptation",
        action="store_true",
        help="the general language model, even with transcription.adaptation.enabled",
    )

    rec = sub.add_parser("recordings", help="stored recordings")
    actions = rec.add_subparsers(dest="recordings_command", required=True)
    backfill = actions.add_parser("backfill", help="transcribe and score stored recordings that have no job")
    backfill.add_argument("--queue-only", action="store_true", help="only queue the jobs (for the server)")
    backfill.add_argument("--no-progress", action="store_true")
    purge = actions.add_parser("purge", help="delete recordings past their retention")
    purge.add_argument("--dry-run", action="store_true")
    rewrap = actions.add_parser(
        "rewrap", help="wrap every encrypted recording with the current key (after adding a new one)"
    )
    rewrap.add_argument("--no-progress", action="store_true")
