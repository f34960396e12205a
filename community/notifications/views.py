from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from community.accounts.access import admin_required
from community.accounts.models import User
from community.extensions import csrf, db
from community.notifications import services
from community.notifications.forms import EmailSettingsForm, TeamWebhookForm
from community.questions import queries as question_queries
from community.questions.models import Question, Team
from community.web import safe_next_url

bp = Blueprint("notifications", __name__)


@bp.post("/questions/<int:question_id>/follow")
@login_required
def follow(question_id: int) -> Response:
    question = _visible_question(question_id)
    services.subscribe(current_user, question, explicit=True)
    db.session.commit()
    flash("You'll get an email when someone replies.", "success")
    return _back_to(question)


@bp.post("/questions/<int:question_id>/unfollow")
@login_required
def unfollow(question_id: int) -> Response:
    question = _visible_question(question_id)
    services.unfollow(current_user, question)
    db.session.commit()
    flash("You won't get emails about this question any more.", "info")
    return _back_to(question)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings() -> Response | str:
    form = EmailSettingsForm()
    if request.method == "GET":
        form.email_notifications.data = current_user.email_notifications
    elif form.validate_on_submit():
        services.set_email_notifications(current_user, bool(form.email_notifications.data))
        db.session.commit()
        flash("Your email settings are saved.", "success")
        return redirect(url_for("notifications.settings"))
    return render_template(
        "notifications/settings.html",
        form=form,
        followed=services.followed_questions(current_user),
    )


# One-click unsubscribe (RFC 8058): the signed token is the authentication, so the POST needs no
# cookie and no CSRF token; mail clients send it from the List-Unsubscribe-Post header. A GET
# (which link scanners prefetch) only shows the confirmation page.
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str) -> tuple[str, int] | str:
    found = services.read_unsubscribe_token(token)
    user = db.session.get(User, found[0]) if found else None
    question = db.session.get(Question, found[1]) if found else None
    if user is None or question is None:
        return render_template("notifications/bad_link.html"), 400
    if request.method == "POST":
        services.unfollow(user, question)
        db.session.commit()
        return render_template("notifications/unsubscribed.html", question=question, user=user)
    return render_template(
        "notifications/unsubscribe.html", question=question, user=user, token=token
    )


@bp.route("/admin/slack", methods=["GET", "POST"])
@admin_required
def team_channels() -> Response | tuple[str, int] | str:
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name)))
    forms = {
        team.id: TeamWebhookForm(team_id=team.id, webhook_url=team.slack_webhook_url)
        for team in teams
    }
    status = 200
    if request.method == "POST":
        submitted = TeamWebhookForm()
        team = (
            db.session.get(Team, int(submitted.team_id.data or 0))
            if ((submitted.team_id.data or "").isdigit())
            else None
        )
        if team is None:
            abort(404)
        if submitted.validate_on_submit():
            team.slack_webhook_url = submitted.webhook_url.data or None
            db.session.commit()
            flash(f"Saved the Slack channel of {team.name}.", "success")
            return redirect(url_for("notifications.team_channels"))
        forms[team.id] = submitted
        status = 422
    return render_template("notifications/team_channels.html", teams=teams, forms=forms), status


def _visible_question(question_id: int) -> Question:
    question = question_queries.question_for_update(question_id, current_user)
    if question is None or question.deleted_at is not None:
        abort(404)
    return question


def _back_to(question: Question) -> Response:
    target = safe_next_url(request.form.get("next"))
    return redirect(
        target or url_for("questions.show", question_id=question.id, slug=question.slug)
    )
