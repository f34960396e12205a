"""Signed, expiring tokens for links sent by email (verify, reset, change email, 2FA removal).

A token carries the purpose (as the signing salt, so one purpose's token is useless for another)
and a fingerprint of the account state it acts on. Using the link changes that state, so the
same link cannot be used twice, and any password change or email change voids older links.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from community.accounts.models import User


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"community.{purpose}")


def account_fingerprint(user: User, *extra: str) -> str:
    """Changes whenever the email, password, verification or session version changes."""
    state = "|".join(
        [
            user.email,
            user.password_hash or "",
            str(user.email_verified_at),
            str(user.session_version),
            *extra,
        ]
    )
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def make_token(purpose: str, user: User, *extra: str, **payload: Any) -> str:
    return _serializer(purpose).dumps(
        {"u": user.id, "f": account_fingerprint(user, *extra), **payload}
    )


def read_token(
    purpose: str, token: str, max_age_seconds: int
) -> tuple[int, str, dict[str, Any]] | None:
    """(user id, fingerprint, payload) of a valid, unexpired token for ``purpose``, else None.
    The caller compares the fingerprint with the account's current one."""
    try:
        value = _serializer(purpose).loads(token, max_age=max_age_seconds)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("u"), int):
        return None
    return value["u"], str(value.get("f", "")), value


def user_from_token(
    purpose: str, token: str, max_age_seconds: int, *extra: str
) -> tuple[User, dict[str, Any]] | None:
    """The account a still-valid token for ``purpose`` names, with the token's payload."""
    from community.extensions import db

    found = read_token(purpose, token, max_age_seconds)
    if found is None:
        return None
    user_id, fingerprint, payload = found
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        return None
    if account_fingerprint(user, *extra) != fingerprint:
        return None
    return user, payload
