"""The JSON answer to "which questions look like the one being typed?", shared by the site's
ask forms and the embed's: the same shape, whichever route serves it."""

from __future__ import annotations

from flask import jsonify, request, url_for
from werkzeug.wrappers import Response

from community.questions import services as question_services
from community.search import queries

# The browser may reuse an answer for the same subject for a minute. Not a shared cache: a
# signed-in visitor's response carries their refreshed session cookie.
SIMILAR_CACHE_CONTROL = "private, max-age=60"
MAX_SUBJECT_CHARS = 300


def similar_response(page_url: str | None = None) -> Response:
    """``?subject=`` (and ``?url=``, the doc page, when the caller did not resolve it already):
    up to five public questions, each with its thread's address."""
    subject = request.args.get("subject", "")[:MAX_SUBJECT_CHARS]
    if page_url is None:
        page_url = _canonical_or_none(request.args.get("url", ""))
    found = queries.similar(subject, page_url=page_url)
    response = jsonify(
        questions=[
            {
                "id": item.id,
                "subject": item.subject,
                "url": url_for("questions.show", question_id=item.id, slug=item.slug),
                "status": item.status,
                "resolved": item.resolved,
                "same_page": item.same_page,
                "reply_count": item.reply_count,
            }
            for item in found
        ]
    )
    response.headers["Cache-Control"] = SIMILAR_CACHE_CONTROL
    return response


def _canonical_or_none(raw: str) -> str | None:
    if not raw.strip():
        return None
    try:
        return question_services.canonical_page_url(raw)
    except question_services.InvalidPage:
        return None  # suggestions still come, without preferring a page
