"""The transactional outbox: side effects recorded with the change, delivered by a worker."""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.jobs import cli, views

    app.register_blueprint(cli.bp)
    app.register_blueprint(views.bp)
