"""Signing in with an identity provider, and linking and unlinking providers in settings.

A flow is started by GET /login/<provider> (sign in) or by a CSRF-protected POST from settings
(link), and finished by the one callback URL registered with the provider. What started it is
kept in the session next to the state, so a callback completes only in the browser session that
started it, and a link completes only for the user who asked for it.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from community.accounts import identities, oauth, sessions
from community.accounts.models import Identity
from community.accounts.sessions import start_session
from community.errors import DomainError
from community.extensions import db, limiter
from community.web import external_url, safe_next_url

bp = Blueprint("oauth", __name__)

# Per client address. A person needs a handful; a script hammering providers through us gets 429.
START_LIMIT = "20/minute;200/hour"
CALLBACK_LIMIT = "20/minute;200/hour"
FLOW = "oauth_flow"
SIGN_IN, LINK = "sign_in", "link"
# A flow must come back within this long; the provider's own page rarely takes a minute.
FLOW_MAX_AGE_SECONDS = 15 * 60
SESSION_CHANGED = (
    "You were signed out, or signed in as someone else, while linking, so nothing was linked. "
    "Sign in and start again from your settings."
)
FLOW_INVALID = (
    "This sign-in could not be completed: it has expired, was already used, or was started in "
    "another browser. Nothing was changed; please start again."
)


def init_app(app: Flask) -> None:
    oauth.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["oauth_providers"] = oauth.configured_providers
    app.jinja_env.globals["linked_identities"] = _linked_identities
    app.jinja_env.globals["provider_name"] = oauth.provider_name


# -- starting -----------------------------------------------------------------------------------


@bp.get("/login/<provider>")
@limiter.limit(START_LIMIT)
def start(provider: str) -> Response | tuple[str, int]:
    found = _provider_or_404(provider)
    started = _begin(found, SIGN_IN, next_url=safe_next_url(request.args.get("next")))
    return redirect(started) if isinstance(started, str) else started


@bp.post("/settings/identities/<provider>/link")
@limiter.limit(START_LIMIT)
@login_required
def link(provider: str) -> Response | tuple[str, int]:
    found = _provider_or_404(provider)
    try:
        identities.check_can_link(current_user, recently_signed_in=_signed_in_recently())
    except identities.ReauthenticationRequired as error:
        flash(str(error), "info")
        return redirect(url_for("accounts.sign_in", next=_back()))
    except DomainError as error:
        flash(str(error), "error")
        return redirect(_back())
    started = _begin(found, LINK, next_url=_back())
    if not isinstance(started, str):
        return started
    # Not a redirect: our CSP's form-action 'self' also covers where a form's answer redirects
    # to, so browsers would block a 302 to the provider. A page that moves on by itself (meta
    # refresh, no script) is a plain navigation.
    response = make_response(
        render_template("oauth/continue.html", provider=found, authorize_url=started)
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _begin(provider: oauth.Provider, intent: str, next_url: str | None) -> str | tuple[str, int]:
    """Start a flow and remember it in the session: the provider's URL to go to (or the page
    saying the provider cannot be reached)."""
    # Built from BASE_URL, never from the request's Host: it must match what is registered.
    redirect_uri = external_url("oauth.callback", provider=provider.key)
    try:
        url, state = oauth.begin(provider, redirect_uri)
    except oauth.ProviderError as error:
        return _refused(error)
    session[FLOW] = {
        "provider": provider.key,
        "state": state,
        "intent": intent,
        "user": current_user.get_id() if intent == LINK else None,
        "next": next_url,
        "started": time.time(),
    }
    return url


# -- finishing ----------------------------------------------------------------------------------


@bp.get("/login/<provider>/callback")
@limiter.limit(CALLBACK_LIMIT)
def callback(provider: str) -> Response | tuple[str, int]:
    found = _provider_or_404(provider)
    flow = session.pop(FLOW, None)  # single use, whatever happens next
    if not _flow_matches(flow, found.key, request.args.get("state")):
        oauth.forget_pending_flows()
        return _refused(oauth.ProviderError(FLOW_INVALID))
    linking = flow["intent"] == LINK
    if linking and (not current_user.is_authenticated or current_user.get_id() != flow.get("user")):
        oauth.forget_pending_flows()
        return _refused(oauth.ProviderError(SESSION_CHANGED))
    try:
        profile = oauth.complete(found)
    except oauth.ProviderError as error:
        return _refused(error)
    if linking:
        return _finish_link(profile, flow)
    return _finish_sign_in(profile, flow)


def _flow_matches(flow: Any, provider: str, state: str | None) -> bool:
    if not isinstance(flow, dict) or not state or flow.get("provider") != provider:
        return False
    if time.time() - float(flow.get("started", 0)) > FLOW_MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(str(flow.get("state", "")), state)


def _finish_sign_in(profile: oauth.ProviderProfile, flow: dict[str, Any]) -> Response | tuple:
    try:
        outcome = identities.sign_in_with(profile)
        db.session.flush()
    except (DomainError, IntegrityError) as error:
        db.session.rollback()
        return _refused(error)
    if outcome.created:
        flash(f"Welcome, {outcome.user.first_name}! Your account is ready.", "success")
    elif outcome.linked:
        flash(
            f"{profile.provider_name} is now linked to your account. We've emailed you about it.",
            "success",
        )
    response = start_session(outcome.user, next_url=flow.get("next"))
    # start_session commits, except when it stops to ask for a second factor: keep the
    # identity's changes (and a new link) either way.
    db.session.commit()
    return response


def _finish_link(profile: oauth.ProviderProfile, flow: dict[str, Any]) -> Response | tuple:
    back = flow.get("next") or url_for("oauth.identities")
    try:
        _identity, new = identities.link_identity(current_user, profile)
        db.session.commit()
    except (DomainError, IntegrityError) as error:
        db.session.rollback()
        return _refused(error, back=back)
    if new:
        flash(f"{profile.provider_name} is linked: you can now sign in with it.", "success")
    else:
        flash(f"That {profile.provider_name} account was already linked.", "info")
    return redirect(back)


# -- settings -----------------------------------------------------------------------------------


@bp.get("/settings/identities", endpoint="identities")
@login_required
def identities_page() -> str:
    return render_template("oauth/identities.html")


@bp.post("/settings/identities/<int:identity_id>/unlink")
@login_required
def unlink(identity_id: int) -> Response:
    try:
        removed = identities.unlink_identity(
            current_user, identity_id, recently_signed_in=_signed_in_recently()
        )
    except identities.ReauthenticationRequired as error:
        flash(str(error), "info")
        return redirect(url_for("accounts.sign_in", next=_back()))
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(str(error), "error")
        return redirect(_back())
    db.session.commit()
    name = oauth.provider_name(removed.provider)
    flash(f"{name} is unlinked. We've emailed you about it.", "info")
    return redirect(_back())


# -- helpers ------------------------------------------------------------------------------------


def _provider_or_404(key: str) -> oauth.Provider:
    found = oauth.get_provider(key)
    if found is None:
        abort(404)
    return found


def _back() -> str:
    """Where a settings form returns to: the page it was on, if it is ours."""
    return safe_next_url(request.form.get("next")) or url_for("oauth.identities")


def _refused(error: Exception, back: str | None = None) -> tuple[str, int]:
    """The page for a sign-in or link that did not happen. Only our own message is shown, never
    anything from the request or the provider."""
    if isinstance(error, DomainError):
        message, status = str(error), error.status
    else:  # IntegrityError: the same identity was linked by a parallel request
        message, status = "That sign-in was just linked elsewhere. Please start again.", 409
    return render_template("oauth/refused.html", message=message, back=back, status=status), status


def _signed_in_recently() -> bool:
    return sessions.signed_in_recently()


def _linked_identities() -> list[Identity]:
    if not current_user.is_authenticated:
        return []
    return identities.identities_of(current_user)
