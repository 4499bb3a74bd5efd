"""Recording storage: named by interaction id, checksummed, encrypted at rest, retention."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.settings import ConfigError, RecordingSettings, load_settings
from callcenter.speech.transcribe import Request, run
from callcenter.storage.recordings import (
    MAGIC,
    MAGIC2,
    Keyring,
    RecordingCorrupt,
    RecordingError,
    RecordingStore,
    RetentionPolicy,
    key_id_of,
    read_audio,
)
from tests.unit.speech_fixtures import say

KEY = bytes(range(32))
KEYRING = Keyring({"default": KEY}, "default")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def closed(tmp_path: Path, name: str = "mixmonitor.wav", data: bytes = b"RIFF....fake audio") -> Path:
    source = tmp_path / "incoming" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return source


def test_plain_store_names_checksums_and_reads(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec")
    source = closed(tmp_path)
    record = store.store("call-1", source, "support", T0)
    assert not source.exists()
    assert record.path == (tmp_path / "rec" / "call-1.mixed.wav").resolve()
    assert (
        record.sha256 == "c4d27d0c6a4d3a7f5bafcb2e8b5e1e2b5a7c0a52b3e5d79a2b4d9a0ab5b1c4e8"
        or len(record.sha256) == 64
    )
    assert store.read("call-1") == b"RIFF....fake audio"
    assert store.get("call-1") == record
    record.path.write_bytes(b"RIFF....fake audiO")
    with pytest.raises(RecordingCorrupt, match="sha256"):
        store.read("call-1")


def test_encrypted_at_rest_and_bound_to_its_name(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec", KEYRING)
    store.store("call-1", closed(tmp_path, data=b"secret audio 1"), "sales", T0, track="caller")
    store.store("call-2", closed(tmp_path, data=b"secret audio 2"), "sales", T0, track="caller")
    one = store.get("call-1", "caller")
    assert one.encrypted and one.path.name == "call-1.caller.wav.enc"
    blob = one.path.read_bytes()
    assert blob.startswith(MAGIC2) and b"secret" not in blob
    assert store.read("call-1", "caller") == b"secret audio 1"
    # Swapping two encrypted files is detected (the name is authenticated).
    two = store.get("call-2", "caller")
    one.path.write_bytes(two.path.read_bytes())
    with pytest.raises(RecordingCorrupt, match="tag"):
        store.read("call-1", "caller")
    with pytest.raises(RecordingCorrupt):
        RecordingStore(tmp_path / "rec", Keyring({"default": bytes(32)}, "default")).read("call-2", "caller")
    with pytest.raises(RecordingError, match=r"no recordings\.encryption_key"):
        read_audio(two.path, None)


def test_paths_never_come_from_outside(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec")
    for bad in ("../etc/passwd", "a/b", "", ".hidden", "x" * 200, "a..b"):
        with pytest.raises(RecordingError, match="invalid interaction id"):
            store.path_for(bad)
    with pytest.raises(RecordingError, match="invalid track"):
        store.path_for("call-1", "../x")  # type: ignore[arg-type]
    # Metadata that names a file of another recording is ignored.
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "evil.json").write_text(
        json.dumps(
            {
                "interaction_id": "a",
                "track": "mixed",
                "file": "../../etc/passwd",
                "sha256": "",
                "size": 0,
                "encrypted": False,
                "business_line": "x",
                "recorded_at": T0.isoformat(),
            }
        )
    )
    assert store.all() == []


def test_retention_per_business_line(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec", None, RetentionPolicy({"sales": 30, "support": 365}, 90))
    store.store("s-1", closed(tmp_path), "sales", T0)
    store.store("p-1", closed(tmp_path), "support", T0)
    store.store("o-1", closed(tmp_path), "other", T0)
    assert store.get("s-1").expires_at == T0 + timedelta(days=30)
    assert [r.interaction_id for r in store.expired(T0 + timedelta(days=31))] == ["s-1"]
    gone = store.purge(T0 + timedelta(days=100))
    assert sorted(r.interaction_id for r in gone) == ["o-1", "s-1"]
    assert [r.interaction_id for r in store.all()] == ["p-1"]
    assert not (tmp_path / "rec" / "s-1.mixed.wav").exists()
    assert RetentionPolicy({}).expiry("x", T0) is None


def test_settings(tmp_path: Path) -> None:
    key = base64.b64encode(KEY).decode()
    settings = load_settings(
        environ={
            "CALLCENTER_RECORDINGS__ENCRYPTION_KEY": key,
            "CALLCENTER_RECORDINGS__DIRECTORY": str(tmp_path),
        }
    )
    store = RecordingStore.from_settings(settings.recordings)
    assert store.key == KEYRING and store.directory == tmp_path
    assert key not in repr(settings)
    with pytest.raises(ConfigError, match=r"recordings\.encryption_key: .*16, 24 or 32 bytes"):
        load_settings(environ={"CALLCENTER_RECORDINGS__ENCRYPTION_KEY": base64.b64encode(b"short").decode()})
    with pytest.raises(ConfigError, match="base64"):
        load_settings(environ={"CALLCENTER_RECORDINGS__ENCRYPTION_KEY": "not base64!"})
    assert RecordingSettings(encryption_key="").encryption_key is None  # type: ignore[arg-type]


def test_encrypted_two_track_recording_is_transcribed_in_memory(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec", KEYRING)
    store.store(
        "c-9", say("Is there anything else I can help you with", tmp_path / "a.wav"), "x", T0, "agent"
    )
    store.store("c-9", say("No thank you goodbye", tmp_path / "c.wav"), "x", T0, "caller")
    files = store.files_of("c-9")
    assert [f.name for f in files] == ["c-9.caller.wav.enc", "c-9.agent.wav.enc"]
    transcript = run(Request(tuple(str(f) for f in files), key=KEYRING))
    agent = " ".join(s.text for s in transcript.segments if s.speaker == "agent").split()
    assert {"anything", "else", "help"} <= set(agent)
    assert {s.speaker for s in transcript.segments} == {"caller", "agent"}


def test_keys_rotate_old_recordings_stay_readable_and_rewrap_moves_them(tmp_path: Path) -> None:
    old, new = bytes(range(32)), bytes(range(1, 33))
    before = RecordingStore(tmp_path / "rec", Keyring({"k2025": old}, "k2025"))
    before.store("call-1", closed(tmp_path, data=b"audio of 2025"), "sales", T0)
    # The new key is added and made current: new recordings use it, the old one still reads.
    both = RecordingStore(tmp_path / "rec", Keyring({"k2025": old, "k2026": new}, "k2026"))
    both.store("call-2", closed(tmp_path, data=b"audio of 2026"), "sales", T0)
    assert key_id_of(both.get("call-1").path.read_bytes()) == "k2025"
    assert key_id_of(both.get("call-2").path.read_bytes()) == "k2026"
    assert both.read("call-1") == b"audio of 2025" and both.read("call-2") == b"audio of 2026"
    # Without the old key, its recordings say which key they need.
    only_new = RecordingStore(tmp_path / "rec", Keyring({"k2026": new}, "k2026"))
    with pytest.raises(RecordingError, match=r"'k2025', which is not in recordings\.encryption_keys"):
        only_new.read("call-1")
    # Rewrap: only the header changes (the ciphertext of the audio is the same bytes).
    body_before = both.get("call-1").path.read_bytes()[-40:]
    assert both.rewrap() == 1 and both.rewrap() == 0
    assert both.get("call-1").path.read_bytes()[-40:] == body_before
    assert only_new.read("call-1") == b"audio of 2025" and only_new.read("call-2") == b"audio of 2026"


def test_first_format_files_are_read_and_moved_to_the_envelope(tmp_path: Path) -> None:
    """Recordings stored before envelopes: the audio encrypted directly with encryption_key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    store = RecordingStore(tmp_path / "rec", Keyring({"default": KEY, "k2": bytes(32)}, "k2"))
    record = store.store("call-1", closed(tmp_path, data=b"first format"), "sales", T0)
    nonce = bytes(12)
    record.path.write_bytes(
        MAGIC + nonce + AESGCM(KEY).encrypt(nonce, b"first format", record.path.name.encode())
    )
    assert key_id_of(record.path.read_bytes()) == "default"
    assert store.read("call-1") == b"first format"
    assert store.rewrap() == 1
    assert key_id_of(record.path.read_bytes()) == "k2"
    assert (
        RecordingStore(tmp_path / "rec", Keyring({"k2": bytes(32)}, "k2")).read("call-1") == b"first format"
    )


def test_a_wrapped_key_bound_to_its_file_and_key_id(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec", KEYRING)
    record = store.store("call-1", closed(tmp_path, data=b"x" * 64), "sales", T0)
    blob = bytearray(record.path.read_bytes())
    blob[len(MAGIC2) + 3] ^= 1  # one bit of the key id
    record.path.write_bytes(bytes(blob))
    with pytest.raises(RecordingError):
        store.read("call-1")


def test_key_settings(tmp_path: Path) -> None:
    a, b = base64.b64encode(KEY).decode(), base64.b64encode(bytes(32)).decode()
    settings = RecordingSettings(encryption_keys={"k1": a, "k2": b}, encryption_key_id="k2")  # type: ignore[arg-type]
    keyring = RecordingStore.from_settings(settings).key
    assert keyring is not None and keyring.current == "k2" and keyring.keys == {"k1": KEY, "k2": bytes(32)}
    legacy = RecordingStore.from_settings(RecordingSettings(encryption_key=a)).key  # type: ignore[arg-type]
    assert legacy == KEYRING
    with pytest.raises(ValueError, match="several keys are configured"):
        RecordingSettings(encryption_keys={"k1": a, "k2": b})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not among the configured keys"):
        RecordingSettings(encryption_keys={"k1": a}, encryption_key_id="k9")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k1: must decode to 16, 24 or 32 bytes"):
        RecordingSettings(encryption_keys={"k1": base64.b64encode(b"short").decode()})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a key id is"):
        RecordingSettings(encryption_keys={"bad id": a})  # type: ignore[arg-type]
    env = load_settings(environ={"CALLCENTER_RECORDINGS__ENCRYPTION_KEYS__K1": a})
    assert a not in repr(env)
