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
    from community.hero import services, views

    app.register_blueprint(views.bp)

    def response_clock(question: Question) -> ResponseClock | None:
        """The question's response clock for staff viewers (None for everyone else)."""
        if not (current_user.is_authenticated and current_user.is_staff):
            return None
        return services.clock_for(question)

    app.jinja_env.globals["response_clock"] = response_clock
