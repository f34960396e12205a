"""The one-hour reminder: a periodic sweep in the worker finds questions nearing the "okay"
target without a team response and tells the team's Slack channel and the hero on duty, once.

Why a sweep in the worker rather than a job scheduled at publication: when a reminder falls due
depends on things that change after a question is asked (the targets, the working-hours switch,
the team's hours, the question's topic), and on the answer not having come. A sweep decides with
the state of the moment; it is one indexed query over the few questions that wait for a first
response, every minute, in a process that runs anyway (no cron to install).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from community import settings as runtime_settings
from community.extensions import db
from community.hero import queries, services
from community.hero.clock import elapsed
from community.hero.handlers import load_question, reachable_hero
from community.hero.models import Reminder
from community.jobs import services as jobs
from community.jobs.registry import handler, periodic
from community.moderation.queries import Queue, queue_condition
from community.notifications import slack
from community.notifications.emails import Email, builder, queue_email
from community.questions.models import Question, QuestionStatus, Team, Topic
from community.web import external_url

SWEEP_EVERY = timedelta(minutes=1)
# Questions asked longer ago than this are never reminded about (a deploy does not remind about
# last month's backlog); with working hours a long weekend still fits.
HORIZON = timedelta(days=14)
MAX_PER_SWEEP = 500
SLACK_JOB = "hero.reminder_slack"
EMAIL = "hero_reminder"


def waiting_on_a_first_response(question: Question) -> bool:
    return (
        question.is_public
        and question.first_response_at is None
        and question.status != QuestionStatus.RESOLVED
    )


@periodic("hero.reminders", every=SWEEP_EVERY)
def sweep(now: datetime) -> int:
    """Queue the reminders that fell due; returns how many jobs were queued."""
    values = runtime_settings.current()
    mark = int(values["response_okay_minutes"])
    remind_at = timedelta(minutes=int(values["response_reminder_minutes"]))
    too_late = timedelta(minutes=int(values["response_late_minutes"]))
    already = sa.select(Reminder.question_id).where(
        Reminder.question_id == Question.id, Reminder.threshold_minutes == mark
    )
    # Counted time never exceeds wall-clock time, so this cut is safe with working hours too.
    candidates = db.session.scalars(
        sa.select(Question)
        .where(
            queue_condition(Queue.FIRST_RESPONSE),
            Question.published_at <= now - remind_at,
            Question.published_at >= now - HORIZON,
            ~sa.exists(already),
        )
        .options(joinedload(Question.topic).joinedload(Topic.team))
        .order_by(Question.published_at, Question.id)
        .limit(MAX_PER_SWEEP)
    ).all()
    queued = 0
    for question in candidates:
        team = question.topic.team if question.topic is not None else None
        waited = elapsed(question.published_at, now, services.clock_hours(team))
        # Past the "too late" mark a reminder about the hour is noise: the badge says it all.
        if remind_at <= waited < too_late:
            queued += _remind(question, team, mark, now)
    return queued


def _remind(question: Question, team: Team | None, mark: int, now: datetime) -> int:
    try:
        with db.session.begin_nested():
            db.session.add(Reminder(question_id=question.id, threshold_minutes=mark))
    except IntegrityError:  # another worker's sweep got here first
        return 0
    queued = 0
    payload: dict[str, Any] = {"question_id": question.id, "threshold": mark}
    # The team's channel if it has one; a question of no team goes to the community channel.
    if team is None or team.slack_webhook_url:
        target = {"team_id": team.id} if team is not None else {}
        queued += bool(
            jobs.enqueue(
                SLACK_JOB,
                {**payload, **target},
                dedupe_key=f"slack:hero-reminder:{question.id}:{mark}",
            )
        )
    recipients = set()
    if team is not None:
        duty = queries.duty(team.id, now)
        if duty is not None and duty.on_duty is not None:
            recipients.add(duty.on_duty.id)
    if question.assignee_id is not None:
        recipients.add(question.assignee_id)
    for user_id in sorted(recipients):
        queue_email(
            EMAIL,
            {**payload, "user_id": user_id},
            dedupe_key=f"email:hero-reminder:{question.id}:{mark}:user:{user_id}",
        )
        queued += 1
    return queued


@handler(SLACK_JOB)
def remind_in_slack(payload: dict[str, Any]) -> None:
    question = load_question(payload["question_id"])
    if question is None or not waiting_on_a_first_response(question):
        return  # answered (or removed) since: nothing to remind anyone of
    if "team_id" in payload:
        team = db.session.get(Team, payload["team_id"])
        webhook = team.slack_webhook_url if team is not None else None
        if not webhook:
            return
    else:
        webhook = current_app.config["SLACK_WEBHOOK_URL"]
    slack.post(webhook, reminder_message(question, payload["threshold"]))


def reminder_message(question: Question, threshold: int) -> dict[str, Any]:
    url = external_url("questions.show", question_id=question.id, slug=question.slug)
    duty = queries.duty(question.topic.team_id) if question.topic is not None else None
    hero = duty.on_duty if duty is not None else None
    text = (
        f"Nearly {_minutes(threshold)} without an answer: {slack.link(url, question.subject)}"
        f" from {slack.escape(question.author.display_name)}"
    )
    if question.topic is not None:
        text += f"\n{slack.escape(question.topic.name)} ({slack.escape(question.topic.team.name)})"
        text += f" · on duty: {slack.escape(hero.display_name) if hero else 'nobody'}"
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


def _minutes(threshold: int) -> str:
    if threshold % 60 == 0:
        hours = threshold // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{threshold} minutes"


@builder(EMAIL)
def reminder_email(params: dict[str, Any]) -> Email | None:
    question = load_question(params["question_id"])
    hero = reachable_hero(params["user_id"])
    if question is None or hero is None or not waiting_on_a_first_response(question):
        return None
    return Email(
        to_address=hero.email,
        to_name=hero.name,
        template=EMAIL,
        context={
            "user": hero,
            "question": question,
            "mark": _minutes(params["threshold"]),
            "claimed": question.assignee_id == hero.id,
            "question_url": external_url(
                "questions.show", question_id=question.id, slug=question.slug
            ),
        },
    )
