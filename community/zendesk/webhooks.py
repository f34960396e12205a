"""Checking a Zendesk webhook request: signature, freshness. Pure functions, no database.

Zendesk signs ``base64(HMAC-SHA256(secret, timestamp + raw body))`` and sends it in
``X-Zendesk-Webhook-Signature``, the ISO-8601 timestamp in
``X-Zendesk-Webhook-Signature-Timestamp``. The secret is used as its UTF-8 bytes, as shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


class Refused(Exception):
    """The request is not from Zendesk, or not fresh. ``status`` and ``title`` go back."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: datetime,
    tolerance: timedelta,
) -> datetime:
    """The time the request was signed, if the signature is right and the time is recent."""
    if not timestamp or not signature:
        raise Refused(401, "Signature missing", f"Send {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}.")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Refused(401, "Bad signature", "The signature does not match the body.")
    try:
        signed_at = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        raise Refused(400, "Bad timestamp", "The timestamp is not an ISO-8601 time.") from None
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if abs(now - signed_at) > tolerance:
        raise Refused(401, "Stale timestamp", "The request was signed too long ago (or ahead).")
    return signed_at


def delivery_digest(timestamp: str, signature: str) -> str:
    """What identifies one signed request, to refuse it the second time."""
    return hashlib.sha256(f"{timestamp.strip()}\n{signature.strip()}".encode()).hexdigest()
