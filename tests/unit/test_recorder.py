"""The recorder: which calls are recorded, and closed files taken into the store (real files, no
Asterisk: the spool is a temporary directory written the way MixMonitor writes it)."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from callcenter.asterisk.recorder import Recorder, spool_dirs
from callcenter.core.acd import queues as qs
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import SaveInteraction
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.storage.recordings import RecordingStore
from tests.conftest import settings_from

NOW = 1_700_000_000.0


def write_wav(path: Path, seconds: float, level: int = 1000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(int(level).to_bytes(2, "little", signed=True) * int(8000 * seconds))


def interaction(iid: str = "call1", queue: str = "support", **changes: object) -> Interaction:
    base = Interaction(
        id=iid,
        channel=Channel.VOICE,
        caller_number="555",
        started_at=NOW,
        queue=queue,
        queued_at=NOW + 1,
        agent_id="1001",
        answered_at=NOW + 5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Jobs:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, tuple[Path, ...]]] = []
        self.languages: list[str | None] = []

    async def submit(self, interaction_id: str, files: tuple[Path, ...], language: str | None) -> int:
        self.submitted.append((interaction_id, files))
        self.languages.append(language)
        return len(self.submitted)


def make(
    tmp_path: Path,
    *,
    enabled: bool = True,
    queues: dict[str, qs.Queue] | None = None,
    ended: Interaction | None = None,
    sweep_every: float = 0.0,
) -> tuple[Recorder, RecordingStore, Jobs, Acd]:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    settings = settings_from(
        {
            "recordings": {
                "enabled": enabled,
                "directory": str(tmp_path / "store"),
                "spool_dir": str(spool),
                "asterisk_spool_dir": "/srv/ast/monitor",
                "settle_seconds": 0.1,
                "spool_sweep_seconds": sweep_every,
            }
        }
    )
    engine = Acd(AcdConfig(), [], queues or {})
    store = RecordingStore.from_settings(settings.recordings)
    jobs = Jobs()

    async def lookup(iid: str) -> Interaction | None:
        return ended if ended is not None and ended.id == iid else None

    recorder = Recorder(settings, engine, store, lookup=lookup, transcribe=jobs.submit, clock=lambda: NOW)
    recorder.appear_seconds = 0.3
    return recorder, store, jobs, engine


def spooled(tmp_path: Path, iid: str, tracks: tuple[str, ...] = ("mixed", "caller", "agent")) -> None:
    for track in tracks:
        write_wav(tmp_path / "spool" / f"{iid}.{track}.wav", 0.5)


def test_a_live_call_is_recorded_under_the_spool_as_asterisk_sees_it(tmp_path: Path) -> None:
    recorder, _, _, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    assert recorder.base_for("call1") == "/srv/ast/monitor/call1"
    assert recorder.base_for("unknown") is None


def test_recording_off_or_a_queue_that_opts_out_records_nothing(tmp_path: Path) -> None:
    recorder, _, _, engine = make(tmp_path, enabled=False)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    assert recorder.base_for("call1") is None
    recorder, _, _, engine = make(tmp_path, queues={"support": qs.Queue("support", record=False)})
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    assert recorder.base_for("call1") is None


async def test_an_ended_call_is_stored_encrypted_by_id_and_queued_for_transcription(tmp_path: Path) -> None:
    recorder, store, jobs, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    assert recorder.base_for("call1")
    spooled(tmp_path, "call1")
    recorder.on_command(
        SaveInteraction(
            interaction(ended_at=NOW + 60, outcome=Outcome.ANSWERED, ended_by=EndedBy.CALLER, language="fr")
        )
    )
    await asyncio.wait_for(recorder.idle(), 10)
    assert recorder.stored["call1"] == ("mixed", "caller", "agent")
    assert {r.track for r in store.all()} == {"mixed", "caller", "agent"}
    assert all(r.business_line == "support" for r in store.all())
    assert not list((tmp_path / "spool").iterdir()), "the spool is emptied"
    assert jobs.submitted == [("call1", store.files_of("call1"))]
    assert [p.name for p in jobs.submitted[0][1]] == ["call1.caller.wav", "call1.agent.wav"]
    assert jobs.languages == ["fr"]  # the call's language picks the transcription model


async def test_files_still_growing_are_not_taken_until_they_stop(tmp_path: Path) -> None:
    recorder, store, _, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    recorder.base_for("call1")
    spooled(tmp_path, "call1", ("caller", "agent"))
    mixed = tmp_path / "spool" / "call1.mixed.wav"
    recorder.on_command(SaveInteraction(interaction(ended_at=NOW + 60, outcome=Outcome.ANSWERED)))
    for _ in range(5):  # Asterisk still writing the mix
        with mixed.open("ab") as f:
            f.write(b"\0" * 1600)
        await asyncio.sleep(0.05)
        assert "call1" not in recorder.stored
    await asyncio.wait_for(recorder.idle(), 10)
    assert store.get("call1", "mixed").size == 1600 * 5


async def test_an_unanswered_call_without_files_is_quietly_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder, store, jobs, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    recorder.base_for("call1")
    recorder.on_command(
        SaveInteraction(
            interaction(answered_at=None, agent_id=None, ended_at=NOW + 9, outcome=Outcome.ABANDONED)
        )
    )
    await asyncio.wait_for(recorder.idle(), 10)
    assert store.all() == [] and jobs.submitted == []
    assert "recording.missing" not in caplog.text


async def test_an_answered_call_whose_files_never_appear_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder, store, _, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    recorder.base_for("call1")
    recorder.on_command(SaveInteraction(interaction(ended_at=NOW + 60, outcome=Outcome.ANSWERED)))
    await asyncio.wait_for(recorder.idle(), 10)
    assert store.all() == []
    assert "recording.missing" in caplog.text


async def test_calls_not_recorded_here_are_ignored(tmp_path: Path) -> None:
    recorder, store, _, _ = make(tmp_path)
    spooled(tmp_path, "other")  # e.g. another server's call, not ended as far as we know
    recorder.on_command(SaveInteraction(interaction("other", ended_at=NOW + 60, outcome=Outcome.ANSWERED)))
    await asyncio.sleep(0.3)
    assert store.all() == []


async def test_files_left_by_a_crash_are_taken_in_at_start(tmp_path: Path) -> None:
    ended = interaction("gone", queue="billing", ended_at=NOW + 60, outcome=Outcome.ANSWERED)
    queues = {"billing": qs.Queue("billing", line="finance")}  # retention is per business line
    recorder, store, jobs, engine = make(tmp_path, ended=ended, queues=queues)
    spooled(tmp_path, "gone")
    spooled(tmp_path, "still")  # a call still going on after the restart: not yet
    spooled(tmp_path, "theirs")  # not in our database: another server's, left alone
    engine.restore([interaction("still", answered_at=NOW + 2)], NOW)
    (tmp_path / "spool" / "notes.txt").write_text("not a recording")
    await recorder.start()
    await asyncio.wait_for(recorder.idle(), 10)
    assert {r.interaction_id for r in store.all()} == {"gone"}
    assert {r.business_line for r in store.all()} == {"finance"}
    assert [i for i, _ in jobs.submitted] == ["gone"]
    assert sorted(p.name for p in (tmp_path / "spool").iterdir())[0] == "notes.txt"
    assert len(list((tmp_path / "spool").glob("theirs.*.wav"))) == 3
    # ... and "still" is taken in when it ends.
    recorder.on_command(SaveInteraction(interaction("still", ended_at=NOW + 90, outcome=Outcome.ANSWERED)))
    await asyncio.wait_for(recorder.idle(), 10)
    assert {r.interaction_id for r in store.all()} == {"gone", "still"}


async def test_stop_leaves_pending_files_in_the_spool(tmp_path: Path) -> None:
    recorder, store, _, engine = make(tmp_path)
    engine.restore([interaction(answered_at=None, agent_id=None)], NOW)
    recorder.base_for("call1")
    recorder.on_command(SaveInteraction(interaction(ended_at=NOW + 60, outcome=Outcome.ANSWERED)))
    await recorder.stop()
    spooled(tmp_path, "call1")
    assert store.all() == [] and len(list((tmp_path / "spool").iterdir())) == 3


async def test_a_failed_store_is_tried_again_by_the_spool_sweep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spool's copy is unencrypted: a store that failed (here its directory cannot be made)
    must not leave it there until the next restart. The running recorder looks again by itself."""
    ended = interaction(ended_at=NOW + 60, outcome=Outcome.ANSWERED)
    recorder, store, jobs, _ = make(tmp_path, ended=ended, sweep_every=0.2)
    (tmp_path / "store").write_text("a file where the store's directory should be")
    spooled(tmp_path, "call1")  # the call ended (the database says so): taken in at start...
    await recorder.start()
    try:
        await asyncio.wait_for(recorder.idle(), 10)
        assert "recording.store_failed" in caplog.text and "call1" not in recorder.stored
        assert len(list((tmp_path / "spool").iterdir())) == 3
        (tmp_path / "store").unlink()  # the disk is back
        async with asyncio.timeout(10):
            while "call1" not in recorder.stored:  # noqa: ASYNC110 - the recorder's own sweep
                await asyncio.sleep(0.05)
        await asyncio.wait_for(recorder.idle(), 10)
    finally:
        await recorder.stop()
    assert {r.track for r in store.all()} == {"mixed", "caller", "agent"}
    assert list((tmp_path / "spool").iterdir()) == []
    assert [i for i, _ in jobs.submitted] == ["call1"]


async def test_old_files_of_calls_nobody_knows_are_deleted_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ended = interaction("gone", ended_at=NOW + 60, outcome=Outcome.ANSWERED)
    recorder, store, _, engine = make(tmp_path, ended=ended)
    for iid in ("gone", "live", "old-orphan", "young-orphan"):
        spooled(tmp_path, iid)
    engine.restore([interaction("live", answered_at=NOW + 2)], NOW)
    day_ago = time.time() - 24 * 3600 - 60  # spool_orphan_hours: 24 by default
    for iid in ("old-orphan", "live", "gone"):
        for path in (tmp_path / "spool").glob(f"{iid}.*.wav"):
            os.utime(path, (day_ago, day_ago))
    assert await recorder.sweep_spool() == 1  # "gone"
    await asyncio.wait_for(recorder.idle(), 10)
    left = sorted({p.name.split(".")[0] for p in (tmp_path / "spool").iterdir()})
    assert left == ["live", "young-orphan"]
    assert {r.interaction_id for r in store.all()} == {"gone"}
    deleted = [r for r in caplog.records if r.getMessage() == "recording.orphan_deleted"]
    assert [(r.__dict__["interaction"], r.__dict__["files"]) for r in deleted] == [("old-orphan", 3)]
    # A young orphan's files are kept while any of them is young.
    old_one = next((tmp_path / "spool").glob("young-orphan.mixed.wav"))
    os.utime(old_one, (day_ago, day_ago))
    await recorder.sweep_spool()
    assert len(list((tmp_path / "spool").glob("young-orphan.*.wav"))) == 3


def test_spool_defaults_to_the_sandbox_instance(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    settings = settings_from({"asterisk": {"sandbox_root": str(root), "sandbox_instance": "x1"}})
    host, inside = spool_dirs(settings)
    assert inside == PurePosixPath("/srv/callcenter/x1/spool/monitor")
    assert host == root / "srv/callcenter/x1/spool/monitor"


async def test_only_the_latest_recordings_taken_in_are_remembered(tmp_path: Path) -> None:
    # The soak's memory growth: every recorded call stayed in ``stored`` for the server's life.
    recorder, store, _, engine = make(tmp_path)
    recorder.stored_kept = 2
    calls = ("c1", "c2", "c3")
    engine.restore([interaction(iid, answered_at=None, agent_id=None) for iid in calls], NOW)
    for iid in calls:
        assert recorder.base_for(iid)
        spooled(tmp_path, iid, ("mixed",))
        ended = interaction(iid, ended_at=NOW + 60, outcome=Outcome.ANSWERED, ended_by=EndedBy.CALLER)
        recorder.on_command(SaveInteraction(ended))
        await asyncio.wait_for(recorder.idle(), 10)
    assert list(recorder.stored) == ["c2", "c3"]
    assert {r.interaction_id for r in store.all()} == set(calls)  # forgotten here, kept in the store
