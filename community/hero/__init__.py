"""The support hero's week: response-time targets and working hours, the weekly rotation,
reminders, the hand-off, answering tools and the team metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from flask_login import current_user

if TYPE_CHECKING:
    from community.hero.clock import ResponseClock
    from community.questions.models import Question


def init_app(app: Flask) -> None:
    from datetime import timedelta

    from community import signals
    from community.hero import (  # noqa: F401 -- registers tables, jobs, emails, sweeps
        answering,
        handlers,
        handoffs,
        models,
        queries,
        reminders,
        services,
        views,
    )

    app.register_blueprint(views.bp)
    signals.question_published.connect(handlers.on_question_published, app)
    signals.reply_composing.connect(answering.on_reply_composing, app)
    signals.reply_published.connect(answering.on_reply_published, app)
    app.jinja_env.globals["timedelta"] = timedelta

    def on_duty_now() -> list[queries.TeamDuty]:
        """Each team's hero today, for staff (the dashboard)."""
        if not services.is_hero(current_user):
            return []
        return queries.duties()

    app.jinja_env.globals["on_duty_now"] = on_duty_now

    def hero_thread(question_id: int) -> dict | None:
        """What the thread's hero tools show (staff only): tags, linked issues, your follow-up."""
        if not services.is_hero(current_user):
            return None
        return {
            "tags": queries.question_tags(question_id),
            "issues": answering.links_of(question_id),
            "follow_up": answering.follow_up_of(current_user.id, question_id),
        }

    def my_saved_replies() -> list:
        if not services.is_hero(current_user):
            return []
        return answering.saved_replies(current_user)

    def my_due_follow_ups() -> list:
        if not services.is_hero(current_user):
            return []
        return answering.due_follow_ups(current_user.id)

    from community.hero import metrics

    app.add_template_filter(metrics.minutes_value, "metrics_minutes_value")
    app.add_template_filter(metrics.response_parts, "metrics_response_parts")
    app.jinja_env.globals["hero_thread"] = hero_thread
    app.jinja_env.globals["my_saved_replies"] = my_saved_replies
    app.jinja_env.globals["my_due_follow_ups"] = my_due_follow_ups

    def response_clock(question: Question) -> ResponseClock | None:
        """The question's response clock for staff viewers (None for everyone else)."""
        if not services.is_hero(current_user):
            return None
        return services.clock_for(question)

    app.jinja_env.globals["response_clock"] = response_clock
