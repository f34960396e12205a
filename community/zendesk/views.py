from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from community.accounts.access import admin_required, moderator_required
from community.db import utcnow
from community.errors import DomainError
from community.extensions import csrf, db
from community.questions.models import Question, Team, Topic
from community.web import external_url, problem
from community.zendesk import services, webhooks
from community.zendesk.forms import routing_form

bp = Blueprint("zendesk", __name__)

MAX_WEBHOOK_BYTES = 64 * 1024


@bp.route("/admin/zendesk", methods=["GET", "POST"])
@admin_required
def settings() -> Response | tuple[str, int]:
    """Where tickets go (a Zendesk group per team) and how urgent they are (per topic)."""
    teams, groups, topics, priorities = services.routing()
    current = {f"team_{t.id}": groups.get(t.id) for t in teams} | {
        f"topic_{t.id}": priorities.get(t.id, "") for t in topics
    }
    form = routing_form(teams, topics, **current)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            changed = _save(form, teams, topics)
            db.session.commit()
            flash(
                "Saved the Zendesk routing." if changed else "Nothing changed.",
                "success" if changed else "info",
            )
            return redirect(url_for("zendesk.settings"))
        status = 422
    return render_template(
        "zendesk/settings.html",
        form=form,
        teams=teams,
        topics=topics,
        enabled=services.enabled(),
        subdomain=current_app.config["ZENDESK_SUBDOMAIN"],
        webhook_ready=bool(current_app.config["ZENDESK_WEBHOOK_SECRET"]),
        webhook_url=external_url("zendesk.webhook"),
        credentials_rejected=services.credentials_rejected(),
        job_counts=services.job_counts(),
    ), status


def _save(form, teams: list[Team], topics: list[Topic]) -> int:
    changed = 0
    for team in teams:
        name = f"team_{team.id}"
        if name in request.form:
            changed += services.set_team_group(current_user, team, form[name].data)
    for topic in topics:
        name = f"topic_{topic.id}"
        if name in request.form:
            changed += services.set_topic_priority(current_user, topic, form[name].data or None)
    return changed


@bp.post("/questions/<int:question_id>/zendesk/resync")
@moderator_required
def resync(question_id: int) -> Response:
    question = db.session.get(Question, question_id)
    if question is None:
        abort(404)
    try:
        services.request_resync(question, current_user)
    except DomainError as error:
        flash(str(error), "error")
    else:
        db.session.commit()
        flash("Resync with Zendesk queued.", "success")
    return redirect(url_for("questions.show", question_id=question.id, slug=question.slug))


# Zendesk calls this without cookies: the HMAC signature over timestamp and body (with the
# shared secret, compared in constant time) is the authentication, so it is exempt from CSRF.
@bp.post("/webhooks/zendesk")
@csrf.exempt
def webhook() -> Response | tuple[Response, int]:
    secret = current_app.config["ZENDESK_WEBHOOK_SECRET"]
    if not secret:
        return problem(404, "Not Found", "The Zendesk webhook is not configured.")
    if request.mimetype != "application/json":
        return problem(415, "Unsupported Media Type", "Send application/json.")
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return problem(413, "Content Too Large", f"At most {MAX_WEBHOOK_BYTES} bytes.")
    body = request.get_data()
    timestamp = request.headers.get(webhooks.TIMESTAMP_HEADER)
    signature = request.headers.get(webhooks.SIGNATURE_HEADER)
    try:
        signed_at = webhooks.verify(
            secret,
            timestamp,
            body,
            signature,
            now=utcnow(),
            tolerance=services.WEBHOOK_TOLERANCE,
        )
    except webhooks.Refused as refused:
        return problem(refused.status, refused.title, str(refused))
    try:
        data = json.loads(body)
    except ValueError:
        return problem(400, "Bad Request", "The body is not JSON.")
    if not isinstance(data, dict):
        return problem(400, "Bad Request", "The body must be a JSON object.")
    if not services.remember_delivery(webhooks.delivery_digest(timestamp, signature), signed_at):
        return problem(409, "Replayed", "This signed request was received before.")
    try:
        outcome = services.apply_ticket_event(data, signed_at)
    except ValueError as error:
        return problem(400, "Bad Request", str(error))
    db.session.commit()
    return {"status": outcome}, 200
