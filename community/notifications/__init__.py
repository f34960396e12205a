"""Notifications: who follows what, reply emails, Slack announcements."""

from flask import Flask
from flask_login import current_user

from community import signals


def init_app(app: Flask) -> None:
    from community.notifications import handlers, services, views

    app.register_blueprint(views.bp)
    signals.question_published.connect(handlers.on_question_published, app)
    signals.reply_published.connect(handlers.on_reply_published, app)
    signals.answer_accepted.connect(handlers.on_answer_accepted, app)

    def following(question_id: int) -> bool:
        return current_user.is_authenticated and services.is_following(current_user.id, question_id)

    app.jinja_env.globals["following"] = following
