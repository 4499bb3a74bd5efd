"""Errors of the infrastructure, as the rest of the server sees them.

The adapters raise their own errors (``DatabaseError``, ``AmiError``, ``RecordingError``...) and
keep the foreign cause; each is a subclass of one of these, so the web layer and the services catch
the kind of failure (storage unavailable: 503; Asterisk refused: 502) without importing an adapter.
Domain errors (a move the engine refuses) are not here: they belong to the core.
"""

from __future__ import annotations


class StorageError(Exception):
    """The database could not be opened, read or written; the message says what and why."""


class AuditUnavailable(StorageError):
    """The audit record of an action cannot be written, so the action is refused (not done).

    The web layer answers it with 503 in one place (:func:`callcenter.web.audit.refusals`)."""


class AsteriskError(Exception):
    """Asterisk refused an action, or could not be asked (no connection)."""


class CallControlError(Exception):
    """A call control (hang up, hold, transfer) that cannot be done now; the message says why."""


class RecordingError(Exception):
    """A recording cannot be stored or read (bad id, missing file, no key)."""
