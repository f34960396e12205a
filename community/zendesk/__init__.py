"""The Zendesk mirror: a ticket per question, its status following the thread, and a webhook
that brings the ticket's status, priority and assignee back."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user

from community import signals
from community.config import ConfigError

CREDENTIALS = ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_TOKEN")


def init_app(app: Flask) -> None:
    from community.zendesk import cli, handlers, models, services, views  # noqa: F401

    set_ = [key for key in CREDENTIALS if app.config.get(key)]
    if set_ and len(set_) != len(CREDENTIALS):
        missing = ", ".join(k for k in CREDENTIALS if k not in set_)
        raise ConfigError(f"Zendesk is half configured: set {missing} too (or none of them).")
    if float(app.config["ZENDESK_TIMEOUT"]) <= 0:
        raise ConfigError("ZENDESK_TIMEOUT must be a positive number of seconds.")

    app.register_blueprint(views.bp)
    app.register_blueprint(cli.bp)
    signals.question_published.connect(handlers.on_question_published, app)
    signals.reply_published.connect(handlers.on_reply_published, app)
    signals.answer_accepted.connect(handlers.on_answer_accepted, app)
    signals.answer_withdrawn.connect(handlers.on_answer_withdrawn, app)
    signals.question_deleted.connect(handlers.on_question_deleted, app)
    signals.question_hidden.connect(handlers.on_question_hidden, app)
    signals.question_restored.connect(handlers.on_question_restored, app)
    signals.question_resolution_changed.connect(handlers.on_question_resolution_changed, app)
    signals.question_tagged.connect(handlers.on_question_tagged, app)

    def zendesk_panel(question_id: int) -> services.Panel | None:
        return services.panel_for(current_user, question_id)

    app.jinja_env.globals["zendesk_panel"] = zendesk_panel

    def zendesk_credentials_rejected() -> int:
        """For the moderator dashboard's banner: no query at all when the mirror is off."""
        if not services.enabled() or not current_user.is_authenticated:
            return 0
        return services.credentials_rejected() if current_user.is_moderator else 0

    app.jinja_env.globals["zendesk_credentials_rejected"] = zendesk_credentials_rejected
