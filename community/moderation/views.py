"""The moderation dashboard: queues, thread controls and the audit log (moderators and admins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from community.accounts.access import moderator_required
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.moderation import queries, services
from community.moderation.forms import HideForm, move_form
from community.questions.forms import ActionForm
from community.questions.models import Question
from community.web import safe_next_url

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

MAX_FILTER_LENGTH = 200


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"moderation_hide_reasons": services.HIDE_REASONS}


# -- queues -------------------------------------------------------------------------------------


@bp.get("")
@moderator_required
def queue() -> str:
    try:
        chosen = queries.Queue(request.args.get("queue") or queries.Queue.FIRST_RESPONSE)
    except ValueError:
        abort(404)
    teams, topics = queries.filter_choices()
    team_slug, topic_slug = request.args.get("team", ""), request.args.get("topic", "")
    filters = queries.QueueFilters(
        team=next((t for t in teams if t.slug == team_slug), None),
        topic=next((t for t in topics if t.slug == topic_slug), None),
        page_prefix=request.args.get("page", "").strip()[: queries.MAX_PREFIX_LENGTH],
    )
    listing = queries.queue_page(chosen, filters, _page_number())
    return render_template(
        "moderation/queue.html",
        listing=listing,
        queues=list(queries.Queue),
        teams=teams,
        topics=topics,
    )


@bp.get("/audit")
@moderator_required
def audit_log() -> str:
    action = request.args.get("action", "").strip()[:MAX_FILTER_LENGTH]
    target_type = request.args.get("target_type", "").strip()[:MAX_FILTER_LENGTH]
    target_id = request.args.get("target_id", type=int)
    if target_id is not None and not 0 < target_id < 2**31:
        target_id = None
    listing = queries.audit_page(
        action=action, target_type=target_type, target_id=target_id, page=_page_number()
    )
    filters = {"action": action, "target_type": target_type, "target_id": target_id or ""}
    return render_template(
        "moderation/audit.html", listing=listing, filters={k: v for k, v in filters.items() if v}
    )


def _page_number() -> int:
    number = request.args.get("p", 1, type=int)
    return min(max(number, 1), queries.MAX_PAGE)


# -- thread controls ----------------------------------------------------------------------------


def _act(question_id: int, action: Callable[..., bool], done: str, *args: Any) -> Response:
    question = queries.question_for_moderation(question_id)
    if question is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _apply(question, action, done, *args)


def _apply(question: Question, action: Callable[..., bool], done: str, *args: Any) -> Response:
    try:
        changed = action(current_user, question, *args)
    except (NotAllowed, NotFound) as error:
        abort(error.status, str(error))
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(done if changed else "Nothing to change.", "success" if changed else "info")
    return redirect(_back_to(question))


def _back_to(question: Question) -> str:
    return safe_next_url(request.form.get("next")) or url_for(
        "questions.show", question_id=question.id, slug=question.slug
    )


@bp.post("/questions/<int:question_id>/pin")
@moderator_required
def pin(question_id: int) -> Response:
    return _act(question_id, services.set_pinned, "Pinned.", True)


@bp.post("/questions/<int:question_id>/unpin")
@moderator_required
def unpin(question_id: int) -> Response:
    return _act(question_id, services.set_pinned, "Unpinned.", False)


@bp.post("/questions/<int:question_id>/lock")
@moderator_required
def lock(question_id: int) -> Response:
    return _act(question_id, services.set_locked, "Locked: no more replies.", True)


@bp.post("/questions/<int:question_id>/unlock")
@moderator_required
def unlock(question_id: int) -> Response:
    return _act(question_id, services.set_locked, "Unlocked.", False)


@bp.post("/questions/<int:question_id>/hide")
@moderator_required
def hide(question_id: int) -> Response:
    question = queries.question_for_moderation(question_id)
    if question is None:
        abort(404)
    form = HideForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash("Choose a reason for hiding it.", "error")
        return redirect(_back_to(question))
    return _apply(
        question, services.hide, "Hidden.", form.reason.data, (form.details.data or "").strip()
    )


@bp.post("/questions/<int:question_id>/unhide")
@moderator_required
def unhide(question_id: int) -> Response:
    return _act(question_id, services.unhide, "Restored: no longer hidden.")


@bp.post("/questions/<int:question_id>/delete")
@moderator_required
def delete(question_id: int) -> Response:
    return _act(question_id, services.delete, "Deleted.")


@bp.post("/questions/<int:question_id>/undelete")
@moderator_required
def undelete(question_id: int) -> Response:
    return _act(question_id, services.undelete, "Restored: no longer deleted.")


@bp.post("/questions/<int:question_id>/resolve")
@moderator_required
def resolve(question_id: int) -> Response:
    return _act(question_id, services.mark_resolved, "Marked resolved.")


@bp.post("/questions/<int:question_id>/unresolve")
@moderator_required
def unresolve(question_id: int) -> Response:
    return _act(question_id, services.mark_unresolved, "Marked unresolved.")


@bp.route("/questions/<int:question_id>/move", methods=["GET", "POST"])
@moderator_required
def move(question_id: int) -> Response | tuple[str, int] | str:
    question = queries.question_for_moderation(question_id)
    if question is None:
        abort(404)
    _, topics = queries.filter_choices()
    form = move_form(topics, topic_id=question.topic_id or 0)
    if request.method == "POST":
        if form.validate_on_submit():
            topic = next((t for t in topics if t.id == form.topic_id.data), None)
            return _apply(question, services.move, "Moved.", topic)
        if "csrf_token" in form.errors:
            abort(400)
    status = 422 if form.errors else 200
    return render_template("moderation/move.html", form=form, question=question), status


@bp.app_template_filter("duration")
def _duration(delta: Any) -> str:
    """A time span for people: "45 min", "5 h", "3 d"."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 3600:
        return f"{max(seconds // 60, 1)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
