"""Starting and ending sessions: the one path every sign-in takes (password, identity provider,
email link), so two-factor checks, the session version and "continue where you were" apply to
all of them alike."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, current_app, redirect, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from community import signals
from community.accounts.models import User
from community.db import utcnow
from community.extensions import db
from community.web import safe_next_url

# When this browser session last proved who it is (password, provider, second factor).
SIGNED_IN_AT = "signed_in_at"
# Sensitive changes (linking a provider, changing the email of an account without a password)
# need a sign-in this recent in this browser session.
REAUTH_WINDOW_SECONDS = 10 * 60
# While a password (or provider) sign-in waits for its second factor.
PENDING_SECOND_FACTOR = "pending_second_factor"
SECOND_FACTOR_WINDOW_SECONDS = 300


def start_session(
    user: User,
    *,
    remember: bool = False,
    next_url: str | None = None,
    second_factor_done: bool = False,
    draft_token: str | None = None,
    follow_continuations: bool = True,
) -> Response:
    """Sign ``user`` in (or ask for their second factor first), let features finish what the
    visitor began (a draft, named by ``draft_token`` when it came through an email link),
    commit, and redirect: to where a feature says to continue (the posted draft) or else to
    ``next_url``. With ``follow_continuations`` False, always to ``next_url`` (the embed stays
    in the embed)."""
    if not user.is_active:
        # Banned or deleted: no session, and nothing continues on their behalf (no drafts).
        abort(403, "This account is suspended.")
    if user.has_two_factor and not second_factor_done:
        session[PENDING_SECOND_FACTOR] = {
            "user_id": user.id,
            "version": user.session_version,
            "remember": remember,
            "next": safe_next_url(next_url),
            "draft": draft_token,  # a draft named by an email link survives the second step
            "started": time.time(),
        }
        return redirect(url_for("twofactor.challenge"))
    session.pop(PENDING_SECOND_FACTOR, None)
    session.pop("csrf_token", None)  # a new token for the new identity
    _open(user)
    login_user(user, remember=remember)
    user.last_sign_in_at = utcnow()
    session[SIGNED_IN_AT] = {"user": user.get_id(), "at": time.time()}
    continuations = signals.user_signed_in.send(
        current_app._get_current_object(), user=user, draft_token=draft_token
    )
    db.session.commit()
    for _receiver, url in continuations if follow_continuations else ():
        if url:
            return redirect(url)
    return redirect(safe_next_url(next_url) or url_for("questions.index"))


def pending_second_factor() -> dict[str, Any] | None:
    """The sign-in waiting for a second factor, if it is recent and still valid."""
    pending = session.get(PENDING_SECOND_FACTOR)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("started", 0)) > SECOND_FACTOR_WINDOW_SECONDS:
        session.pop(PENDING_SECOND_FACTOR, None)
        return None
    return pending


def signed_in_recently() -> bool:
    """This browser session signed in (proved who it is) within the re-authentication window."""
    from flask_login import current_user

    stamp = session.get(SIGNED_IN_AT)
    if not current_user.is_authenticated or not isinstance(stamp, dict):
        return False
    if stamp.get("user") != current_user.get_id():
        return False
    return time.time() - float(stamp.get("at", 0)) <= REAUTH_WINDOW_SECONDS


def continue_session(user: User) -> None:
    """After a change that ended every session (password, two-factor on), keep this browser
    signed in under a new session."""
    _open(user)
    login_user(user)
    session[SIGNED_IN_AT] = {"user": user.get_id(), "at": time.time()}


def _open(user: User) -> None:
    from community.accounts import services

    services.open_session(
        user,
        user_agent=request.user_agent.string or "",
        ip_address=request.remote_addr or "",
    )


def end_session() -> None:
    """Sign this browser out; its session row is revoked, so a copied cookie dies with it.
    The caller commits."""
    from flask_login import current_user

    from community.accounts import services

    if current_user.is_authenticated:
        services.end_session_by_token(current_user.id, current_user.session_token)
    logout_user()
    session.pop("csrf_token", None)
    session.pop(PENDING_SECOND_FACTOR, None)
