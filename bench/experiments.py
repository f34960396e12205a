"""What-if variants of ``wsgi:app`` for ``bench.read_path --wsgi``: the app unchanged, with one
thing added from outside, to measure an optimisation before anyone changes the app for it.

    .venv/bin/python -m bench.read_path --reuse --wsgi bench.experiments:autocommit_reads

Settings that are plain configuration need no variant: pass them with ``--env``, e.g.
``--env COMMUNITY_SQLALCHEMY_ENGINE_OPTIONS='{"pool_pre_ping": false}'``.
"""

from __future__ import annotations

from flask import Flask, request

from community import create_app
from community.extensions import db


def _autocommit_reads(app: Flask) -> Flask:
    """GET and HEAD requests read in autocommit mode: no BEGIN before the first query and no
    ROLLBACK when the session is removed, two round trips fewer per request. The queries of one
    request no longer share a snapshot, which a page of questions does not need."""

    @app.before_request
    def _read_without_a_transaction() -> None:
        if request.method in {"GET", "HEAD"}:
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    # Before every other hook (the session loader of Flask-Login runs queries too).
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, hooks.pop())
    return app


autocommit_reads = _autocommit_reads(create_app())
