"""Handing a sign-in from the popup (the app's own window) to the embed (a third-party frame).

Browsers that block third-party cookies never show the embed the session of the app's own
window, and identity providers refuse to be framed, so provider sign-in happens in a popup:

1. the embed asks for a sign-in request: a random value kept in the embed's own session;
2. the popup (top level, on the app's origin) signs in as usual and records, against that
   request, who signed in, with a one-time code;
3. the popup posts the code to the embed (``postMessage``, to the app's own origin only); the
   embed redeems it. If the provider's page cut the popup off from its opener (some set
   ``Cross-Origin-Opener-Policy``), the embed asks with the request alone, by polling.

Either way the redeeming session must hold the request, so a code or request seen anywhere else
opens nothing, and each is used once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import session

from community.accounts.models import User
from community.db import utcnow
from community.embed.models import EmbedSignIn
from community.extensions import db

REQUEST_KEY = "embed_sign_in_request"
POPUP_KEY = "embed_popup"
HANDOVER_MAX_AGE = timedelta(minutes=10)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def begin() -> str:
    """In the embed: a new sign-in request, remembered in this session (replacing an old one)."""
    request_token = secrets.token_urlsafe(32)
    session[REQUEST_KEY] = request_token
    return request_token


def record(user: User, request_token: str) -> str:
    """In the popup: ``user`` signed in for this request; the one-time code for the embed."""
    code = secrets.token_urlsafe(32)
    forget_stale()
    db.session.execute(
        sa.delete(EmbedSignIn).where(EmbedSignIn.request_hash == _digest(request_token))
    )
    db.session.add(
        EmbedSignIn(
            request_hash=_digest(request_token),
            code_hash=_digest(code),
            user_id=user.id,
            session_version=user.session_version,
        )
    )
    db.session.flush()
    return code


def redeem(code: str | None) -> User | None:
    """In the embed: the user the popup signed in for this session's request, once.

    With ``code``, the code must belong to this session's request; without, the request alone
    finds it (the polling path). None while nothing is recorded, or when it is used, stale, or
    the account changed (password, ban) since."""
    request_token = session.get(REQUEST_KEY)
    if not isinstance(request_token, str):
        return None
    query = sa.select(EmbedSignIn).where(
        EmbedSignIn.request_hash == _digest(request_token),
        EmbedSignIn.used_at.is_(None),
        EmbedSignIn.created_at >= utcnow() - HANDOVER_MAX_AGE,
    )
    if code is not None:
        query = query.where(EmbedSignIn.code_hash == _digest(code))
    handover = db.session.scalar(query.with_for_update())
    if handover is None:
        return None
    handover.used_at = utcnow()
    session.pop(REQUEST_KEY, None)
    user = db.session.get(User, handover.user_id)
    if user is None or not user.is_active or user.session_version != handover.session_version:
        return None
    return user


def forget_stale() -> int:
    """Delete hand-overs past their age (used or not); returns how many."""
    result = db.session.execute(
        sa.delete(EmbedSignIn).where(EmbedSignIn.created_at < utcnow() - HANDOVER_MAX_AGE)
    )
    return result.rowcount or 0
