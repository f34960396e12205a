"""Moderation: the dashboard's queues, thread controls, flags, bans and the audit trail."""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.moderation import models, views  # noqa: F401 -- registers the tables

    app.register_blueprint(views.bp)
    app.register_blueprint(views.reports)

    from community import signals
    from community.moderation import bans, services

    signals.user_signed_in.connect(bans.on_user_signed_in, app)
    signals.post_edited.connect(services.on_post_edited, app)
