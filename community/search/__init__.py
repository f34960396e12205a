"""Search: full-text search over public questions and their replies, and the similar questions
the ask forms suggest while a visitor types (site, doc pages and the embed)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.search import views

    app.register_blueprint(views.bp)
