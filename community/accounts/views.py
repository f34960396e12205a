from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
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
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from community.accounts import limits, services
from community.accounts.access import admin_required
from community.accounts.forms import (
    ApiTokenForm,
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    NameForm,
    RequestResetForm,
    ResetPasswordForm,
    RoleForm,
    SignInForm,
    SignOutForm,
    SignUpForm,
)
from community.accounts.models import Role, User
from community.accounts.sessions import (
    continue_session,
    end_session,
    signed_in_recently,
    start_session,
)
from community.errors import DomainError
from community.extensions import db, limiter
from community.questions.models import Team
from community.web import safe_next_url

bp = Blueprint("accounts", __name__)

INVALID = 422
CHECK_EMAIL = "check_email_address"


def _no_referrer(response: Response) -> Response:
    """Pages whose URL holds a token never leak it to other sites through Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- sign-up, sign-in, sign-out -------------------------------------------------------------------


@bp.route("/signup", methods=["GET", "POST"])
@limits.sign_up_limits
def sign_up() -> Response | tuple[str, int] | str:
    form = SignUpForm()
    if request.method == "GET":
        form.next.data = safe_next_url(request.args.get("next"))
        return render_template("accounts/sign_up.html", form=form)
    if form.validate_on_submit():
        try:
            services.register(
                form.email.data,
                form.name.data,
                form.password.data,
                draft_token=session.get("draft_token"),
                next_url=form.next.data,
            )
        except services.WeakPassword as error:
            form.password.errors = [*form.password.errors, str(error)]
        else:
            db.session.commit()
            session[CHECK_EMAIL] = services.normalise_email(form.email.data)
            return redirect(url_for("accounts.check_email"))
    return render_template("accounts/sign_up.html", form=form), INVALID


@bp.get("/signup/check-email")
def check_email() -> str:
    """The one answer to every sign-up, whether the address was new or not."""
    return render_template("accounts/check_email.html", email=session.get(CHECK_EMAIL))


@bp.route("/login", methods=["GET", "POST"])
@limits.sign_in_limits
def sign_in() -> Response | tuple[str, int] | str:
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next_url(request.args.get("next"))
        return render_template("accounts/sign_in.html", form=form)
    if form.validate_on_submit():
        try:
            user = services.check_sign_in(form.email.data, form.password.data)
        except services.SignInRefused as error:
            form.password.errors = [str(error)]
        else:
            return start_session(user, remember=form.remember.data, next_url=form.next.data)
    return render_template("accounts/sign_in.html", form=form), 200


@bp.post("/logout")
def sign_out() -> Response:
    if SignOutForm().validate_on_submit():
        end_session()
        db.session.commit()
        flash("You are signed out.", "info")
    return redirect(url_for("questions.index"))


# -- email verification ---------------------------------------------------------------------------


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit(limits.SIGN_IN_PER_IP, methods=["POST"])
def verify(token: str) -> Response:
    """GET shows the form (mail scanners prefetch links); POST, with the account's password
    unless this browser is already signed in to it, confirms the address and signs in."""
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    error = None
    status = 200
    if request.method == "POST":
        try:
            verified = services.verify_email(token, request.form.get("password"), signed_in)
        except DomainError as problem:
            error, status = str(problem), INVALID
        else:
            if verified is None:
                page = render_template("accounts/link_invalid.html")
                return _no_referrer(make_response(page, 400))
            user, carried = verified
            flash("Your address is confirmed. Welcome!", "success")
            if signed_in is not None and signed_in.id != user.id:
                end_session()
            return start_session(user, draft_token=carried["draft"], next_url=carried["next"])
    page = render_template("accounts/verify.html", token=token, error=error)
    return _no_referrer(make_response(page, status))


@bp.post("/settings/account/resend-verification")
@login_required
@limiter.limit(limits.RESEND_PER_ACCOUNT, key_func=limits.user_key)
@limiter.limit("10/hour")
def resend_verification() -> Response:
    services.resend_verification(current_user)
    db.session.commit()
    flash(f"We sent a new link to {current_user.email}.", "info")
    return redirect(safe_next_url(request.form.get("next")) or url_for("accounts.settings"))


# -- password reset -------------------------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(limits.RESET_PER_IP, methods=["POST"])
@limiter.limit(limits.RESET_PER_ACCOUNT, methods=["POST"], key_func=limits.form_email_key)
def request_reset() -> Response | tuple[str, int] | str:
    form = RequestResetForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        session[CHECK_EMAIL] = services.normalise_email(form.email.data)
        return redirect(url_for("accounts.reset_sent"))
    status = INVALID if request.method == "POST" else 200
    return render_template("accounts/request_reset.html", form=form), status


@bp.get("/reset/sent")
def reset_sent() -> str:
    return render_template("accounts/reset_sent.html", email=session.get(CHECK_EMAIL))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response:
    if not services.reset_link_is_valid(token):
        return _no_referrer(make_response(render_template("accounts/link_invalid.html"), 400))
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.WeakPassword as error:
            form.password.errors = [*form.password.errors, str(error)]
        else:
            db.session.commit()
            end_session()
            flash("Your password is changed and every session is signed out. Sign in.", "success")
            return redirect(url_for("accounts.sign_in"))
    if request.method == "POST":
        status = INVALID
    page = render_template("accounts/reset.html", form=form, token=token)
    return _no_referrer(make_response(page, status))


# -- account settings -----------------------------------------------------------------------------


def _settings_forms() -> dict:
    name_form = NameForm(prefix="name")
    if not name_form.is_submitted():
        name_form.name.data = current_user.name
    return {
        "name_form": name_form,
        "password_form": ChangePasswordForm(prefix="password"),
        "email_form": ChangeEmailForm(prefix="email"),
        "delete_form": DeleteAccountForm(prefix="delete"),
        "token_form": ApiTokenForm(prefix="token"),
    }


def _settings_page(status: int = 200, **forms) -> tuple[str, int]:
    context = {
        **_settings_forms(),
        **forms,
        "sessions": services.active_sessions(current_user),
        "api_tokens": services.active_api_tokens(current_user),
        "this_session": services.session_token_hash(current_user.session_token or ""),
    }
    return render_template("accounts/settings.html", **context), status


@bp.get("/settings/account")
@login_required
def settings() -> tuple[str, int]:
    return _settings_page()


@bp.post("/settings/account/name")
@login_required
def change_name() -> Response | tuple[str, int]:
    form = NameForm(prefix="name")
    if form.validate_on_submit():
        try:
            services.change_name(current_user, form.name.data)
        except DomainError as error:
            form.name.errors = [str(error)]
        else:
            db.session.commit()
            flash("Your name is saved.", "success")
            return redirect(url_for("accounts.settings"))
    return _settings_page(INVALID, name_form=form)


@bp.post("/settings/account/password")
@login_required
def change_password() -> Response | tuple[str, int]:
    form = ChangePasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                recently_signed_in=signed_in_recently(),
            )
        except services.WrongPassword as error:
            form.current_password.errors = [str(error)]
        except services.StaleSignIn as error:  # no password field to show it under
            form.new_password.errors = [str(error)]
        except services.WeakPassword as error:
            form.new_password.errors = [str(error)]
        else:
            db.session.commit()
            # Every other session ended with the change; this one continues as a new session.
            continue_session(current_user._get_current_object())
            db.session.commit()
            flash("Your password is changed. Other devices are signed out.", "success")
            return redirect(url_for("accounts.settings"))
    return _settings_page(INVALID, password_form=form)


@bp.post("/settings/account/email")
@login_required
@limiter.limit(limits.EMAIL_CHANGE_PER_ACCOUNT, key_func=limits.user_key)
@limiter.limit("20/hour")
def change_email() -> Response | tuple[str, int]:
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            services.request_email_change(
                current_user,
                form.new_email.data,
                form.current_password.data,
                recently_signed_in=signed_in_recently(),
            )
        except services.WrongPassword as error:
            form.current_password.errors = [str(error)]
        except DomainError as error:  # StaleSignIn too: accounts without a password see this
            form.new_email.errors = [str(error)]
        else:
            db.session.commit()
            flash(
                f"We sent a confirmation link to {services.normalise_email(form.new_email.data)}. "
                "Your address changes when you follow it.",
                "info",
            )
            return redirect(url_for("accounts.settings"))
    return _settings_page(INVALID, email_form=form)


@bp.route("/settings/email/<token>", methods=["GET", "POST"])
def confirm_email_change(token: str) -> Response:
    if request.method == "GET":
        page = render_template("accounts/confirm_email_change.html", token=token)
        return _no_referrer(make_response(page))
    try:
        services.confirm_email_change(token)
    except DomainError as error:
        page = render_template("accounts/link_invalid.html", message=str(error))
        return _no_referrer(make_response(page, 400))
    db.session.commit()
    flash("Your email address is changed.", "success")
    return redirect(url_for("accounts.settings"))


@bp.post("/settings/account/sessions/<int:session_id>/end")
@login_required
def end_other_session(session_id: int) -> Response:
    if not SignOutForm().validate_on_submit():
        abort(400)
    if not services.end_session_by_id(current_user, session_id):
        abort(404)
    db.session.commit()
    flash("That device is signed out.", "info")
    return redirect(url_for("accounts.settings") + "#sessions-heading")


@bp.post("/settings/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Response:
    if not SignOutForm().validate_on_submit():
        abort(400)
    services.end_all_sessions(current_user)
    db.session.commit()
    end_session()
    flash("You are signed out on every device, this one included.", "info")
    return redirect(url_for("accounts.sign_in"))


@bp.post("/settings/account/api-tokens")
@login_required
@limiter.limit(limits.API_TOKENS_CREATED_PER_ACCOUNT, key_func=limits.user_key)
def create_api_token() -> tuple[str, int] | Response:
    """A new personal API token. A token acts as the account without its password or second
    factor, so making one asks for the password (or a recent sign-in, without a password)."""
    form = ApiTokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            services.check_current_password(
                current_user, form.current_password.data, recently_signed_in=signed_in_recently()
            )
            _token, secret = services.create_api_token(current_user, form.name.data)
        except services.WrongPassword as error:
            form.current_password.errors = [str(error)]
        except DomainError as error:
            form.name.errors = [str(error)]
        else:
            db.session.commit()
            # Shown on this response only (never stored, never in a cookie or a redirect).
            fresh = ApiTokenForm(prefix="token", formdata=None)
            page, _status = _settings_page(new_api_token=secret, token_form=fresh)
            response = make_response(page, 200)
            response.headers["Cache-Control"] = "no-store"
            return _no_referrer(response)
    return _settings_page(INVALID, token_form=form)


@bp.post("/settings/account/api-tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int) -> Response:
    if not SignOutForm().validate_on_submit():
        abort(400)
    if not services.revoke_api_token(current_user, token_id):
        abort(404)
    db.session.commit()
    flash("The token is revoked: it no longer works.", "info")
    return redirect(url_for("accounts.settings") + "#api-tokens-heading")


@bp.post("/settings/account/delete")
@login_required
def delete_account() -> Response | tuple[str, int]:
    form = DeleteAccountForm(prefix="delete")
    if form.validate_on_submit():
        try:
            services.delete_account(
                current_user, form.confirmation.data, recently_signed_in=signed_in_recently()
            )
        except DomainError as error:
            form.confirmation.errors = [str(error)]
        else:
            db.session.commit()
            end_session()
            flash("Your account is deleted. Your posts stay, as by “deleted user”.", "info")
            return redirect(url_for("questions.index"))
    return _settings_page(INVALID, delete_form=form)


# -- roles (admins) -------------------------------------------------------------------------------


@bp.get("/admin/users")
@admin_required
def users() -> str:
    query = (request.args.get("q") or "").strip()[:254]
    statement = sa.select(User).where(User.deleted_at.is_(None)).order_by(User.id).limit(100)
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            sa.or_(
                User.email.like(pattern + "%", escape="\\"),
                sa.func.lower(User.name).like(pattern + "%", escape="\\"),
            )
        )
    people = list(db.session.scalars(statement))
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name)))
    forms = {person.id: _role_form(person, teams) for person in people}
    return render_template("accounts/users.html", people=people, forms=forms, query=query)


@bp.post("/admin/users/<int:user_id>/role")
@admin_required
def change_role(user_id: int) -> Response:
    person = db.session.get(User, user_id)
    if person is None or person.deleted_at is not None:
        abort(404)
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name)))
    form = _role_form(person, teams)
    if not form.validate_on_submit():
        abort(400, "Choose a known role and team.")
    try:
        services.change_role(current_user, person, Role(form.role.data), form.team_id.data or None)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("accounts.users"))
    db.session.commit()
    flash(f"{person.name} is now {person.role}.", "success")
    return redirect(url_for("accounts.users"))


def _role_form(person: User, teams: list[Team]) -> RoleForm:
    form = RoleForm(prefix=f"user-{person.id}")
    form.team_id.choices = [SelectChoice("0", "—")] + [
        SelectChoice(str(team.id), team.name) for team in teams
    ]
    if not form.is_submitted():
        form.role.data = person.role
        form.team_id.data = person.team_id or 0
    return form
