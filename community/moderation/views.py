"""The moderation dashboard: queues, thread controls and the audit log (moderators and admins)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from community import settings as runtime_settings
from community.accounts.access import moderator_required, team_required
from community.accounts.models import User
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.jobs import services as job_services
from community.moderation import audit, bans, flags, queries, services
from community.moderation.forms import BanForm, FlagForm, HideForm, SettingsForm, move_form
from community.questions import permissions
from community.questions import queries as question_queries
from community.questions import services as question_services
from community.questions.forms import ActionForm
from community.questions.models import Page, Question, Reply
from community.web import act_and_redirect, safe_next_url

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

MAX_FILTER_LENGTH = 200


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"moderation_hide_reasons": services.HIDE_REASONS}


# -- queues -------------------------------------------------------------------------------------


@bp.get("")
@team_required
def queue() -> str:
    try:
        chosen = queries.Queue(request.args.get("queue") or queries.Queue.FIRST_RESPONSE)
    except ValueError:
        abort(404)
    if chosen not in queries.TEAM_QUEUES and not permissions.is_staff(current_user):
        abort(403, "Only moderators can do that.")
    if chosen is queries.Queue.FLAGGED:
        return render_template(
            "moderation/flagged.html",
            listing=flags.flagged_page(_page_number()),
            queue=chosen,
            queues=list(queries.Queue),
        )
    teams, topics = queries.filter_choices()
    team_slug, topic_slug = request.args.get("team", ""), request.args.get("topic", "")
    filters = queries.QueueFilters(
        team=next((t for t in teams if t.slug == team_slug), None),
        topic=next((t for t in topics if t.slug == topic_slug), None),
        page_prefix=request.args.get("page", "").strip()[: queries.MAX_PREFIX_LENGTH],
        assignee_id=current_user.id if request.args.get("mine") else None,
    )
    listing = queries.queue_page(chosen, filters, _page_number())
    moderating = permissions.is_staff(current_user)
    held = services.held_replies() if chosen is queries.Queue.PENDING else []
    return render_template(
        "moderation/queue.html",
        listing=listing,
        queues=[q for q in queries.Queue if moderating or q in queries.TEAM_QUEUES],
        teams=teams,
        topics=topics,
        team_members=services.team_members() if moderating else [],
        move_form=move_form(topics) if moderating else None,
        held_replies=held,
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
        "moderation/audit.html",
        listing=listing,
        filters={k: v for k, v in filters.items() if v},
        queues=list(queries.Queue),
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
    return act_and_redirect(_back_to(question), lambda: action(current_user, question, *args), done)


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
    current_url = (
        db.session.scalar(sa.select(Page.url).where(Page.id == question.origin_page_id))
        if question.origin_page_id
        else ""
    )
    form = move_form(topics, topic_id=question.topic_id or 0, page_url=current_url)
    if request.method == "POST":
        if form.validate_on_submit():
            topic = next((t for t in topics if t.id == form.topic_id.data), None)
            wanted = (form.page_url.data or "").strip()
            try:
                page = question_services.resolve_page(wanted) if wanted else None
            except question_services.InvalidPage as error:
                form.page_url.errors = [*form.page_url.errors, str(error)]
            else:
                keep_page = "page_url" not in request.form  # a form without the field

                def move_both(actor: User, moved: Question) -> bool:
                    to_topic = services.move(actor, moved, topic)
                    if keep_page:
                        return to_topic
                    return services.move_to_page(actor, moved, page) or to_topic

                return _apply(question, move_both, "Moved.")
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


# -- replies, flags ----------------------------------------------------------------------------


def _reply_or_404(reply_id: int) -> Reply:
    reply = db.session.get(Reply, reply_id)
    if reply is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return reply


def _reply_back(reply: Reply) -> str:
    question = db.session.get(Question, reply.question_id)
    return safe_next_url(request.form.get("next")) or (
        url_for("questions.show", question_id=question.id, slug=question.slug)
        + f"#reply-{reply.id}"
    )


@bp.post("/replies/<int:reply_id>/hide")
@moderator_required
def hide_reply(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    form = HideForm()
    reason = form.reason.data if form.validate() else ""
    if form.details.data:
        reason = f"{reason}: {form.details.data}" if reason else ""
    return act_and_redirect(
        _reply_back(reply),
        lambda: services.hide_reply(current_user, reply, reason),
        "The reply is hidden.",
    )


@bp.post("/replies/<int:reply_id>/unhide")
@moderator_required
def unhide_reply(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    return act_and_redirect(
        _reply_back(reply), lambda: services.unhide_reply(current_user, reply), "Restored."
    )


@bp.post("/questions/<int:question_id>/dismiss-flags")
@moderator_required
def dismiss_question_flags(question_id: int) -> Response:
    return _dismiss(db.session.get(Question, question_id))


@bp.post("/replies/<int:reply_id>/dismiss-flags")
@moderator_required
def dismiss_reply_flags(reply_id: int) -> Response:
    return _dismiss(db.session.get(Reply, reply_id))


def _dismiss(post: Question | Reply | None) -> Response:
    if post is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = safe_next_url(request.form.get("next")) or url_for(
        "moderation.queue", queue=queries.Queue.FLAGGED.value
    )
    return act_and_redirect(
        target, lambda: flags.dismiss(current_user, post), "Flags dismissed: the post stays."
    )


# -- people --------------------------------------------------------------------------------------


@bp.get("/users/<int:user_id>")
@moderator_required
def profile(user_id: int) -> str:
    found = queries.profile(user_id)
    if found is None:
        abort(404)
    return render_template(
        "moderation/profile.html",
        profile=found,
        ban_form=BanForm(),
        can_ban=bans.can_ban(current_user, found.user),
        queues=list(queries.Queue),
    )


@bp.post("/users/<int:user_id>/ban")
@moderator_required
def ban(user_id: int) -> Response | tuple[str, int]:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = BanForm()
    if not form.validate_on_submit():
        found = queries.profile(user_id)
        return render_template(
            "moderation/profile.html",
            profile=found,
            ban_form=form,
            can_ban=bans.can_ban(current_user, user),
            queues=list(queries.Queue),
        ), 422
    until = (
        datetime.combine(form.until.data, time(23, 59, 59), tzinfo=UTC) if form.until.data else None
    )
    back = url_for("moderation.profile", user_id=user.id)
    return act_and_redirect(
        back,
        lambda: bans.ban(current_user, user, form.reason.data, until) >= 0,
        "Banned: signed out everywhere, and their posts are hidden.",
    )


@bp.post("/users/<int:user_id>/unban")
@moderator_required
def unban(user_id: int) -> Response:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return act_and_redirect(
        url_for("moderation.profile", user_id=user.id),
        lambda: user.banned_at is not None and bans.unban(current_user, user) >= 0,
        "The ban is lifted and their posts are back.",
    )


# -- members flag posts ------------------------------------------------------------------------

reports = Blueprint("flags", __name__)


@reports.route("/questions/<int:question_id>/flag", methods=["GET", "POST"])
@login_required
def flag_question(question_id: int) -> Response | tuple[str, int] | str:
    return _flag(question_queries.question_for_update(question_id, current_user))


@reports.route("/replies/<int:reply_id>/flag", methods=["GET", "POST"])
@login_required
def flag_reply(reply_id: int) -> Response | tuple[str, int] | str:
    return _flag(question_queries.reply_for_update(reply_id, current_user))


def _flag(post: Question | Reply | None) -> Response | tuple[str, int] | str:
    if post is None or not post.is_public:
        abort(404)
    question = post if isinstance(post, Question) else post.question
    back = url_for("questions.show", question_id=question.id, slug=question.slug) + (
        f"#reply-{post.id}" if isinstance(post, Reply) else ""
    )
    form = FlagForm()
    status = 200
    if form.validate_on_submit():
        try:
            flags.flag(current_user, post, form.reason.data, form.note.data or "")
        except (NotAllowed, NotFound) as error:
            abort(error.status, str(error))
        except DomainError as error:
            db.session.rollback()
            if error.status == 409:
                flash(str(error), "info")
                return redirect(back)
            form.note.errors = [*form.note.errors, str(error)]
        else:
            db.session.commit()
            flash("Thanks: a moderator will look at it.", "success")
            return redirect(back)
    if form.errors:
        status = 422
    return render_template(
        "moderation/flag.html",
        form=form,
        post=post,
        question=question,
        author=db.session.get(User, post.author_id),
        back=back,
    ), status


# -- claims and bulk actions ----------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/claim")
@team_required
def claim(question_id: int) -> Response:
    return _act(question_id, services.claim, "It's yours: the queue shows you claimed it.")


@bp.post("/questions/<int:question_id>/unclaim")
@team_required
def unclaim(question_id: int) -> Response:
    return _act(question_id, services.unclaim, "Given back: nobody has claimed it now.")


@bp.post("/questions/<int:question_id>/assign")
@moderator_required
def assign(question_id: int) -> Response:
    assignee = _assignee_from_form()
    return _act(question_id, services.assign, "Assigned.", assignee)


def _assignee_from_form() -> User | None:
    wanted = request.form.get("assignee_id", type=int)
    if not wanted:
        return None
    assignee = db.session.get(User, wanted) if 0 < wanted < 2**31 else None
    if assignee is None:
        abort(400, "Choose a team member.")
    return assignee


BULK_ACTIONS = ("hide-spam", "move", "assign")
MAX_BULK = 100


@bp.post("/bulk")
@moderator_required
def bulk() -> Response:
    """Hide, move or assign the questions ticked in a queue, in one transaction."""
    if not ActionForm().validate_on_submit():
        abort(400)
    back = safe_next_url(request.form.get("next")) or url_for("moderation.queue")
    action = request.form.get("action", "")
    ids = sorted({i for i in request.form.getlist("question_id", type=int) if 0 < i < 2**31})
    if action not in BULK_ACTIONS or not ids or len(ids) > MAX_BULK:
        flash("Tick some questions (at most 100) and choose what to do with them.", "error")
        return redirect(back)
    questions = db.session.scalars(sa.select(Question).where(Question.id.in_(ids))).all()
    if action == "move":
        topic_id = request.form.get("topic_id", type=int) or 0
        topic = queries.topic(topic_id) if 0 < topic_id < 2**31 else None
        if topic_id and topic is None:
            abort(400, "Choose a topic.")
        apply = lambda question: services.move(current_user, question, topic)  # noqa: E731
    elif action == "assign":
        assignee = _assignee_from_form()
        apply = lambda question: services.assign(current_user, question, assignee)  # noqa: E731
    else:
        apply = lambda question: services.hide(current_user, question, "spam")  # noqa: E731
    try:
        changed = sum(1 for question in questions if apply(question))
    except (NotAllowed, NotFound) as error:
        abort(error.status, str(error))
    except DomainError as error:
        db.session.rollback()
        flash(f"Nothing was changed: {error}", "error")
        return redirect(back)
    db.session.commit()
    flash(f"{changed} of {len(questions)} questions changed.", "success")
    return redirect(back)


# -- pre-moderation ------------------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/approve")
@moderator_required
def approve_question(question_id: int) -> Response:
    return _act(question_id, services.approve, "Approved and published.")


@bp.post("/questions/<int:question_id>/reject")
@moderator_required
def reject_question(question_id: int) -> Response:
    return _act(question_id, services.reject, "Rejected: it will not be published.")


@bp.post("/replies/<int:reply_id>/approve")
@moderator_required
def approve_reply(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    return act_and_redirect(
        _reply_back(reply), lambda: services.approve(current_user, reply), "Approved and published."
    )


@bp.post("/replies/<int:reply_id>/reject")
@moderator_required
def reject_reply(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    return act_and_redirect(
        _reply_back(reply),
        lambda: services.reject(current_user, reply),
        "Rejected: it will not be published.",
    )


@bp.route("/settings", methods=["GET", "POST"])
@moderator_required
def settings() -> Response | tuple[str, int]:
    form = SettingsForm(**runtime_settings.current())
    if form.validate_on_submit():
        try:
            changed = services.change_settings(current_user, form.values())
        except DomainError as error:
            db.session.rollback()
            form.response_late_minutes.errors = [*form.response_late_minutes.errors, str(error)]
        else:
            db.session.commit()
            flash("Saved." if changed else "Nothing changed.", "success" if changed else "info")
            return redirect(url_for("moderation.settings"))
    status = 422 if form.errors else 200
    return render_template(
        "moderation/settings.html", form=form, queues=list(queries.Queue)
    ), status


# -- background work ------------------------------------------------------------------------------


@bp.get("/jobs")
@moderator_required
def jobs() -> str:
    """The outbox's health: what waits, what is dead and why, with a retry per dead job."""
    return render_template(
        "moderation/jobs.html",
        health=job_services.queue_health(),
        counts=job_services.counts_by_status(),
        dead=job_services.list_jobs(dead_only=True, limit=50),
        queues=list(queries.Queue),
    )


@bp.post("/jobs/<int:job_id>/retry")
@moderator_required
def retry_job(job_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)

    def requeue() -> bool:
        job = job_services.retry(job_id)
        audit.record(
            "job.retry",
            actor_id=current_user.id,
            target_type="job",
            target_id=job.id,
            kind=job.kind,
        )
        return True

    return act_and_redirect(
        url_for("moderation.jobs"), requeue, "Queued again: a worker picks it up."
    )
