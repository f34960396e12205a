"""Who follows what, and the signed links that let people stop emails with one click."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.extensions import db
from community.notifications.models import Subscription
from community.questions.models import Question, Reply

UNSUBSCRIBE_SALT = "community.unsubscribe.v1"


def subscribe(user: User, question: Question, *, explicit: bool = False) -> None:
    """Follow ``question``. Automatic subscriptions (asking, replying) never override an
    explicit unfollow; an explicit follow always does."""
    subscription = db.session.get(Subscription, (user.id, question.id))
    if subscription is None:
        try:
            with db.session.begin_nested():
                db.session.add(Subscription(user_id=user.id, question_id=question.id))
        except IntegrityError:  # a concurrent request subscribed them first
            pass
        return
    if explicit and not subscription.active:
        subscription.active = True
        db.session.flush()


def unfollow(user: User, question: Question) -> None:
    subscription = db.session.get(Subscription, (user.id, question.id))
    if subscription is None:
        db.session.add(Subscription(user_id=user.id, question_id=question.id, active=False))
    else:
        subscription.active = False
    db.session.flush()


def is_following(user_id: int, question_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(Subscription.active).where(
                Subscription.user_id == user_id, Subscription.question_id == question_id
            )
        )
    )


def followed_among(user_id: int, question_ids: list[int]) -> set[int]:
    """Which of these questions the user follows (one query for a whole list)."""
    if not question_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Subscription.question_id).where(
                Subscription.user_id == user_id,
                Subscription.question_id.in_(question_ids),
                Subscription.active.is_(True),
            )
        )
    )


def followed_questions(user: User, limit: int = 200) -> list[Subscription]:
    return list(
        db.session.scalars(
            sa.select(Subscription)
            .where(Subscription.user_id == user.id, Subscription.active.is_(True))
            .join(Question, Question.id == Subscription.question_id)
            .where(Question.deleted_at.is_(None))
            .options(joinedload(Subscription.question))
            .order_by(Question.last_activity_at.desc())
            .limit(limit)
        )
    )


def set_email_notifications(user: User, enabled: bool) -> None:
    user.email_notifications = enabled
    db.session.flush()


def reply_recipients(reply: Reply, question: Question) -> list[User]:
    """Active followers of the question with a verified address and email switched on, except
    the reply's author, and except people who started following after it was written (they saw
    it when they replied or followed)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Subscription, Subscription.user_id == User.id)
            .where(
                Subscription.question_id == question.id,
                Subscription.active.is_(True),
                Subscription.created_at <= reply.published_at,
                User.id != reply.author_id,
                User.email_verified_at.is_not(None),
                User.email_notifications.is_(True),
            )
            .order_by(User.id)
        )
    )


def wants_email_about(user: User, question_id: int) -> bool:
    return user.is_verified and user.email_notifications and is_following(user.id, question_id)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, question_id: int) -> str:
    return _serializer().dumps([user_id, question_id])


def read_unsubscribe_token(token: str) -> tuple[int, int] | None:
    """(user id, question id) from a token this app signed for unsubscribing, else None."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return None
    return value[0], value[1]
