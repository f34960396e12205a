"""Two-factor pages: settings (enrol, confirm, recovery codes, turn off), the sign-in challenge,
an administrator's removal request, and the owner's confirmation of it."""

from __future__ import annotations

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from community.accounts import twofactor
from community.accounts.access import admin_required
from community.accounts.models import User
from community.accounts.sessions import (
    PENDING_SECOND_FACTOR,
    continue_session,
    pending_second_factor,
    start_session,
)
from community.accounts.twofactor_forms import (
    BeginForm,
    ChallengeForm,
    ConfirmForm,
    ConfirmRemovalForm,
    ReauthenticateForm,
    RemovalRequestForm,
)
from community.errors import DomainError
from community.extensions import db, limiter
from community.web import safe_next_url

bp = Blueprint("twofactor", __name__)

# A TOTP guess succeeds with odds of 3 in a million (three steps are accepted), so these make
# guessing hopeless while leaving room for typos. The per-account limit holds across IPs and
# browsers (it keys on the account waiting for its code); the per-IP one across accounts.
CHALLENGE_PER_IP = "10/minute;50/hour"
CHALLENGE_PER_ACCOUNT = "5/minute;20/hour"
# Turning off and regenerating check a code or the password: not an oracle for either.
SETTINGS_PER_ACCOUNT = "10/minute;30/hour"
TOO_MANY = "Too many attempts. Wait a minute, then try again."
INVALID = 422


def _pending_account_key() -> str:
    pending = pending_second_factor()
    if pending is None:
        return f"ip:{get_remote_address()}"
    return f"pending-user:{pending['user_id']}"


def _account_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{get_remote_address()}"


def _private(response: Response) -> Response:
    """Pages with secrets (the key, recovery codes) or a token in their URL: never cached, and
    the URL never sent on as a Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- settings -------------------------------------------------------------------------------------


@bp.route("/settings/two-factor", methods=["GET", "POST"])
@limiter.limit(
    SETTINGS_PER_ACCOUNT, key_func=_account_key, methods=["POST"], error_message=TOO_MANY
)
@login_required
def settings() -> Response:
    next_url = safe_next_url(request.values.get("next"))
    forms = {
        "begin": BeginForm(next=next_url),
        "confirm": ConfirmForm(next=next_url),
        "regenerate": ReauthenticateForm(prefix="regenerate"),
        "disable": ReauthenticateForm(prefix="disable"),
    }
    if request.method == "GET":
        return _settings_page(forms, next_url)
    action = request.form.get("action", "")
    form = forms.get(action)
    if form is None or not form.validate_on_submit():
        if form is None or action == "begin":
            abort(400)
        return _settings_page(forms, next_url, INVALID)
    try:
        if action == "begin":
            twofactor.begin_enrolment(current_user)
            db.session.commit()
            return redirect(url_for("twofactor.settings", next=next_url))
        if action == "confirm":
            codes = twofactor.confirm_enrolment(current_user, form.code.data)
            db.session.commit()
            # Other sessions ended; this one proved the code just now and continues.
            continue_session(current_user._get_current_object())
            db.session.commit()
            flash("Two-factor authentication is on. Other devices are signed out.", "success")
            return _recovery_codes_page(codes, next_url)
        if action == "regenerate":
            codes = twofactor.regenerate_recovery_codes(
                current_user, code=form.code.data, password=form.password.data
            )
            db.session.commit()
            flash("Your new recovery codes are ready; the old ones no longer work.", "success")
            return _recovery_codes_page(codes, next_url)
        was_on = current_user.has_two_factor
        twofactor.turn_off(current_user, code=form.code.data, password=form.password.data)
        db.session.commit()
        flash(
            "Two-factor authentication is off." if was_on else "Set-up cancelled.",
            "info",
        )
        return redirect(url_for("twofactor.settings"))
    except DomainError as error:
        db.session.rollback()
        if action == "begin":
            flash(str(error), "error")
            return redirect(url_for("twofactor.settings", next=next_url))
        field = form.code
        if isinstance(error, twofactor.NotConfirmed) and form.password.data:
            field = form.password
        field.errors = [*field.errors, str(error)]
        return _settings_page(forms, next_url, INVALID)


def _settings_page(forms: dict, next_url: str | None, status: int = 200) -> Response:
    user = current_user
    context = {"forms": forms, "next_url": next_url}
    if user.has_two_factor:
        context["remaining"] = twofactor.remaining_recovery_codes(user)
    elif user.totp_secret:
        secret = user.totp_secret
        context["qr_svg"] = _qr_svg(twofactor.provisioning_uri(user))
        context["manual_key"] = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = make_response(render_template("twofactor/settings.html", **context), status)
    return _private(page)


def _recovery_codes_page(codes: list[str], next_url: str | None) -> Response:
    """Shown once, straight from the request that made them: never stored in clear, never put
    in the (signed, not encrypted) session cookie."""
    page = make_response(
        render_template(
            "twofactor/recovery_codes.html",
            codes=codes,
            continue_url=next_url or url_for("twofactor.settings"),
        )
    )
    return _private(page)


def _qr_svg(uri: str) -> Markup:
    # The CSP blocks data: images, so the QR code is an inline <svg>. It is marked safe only
    # because segno drew it (paths, and a title we chose) from our own otpauth URI.
    svg = segno.make(uri, error="m").svg_inline(
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        title="QR code for your authenticator app",
        svgclass="qr-code",
        omitsize=True,  # sized by the stylesheet, so it shrinks on narrow screens
    )
    return Markup(svg)  # noqa: S704 -- see above: generated, not user input


# -- the second step of signing in ---------------------------------------------------------------


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(CHALLENGE_PER_IP, methods=["POST"], error_message=TOO_MANY)
@limiter.limit(
    CHALLENGE_PER_ACCOUNT, key_func=_pending_account_key, methods=["POST"], error_message=TOO_MANY
)
def challenge() -> Response:
    pending = pending_second_factor()
    user = _pending_user(pending)
    if pending is None and current_user.is_authenticated:
        return redirect(url_for("questions.index"))
    if pending is None or user is None:
        session.pop(PENDING_SECOND_FACTOR, None)
        flash("Your sign-in expired or is no longer valid. Please sign in again.", "info")
        return redirect(url_for("accounts.sign_in", next=pending.get("next") if pending else None))
    form = ChallengeForm()
    status = 200
    if form.validate_on_submit():
        try:
            method = twofactor.verify_second_factor(user, form.code.data)
        except DomainError as error:
            current_app.logger.info("Second factor refused for user %s", user.id)
            db.session.rollback()
            form.code.errors = [*form.code.errors, str(error)]
        else:
            if method == twofactor.RECOVERY_CODE:
                left = twofactor.remaining_recovery_codes(user)
                flash(
                    f"You used a recovery code; {left} left. "
                    "Make new ones in your two-factor settings if you are running low.",
                    "warning",
                )
            return start_session(
                user,
                remember=bool(pending.get("remember")),
                next_url=pending.get("next"),
                second_factor_done=True,
                draft_token=pending.get("draft"),
            )
    if form.errors:
        status = INVALID
    return make_response(render_template("twofactor/challenge.html", form=form), status)


def _pending_user(pending: dict | None) -> User | None:
    """The account waiting for its code, if it may still sign in: not deleted or banned, with
    two-factor still on, and no "sign out everywhere" or password change since the password."""
    if pending is None or not isinstance(pending.get("user_id"), int):
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or not user.has_two_factor:
        return None
    if user.session_version != pending.get("version"):
        return None
    return user


# -- removal: an administrator asks, the owner confirms by email ---------------------------------


@bp.post("/admin/users/<int:user_id>/two-factor/removal")
@admin_required
def request_removal(user_id: int) -> Response:
    person = db.session.get(User, user_id)
    if person is None or person.deleted_at is not None:
        abort(404)
    form = RemovalRequestForm()
    back = safe_next_url(form.next.data) or url_for("accounts.users")
    if not form.validate_on_submit():
        abort(400)
    try:
        twofactor.request_removal(current_user, person)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(back)
    db.session.commit()
    flash(
        f"We emailed {person.email} a link to confirm. Their two-factor authentication stays on "
        "until they do.",
        "success",
    )
    return redirect(back)


@bp.route("/two-factor/remove/<token>", methods=["GET", "POST"])
def confirm_removal(token: str) -> Response:
    """Opening the link only asks (mail scanners open links); the owner's POST removes."""
    found = twofactor.read_removal_token(token)
    if found is None:
        page = render_template("twofactor/removal_invalid.html")
        return _private(make_response(page, 400))
    user, asked = found
    form = ConfirmRemovalForm()
    if form.validate_on_submit():
        try:
            twofactor.confirm_removal(token)
        except twofactor.InvalidRemovalLink:
            db.session.rollback()
            return _private(make_response(render_template("twofactor/removal_invalid.html"), 400))
        db.session.commit()
        flash(
            "Two-factor authentication is off for your account. Sign in with your password, "
            "then set it up again on your new device.",
            "success",
        )
        return _private(redirect(url_for("accounts.sign_in")))
    admin = db.session.get(User, asked.actor_id) if asked.actor_id else None
    page = render_template(
        "twofactor/confirm_removal.html",
        form=form,
        user=user,
        token=token,
        admin_name=admin.name if admin else "An administrator",
        requested_at=asked.created_at,
    )
    return _private(make_response(page))
