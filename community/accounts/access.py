"""Route guards by role. Services still check the rules; these keep whole pages closed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

View = TypeVar("View", bound=Callable[..., Any])


def admin_required(view: View) -> View:
    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, "Only administrators can do that.")
        if needs_two_factor_enrolment(current_user):
            flash("Administrators must turn on two-factor authentication first.", "info")
            return redirect(url_for("twofactor.settings", next=request.full_path))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def moderator_required(view: View) -> View:
    """Moderators (and admins) only; with REQUIRE_MODERATOR_2FA, only once they have enrolled
    in two-factor authentication (they are sent to enrol, then back)."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_moderator:
            abort(403, "Only moderators can do that.")
        if needs_two_factor_enrolment(current_user):
            flash("Moderators must turn on two-factor authentication first.", "info")
            return redirect(url_for("twofactor.settings", next=request.full_path))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def team_required(view: View) -> View:
    """Team members, moderators and admins: the people who answer (queues, claims)."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(403, "Only team members can do that.")
        if needs_two_factor_enrolment(current_user):
            flash("Moderators must turn on two-factor authentication first.", "info")
            return redirect(url_for("twofactor.settings", next=request.full_path))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def needs_two_factor_enrolment(user: Any) -> bool:
    return bool(
        current_app.config["REQUIRE_MODERATOR_2FA"]
        and user.is_moderator
        and not user.has_two_factor
    )
