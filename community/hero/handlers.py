"""Whom the hero's week tells, and what: signal receivers record intents in the request's
transaction (outbox rows); email builders reload the current state when the worker sends."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.extensions import db
from community.hero import queries
from community.notifications.emails import Email, builder, queue_email
from community.questions.models import Question, Topic
from community.web import external_url

NEW_QUESTION_EMAIL = "hero_new_question"


def on_question_published(_sender: Any, question: Question, **_extra: Any) -> None:
    """A new question for a team: email the team's hero on duty today (Slack is told by the
    notifications feature)."""
    if question.topic_id is None:
        return
    team_id = db.session.scalar(sa.select(Topic.team_id).where(Topic.id == question.topic_id))
    duty = queries.duty(team_id) if team_id is not None else None
    hero = duty.on_duty if duty is not None else None
    if hero is None or hero.id == question.author_id:
        return
    queue_email(
        NEW_QUESTION_EMAIL,
        {"question_id": question.id, "user_id": hero.id, "team_id": team_id},
        dedupe_key=f"email:hero-question:{question.id}:user:{hero.id}",
    )


def load_question(question_id: int) -> Question | None:
    return db.session.scalar(
        sa.select(Question)
        .where(Question.id == question_id)
        .options(
            joinedload(Question.author),
            joinedload(Question.origin_page),
            joinedload(Question.topic).joinedload(Topic.team),
        )
    )


def reachable_hero(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff or not user.is_verified or not user.is_active:
        return None
    return user


def question_url(question: Question) -> str:
    return external_url("questions.show", question_id=question.id, slug=question.slug)


@builder(NEW_QUESTION_EMAIL)
def new_question_email(params: dict[str, Any]) -> Email | None:
    question = load_question(params["question_id"])
    hero = reachable_hero(params["user_id"])
    if question is None or hero is None or not question.is_public:
        return None
    return Email(
        to_address=hero.email,
        to_name=hero.name,
        template=NEW_QUESTION_EMAIL,
        context={
            "user": hero,
            "question": question,
            "question_url": question_url(question),
            "team": question.topic.team if question.topic else None,
            "my_team_url": external_url("hero.my_team", team=params.get("team_id")),
        },
    )
