"""The example tickets file, loaded once for the tickets' unit tests."""

from __future__ import annotations

from pathlib import Path

from callcenter.core.tickets.model import Workflow
from callcenter.tickets.workflow_file import load_workflow

EXAMPLE = Path(__file__).resolve().parents[2] / "tickets.example.yaml"


def example() -> Workflow:
    return load_workflow(EXAMPLE)
