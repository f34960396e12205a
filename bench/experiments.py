"""What-if variants of ``wsgi:app`` for ``bench.read_path --wsgi``: the app unchanged, with
something added from outside, to measure an optimisation before anyone changes the app for it.

    .venv/bin/python -m bench.read_path --reuse --wsgi "bench.experiments:build('autocommit')"
    .venv/bin/python -m bench.read_path --reuse --routes pages,lean \\
        --wsgi "bench.experiments:build('autocommit', 'lean')"

Settings that are plain configuration need no variant: pass them with ``--env``, e.g.
``--env COMMUNITY_SQLALCHEMY_ENGINE_OPTIONS='{"pool_pre_ping": false}'``.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, abort, request

from community import create_app
from community.extensions import db


def autocommit(app: Flask) -> None:
    """GET and HEAD requests read in autocommit mode: no BEGIN before the first query and no
    ROLLBACK when the session is removed, two round trips fewer per request, and psycopg's
    prepared statements survive (see ``commit_reads``). The queries of one request no longer
    share a snapshot, which a page of questions does not need."""

    def read_without_a_transaction() -> None:
        if request.method in {"GET", "HEAD"}:
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    # First of all hooks: Flask-Login's session loader may query too.
    app.before_request_funcs.setdefault(None, []).insert(0, read_without_a_transaction)


def commit_reads(app: Flask) -> None:
    """GET and HEAD requests end their transaction with COMMIT instead of Flask-SQLAlchemy's
    ROLLBACK. psycopg forgets its prepared statements at every ROLLBACK, so with a rollback per
    request no statement is ever used the five times it takes to be prepared, and PostgreSQL
    plans every query of every request again; a commit keeps them. Same round trips as now."""

    @app.after_request
    def commit_the_read(response):  # type: ignore[no-untyped-def]
        if request.method in {"GET", "HEAD"}:
            db.session.commit()
        return response


LEAN_QUERY = sa.text(
    """
    SELECT q.id, q.subject, q.status, q.reply_count, q.pinned, q.last_activity_at, q.body_html,
           u.name AS author, r.id AS answer_id, r.body_html AS answer_html,
           ru.name AS answer_author
    FROM pages AS p
    JOIN question_pages AS qp ON qp.page_id = p.id
    JOIN questions AS q ON q.id = qp.question_id
    JOIN users AS u ON u.id = q.author_id
    LEFT JOIN replies AS r ON r.id = q.accepted_reply_id AND r.published_at IS NOT NULL
                          AND r.hidden_at IS NULL AND r.deleted_at IS NULL
    LEFT JOIN users AS ru ON ru.id = r.author_id
    WHERE p.url = :url
      AND q.published_at IS NOT NULL AND q.hidden_at IS NULL AND q.deleted_at IS NULL
    ORDER BY q.pinned DESC, q.last_activity_at DESC, q.id DESC
    LIMIT 100
    """
)


def lean(app: Flask) -> None:
    """A floor to compare with, not a proposal: a page's questions (with the accepted answer) as
    JSON from one Core query that selects only the columns shown, through the same app, its
    hooks, session and headers (``--routes lean``)."""
    from community.questions import services

    @app.get("/lean/pages/questions")
    def lean_page_questions() -> dict[str, object]:
        try:
            url = services.canonical_page_url(request.args.get("url", ""))
        except services.InvalidPage:
            abort(400)
        rows = db.session.execute(LEAN_QUERY, {"url": url}).mappings()
        questions = [
            {**row, "last_activity_at": row["last_activity_at"].isoformat()} for row in rows
        ]
        return {"url": url, "questions": questions}


def hello(app: Flask) -> None:
    """bare_app's JSON route inside the real app (``--routes hello``): what every request costs
    before any query, from the app's hooks, session, Flask-Login, the limiter and headers."""

    @app.get("/bench/hello")
    def bench_hello() -> dict[str, object]:
        return {"message": "hello", "questions": [], "next_cursor": None}


VARIANTS = {"autocommit": autocommit, "commit": commit_reads, "lean": lean, "hello": hello}


def build(*names: str) -> Flask:
    """The app with the named variants applied, for gunicorn's ``module:build('name', ...)``."""
    app = create_app()
    for name in names:
        VARIANTS[name](app)
    return app
