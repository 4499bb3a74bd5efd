"""Who is acting: an account signed in, an API token, or a person at the command line, with the role
and the business lines that bound what they see. Not a web concept: the audit log, the services and
the Socket.IO namespaces take one too."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    agent_id: str | None = None
    # Business lines this principal sees; None: every line (admins, unscoped accounts and tokens).
    lines: frozenset[str] | None = None
    user_id: int | None = None  # the account, when signed in with one (None for API tokens)
    language: str | None = None  # the account's language (None: the browser's)

    def may_see(self, line: str | None) -> bool:
        """Whether data of this business line is visible. Scoped principals see only their lines:
        data without a line is for unscoped principals only (deny by default)."""
        if self.lines is None:
            return True
        return line is not None and line in self.lines
