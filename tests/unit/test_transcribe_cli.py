"""``callcenter transcribe`` and ``callcenter recordings backfill | purge`` as an admin runs them."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter import cli
from callcenter.storage.qa_store import CallFilter, QaStore
from callcenter.storage.recordings import Keyring, RecordingStore, RetentionPolicy
from tests.unit.speech_fixtures import say

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("cli")
    return [
        say("Thank you for calling Acme support", d / "one.wav"),
        say(
            "My card number is four one one one one one one one one one one one one one one one",
            d / "two.wav",
        ),
    ]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--set", "logging.level=WARNING", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_output_one_line_per_file_with_progress(
    wavs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "transcribe", *map(str, wavs), "--workers", "2")
    assert code == 0
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(w) for w in wavs]
    assert "calling" in lines[0].split("\t")[1].split()
    assert "[CARD]" in lines[1] and lines[1].count(" one") < 3
    # The progress bar, on stderr, with the files' count. Only its first state is sure to be
    # drawn: tqdm draws an update at most every 0.1 s, and two workers may finish both files
    # within that (the whole suite once saw "0/2" and "1/2" but no "2/2"; the bar is then cleared).
    assert "0/2 [" in err


def test_json_output_with_qa_and_a_failing_file(
    wavs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "qa.yaml"
    rules.write_text("required:\n  greeting: {phrases: [calling], where: start, within: 5, speaker: any}\n")
    missing = tmp_path / "missing.wav"
    code, out, _ = run(
        capsys,
        "transcribe",
        str(wavs[0]),
        str(missing),
        "--format",
        "json",
        "--qa",
        str(rules),
        "--phrase",
        "acme",
        "--no-progress",
    )
    assert code == 1
    items = json.loads(out)
    assert [item["file"] for item in items] == [str(wavs[0]), str(missing)]
    assert "acme" in items[0]["text"].split() and items[0]["engine"] == "pocketsphinx"
    assert items[0]["segments"][0]["words"][0].keys() == {"word", "start", "end", "conf"}
    assert items[0]["qa"]["score"] == 100.0
    assert items[1]["text"] is None and "AudioError" in items[1]["error"]


def test_vosk_needs_a_model(wavs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "transcribe", str(wavs[0]), "--engine", "vosk")
    assert code == 1 and "needs a model directory" in err


def test_backfill_transcribes_stored_recordings_once(
    wavs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RecordingStore(tmp_path / "rec", Keyring({"default": base64.b64decode(KEY)}, "default"))
    now = datetime.now(UTC)
    for n, wav in enumerate(wavs):
        copy = tmp_path / f"in{n}.wav"
        copy.write_bytes(wav.read_bytes())
        store.store(f"call-{n}", copy, "support", now)
    settings = [
        "--set",
        f"recordings.directory={tmp_path / 'rec'}",
        "--set",
        f"recordings.encryption_key={KEY}",
        "--set",
        f"database.url=sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
    ]
    code, out, _ = run(capsys, *settings, "recordings", "backfill", "--no-progress")
    assert (code, out.splitlines()) == (0, ["queued 2 recording(s)", "done: 2, failed: 0"])
    code, out, _ = run(capsys, *settings, "recordings", "backfill")
    assert (code, out.splitlines()) == (0, ["queued 0 recording(s)"])
    # The transcripts are in the QA tables, ready to search and review.
    assert sorted(asyncio.run(_qa_calls(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"))) == ["call-0", "call-1"]


async def _qa_calls(url: str) -> list[str]:
    qa = QaStore(url)
    await qa.start()
    try:
        _, calls = await qa.search(CallFilter())
    finally:
        await qa.stop()
    return [c.interaction_id for c in calls]


def test_purge_deletes_what_retention_allows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = RecordingStore(tmp_path / "rec", None, RetentionPolicy({"sales": 1}))
    old = tmp_path / "old.wav"
    old.write_bytes(b"x")
    store.store("old-1", old, "sales", datetime.now(UTC) - timedelta(days=2))
    settings = ["--set", f"recordings.directory={tmp_path / 'rec'}"]
    code, out, _ = run(capsys, *settings, "recordings", "purge", "--dry-run")
    assert code == 0 and out.startswith("would delete old-1.mixed.wav (sales")
    code, out, _ = run(capsys, *settings, "recordings", "purge")
    assert out.startswith("deleted old-1.mixed.wav") and store.all() == []


def test_rewrap_moves_recordings_to_the_current_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = bytes(range(32)), bytes(range(1, 33))
    store = RecordingStore(tmp_path / "rec", Keyring({"old": old}, "old"))
    for n in range(3):
        source = tmp_path / f"{n}.wav"
        source.write_bytes(b"audio %d" % n)
        store.store(f"call-{n}", source, "sales", datetime.now(UTC))
    keys = [
        "--set", f"recordings.directory={tmp_path / 'rec'}",
        "--set", f"recordings.encryption_keys.old={base64.b64encode(old).decode()}",
        "--set", f"recordings.encryption_keys.new={base64.b64encode(new).decode()}",
        "--set", "recordings.encryption_key_id=new",
    ]  # fmt: skip
    code, out, _ = run(capsys, *keys, "recordings", "rewrap", "--no-progress")
    assert code == 0 and out.strip() == "rewrapped 3 of 3 file(s) with key 'new'"
    only_new = RecordingStore(tmp_path / "rec", Keyring({"new": new}, "new"))
    assert [only_new.read(f"call-{n}") for n in range(3)] == [b"audio 0", b"audio 1", b"audio 2"]
    code, _, err = run(capsys, "--set", f"recordings.directory={tmp_path / 'rec'}", "recordings", "rewrap")
    assert code == 1 and "nothing to wrap with" in err
