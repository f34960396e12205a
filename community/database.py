"""Engine settings that depend on the database in use.

Flask-SQLAlchemy removes (and so rolls back) the session when the app context ends: whatever a
view did not commit is never kept by accident.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from flask import Flask

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


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; BEGIN comes from _begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")
