"""The ``tickets`` section (docs/tickets.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from callcenter.settings.base import Section


class TicketsSettings(Section):
    # The workflow file (types, teams, routing, SLAs: tickets.example.yaml); None: tickets are off.
    workflow_file: Path | None = None
    reload_seconds: float = Field(2.0, gt=0, le=3600)  # how often the file is checked for edits
    # The routing owner's SLA job: how often open tickets' clocks are checked.
    sla_check_seconds: float = Field(30.0, gt=0, le=3600)
    # The routing owner hands replies to customers to the messaging outbox this often.
    reply_seconds: float = Field(2.0, gt=0, le=600)
    # The routing owner reads new QA flags for the file's trigger rules this often.
    trigger_seconds: float = Field(10.0, gt=0, le=3600)
    # Attachments (docs/tickets.md): stored like recordings, in this directory (unset: the
    # recordings directory's ``attachments``; with several nodes, shared storage), encrypted with
    # the recordings' keys when those are set. Larger uploads are refused (413), and kinds not
    # listed (judged by the bytes: pdf png jpeg gif webp wav zip text) too (415).
    attachments_dir: Path | None = None
    attachment_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    attachment_types: tuple[Literal["pdf", "png", "jpeg", "gif", "webp", "wav", "zip", "text"], ...] = (
        "pdf", "png", "jpeg", "gif", "webp", "zip", "text",
    )  # fmt: skip
