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
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN and can deadlock two writers; issue
        # BEGIN ourselves so SQLite waits on its busy timeout instead of failing at once.
        sa.event.listen(engine, "begin", _begin_sqlite)
        app.before_request(_writers_take_the_lock_first)


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
        db.session.connection(execution_options={SQLITE_IMMEDIATE: True})
