"""The site's similar-questions lookup, which the ask forms call while a visitor types.

Search itself is served where its results are shown: ``/questions?q=`` (questions.views) and
``/api/v1/search`` (api.views).
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from community.search import http, limits

bp = Blueprint("search", __name__)


@bp.get("/questions/similar")
@limits.similar_limit
def similar() -> Response:
    """``?subject=…&url=…``: up to five similar public questions as JSON (GET, no CSRF token,
    cacheable by the browser for a minute)."""
    return http.similar_response()
