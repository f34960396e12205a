"""Moderation: the dashboard's queues, thread controls and the audit trail (flags, bans and
claims come later)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.moderation import models, views  # noqa: F401 -- registers the tables

    app.register_blueprint(views.bp)
