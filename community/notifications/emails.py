"""Emails: what each one says (builders), how it is queued, composed and sent.

A builder reloads current state from ids and returns the email to send, or None when it should
no longer go out (the reply was deleted, the person unsubscribed). The ``email.send`` job calls the
builder, composes a standard-library ``EmailMessage`` (which refuses header injection) and hands
it to the mail adapter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template

from community.jobs import services as jobs
from community.jobs.registry import handler
from community.notifications.mail import mailer_for

EMAIL_JOB = "email.send"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


@dataclass
class Email:
    to_address: str
    to_name: str
    template: str  # templates/email/<template>/{subject.txt,body.txt,body.html}
    context: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[dict[str, Any]], Email | None]
_builders: dict[str, Builder] = {}


def builder(name: str) -> Callable[[Builder], Builder]:
    def register(function: Builder) -> Builder:
        _builders[name] = function
        return function

    return register


def queue_email(name: str, params: dict[str, Any], *, dedupe_key: str | None = None) -> None:
    """Record an email to send after this transaction commits (nothing leaves the request)."""
    if name not in _builders:
        raise ValueError(f"no email called {name!r}")
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    jobs.enqueue(
        EMAIL_JOB,
        # The Message-ID is fixed when the intent is recorded, so a retried send carries the same
        # id and mail clients can tell a duplicate (the one visible cost of at-least-once).
        {"email": name, "params": params, "message_id": f"<{uuid.uuid4().hex}@{host}>"},
        dedupe_key=dedupe_key,
    )


@handler(EMAIL_JOB)
def send_email(payload: dict[str, Any]) -> None:
    build = _builders.get(payload["email"])
    if build is None:
        from community.jobs.errors import PermanentError

        raise PermanentError(f"no email called {payload['email']!r}")
    email = build(payload["params"])
    if email is None:
        return
    message = compose(email, message_id=payload["message_id"])
    mailer_for(current_app._get_current_object()).send(message)


def compose(email: Email, *, message_id: str) -> EmailMessage:
    config = current_app.config
    context = {"site_name": config["SITE_NAME"], "base_url": config["BASE_URL"], **email.context}
    subject = _one_line(render_template(f"email/{email.template}/subject.txt", **context))
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = Address(display_name=_one_line(email.to_name), addr_spec=email.to_address)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(render_template(f"email/{email.template}/body.txt", **context))
    message.add_alternative(
        render_template(f"email/{email.template}/body.html", **context), subtype="html"
    )
    return message


def _one_line(text: str) -> str:
    """Header text that cannot inject headers: no line breaks or control characters, and no
    RFC 2047 encoded words. The email package decodes ``=?UTF-8?Q?a=0ABcc:_x?=`` when a header is
    set and would write the decoded line break out as a new header line, so "=?" is broken up
    with an invisible word joiner."""
    return _CONTROL.sub(" ", text).replace("=?", "=\u2060?").strip()[:250]
