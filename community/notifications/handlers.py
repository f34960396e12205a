"""Job handlers and email builders: whom to tell, and what to say, when something happened.

Each takes ids, reloads the current state and is safe to run twice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.extensions import db
from community.jobs import services as jobs
from community.jobs.registry import handler
from community.notifications import services, slack
from community.notifications.emails import Email, builder, queue_email
from community.questions.models import Question, Reply, Team, Topic
from community.web import external_url

NOTIFY_REPLY = "notify.reply"
SLACK_QUESTION = "slack.question"


def _question_url(question: Question, **anchor: str) -> str:
    return external_url("questions.show", question_id=question.id, slug=question.slug, **anchor)


def _unsubscribe_headers(user: User, question: Question) -> tuple[str, dict[str, str]]:
    url = external_url(
        "notifications.unsubscribe", token=services.unsubscribe_token(user.id, question.id)
    )
    # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to this address, no cookies.
    return url, {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# -- a reply was published: one email per follower -----------------------------------------------


@handler(NOTIFY_REPLY, writes=True)
def notify_reply(payload: dict[str, Any]) -> None:
    reply = db.session.get(Reply, payload["reply_id"])
    if reply is None or not reply.is_public:
        return
    question = db.session.get(Question, reply.question_id)
    if question is None or not question.is_public:
        return
    for user in services.reply_recipients(reply, question):
        queue_email(
            "reply",
            {"reply_id": reply.id, "user_id": user.id},
            dedupe_key=f"email:reply:{reply.id}:user:{user.id}",
        )


@builder("reply")
def reply_email(params: dict[str, Any]) -> Email | None:
    reply = db.session.scalar(
        sa.select(Reply)
        .where(Reply.id == params["reply_id"])
        .options(joinedload(Reply.author), joinedload(Reply.question))
    )
    user = db.session.get(User, params["user_id"])
    if reply is None or user is None or not reply.is_public or not reply.question.is_public:
        return None
    if not services.wants_email_about(user, reply.question_id):
        return None
    unsubscribe_url, headers = _unsubscribe_headers(user, reply.question)
    return Email(
        to_address=user.email,
        to_name=user.name,
        template="reply",
        context={
            "user": user,
            "reply": reply,
            "question": reply.question,
            "reply_url": _question_url(reply.question, _anchor=f"reply-{reply.id}"),
            "unsubscribe_url": unsubscribe_url,
            "settings_url": external_url("notifications.settings"),
        },
        headers=headers,
    )


# -- an answer was accepted: tell its author -----------------------------------------------------


@builder("answer_accepted")
def answer_accepted_email(params: dict[str, Any]) -> Email | None:
    reply = db.session.scalar(
        sa.select(Reply)
        .where(Reply.id == params["reply_id"])
        .options(joinedload(Reply.author), joinedload(Reply.question))
    )
    if reply is None or reply.question.accepted_reply_id != reply.id:
        return None  # withdrawn (or the reply deleted) before the email went out
    author = reply.author
    if not author.is_verified or not author.email_notifications:
        return None
    return Email(
        to_address=author.email,
        to_name=author.name,
        template="answer_accepted",
        context={
            "user": author,
            "reply": reply,
            "question": reply.question,
            "reply_url": _question_url(reply.question, _anchor=f"reply-{reply.id}"),
            "settings_url": external_url("notifications.settings"),
        },
    )


# -- a question was published: announce it in Slack ----------------------------------------------


@handler(SLACK_QUESTION)
def announce_question(payload: dict[str, Any]) -> None:
    question = db.session.scalar(
        sa.select(Question)
        .where(Question.id == payload["question_id"])
        .options(
            joinedload(Question.author),
            joinedload(Question.origin_page),
            joinedload(Question.topic).joinedload(Topic.team),
        )
    )
    if question is None or not question.is_public:
        return
    if payload["target"] == "community":
        webhook = current_app.config["SLACK_WEBHOOK_URL"]
    else:
        team = db.session.get(Team, payload["team_id"])
        webhook = team.slack_webhook_url if team is not None else None
        if not webhook:
            return  # the team removed its channel since
    slack.post(webhook, question_message(question))


def question_message(question: Question) -> dict[str, Any]:
    url = _question_url(question)
    where = []
    if question.topic is not None:
        where.append(
            f"{slack.escape(question.topic.name)} ({slack.escape(question.topic.team.name)})"
        )
    if question.origin_page is not None:
        where.append(slack.link(question.origin_page.url, question.origin_page.display_title))
    asker = slack.escape(question.author.name)
    text = f"New question from {asker}: {slack.link(url, question.subject)}"
    if where:
        text += "\n" + " · ".join(where)
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


# -- signal receivers: record intents in the request's transaction -------------------------------


def on_question_published(_sender: Any, question: Question, **_extra: Any) -> None:
    author = db.session.get(User, question.author_id)
    services.subscribe(author, question)
    jobs.enqueue(
        SLACK_QUESTION,
        {"question_id": question.id, "target": "community"},
        dedupe_key=f"slack:question:{question.id}:community",
    )
    team_id = None
    if question.topic_id is not None:
        team_id = db.session.scalar(sa.select(Topic.team_id).where(Topic.id == question.topic_id))
    if team_id is not None and db.session.scalar(
        sa.select(Team.slack_webhook_url).where(Team.id == team_id)
    ):
        jobs.enqueue(
            SLACK_QUESTION,
            {"question_id": question.id, "target": "team", "team_id": team_id},
            dedupe_key=f"slack:question:{question.id}:team:{team_id}",
        )


def on_reply_published(_sender: Any, reply: Reply, **_extra: Any) -> None:
    author = db.session.get(User, reply.author_id)
    question = db.session.get(Question, reply.question_id)
    services.subscribe(author, question)
    jobs.enqueue(NOTIFY_REPLY, {"reply_id": reply.id}, dedupe_key=f"notify:reply:{reply.id}")


def on_answer_accepted(
    _sender: Any, question: Question, reply: Reply, actor: User, **_extra: Any
) -> None:
    if reply.author_id == actor.id:
        return  # accepting your own reply needs no email to yourself
    queue_email(
        "answer_accepted",
        {"reply_id": reply.id},
        dedupe_key=f"email:accepted:{reply.id}",
    )
