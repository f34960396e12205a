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
    app.jinja_env.globals["timedelta"] = timedelta

    def on_duty_now() -> list[queries.TeamDuty]:
        """Each team's hero today, for staff (the dashboard)."""
        if not (current_user.is_authenticated and current_user.is_staff):
            return []
        return queries.duties()

    app.jinja_env.globals["on_duty_now"] = on_duty_now
    app.jinja_env.globals["question_tags"] = queries.question_tags

    def response_clock(question: Question) -> ResponseClock | None:
        """The question's response clock for staff viewers (None for everyone else)."""
        if not (current_user.is_authenticated and current_user.is_staff):
            return None
        return services.clock_for(question)

    app.jinja_env.globals["response_clock"] = response_clock
