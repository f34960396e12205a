from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from community.extensions import db
from community.jobs import services

bp = Blueprint("jobs", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    """For load balancers and monitoring: database reachable, queue age, dead jobs."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        queue = services.queue_health()
    except sa.exc.SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok", jobs=queue), 200
