"""Recording, transcription and QA settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from callcenter.settings.base import RetentionDays, Section

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _check_aes_key(value: SecretStr) -> None:
    import base64
    import binascii

    try:
        key = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (e.g. from: openssl rand -base64 32)") from None
    if len(key) not in (16, 24, 32):
        raise ValueError(f"must decode to 16, 24 or 32 bytes, not {len(key)}")


class RedactPattern(Section):
    """An identifier masked in transcripts before they are stored, as ``[LABEL]``."""

    label: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"invalid regular expression: {err}") from None
        return value


class LanguageModel(Section):
    """The engine and model for calls in one language (``transcription.languages``)."""

    engine: Literal["pocketsphinx", "vosk"] = "vosk"
    model: Path | None = None  # vosk needs one; pocketsphinx's own model is US English


class AdaptationSettings(Section):
    """Domain adaptation of pocketsphinx (docs/qa.md, "Domain adaptation"): a language model of the
    centre's own text interpolated with the general one, rebuilt when that text changes."""

    enabled: bool = False
    # The centre's text's share in the interpolated model (0..1, exclusive).
    weight: float = Field(0.5, gt=0, lt=1)
    # Agents' scripts and other text files (UTF-8, a passage a line, # comments), besides the QA
    # rules (transcription.qa_rules), the scorecards (qa.scorecards) and the IVR prompts (ivr.flows_dir).
    texts: tuple[Path, ...] = ()
    qa_rules: bool = True  # use the QA rules' phrases
    scorecards: bool = True  # use the scorecards' titles and criteria
    ivr_prompts: bool = True  # use the IVR flows' English prompts
    # Use the (redacted) transcripts of calls a reviewer has scored, newest first, up to this many
    # (0: none). They are the recognizer's own words: off by default.
    reviewed_transcripts: int = Field(0, ge=0, le=100000)
    # Words outside the general dictionary, with their phones (ARPAbet: "acmefibre: AE K M IY F AY B ER").
    # Without one a word is pronounced as the known words it is made of, else left out.
    pronunciations: Mapping[str, str] = Field(default_factory=dict)
    directory: Path = Path("speech-models")  # built models (one directory per text version)
    check_seconds: float = Field(30.0, gt=0, le=86400)  # how often the server looks for changed text


ACOUSTIC_MODEL_FILES = ("mdef", "means", "variances", "transition_matrices")


class TranscriptionSettings(Section):
    """Offline transcription of recordings (``callcenter transcribe``, the transcription workers)."""

    enabled: bool = False  # transcribe recordings as they close (the server's worker pool)
    engine: Literal["pocketsphinx", "vosk"] = "pocketsphinx"
    model: Path | None = None  # a model directory; vosk needs one, pocketsphinx has its own
    language: str | None = None  # reported in transcripts; default: the engine's/model's
    # Per call language (the IVR's choice, the customer's record): {ko: {engine: vosk, model: DIR}}.
    # Calls in other languages, or with none, get the engine and model above.
    languages: Mapping[str, LanguageModel] = Field(default_factory=dict)
    workers: int = Field(1, ge=1, le=64)  # worker processes (each holds one engine)
    max_attempts: int = Field(3, ge=1, le=20)  # a job failing this often is marked failed
    phrases: tuple[str, ...] = ()  # domain words and phrases ("acme", "anything else")
    redact_cards: bool = True  # mask Luhn-valid card numbers, written or spoken
    # Also mask any run of this many digits or more, Luhn or not (recognisers drop digits); 0: off.
    redact_digit_runs: int = Field(14, ge=0, le=64)
    redact_patterns: tuple[RedactPattern, ...] = ()
    qa_rules: Path | None = None  # QA rules YAML (docs/qa.md); none: transcripts are not scored
    adaptation: AdaptationSettings = AdaptationSettings()  # pocketsphinx only
    # pocketsphinx decoder options (name: value, e.g. {lw: 8.0, beam: 1e-60}); see docs/qa.md's figures.
    decoder: Mapping[str, float | int | str] = Field(default_factory=dict)
    # pocketsphinx: an acoustic model adapted to the phone channel (bench/am_adapt.py, docs/qa.md):
    # a model directory (mdef, means, variances, transition_matrices, sendump) used instead of the
    # bundled one, or an MLLR transform file (mllr_matrix) applied to it. Offline and live.
    acoustic_model: Path | None = None

    @field_validator("acoustic_model")
    @classmethod
    def _acoustic_model(cls, value: Path | None) -> Path | None:
        if value is None or value.is_file():
            return value
        if not value.is_dir():
            raise ValueError(f"{value}: no such directory or MLLR file")
        missing = [n for n in ACOUSTIC_MODEL_FILES if not (value / n).is_file()]
        if not (value / "sendump").is_file() and not (value / "mixture_weights").is_file():
            missing.append("sendump (or mixture_weights)")
        if missing:
            raise ValueError(f"{value} is not an acoustic model directory: no {', '.join(missing)}")
        return value

    @model_validator(mode="after")
    def _one_acoustic_model(self) -> TranscriptionSettings:
        if self.acoustic_model is not None and ({"hmm", "mllr"} & set(self.decoder)):
            raise ValueError("acoustic_model: decoder.hmm or decoder.mllr names one too; keep one")
        return self


class QaSettings(Section):
    """Manual QA review (docs/qa.md)."""

    scorecards: Path | None = None  # scorecards YAML, e.g. scorecards.example.yaml; none: no reviews


class RecordingSettings(Section):
    """Where recordings are kept, encrypted or not, and for how long."""

    directory: Path = Path("recordings")
    # Record answered calls (MixMonitor, caller and agent as separate tracks plus the mix); a queue
    # may opt out with ``record: false`` in the queues file.
    enabled: bool = True
    # Where Asterisk writes the files while a call is recorded, as this server sees the directory
    # and as Asterisk sees it (they differ for the sandbox's chroot or a container; the server must
    # be able to read it: same host or a shared volume). Unset with the sandbox: the instance's
    # spool/monitor.
    spool_dir: Path | None = None
    asterisk_spool_dir: PurePosixPath | None = None
    # After a call ends, wait until the files have not grown for this long before storing them.
    settle_seconds: float = Field(1.0, gt=0, le=60)
    # The spool holds each call's audio unencrypted while it is recorded: it must not outlive the
    # call. This often the server looks for files of ended calls not taken in (a failed store is
    # tried again) and deletes files of calls no database of ours knows once they are this old.
    spool_sweep_seconds: float = Field(60.0, ge=0)
    spool_orphan_hours: float = Field(24.0, gt=0)
    # base64 of a 16, 24 or 32 byte key: recordings are encrypted at rest with AES-GCM. Its key id
    # is "default". For rotation, name the keys instead (encryption_keys) and say which one wraps
    # new recordings (encryption_key_id); every key a stored recording names must stay listed until
    # `callcenter recordings rewrap` has moved those recordings to the current key.
    encryption_key: SecretStr | None = None
    encryption_keys: Mapping[str, SecretStr] = Field(default_factory=dict)
    encryption_key_id: str | None = None
    # Days a recording is kept, per business line (the queue's `line`, else its name); others: the default.
    retention_days: RetentionDays = Field(default_factory=dict)
    default_retention_days: int | None = Field(None, ge=1)  # None: kept until deleted
    # The server deletes what is past its retention (recordings, then their transcripts) this often;
    # 0: only by hand (`callcenter recordings purge`).
    retention_sweep_seconds: float = Field(3600.0, ge=0)

    @field_validator("encryption_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        _check_aes_key(value)
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _named_keys(cls, value: Mapping[str, SecretStr]) -> Mapping[str, SecretStr]:
        for key_id, key in value.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"{key_id[:40]!r}: a key id is 1-64 letters, digits, '_', '.' or '-'")
            try:
                _check_aes_key(key)
            except ValueError as err:
                raise ValueError(f"{key_id}: {err}") from None
        return value

    @model_validator(mode="after")
    def _current_key(self) -> RecordingSettings:
        ids = set(self.encryption_keys)
        if self.encryption_key is not None:
            if "default" in ids:
                raise ValueError("encryption_keys.default: 'default' is the id of encryption_key; rename one")
            ids.add("default")
        if self.encryption_key_id is not None and self.encryption_key_id not in ids:
            raise ValueError(
                f"encryption_key_id: {self.encryption_key_id!r} is not among the configured keys"
            )
        if self.encryption_key_id is None and len(ids) > 1:
            raise ValueError(
                "encryption_key_id: several keys are configured; name the one for new recordings"
            )
        return self

    @field_validator("retention_days")
    @classmethod
    def _positive_days(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        for line, days in value.items():
            if days < 1:
                raise ValueError(f"{line}: retention must be at least 1 day")
        return value
