"""How requests use the database: reads on PostgreSQL run without a transaction, and take a
connection only when they query; writes always run in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from community.extensions import db
from community.questions.models import Question

DOC = "https://docs.example.com/docs/session-replay/setup"


@contextmanager
def watching(app: Flask) -> Iterator[dict[str, list]]:
    """Connections taken from the pool, and each statement's isolation level as the request
    asked for it (AUTOCOMMIT, or None: the transaction the driver begins)."""
    seen: dict[str, list] = {"checkouts": [], "levels": []}
    with app.app_context():
        engine = db.engine

    def checkout(*_args: Any) -> None:
        seen["checkouts"].append(1)

    def statement(connection: sa.Connection, *_args: Any) -> None:
        seen["levels"].append(connection.get_execution_options().get("isolation_level"))

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "checkout", checkout)
        sa.event.remove(engine, "before_cursor_execute", statement)


def test_a_read_that_makes_no_query_takes_no_connection(app, client):
    with watching(app) as seen:
        static = client.get("/static/css/app.css")
        static.close()
        assert static.status_code == 200
        assert client.get("/questions/not-a-number").status_code == 404
    assert seen == {"checkouts": [], "levels": []}
    with watching(app) as seen:
        assert client.get("/questions").status_code == 200
    assert len(seen["checkouts"]) == 1 and seen["levels"]


def test_reads_run_without_a_transaction_on_postgresql(app, client, make, dialect):
    make.question(make.user(), "Stored or not", page_url=DOC)
    with watching(app) as seen:
        assert client.get("/questions").status_code == 200
        assert client.get("/api/v1/pages/questions", query_string={"url": DOC}).status_code == 200
    assert seen["levels"]
    expected = "AUTOCOMMIT" if dialect == "postgresql" else None
    # Storing a page's rendering on its first read is one statement, kept at once either way.
    assert set(seen["levels"]) == {expected}


def test_writes_run_in_a_transaction_even_after_a_read_in_the_same_session(app, client, make, auth):
    """A test (or any caller) may keep one app context, and so one session, for several
    requests: a GET's way of reading must never reach the POST after it."""
    auth.login_as(make.user(email="writer@example.com"))
    with app.app_context(), watching(app) as seen:
        static = client.get("/static/css/app.css")
        static.close()
        assert static.status_code == 200
        assert client.get("/questions").status_code == 200  # a read that queries
        seen["levels"].clear()
        response = client.post(
            "/ask",
            data={"subject": "Written in one transaction", "body": "All of it, or none."},
        )
        assert response.status_code in {302, 303}, response.get_data(as_text=True)
    assert seen["levels"] and set(seen["levels"]) == {None}
    assert make.count(Question, Question.subject == "Written in one transaction") == 1
