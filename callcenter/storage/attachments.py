"""Tickets' attachments on disk, stored like recordings (storage/recordings.py): one file per
attachment, named by its id only (never by what the uploader called it), written atomically,
encrypted at rest with the recordings' keys when they are configured (AES-GCM, the file's name as
associated data) and checked against its sha256 on every read. With several nodes the directory is
shared storage (the same volume as the recordings); the rows are in the database."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from callcenter.errors import RecordingError
from callcenter.files import write_atomically
from callcenter.storage.recordings import Keyring, RecordingCorrupt, decrypt, encrypt

_ID = re.compile(r"^A-[0-9A-Z]{16}$")


class AttachmentFiles:
    def __init__(self, directory: Path, key: Keyring | None = None) -> None:
        self.directory = directory
        self._key = key

    def _path(self, attachment_id: str) -> Path:
        if not _ID.fullmatch(attachment_id):
            raise RecordingError(f"invalid attachment id {attachment_id!r}")
        return self.directory / f"{attachment_id}.bin"

    def write(self, attachment_id: str, data: bytes) -> tuple[str, bool]:
        """Stores ``data``; its sha256 and whether it is encrypted."""
        path = self._path(attachment_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            blob = encrypt(data, self._key, path.name) if self._key is not None else data
            write_atomically(path, blob)
        except OSError as err:
            raise RecordingError(f"cannot store attachment {attachment_id}: {err.strerror}") from err
        return hashlib.sha256(data).hexdigest(), self._key is not None

    def read(self, attachment_id: str, sha256: str, encrypted: bool) -> bytes:
        path = self._path(attachment_id)
        try:
            blob = path.read_bytes()
        except OSError as err:
            raise RecordingError(f"cannot read attachment {attachment_id}: {err.strerror}") from err
        if encrypted:
            if self._key is None:
                raise RecordingError(f"{path.name} is encrypted: configure recordings.encryption_keys")
            blob = decrypt(blob, self._key, path.name)
        if hashlib.sha256(blob).hexdigest() != sha256:
            raise RecordingCorrupt(f"{path.name}: sha256 does not match")
        return blob

    def delete(self, attachment_id: str) -> None:
        self._path(attachment_id).unlink(missing_ok=True)
