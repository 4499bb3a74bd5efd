"""Recording storage: files named by interaction id, checksummed, optionally encrypted at rest.

Layout under the configured directory::

    <interaction_id>.<track>.wav[.enc]     the audio (AES-GCM encrypted when a key is configured)
    <interaction_id>.<track>.json          metadata: sha256 of the audio, size, business line,
                                           recorded and expiry times, encrypted or not, key id

Encryption is by envelope: each recording has its own random data key, which encrypts the audio;
the data key is stored in the file's header wrapped (AES-GCM) by a key-encryption key named by an
id (``recordings.encryption_keys``). Rotating keys: add the new key and make it
``encryption_key_id``; new recordings are wrapped with it, old ones stay readable while their key is
configured, and ``callcenter recordings rewrap`` re-wraps them with the current key (only the
header changes) so the old key can go. Files of the first format (``CCREC1``: the audio encrypted
directly with ``recordings.encryption_key``) are read with the key of id ``default`` and moved to
the envelope format by ``rewrap``.

Invariants:

- Paths are never taken from user input: they are built here from an interaction id and a track
  name, both checked against strict patterns, and must resolve inside the directory.
- The sha256 is of the audio as recorded (the plaintext); reading a recording verifies it, and
  AES-GCM's tag (with the file's name as associated data, so files cannot be swapped) verifies the
  ciphertext. A mismatch is :class:`RecordingCorrupt`, never silently returned audio.
- Encrypted audio is decrypted in memory only (:func:`read_audio`), never written out in clear.
- Files are written to a temporary name and renamed: a reader never sees half a recording.

The whole recording is held in memory while encrypting (8 kHz phone audio: about 1 MB a minute).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from callcenter.errors import RecordingError as RecordingError  # re-exported: its users predate errors.py
from callcenter.files import write_atomically
from callcenter.qa.records import TRACKS as TRACKS
from callcenter.qa.records import Track as Track
from callcenter.settings import RecordingSettings

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAGIC = b"CCREC1"  # first format: MAGIC, 12-byte nonce, AES-GCM ciphertext with its tag
# Envelope format: MAGIC2, key id length (1 byte), key id (ASCII), 12-byte nonce and the data key
# wrapped by that key (32 + 16 bytes), 12-byte nonce, the audio's AES-GCM ciphertext with its tag.
MAGIC2 = b"CCREC2"
NONCE_BYTES = 12
_WRAPPED = 32 + 16
LEGACY_KEY_ID = "default"


class RecordingCorrupt(RecordingError):
    """A stored recording does not match its checksum or its encryption tag."""


@dataclass(frozen=True, slots=True)
class StoredRecording:
    interaction_id: str
    track: Track
    path: Path
    sha256: str
    size: int
    encrypted: bool
    business_line: str
    recorded_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: Mapping[str, int]
    default_days: int | None = None

    def expiry(self, business_line: str, recorded_at: datetime) -> datetime | None:
        days = self.days.get(business_line, self.default_days)
        return None if days is None else recorded_at + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The key-encryption keys by id, and the id new recordings are wrapped with. Picklable: the
    transcription workers get it to read encrypted tracks."""

    keys: Mapping[str, bytes]
    current: str

    def key(self, key_id: str, name: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise RecordingError(
                f"{name}: wrapped with key {key_id!r}, which is not in recordings.encryption_keys"
            ) from None


def _aes(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes, name: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        opened: bytes = _aes(key).decrypt(nonce, sealed, aad)
        return opened
    except InvalidTag as err:
        raise RecordingCorrupt(
            f"{name}: encryption tag does not match (tampered, renamed or wrong key)"
        ) from err


def _header(key_id: str, wrap_nonce: bytes, wrapped: bytes) -> bytes:
    raw_id = key_id.encode("ascii")
    return MAGIC2 + bytes([len(raw_id)]) + raw_id + wrap_nonce + wrapped


def _wrap(keyring: Keyring, data_key: bytes, name: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    aad = f"{name}|{keyring.current}".encode()
    return _header(
        keyring.current, nonce, _aes(keyring.key(keyring.current, name)).encrypt(nonce, data_key, aad)
    )


def encrypt(data: bytes, keyring: Keyring, name: str) -> bytes:
    """The audio under a fresh data key, wrapped with the keyring's current key."""
    data_key = secrets.token_bytes(32)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _wrap(keyring, data_key, name) + nonce + bytes(_aes(data_key).encrypt(nonce, data, name.encode()))


@dataclass(frozen=True, slots=True)
class _Envelope:
    key_id: str
    data_key: bytes
    body: bytes  # nonce + ciphertext of the audio


def _unwrap(blob: bytes, keyring: Keyring, name: str) -> _Envelope:
    at = len(MAGIC2)
    if len(blob) < at + 1:
        raise RecordingCorrupt(f"{name}: truncated header")
    size = blob[at]
    key_id = blob[at + 1 : at + 1 + size].decode("ascii", "replace")
    at += 1 + size
    wrap_nonce, wrapped = blob[at : at + NONCE_BYTES], blob[at + NONCE_BYTES : at + NONCE_BYTES + _WRAPPED]
    if len(wrapped) != _WRAPPED:
        raise RecordingCorrupt(f"{name}: truncated header")
    data_key = _open(keyring.key(key_id, name), wrap_nonce, wrapped, f"{name}|{key_id}".encode(), name)
    return _Envelope(key_id, data_key, blob[at + NONCE_BYTES + _WRAPPED :])


def key_id_of(blob: bytes) -> str | None:
    """Which key a stored file needs: its key id, ``default`` for the first format, None if clear."""
    if blob.startswith(MAGIC2) and len(blob) > len(MAGIC2):
        size = blob[len(MAGIC2)]
        return blob[len(MAGIC2) + 1 : len(MAGIC2) + 1 + size].decode("ascii", "replace")
    return LEGACY_KEY_ID if blob.startswith(MAGIC) else None


def decrypt(blob: bytes, keyring: Keyring, name: str) -> bytes:
    if blob.startswith(MAGIC2):
        envelope = _unwrap(blob, keyring, name)
        body = envelope.body
        return _open(envelope.data_key, body[:NONCE_BYTES], body[NONCE_BYTES:], name.encode(), name)
    if blob.startswith(MAGIC):
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        sealed = blob[len(MAGIC) + NONCE_BYTES :]
        return _open(keyring.key(LEGACY_KEY_ID, name), nonce, sealed, name.encode(), name)
    raise RecordingCorrupt(f"{name}: not an encrypted recording")


def rewrap(blob: bytes, keyring: Keyring, name: str) -> bytes | None:
    """The file wrapped with the current key, or None when it already is (or is not encrypted).
    An envelope file keeps its data key and ciphertext: only the header changes."""
    key_id = key_id_of(blob)
    if key_id is None or (blob.startswith(MAGIC2) and key_id == keyring.current):
        return None
    if blob.startswith(MAGIC2):
        envelope = _unwrap(blob, keyring, name)
        return _wrap(keyring, envelope.data_key, name) + envelope.body
    return encrypt(decrypt(blob, keyring, name), keyring, name)


def read_audio(path: str | Path, keyring: Keyring | None) -> bytes:
    """A recording file's audio bytes, decrypted in memory when it is encrypted."""
    path = Path(path)
    blob = path.read_bytes()
    if blob.startswith((MAGIC, MAGIC2)):
        if keyring is None:
            raise RecordingError(f"{path.name}: encrypted, and no recordings.encryption_key is configured")
        return decrypt(blob, keyring, path.name)
    return blob


def keyring_of(settings: RecordingSettings) -> Keyring | None:
    keys = {key_id: base64.b64decode(k.get_secret_value()) for key_id, k in settings.encryption_keys.items()}
    if settings.encryption_key is not None:
        keys[LEGACY_KEY_ID] = base64.b64decode(settings.encryption_key.get_secret_value())
    if not keys:
        return None
    return Keyring(keys, settings.encryption_key_id or next(iter(keys)))


class RecordingStore:
    def __init__(
        self, directory: Path, key: Keyring | None = None, retention: RetentionPolicy | None = None
    ) -> None:
        self.directory = directory
        self._key = key
        self._retention = retention or RetentionPolicy({})

    @classmethod
    def from_settings(cls, settings: RecordingSettings) -> RecordingStore:
        return cls(
            settings.directory,
            keyring_of(settings),
            RetentionPolicy(dict(settings.retention_days), settings.default_retention_days),
        )

    @property
    def key(self) -> Keyring | None:
        return self._key

    @property
    def retention(self) -> RetentionPolicy:
        return self._retention

    def path_for(self, interaction_id: str, track: Track = "mixed") -> Path:
        """Where the audio of ``interaction_id``'s ``track`` is (or will be) stored."""
        suffix = ".wav.enc" if self._key is not None else ".wav"
        return self._inside(f"{_checked(interaction_id, track)}{suffix}")

    def store(
        self,
        interaction_id: str,
        source: Path,
        business_line: str,
        recorded_at: datetime,
        track: Track = "mixed",
    ) -> StoredRecording:
        """Take a closed recording (e.g. MixMonitor's file) into the store and remove the source."""
        if recorded_at.tzinfo is None:
            raise RecordingError("recorded_at must be timezone-aware")
        try:
            audio = source.read_bytes()
        except OSError as err:
            raise RecordingError(f"cannot read recording {source}: {err.strerror}") from err
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(interaction_id, track)
        blob = encrypt(audio, self._key, target.name) if self._key is not None else audio
        write_atomically(target, blob)
        record = StoredRecording(
            interaction_id,
            track,
            target,
            hashlib.sha256(audio).hexdigest(),
            len(audio),
            self._key is not None,
            business_line,
            recorded_at,
            self._retention.expiry(business_line, recorded_at),
        )
        write_atomically(self._meta_path(interaction_id, track), json.dumps(_meta(record)).encode())
        source.unlink()
        return record

    def get(self, interaction_id: str, track: Track = "mixed") -> StoredRecording:
        meta = self._meta_path(interaction_id, track)
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise RecordingError(f"no {track} recording for interaction {interaction_id}") from err
        return _record(data, self.directory)

    def read(self, interaction_id: str, track: Track = "mixed") -> bytes:
        """The audio, decrypted and checked against its sha256."""
        record = self.get(interaction_id, track)
        audio = read_audio(record.path, self._key)
        if hashlib.sha256(audio).hexdigest() != record.sha256:
            raise RecordingCorrupt(f"{record.path.name}: sha256 does not match")
        return audio

    def files_of(self, interaction_id: str) -> tuple[Path, ...]:
        """The files to transcribe: caller and agent tracks if both exist, else the mixed one."""
        records = {r.track: r for r in self.all() if r.interaction_id == interaction_id}
        if "caller" in records and "agent" in records:
            return (records["caller"].path, records["agent"].path)
        if "mixed" in records:
            return (records["mixed"].path,)
        raise RecordingError(f"no recording for interaction {interaction_id}")

    def all(self) -> list[StoredRecording]:
        if not self.directory.is_dir():
            return []
        out = []
        for meta in sorted(self.directory.glob("*.json")):
            try:
                out.append(_record(json.loads(meta.read_text(encoding="utf-8")), self.directory))
            except (ValueError, KeyError):
                continue  # not ours
        return out

    def expired(self, now: datetime) -> list[StoredRecording]:
        return [r for r in self.all() if r.expires_at is not None and r.expires_at <= now]

    def purge(self, now: datetime) -> list[StoredRecording]:
        """Delete recordings past their retention; returns what was deleted."""
        gone = self.expired(now)
        for record in gone:
            self.delete(record.interaction_id, record.track)
        return gone

    def rewrap(self, on_file: Callable[[StoredRecording, bool], None] | None = None) -> int:
        """Wrap every encrypted recording with the current key (``callcenter recordings rewrap``);
        returns how many files changed. A recording stored in clear stays as it is."""
        if self._key is None:
            raise RecordingError("no recordings.encryption_key(s) configured: nothing to wrap with")
        changed = 0
        for record in self.all():
            blob = record.path.read_bytes()
            new = rewrap(blob, self._key, record.path.name)
            if new is not None:
                write_atomically(record.path, new)
                changed += 1
            if on_file is not None:
                on_file(record, new is not None)
        return changed

    def delete(self, interaction_id: str, track: Track = "mixed") -> None:
        record = self.get(interaction_id, track)
        record.path.unlink(missing_ok=True)
        self._meta_path(interaction_id, track).unlink(missing_ok=True)

    def _meta_path(self, interaction_id: str, track: Track) -> Path:
        return self._inside(f"{_checked(interaction_id, track)}.json")

    def _inside(self, name: str) -> Path:
        path = (self.directory / name).resolve()
        if path.parent != self.directory.resolve():
            raise RecordingError(f"{name!r} would be outside the recordings directory")
        return path


def _checked(interaction_id: str, track: str) -> str:
    if not _ID.fullmatch(interaction_id) or ".." in interaction_id:
        raise RecordingError(f"invalid interaction id {interaction_id!r}")
    if track not in TRACKS:
        raise RecordingError(f"invalid track {track!r}")
    return f"{interaction_id}.{track}"


def _meta(record: StoredRecording) -> dict[str, object]:
    return {
        "interaction_id": record.interaction_id,
        "track": record.track,
        "file": record.path.name,
        "sha256": record.sha256,
        "size": record.size,
        "encrypted": record.encrypted,
        "business_line": record.business_line,
        "recorded_at": record.recorded_at.isoformat(),
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
    }


def _record(data: dict[str, object], directory: Path) -> StoredRecording:
    track = str(data["track"])
    interaction_id = str(data["interaction_id"])
    name = _checked(interaction_id, track)
    file = str(data["file"])
    if not file.startswith(name + ".wav"):
        raise ValueError(f"metadata of {name} names another file")
    expires = data.get("expires_at")
    return StoredRecording(
        interaction_id,
        track,  # type: ignore[arg-type]  # checked by _checked
        directory.resolve() / file,
        str(data["sha256"]),
        int(str(data["size"])),
        bool(data["encrypted"]),
        str(data["business_line"]),
        datetime.fromisoformat(str(data["recorded_at"])),
        None if expires is None else datetime.fromisoformat(str(expires)),
    )
