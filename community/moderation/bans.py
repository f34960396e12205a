"""Bans: a banned account is signed out everywhere, cannot sign in or post, and everything it
wrote disappears from public view at once. Lifting the ban (by a moderator, or the end date
passing and the person signing in again) restores exactly the posts the ban hid."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from community import signals
from community.accounts import services as account_services
from community.accounts.models import Role, User
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed
from community.extensions import db
from community.moderation import audit
from community.questions import permissions
from community.questions.models import Question, Reply

MAX_REASON_LENGTH = 500
BAN_HIDE_REASON = "Author banned"
# Who may ban whom: moderators ban members and team members; admins also moderators. Nobody
# bans an admin (an admin is demoted first).
_BANNABLE_BY = {
    Role.MODERATOR: {Role.MEMBER, Role.TEAM},
    Role.ADMIN: {Role.MEMBER, Role.TEAM, Role.MODERATOR},
}


def can_ban(actor: User, user: User) -> bool:
    return (
        permissions.is_staff(actor)
        and actor.id != user.id
        and user.deleted_at is None
        and Role(user.role) in _BANNABLE_BY.get(Role(actor.role), set())
    )


def ban(actor: User, user: User, reason: str, until: datetime | None = None) -> int:
    """Ban ``user`` (until ``until``, or until lifted); returns how many posts were hidden."""
    if not can_ban(actor, user):
        raise NotAllowed("You can't ban this account.")
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    if not reason:
        raise DomainError("Say why this account is banned.")
    if until is not None and until <= utcnow():
        raise DomainError("The end of the ban must be in the future.")
    if user.is_banned:
        raise Conflict("This account is already banned.")
    now = utcnow()
    user.banned_at, user.banned_until, user.ban_reason = now, until, reason
    account_services.end_all_sessions(user)
    hidden = _hide_posts(actor, user, now)
    audit.record(
        "user.ban",
        actor_id=actor.id,
        target_type="user",
        target_id=user.id,
        before={"banned_at": None},
        after={"banned_at": now.isoformat(), "banned_until": until.isoformat() if until else None},
        reason=reason,
        posts_hidden=hidden,
    )
    return hidden


def unban(actor: User | None, user: User) -> int:
    """Lift the ban (``actor`` None: it ran out); returns how many posts came back."""
    if actor is not None and not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can do that.")
    if user.banned_at is None:
        return 0
    before = {
        "banned_at": user.banned_at.isoformat(),
        "banned_until": user.banned_until.isoformat() if user.banned_until else None,
        "ban_reason": user.ban_reason,
    }
    user.banned_at = user.banned_until = user.ban_reason = None
    restored = _restore_posts(user)
    audit.record(
        "user.unban" if actor is not None else "user.ban_expired",
        actor_id=actor.id if actor is not None else None,
        target_type="user",
        target_id=user.id,
        before=before,
        after={"banned_at": None},
        posts_restored=restored,
    )
    return restored


def lift_if_expired(user: User) -> None:
    """The end date passed: the account may sign in again, and its posts come back."""
    if user.banned_at is not None and not user.is_banned:
        unban(None, user)


def on_user_signed_in(_sender: object, user: User, **_extra: object) -> None:
    """``user_signed_in`` receiver: someone whose ban ran out is back, and so are their posts."""
    lift_if_expired(user)


def _hide_posts(actor: User, user: User, now: datetime) -> int:
    db.session.flush()
    visible = sa.and_(
        Question.author_id == user.id, Question.hidden_at.is_(None), Question.deleted_at.is_(None)
    )
    question_ids = list(db.session.scalars(sa.select(Question.id).where(visible)))
    hide = {"hidden_at": now, "hidden_reason": BAN_HIDE_REASON, "hidden_by_ban": True}
    if question_ids:
        db.session.execute(sa.update(Question).where(Question.id.in_(question_ids)).values(**hide))
    reply_filter = sa.and_(
        Reply.author_id == user.id, Reply.hidden_at.is_(None), Reply.deleted_at.is_(None)
    )
    touched = set(db.session.scalars(sa.select(Reply.question_id).where(reply_filter).distinct()))
    replies = db.session.execute(sa.update(Reply).where(reply_filter).values(**hide)).rowcount or 0
    db.session.expire_all()
    _recount(touched - set(question_ids))
    app = current_app._get_current_object()
    for question in db.session.scalars(sa.select(Question).where(Question.id.in_(question_ids))):
        signals.question_hidden.send(app, question=question, actor=actor, reason="banned")
    return len(question_ids) + replies


def _restore_posts(user: User) -> int:
    db.session.flush()
    show = {"hidden_at": None, "hidden_reason": None, "hidden_by_ban": False}
    question_ids = list(
        db.session.scalars(
            sa.select(Question.id).where(
                Question.author_id == user.id, Question.hidden_by_ban.is_(True)
            )
        )
    )
    if question_ids:
        db.session.execute(sa.update(Question).where(Question.id.in_(question_ids)).values(**show))
    by_ban = sa.and_(Reply.author_id == user.id, Reply.hidden_by_ban.is_(True))
    touched = set(db.session.scalars(sa.select(Reply.question_id).where(by_ban).distinct()))
    replies = db.session.execute(sa.update(Reply).where(by_ban).values(**show)).rowcount or 0
    db.session.expire_all()
    _recount(touched | set(question_ids))
    app = current_app._get_current_object()
    for question in db.session.scalars(sa.select(Question).where(Question.id.in_(question_ids))):
        if question.is_public:
            signals.question_restored.send(app, question=question, actor=None)
    return len(question_ids) + replies


def _recount(question_ids: set[int]) -> None:
    """Reply counts and status of other people's threads whose replies came or went."""
    from community.moderation.services import recount

    for question in db.session.scalars(sa.select(Question).where(Question.id.in_(question_ids))):
        recount(question)
