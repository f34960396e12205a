"""Moderators' thread controls. Each takes the acting user, enforces, flushes (never commits) and
writes an audit row with the state before and after, in the transaction of the change.

An action that would change nothing (pinning a pinned thread) returns False and writes no row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from community import settings as runtime_settings
from community import signals
from community.accounts.models import STAFF_ROLES, User
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed
from community.extensions import db
from community.hero import clock
from community.moderation import audit, flags
from community.questions import permissions
from community.questions import services as question_services
from community.questions.models import Page, Question, QuestionStatus, Reply, Topic, question_pages

MAX_REASON_LENGTH = 500
HIDE_REASONS = ("spam", "off-topic", "abusive", "other")


def _require_moderator(actor: User) -> None:
    if not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can do that.")


def _audit(
    actor: User,
    action: str,
    question: Question,
    before: dict[str, Any],
    after: dict[str, Any],
    **extra: Any,
) -> None:
    audit.record(
        action,
        actor_id=actor.id,
        target_type="question",
        target_id=question.id,
        before=before,
        after=after,
        **extra,
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def set_pinned(actor: User, question: Question, pinned: bool) -> bool:
    """Pin (pinned questions list first on their doc page) or unpin."""
    _require_moderator(actor)
    if question.pinned == pinned:
        return False
    before = {"pinned": question.pinned}
    question.pinned = pinned
    db.session.flush()
    _audit(
        actor, "question.pin" if pinned else "question.unpin", question, before, {"pinned": pinned}
    )
    return True


def set_locked(actor: User, question: Question, locked: bool) -> bool:
    """Lock (no more replies, except from moderators) or unlock."""
    _require_moderator(actor)
    if question.locked == locked:
        return False
    before = {"locked": question.locked}
    question.locked = locked
    db.session.flush()
    _audit(
        actor,
        "question.lock" if locked else "question.unlock",
        question,
        before,
        {"locked": locked},
    )
    return True


def hide(actor: User, question: Question, reason: str, details: str = "") -> bool:
    """Hide from everyone but moderators. ``reason`` is stored on the question ("spam" tags the
    Zendesk ticket ``community_spam``); ``details`` go to the audit row only."""
    _require_moderator(actor)
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    if not reason:
        raise DomainError("Say why this is hidden.")
    if question.deleted_at is not None:
        raise Conflict("This question is deleted; restore it first.")
    if question.hidden_at is not None:
        return False
    question_services.hide_question(actor, question, reason)
    flags.settle(actor, question, "actioned")
    extra = {"details": details[:MAX_REASON_LENGTH]} if details else {}
    _audit(
        actor,
        "question.hide",
        question,
        {"hidden_at": None},
        {"hidden_at": _iso(question.hidden_at)},
        reason=reason,
        **extra,
    )
    return True


def unhide(actor: User, question: Question) -> bool:
    """Make a hidden question public again (if it is not deleted and was published)."""
    _require_moderator(actor)
    if question.hidden_at is None:
        return False
    before = {"hidden_at": _iso(question.hidden_at), "hidden_reason": question.hidden_reason}
    question.hidden_at = None
    question.hidden_reason = None
    question.hidden_by_ban = False
    recount(question)
    _audit(actor, "question.unhide", question, before, {"hidden_at": None, "hidden_reason": None})
    _announce_restored(actor, question)
    return True


def delete(actor: User, question: Question, reason: str = "") -> bool:
    _require_moderator(actor)
    if question.deleted_at is not None:
        return False
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    question_services.delete_question(actor, question)
    flags.settle(actor, question, "actioned")
    extra = {"reason": reason} if reason else {}
    _audit(
        actor,
        "question.delete",
        question,
        {"deleted_at": None},
        {"deleted_at": _iso(question.deleted_at)},
        **extra,
    )
    return True


def undelete(actor: User, question: Question) -> bool:
    _require_moderator(actor)
    if question.deleted_at is None:
        return False
    before = {"deleted_at": _iso(question.deleted_at)}
    question.deleted_at = None
    recount(question)
    _audit(actor, "question.undelete", question, before, {"deleted_at": None})
    _announce_restored(actor, question)
    return True


def move(actor: User, question: Question, topic: Topic | None) -> bool:
    """Move to another topic (None: no topic)."""
    _require_moderator(actor)
    topic_id = topic.id if topic is not None else None
    if question.topic_id == topic_id:
        return False
    before = {"topic_id": question.topic_id}
    question.topic_id = topic_id
    db.session.flush()
    _audit(actor, "question.move", question, before, {"topic_id": topic_id})
    return True


def move_to_page(actor: User, question: Question, page: Page | None) -> bool:
    """List the question under another doc page (None: under none); it leaves the old one."""
    _require_moderator(actor)
    page_id = page.id if page is not None else None
    current = db.session.scalars(
        sa.select(question_pages.c.page_id).where(question_pages.c.question_id == question.id)
    ).all()
    if question.origin_page_id == page_id and list(current) == ([page_id] if page_id else []):
        return False
    before = {"origin_page_id": question.origin_page_id, "page_ids": sorted(current)}
    db.session.execute(sa.delete(question_pages).where(question_pages.c.question_id == question.id))
    if page_id is not None:
        db.session.execute(
            sa.insert(question_pages).values(page_id=page_id, question_id=question.id)
        )
    question.origin_page_id = page_id
    db.session.flush()
    _audit(
        actor,
        "question.move_page",
        question,
        before,
        {"origin_page_id": page_id, "page_ids": [page_id] if page_id else []},
    )
    return True


def mark_resolved(actor: User, question: Question) -> bool:
    """Resolved without an accepted answer (answered elsewhere, or nothing left to do)."""
    _require_moderator(actor)
    if question.status == QuestionStatus.RESOLVED:
        return False
    before = {"status": question.status}
    question.status = QuestionStatus.RESOLVED.value
    db.session.flush()
    _audit(actor, "question.resolve", question, before, {"status": question.status})
    signals.question_resolution_changed.send(
        current_app._get_current_object(), question=question, actor=actor, resolved=True
    )
    return True


def mark_unresolved(actor: User, question: Question) -> bool:
    """Undo :func:`mark_resolved`: the status follows the replies again. A question with an
    accepted answer stays resolved until the answer is withdrawn."""
    _require_moderator(actor)
    if question.accepted_reply_id is not None:
        raise Conflict("This question has an accepted answer: withdraw it instead.")
    if question.status != QuestionStatus.RESOLVED:
        return False
    before = {"status": question.status}
    question.status = _status_from_replies(question).value
    db.session.flush()
    _audit(actor, "question.unresolve", question, before, {"status": question.status})
    signals.question_resolution_changed.send(
        current_app._get_current_object(), question=question, actor=actor, resolved=False
    )
    return True


def _status_from_replies(question: Question) -> QuestionStatus:
    answered = db.session.scalar(
        sa.select(
            sa.exists().where(
                Reply.question_id == question.id,
                Reply.author_id != question.author_id,
                Reply.published_at.is_not(None),
                Reply.hidden_at.is_(None),
                Reply.deleted_at.is_(None),
            )
        )
    )
    return QuestionStatus.ANSWERED if answered else QuestionStatus.UNANSWERED


def _announce_restored(actor: User | None, question: Question) -> None:
    """Tell other features (the Zendesk mirror) a question is public again."""
    if question.is_public:
        signals.question_restored.send(
            current_app._get_current_object(), question=question, actor=actor
        )


def hide_reply(actor: User, reply: Reply, reason: str) -> bool:
    """Hide a reply from everyone but moderators; an accepted answer stops being accepted."""
    _require_moderator(actor)
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    if not reason:
        raise DomainError("Say why this is hidden.")
    if reply.deleted_at is not None:
        raise Conflict("This reply is deleted.")
    if reply.hidden_at is not None:
        return False
    question = db.session.get(Question, reply.question_id)
    reply.hidden_at = utcnow()
    reply.hidden_reason = reason
    was_accepted = question.accepted_reply_id == reply.id
    if was_accepted:
        question_services.withdraw_answer(actor, question)
    recount(question)
    flags.settle(actor, reply, "actioned")
    audit.record(
        "reply.hide",
        actor_id=actor.id,
        target_type="reply",
        target_id=reply.id,
        before={"hidden_at": None},
        after={"hidden_at": _iso(reply.hidden_at)},
        reason=reason,
        question_id=question.id,
        **({"accepted_withdrawn": True} if was_accepted else {}),
    )
    return True


def unhide_reply(actor: User, reply: Reply) -> bool:
    _require_moderator(actor)
    if reply.hidden_at is None:
        return False
    before = {"hidden_at": _iso(reply.hidden_at), "hidden_reason": reply.hidden_reason}
    reply.hidden_at = reply.hidden_reason = None
    reply.hidden_by_ban = False
    recount(db.session.get(Question, reply.question_id))
    audit.record(
        "reply.unhide",
        actor_id=actor.id,
        target_type="reply",
        target_id=reply.id,
        before=before,
        after={"hidden_at": None},
        question_id=reply.question_id,
    )
    return True


def recount(question: Question) -> None:
    """After a restore, count the public replies again and settle the status and response times
    from them, so whatever changed while the question was away (replies deleted, an answer
    withdrawn) shows."""
    question_services.refresh_response_times(question)
    question.reply_count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Reply)
        .where(
            Reply.question_id == question.id,
            Reply.published_at.is_not(None),
            Reply.hidden_at.is_(None),
            Reply.deleted_at.is_(None),
        )
    )
    if question.accepted_reply_id is not None:
        question.status = QuestionStatus.RESOLVED.value
    elif question.status != QuestionStatus.RESOLVED:  # a moderator's "resolved" stays
        question.status = _status_from_replies(question).value
    db.session.flush()


# -- claims -------------------------------------------------------------------------------------


def claim(actor: User, question: Question) -> bool:
    """A team member takes the question on. Someone else's claim is taken over only by
    assignment (a moderator), so two heroes never answer the same question unknowingly."""
    if not permissions.can_claim(actor, question):
        raise NotAllowed("Only team members can claim questions.")
    if question.assignee_id == actor.id:
        return False
    if question.assignee_id is not None:
        raise Conflict("Someone else has claimed this question; ask a moderator to reassign it.")
    return _assign(actor, question, actor, "question.claim")


def unclaim(actor: User, question: Question) -> bool:
    """Give the question back (its assignee, or a moderator)."""
    if question.assignee_id is None:
        return False
    if question.assignee_id != actor.id and not permissions.is_staff(actor):
        raise NotAllowed("Only the person who claimed it, or a moderator, can do that.")
    return _assign(actor, question, None, "question.unclaim")


def assign(actor: User, question: Question, assignee: User | None) -> bool:
    """A moderator gives the question to a team member (None: to nobody)."""
    _require_moderator(actor)
    if assignee is not None and not assignee.is_staff:
        raise DomainError("Questions can only be assigned to team members.")
    if question.assignee_id == (assignee.id if assignee else None):
        return False
    return _assign(actor, question, assignee, "question.assign")


def _assign(actor: User, question: Question, assignee: User | None, action: str) -> bool:
    before = {"assignee_id": question.assignee_id}
    question.assignee_id = assignee.id if assignee else None
    question.assigned_at = utcnow() if assignee else None
    db.session.flush()
    _audit(actor, action, question, before, {"assignee_id": question.assignee_id})
    return True


def team_members() -> list[User]:
    """Everyone questions can be assigned to."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_([r.value for r in STAFF_ROLES]), User.deleted_at.is_(None))
            .order_by(User.name, User.id)
        )
    )


# -- pre-moderation -------------------------------------------------------------------------------


def _post_audit(actor: User, action: str, post: Question | Reply, **data: Any) -> None:
    kind = "question" if isinstance(post, Question) else "reply"
    audit.record(f"{kind}.{action}", actor_id=actor.id, target_type=kind, target_id=post.id, **data)


def approve(actor: User, post: Question | Reply) -> bool:
    """Publish a post held for review (or release it to wait for its author's address)."""
    _require_moderator(actor)
    if not post.held_for_review or post.deleted_at is not None:
        return False
    published = question_services.publish_reviewed(post)
    _post_audit(actor, "approve", post, published=published)
    return True


def reject(actor: User, post: Question | Reply, reason: str = "") -> bool:
    """Turn a held post down: it is deleted (softly, like any deletion) and never published."""
    _require_moderator(actor)
    if not post.held_for_review or post.deleted_at is not None:
        return False
    post.deleted_at = utcnow()
    db.session.flush()
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    _post_audit(actor, "reject", post, **({"reason": reason} if reason else {}))
    return True


def held_replies(limit: int = 50) -> list[Reply]:
    """Replies waiting for review, oldest first, with their authors and questions."""
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            sa.select(Reply)
            # Written as the partial index's predicate, so PostgreSQL uses it.
            .where(Reply.held_for_review, Reply.deleted_at.is_(None))
            .options(joinedload(Reply.author), joinedload(Reply.question))
            .order_by(Reply.created_at, Reply.id)
            .limit(limit)
        )
    )


def change_settings(actor: User, values: dict[str, Any]) -> list[str]:
    """Store runtime settings; returns the keys that changed (each audited). Refuses values
    out of range, and response targets that do not grow (great < okay < late)."""
    _require_moderator(actor)
    merged = {**runtime_settings.current(), **values}
    try:
        for key, value in values.items():
            runtime_settings.KNOWN[key].check(value)
        clock.Targets(
            great=timedelta(minutes=merged["response_great_minutes"]),
            okay=timedelta(minutes=merged["response_okay_minutes"]),
            late=timedelta(minutes=merged["response_late_minutes"]),
        )
        if not merged["response_reminder_minutes"] < merged["response_okay_minutes"]:
            raise ValueError("The reminder must go out before the okay mark.")
    except ValueError as error:
        raise DomainError(
            "Response targets must grow: great, then okay, then late."
            if "targets" in str(error)
            else str(error)
        ) from error
    changed = []
    for key, value in values.items():
        setting = runtime_settings.KNOWN[key]
        before = runtime_settings.get(setting)
        if runtime_settings.put(setting, value, actor_id=actor.id):
            audit.record(
                "settings.change",
                actor_id=actor.id,
                target_type="setting",
                target_id=None,
                key=key,
                before=before,
                after=value,
            )
            changed.append(key)
    return changed


def on_post_edited(
    _sender: object, post: Question | Reply, actor: User, revision: Any, **_extra: Any
) -> None:
    """``post_edited`` receiver: a moderator editing someone else's post is audited (the
    version before is kept as ``revision``)."""
    if actor.id == post.author_id:
        return
    _post_audit(actor, "edit", post, revision_id=revision.id)
