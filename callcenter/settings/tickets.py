"""The ``tickets`` section (docs/tickets.md)."""

from __future__ import annotations

from pathlib import Path

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
