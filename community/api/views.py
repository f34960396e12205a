"""The API's routes: parse and validate, call one service, commit, serialise.

Reads use the feature queries with the public viewer (a fixed, small number of queries each);
writes act as the token's account through the same services as the site.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

from community.api import idempotency, openapi, serializers
from community.api.auth import PUBLIC, current_token, current_user, token_required
from community.api.auth import token_rate_limit_key as _per_token
from community.api.bodies import ACCEPT, NEW_QUESTION, NEW_REPLY
from community.api.http import (
    DOCUMENT_MAX_AGE_SECONDS,
    READ_MAX_AGE_SECONDS,
    ApiProblem,
    bad_parameter,
    cacheable,
    json_body,
    private,
)
from community.api.validation import field_error, invalid
from community.errors import DomainError, NotFound
from community.extensions import db, limiter
from community.questions import queries, services, snapshots
from community.questions.models import Question, QuestionStatus, Reply
from community.search import limits as search_limits
from community.search import queries as search_queries
from community.search import terms as search_terms
from community.web import external_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

API_WRITES_LIMIT = "30/minute;500/hour"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_SLUG_LENGTH = 200
MAX_PREFIX_LENGTH = 2000


@bp.errorhandler(ApiProblem)
def _problem(error: ApiProblem) -> Response:
    db.session.rollback()
    return error.response()


@bp.errorhandler(DomainError)
def _broken_rule(error: DomainError) -> Response:
    """A rule of the services was not met: its own status, and 422 for a plain broken rule
    (what the site shows as a message under the form)."""
    db.session.rollback()
    status = 422 if error.status == 400 else error.status
    return ApiProblem(status, _TITLES.get(status, "Request refused"), str(error)).response()


_TITLES = {
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Content",
}


# -- reads: public, the same for everyone, cacheable -----------------------------------------


@bp.get("/pages/questions")
@limiter.exempt  # every docs page asks; answered from a stored rendering in one query
def page_questions() -> Response:
    raw_url = request.args.get("url", "")
    if not raw_url.strip():
        raise bad_parameter("url", "Give the page's address: ?url=https://…")
    try:
        canonical = services.canonical_page_url(raw_url)
    except services.InvalidPage as error:
        raise bad_parameter("url", str(error)) from error
    cursor = _cursor(queries.PageCursor)
    limit = _limit()

    def render(exists: bool = True) -> dict:
        threads = (
            queries.page_threads(
                canonical, PUBLIC, per_page=limit, cursor=cursor, with_replies=True
            )
            if exists
            else queries.PageThreads(canonical, None, [])
        )
        return serializers.page_threads(threads)

    if cursor is None and limit == DEFAULT_LIMIT:  # what the docs pages ask for: stored
        return snapshots.serve(
            canonical,
            "api.page_questions",
            lambda found: current_app.json.dumps(render(found.page_id is not None)) + "\n",
            mimetype="application/json",
            cache_control=f"public, max-age={READ_MAX_AGE_SECONDS}",
        )
    return cacheable(render())


@bp.get("/questions")
def list_questions() -> Response:
    state = request.args.get("state")
    if state is not None and state not in set(QuestionStatus):
        choices = ", ".join(QuestionStatus)
        raise bad_parameter("state", f"Use one of: {choices}.")
    cursor = _cursor(queries.Cursor)
    limit = _limit()
    slug = request.args.get("topic") or None
    topic = queries.topic_by_slug(slug[:200]) if slug else None
    if slug and topic is None:  # no such topic: nothing is filed under it
        return cacheable({"questions": [], "next_cursor": None})
    listing = queries.list_questions(
        PUBLIC,
        per_page=limit,
        topic=topic,
        status=QuestionStatus(state) if state else None,
        before=cursor,
    )
    return cacheable(serializers.question_list(listing))


@bp.get("/search")
@search_limits.search_limit
def search() -> Response:
    text = request.args.get("q", "")
    if not text.strip():
        raise bad_parameter("q", "Give the words to search for: ?q=…")
    query = search_terms.parse(text)
    if query.is_empty:
        raise bad_parameter(
            "q",
            "There is nothing to search for: common words (how, the, …) are left out, and a "
            "search cannot only leave words out (-word).",
        )
    state = request.args.get("state")
    if state is not None and state not in set(QuestionStatus):
        raise bad_parameter("state", f"Use one of: {', '.join(QuestionStatus)}.")
    cursor = _cursor(search_queries.OffsetCursor)
    limit = _limit()
    topic_slug = (request.args.get("topic") or "")[:MAX_SLUG_LENGTH]
    team_slug = (request.args.get("team") or "")[:MAX_SLUG_LENGTH]
    filters = search_queries.SearchFilters(
        topic=queries.topic_by_slug(topic_slug),
        team=queries.team_by_slug(team_slug),
        status=QuestionStatus(state) if state else None,
        page_prefix=request.args.get("page_prefix", "").strip()[:MAX_PREFIX_LENGTH],
    )
    if (topic_slug and filters.topic is None) or (team_slug and filters.team is None):
        # No such topic or team: nothing is filed under it.
        results = search_queries.SearchResults(query)
    else:
        results = search_queries.search(
            query, filters, offset=cursor.offset if cursor else 0, limit=limit
        )
    return cacheable(serializers.search_results(results))


@bp.get("/questions/<int:question_id>")
def show_question(question_id: int) -> Response:
    found = queries.thread(question_id, PUBLIC)
    if found is None:
        raise NotFound("There is no public question with this id.")
    return cacheable(serializers.thread(found))


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return cacheable(openapi.document(), max_age=DOCUMENT_MAX_AGE_SECONDS)


# -- the caller ---------------------------------------------------------------------------------


@bp.get("/me")
@token_required
def me() -> Response:
    response = private(serializers.me(current_token()))
    response.vary.add("Authorization")
    return response


# -- writes: a personal token, the services' rules ----------------------------------------------


@bp.post("/questions")
@token_required
@limiter.limit(API_WRITES_LIMIT, key_func=_per_token)
def create_question() -> Response:
    author = current_user()
    fields = NEW_QUESTION.validate(json_body())
    submission = _submission_key("question", "", fields)
    question = idempotency.earlier_post(Question, author, submission) if submission else None
    if question is None:
        try:
            page = services.resolve_page(fields["page_url"], fields.get("page_title"))
        except services.InvalidPage as error:
            raise invalid([field_error("page_url", str(error))]) from error
        question = services.ask_question(
            author, fields["subject"], fields["body"], page=page, submission_key=submission
        )
    question_id = question.id
    db.session.commit()
    found = queries.thread(question_id, author)
    if found is None:
        raise _gone()
    response = private(serializers.thread(found), 201)
    response.headers["Location"] = external_url("api.show_question", question_id=question_id)
    return response


@bp.post("/questions/<int:question_id>/replies")
@token_required
@limiter.limit(API_WRITES_LIMIT, key_func=_per_token)
def create_reply(question_id: int) -> Response:
    author = current_user()
    fields = NEW_REPLY.validate(json_body())
    question = queries.question_for_update(question_id, author)
    if question is None:
        raise NotFound("There is no question with this id.")
    submission = _submission_key("reply", str(question_id), fields)
    reply = idempotency.earlier_post(Reply, author, submission) if submission else None
    if reply is None:
        reply = services.post_reply(author, question, fields["body"], submission_key=submission)
    reply_id = reply.id
    db.session.commit()
    found = queries.thread(question_id, author)
    shown = None if found is None else _find_reply(found, reply_id)
    if shown is None:
        raise _gone()
    return private(serializers.reply(shown, found.question), 201)


@bp.post("/questions/<int:question_id>/accept")
@token_required
@limiter.limit(API_WRITES_LIMIT, key_func=_per_token)
def accept_answer(question_id: int) -> Response:
    actor = current_user()
    fields = ACCEPT.validate(json_body())
    question = queries.question_for_update(question_id, actor)
    if question is None:
        raise NotFound("There is no question with this id.")
    if fields["reply_id"] is None:
        services.withdraw_answer(actor, question)
    else:
        reply = queries.reply_for_update(fields["reply_id"], actor)
        if reply is None or reply.question_id != question.id:
            raise ApiProblem(
                404,
                "Not Found",
                "That reply is not part of this question.",
                errors=[field_error("reply_id", "is not a reply to this question")],
            )
        services.accept_answer(actor, question, reply)
    db.session.commit()
    found = queries.thread(question_id, actor)
    if found is None:
        raise _gone()
    return private(serializers.thread(found))


# -- helpers -------------------------------------------------------------------------------------


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT):
        raise bad_parameter("limit", f"Use a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def _cursor(
    kind: type[queries.Cursor] | type[queries.PageCursor] | type[search_queries.OffsetCursor],
):
    raw = request.args.get("cursor")
    if raw is None:
        return None
    cursor = kind.decode(raw)
    if cursor is None:
        raise bad_parameter("cursor", "Use the next_cursor of an earlier response, unchanged.")
    return cursor


def _submission_key(kind: str, target: str, fields: dict) -> str | None:
    key = idempotency.key_from_request()
    if key is None:
        return None
    return idempotency.submission_key(current_user(), kind, target, key, fields)


def _find_reply(found: queries.Thread, reply_id: int) -> Reply | None:
    candidates = [*found.replies, *([found.accepted] if found.accepted else [])]
    return next((item for item in candidates if item.id == reply_id), None)


def _gone() -> ApiProblem:
    """What a request made (or an earlier one with its Idempotency-Key) is no longer there."""
    return ApiProblem(409, "Conflict", "What this request made has since been deleted or hidden.")
