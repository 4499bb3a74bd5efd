"""Sending e-mail through the center's SMTP relay (a smarthost): the one place that talks to it.

The e-mail channel's replies, the tickets' team e-mails and the scheduled reports each have their
relay settings (``SmtpRelay``: host, port, login, STARTTLS, timeout) and send through ``send``,
which says why the relay did not take a message and whether trying again can help.
"""

from __future__ import annotations

from email.message import EmailMessage

from callcenter.settings.smtp import SmtpRelay


class MailFailed(Exception):
    """The relay did not take the e-mail: ``str()`` says why; ``code`` is the SMTP reply's, if any."""

    def __init__(self, reason: str, code: int | None = None, kind: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.brief = f"SMTP {code}" if code is not None else f"SMTP: {kind}"  # e.g. for a delivery log

    @property
    def permanent(self) -> bool:
        """A 5xx reply: the same message would be refused again."""
        return self.code is not None and 500 <= self.code < 600


async def send(relay: SmtpRelay, message: EmailMessage) -> None:
    """``message`` handed to the relay, or ``MailFailed`` (the password never in the reason)."""
    import aiosmtplib  # imported on first use: its import makes a TLS context (a tenth of a second)

    try:
        await aiosmtplib.send(
            message,
            hostname=relay.smtp_host,
            port=relay.smtp_port,
            username=relay.smtp_username,
            password=relay.smtp_password.get_secret_value() if relay.smtp_password else None,
            start_tls=relay.smtp_starttls,
            timeout=relay.smtp_timeout,
        )
    except aiosmtplib.SMTPResponseException as err:
        raise MailFailed(f"SMTP {err.code}: {err.message}", err.code) from err
    except (aiosmtplib.SMTPException, OSError) as err:
        raise MailFailed(f"SMTP: {type(err).__name__}: {err}", kind=type(err).__name__) from err
