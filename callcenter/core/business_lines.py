"""Business lines: the one rule that says which line a queue and a call belong to.

Every page and store that scopes by line asks here (the supervisor console, ``/api/queues`` and
``/api/agents``, the QA store, recording retention), so a supervisor limited to ``support`` sees
the same calls on ``/qa`` as queues and agents on ``/supervisor``.

- A queue's line is its ``line:`` in the queues file, else the queue's own name (the README's
  ``--lines support`` supervisor sees the queue ``support``, which has no ``line:``).
- A call's line is its customer's line when routing gave it one (the ``line:<name>`` skill, from
  the customer's ``business_line``), else its queue's line. A call without a queue has no line
  (unscoped principals only).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

LINE_SKILL = "line:"


def queue_line(queue: str | None, configured: str | None) -> str | None:
    """The business line of ``queue`` whose queues-file ``line:`` is ``configured``."""
    if queue is None:
        return None
    return configured or queue


def call_line(queue: str | None, configured: str | None, skills: Iterable[str] | None) -> str | None:
    """The business line of a call in ``queue`` (``configured``: that queue's ``line:``) needing
    ``skills``."""
    for skill in skills or ():
        if str(skill).startswith(LINE_SKILL):
            return str(skill)[len(LINE_SKILL) :]
    return queue_line(queue, configured)
