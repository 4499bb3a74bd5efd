"""What an uploaded file is, judged by its bytes (a small signature table), and whether its name
agrees. A name is only a claim: ``invoice.pdf`` holding HTML is refused, so is any kind not listed
here (HTML, SVG, scripts, executables), whatever its name."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileKind:
    name: str  # as the settings name it (tickets.attachment_types)
    content_type: str
    extensions: tuple[str, ...]


KINDS: dict[str, FileKind] = {
    k.name: k
    for k in (
        FileKind("pdf", "application/pdf", (".pdf",)),
        FileKind("png", "image/png", (".png",)),
        FileKind("jpeg", "image/jpeg", (".jpg", ".jpeg")),
        FileKind("gif", "image/gif", (".gif",)),
        FileKind("webp", "image/webp", (".webp",)),
        FileKind("wav", "audio/wav", (".wav",)),
        FileKind("zip", "application/zip", (".zip", ".docx", ".xlsx", ".pptx", ".odt", ".ods")),
        FileKind("text", "text/plain; charset=utf-8", (".txt", ".log", ".csv")),
    )
}
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sniff(data: bytes) -> FileKind | None:
    """The kind of a file: a signature at its head, else text if the whole of it is; None: not a
    kind we take."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return KINDS["pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["jpeg"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return KINDS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["webp"]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return KINDS["wav"]
    if head.startswith(b"PK\x03\x04"):
        return KINDS["zip"]
    return KINDS["text"] if _is_text(data) else None


def _is_text(data: bytes) -> bool:
    """UTF-8 without control characters (but tab and line ends), not starting with markup."""
    if _CONTROL.search(data):
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.lstrip("\ufeff \t\r\n")[:1] != "<"  # markup a browser might render


def extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""
