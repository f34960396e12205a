"""Moderation: the audit trail (and, later, the dashboard, flags and bans)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.moderation import models  # noqa: F401 -- registers the tables
