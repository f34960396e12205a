"""The Slack adapter: the only module that calls Slack (incoming webhooks over HTTPS).

With no webhook configured the message goes to the log instead, so the demo needs no Slack.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from community.jobs.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


def escape(text: str) -> str:
    """Escape Slack's control characters, so user text cannot ping @channel or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{escape(label)}>"


def post(webhook_url: str | None, message: dict[str, Any]) -> None:
    """Send ``message`` (Slack's JSON payload) to the webhook, or log it when there is none."""
    if not webhook_url:
        log.info("slack (console, not sent): %s", message.get("text", ""))
        return
    request = urllib.request.Request(  # noqa: S310 -- the URL is an admin-set http(s) webhook
        webhook_url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as error:
        detail = f"Slack answered {error.code}: {error.read()[:200].decode('utf-8', 'replace')}"
        if error.code == 429 or error.code >= 500:
            raise TransientError(detail, retry_after=_retry_after(error)) from error
        raise PermanentError(detail) from error
    except (urllib.error.URLError, OSError) as error:
        raise TransientError(f"Slack unreachable: {error}") from error


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
