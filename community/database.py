"""Engine settings that depend on the database in use.

Flask-SQLAlchemy removes (and so rolls back) the session when the app context ends: whatever a
view did not commit is never kept by accident.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from flask import Flask, request

from community.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 15_000


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        # First of all hooks: Flask-Login's session loader may query too.
        app.before_request_funcs.setdefault(None, []).insert(0, _read_without_a_transaction)
        app.teardown_request(_forget_reading)
        if not sa.event.contains(db.session, "do_orm_execute", _begin_reading):
            sa.event.listen(db.session, "do_orm_execute", _begin_reading)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN and can deadlock two writers; issue
        # BEGIN ourselves so SQLite waits on its busy timeout instead of failing at once.
        sa.event.listen(engine, "begin", _begin_sqlite)
        app.before_request(_writers_take_the_lock_first)


def _read_without_a_transaction() -> None:
    """GET and HEAD requests read on PostgreSQL in autocommit mode.

    No BEGIN before the first query and no ROLLBACK when the session is removed: two round trips
    fewer per page view, and psycopg's prepared statements survive (a ROLLBACK discards them, so
    every query of every request was planned again: for a doc page's questions that planning cost
    more than running the query; see bench/README.md). The queries of one page view no longer
    share a snapshot, which no page needs. GETs change nothing (a test walks every GET route and
    compares the whole database), so there is no transaction to lose; the exceptions are the GETs
    that protocols make write, which keep their transaction.
    """
    # Lazily: the connection is taken (and pinged) at the first query, not before a view that
    # makes none (static files, redirects, 304s). Set on every request, so that a session shared
    # by two requests (a test's app context) never carries a GET's choice into a POST.
    reads = request.method in {"GET", "HEAD"} and request.endpoint not in WRITING_GETS
    if not reads:
        _start_afresh()
    db.session.info[_READ_WITHOUT_A_TRANSACTION] = reads


def _forget_reading(_error: BaseException | None) -> None:
    db.session.info.pop(_READ_WITHOUT_A_TRANSACTION, None)


def _start_afresh() -> None:
    """A request that may write begins its own transaction. In service every request has a
    session of its own; but a session that outlives a request (an app context kept open around
    several, as tests do) may still hold the connection an earlier read took, in autocommit on
    PostgreSQL or without the write lock on SQLite. End that first."""
    session = db.session()
    if session.in_transaction():
        session.rollback()


_READ_WITHOUT_A_TRANSACTION = "community.read_without_a_transaction"


def connection() -> sa.Connection:
    """The request's connection, for Core statements on a hot path (``session.execute`` finds
    it by itself): in autocommit mode when the request reads without a transaction."""
    session = db.session()
    if session.info.pop(_READ_WITHOUT_A_TRANSACTION, False) and not session.in_transaction():
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session.connection()


def _begin_reading(state: Any) -> None:
    """Before the request's first statement through the session: take the connection in
    autocommit mode if the request reads without a transaction."""
    session = state.session
    if session.info.pop(_READ_WITHOUT_A_TRANSACTION, False) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


# An identity provider sends the browser back with a GET that signs in (and may create the
# account and link an identity): all of it, or none.
WRITING_GETS = frozenset({"oauth.callback"})


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; BEGIN comes from _begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


SQLITE_IMMEDIATE = "sqlite_begin_immediate"


def _writers_take_the_lock_first() -> None:
    """A request that may write starts its transaction with BEGIN IMMEDIATE.

    In WAL mode a transaction that read first and then writes fails at once ("database is
    locked", no waiting) if another connection committed in between. Taking the write lock up
    front makes concurrent writers queue on the busy timeout instead, so twenty people posting at
    once all succeed. Reads (GET) keep running alongside.
    """
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        _start_afresh()
        db.session.connection(execution_options={SQLITE_IMMEDIATE: True})
