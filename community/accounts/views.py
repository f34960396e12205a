from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from community.accounts import services
from community.accounts.forms import SignInForm, SignOutForm, SignUpForm
from community.accounts.models import User
from community.accounts.sessions import end_session, start_session
from community.errors import DomainError
from community.web import safe_next_url

bp = Blueprint("accounts", __name__)


@bp.route("/signup", methods=["GET", "POST"])
def sign_up() -> Response | str:
    form = SignUpForm()
    if request.method == "GET":
        form.next.data = safe_next_url(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.name.data, form.password.data)
        except DomainError as error:
            field = form.password if isinstance(error, services.WeakPassword) else form.email
            field.errors.append(str(error))
        else:
            flash(f"Welcome, {user.first_name}! Your account is ready.", "success")
            return _signed_in(user, remember=False, next_url=form.next.data)
    return render_template("accounts/sign_up.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Response | str:
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next_url(request.args.get("next"))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("That email and password don't match an account.")
        else:
            return _signed_in(user, remember=form.remember.data, next_url=form.next.data)
    return render_template("accounts/sign_in.html", form=form)


@bp.post("/logout")
def sign_out() -> Response:
    if SignOutForm().validate_on_submit():
        end_session()
        flash("You are signed out.", "info")
    return redirect(url_for("questions.index"))


def _signed_in(user: User, remember: bool, next_url: str | None) -> Response:
    return start_session(user, remember=remember, next_url=next_url)
