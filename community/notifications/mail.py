"""The mail adapter: the only module that talks SMTP.

``SMTPMailer`` is used when ``MAIL_SERVER`` is set; otherwise ``ConsoleMailer`` writes each message
to the log (the demo default). Both raise ``TransientError``/``PermanentError`` so the worker
knows whether to retry.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from flask import Flask

from community.jobs.errors import PermanentError, TransientError

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class ConsoleMailer:
    """Writes emails to the log instead of sending them. Bodies (which hold sign-in and reset
    links) are logged only when MAIL_LOG_BODIES is on, as `make dev` sets it; elsewhere a missing
    MAIL_SERVER must not put working account links into production logs."""

    def __init__(self, log_bodies: bool = False) -> None:
        self.log_bodies = log_bodies

    def send(self, message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None and self.log_bodies else "(body not logged)"
        log.info(
            "email (console, not sent)\nTo: %s\nSubject: %s\nMessage-ID: %s\n\n%s",
            message["To"],
            message["Subject"],
            message["Message-ID"],
            text,
        )


class SMTPMailer:
    def __init__(self, app: Flask) -> None:
        config = app.config
        self.host: str = config["MAIL_SERVER"]
        self.port: int = int(config["MAIL_PORT"])
        self.username: str | None = config["MAIL_USERNAME"]
        self.password: str | None = config["MAIL_PASSWORD"]
        self.use_tls: bool = bool(config["MAIL_USE_TLS"])
        self.use_ssl: bool = bool(config["MAIL_USE_SSL"])
        self.timeout: float = float(config["MAIL_TIMEOUT"])

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise _classify_refusals(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {_decode(error.smtp_error)}"
            if 400 <= error.smtp_code < 500:
                raise TransientError(text) from error
            raise PermanentError(text) from error
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, timed out, TLS
            raise TransientError(f"SMTP connection to {self.host}:{self.port}: {error}") from error
        if refused:  # some (never all: that raises above) recipients were refused
            raise _classify_refusals(refused)

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def _classify_refusals(refusals: dict[str, tuple[int, bytes]]) -> Exception:
    text = "; ".join(
        f"{rcpt}: SMTP {code} {_decode(msg)}" for rcpt, (code, msg) in refusals.items()
    )
    if all(code >= 500 for code, _ in refusals.values()):
        return PermanentError(f"recipient refused: {text}")
    return TransientError(f"recipient deferred: {text}")


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def mailer_for(app: Flask) -> Mailer:
    if app.config["MAIL_SERVER"]:
        return SMTPMailer(app)
    return ConsoleMailer(log_bodies=bool(app.config["MAIL_LOG_BODIES"]))
