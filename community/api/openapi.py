"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Request bodies come from the same declarations that validate them (``views.NEW_QUESTION`` ...);
response schemas are strict (every field listed and required, no others), so the tests that check
real responses against them catch any drift between this document and the serialisers.
"""

from __future__ import annotations

import functools
from typing import Any

from community.api import http
from community.api.bodies import ACCEPT, EXAMPLE_PAGE, NEW_QUESTION, NEW_REPLY
from community.db import MAX_ID
from community.questions.models import QuestionStatus
from community.search import terms as search_terms

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(description: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601, in UTC."}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri"}
ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
CURSOR = {
    "type": ["string", "null"],
    "description": "Pass as `cursor` for the next page; null on the last page.",
}


def _question_properties() -> dict[str, Any]:
    return {
        "id": ROW_ID,
        "subject": {"type": "string"},
        "body_markdown": {"type": "string", "description": "What the author wrote (Markdown)."},
        "body_html": {"type": "string", "description": "The Markdown rendered and sanitised."},
        "author": _ref("Author"),
        "created_at": TIMESTAMP,
        "edited_at": NULLABLE_TIMESTAMP,
        "last_activity_at": TIMESTAMP,
        "published": {
            "type": "boolean",
            "description": "False only for the author's own question, held until they confirm "
            "their email address.",
        },
        "status": {"type": "string", "enum": [status.value for status in QuestionStatus]},
        "accepted_reply_id": {"type": ["integer", "null"]},
        "reply_count": {"type": "integer", "minimum": 0},
        "pinned": {"type": "boolean"},
        "locked": {"type": "boolean", "description": "A locked thread takes no more replies."},
        "topic": _nullable(_ref("Topic")),
        "page": _nullable(_ref("Page")),
        "html_url": {**URL, "description": "The thread on the site."},
    }


def _schemas() -> dict[str, Any]:
    replies = {"type": "array", "items": _ref("Reply"), "description": "Oldest first."}
    return {
        "Author": _object(
            "Who wrote it (never their email address).",
            id=ROW_ID,
            name={"type": "string", "description": "“deleted user” for deleted accounts."},
        ),
        "Page": _object(
            "A documentation page.",
            url={**URL, "description": "The page's canonical address."},
            title={"type": "string"},
        ),
        "Topic": _object(
            "The topic (and so the team) a question belongs to.",
            slug={"type": "string"},
            name={"type": "string"},
        ),
        "Reply": _object(
            "A reply.",
            id=ROW_ID,
            question_id=ROW_ID,
            body_markdown={"type": "string"},
            body_html={"type": "string"},
            author=_ref("Author"),
            created_at=TIMESTAMP,
            edited_at=NULLABLE_TIMESTAMP,
            published={"type": "boolean"},
            accepted={"type": "boolean", "description": "The asker accepted it as the answer."},
            html_url=URL,
        ),
        "Question": _object("A question, without its replies.", **_question_properties()),
        "Thread": _object(
            "A question with its replies.", **_question_properties(), replies=replies
        ),
        "QuestionList": _object(
            "Questions, most recent activity first.",
            questions={"type": "array", "items": _ref("Question")},
            next_cursor=CURSOR,
        ),
        "PageQuestions": _object(
            "A documentation page's questions: pinned first, then by latest activity.",
            page=_ref("Page"),
            questions={"type": "array", "items": _ref("Thread")},
            next_cursor=CURSOR,
        ),
        "SearchResult": _object(
            "A question that matches, with the matched words marked.",
            question=_ref("Question"),
            subject_html={
                "type": "string",
                "description": "The subject as HTML: escaped text whose matched words are in "
                "`<mark>` elements (the only elements it contains).",
            },
            excerpt_html={
                "type": "string",
                "description": "A short excerpt of the question's body, as `subject_html`.",
            },
        ),
        "SearchResults": _object(
            "Public questions matching a search, best match first.",
            query={"type": "string", "description": "The search as it was run (trimmed)."},
            notices={
                "type": "array",
                "items": {"type": "string"},
                "description": "What was changed in the search to run it (e.g. a very long "
                "search is cut short).",
            },
            results={"type": "array", "items": _ref("SearchResult")},
            next_cursor=CURSOR,
        ),
        "Me": _object(
            "The account the token belongs to, and the token.",
            id=ROW_ID,
            name={"type": "string"},
            role={"type": "string", "enum": ["member", "team", "moderator", "admin"]},
            verified={"type": "boolean", "description": "Posts of unverified accounts are held."},
            token=_object(
                "The token this request was made with.",
                id=ROW_ID,
                name={"type": "string"},
                prefix={"type": "string", "description": "Its first characters."},
                created_at=TIMESTAMP,
                last_used_at=NULLABLE_TIMESTAMP,
            ),
        ),
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem document.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
            "required": ["type", "title", "status"],
        },
        "FieldError": {
            "type": "object",
            "description": "What is wrong with one field (`pointer`) or query parameter.",
            "properties": {
                "pointer": {"type": "string", "description": "JSON Pointer, e.g. `#/subject`."},
                "field": {"type": "string"},
                "parameter": {"type": "string"},
                "detail": {"type": "string"},
            },
            "required": ["detail"],
            "additionalProperties": False,
        },
        NEW_QUESTION.name: NEW_QUESTION.schema(),
        NEW_REPLY.name: NEW_REPLY.schema(),
        ACCEPT.name: ACCEPT.schema(),
    }


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


RESPONSES = {
    "NotModified": {
        "description": "Not Modified: the `If-None-Match` ETag is still current.",
        "headers": {"ETag": {"schema": {"type": "string"}}},
    },
    "BadRequest": _problem("Bad Request: a query parameter, header or the JSON is malformed."),
    "Unauthorized": _problem(
        "Unauthorized: no token, or a revoked or unknown one.",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    ),
    "Forbidden": _problem("Forbidden: the account is suspended, or may not do this."),
    "NotFound": _problem("Not Found (also for hidden, deleted and held questions)."),
    "Conflict": _problem("Conflict: the thread's state does not allow this now."),
    "TooLarge": _problem(f"Content Too Large: the body is over {http.MAX_REQUEST_BYTES} bytes."),
    "UnsupportedMediaType": _problem("Unsupported Media Type: send `application/json`."),
    "Unprocessable": _problem("Unprocessable Content: see the problem's `errors`."),
    "TooManyRequests": _problem(
        "Too Many Requests: wait `Retry-After` seconds.",
        {"Retry-After": {"schema": {"type": "string"}}},
    ),
}


def _response_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {"required": True, "schema": {"type": "string"}},
            "Cache-Control": {"required": True, "schema": {"type": "string"}},
        },
        "content": {JSON: {"schema": _ref(schema)}},
    }


def _created(schema: str, description: str, location: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema)}},
    }
    if location:
        response["headers"] = {"Location": {"required": True, "schema": URL}}
    return response


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


PARAMETERS = {
    "QuestionId": {
        "name": "question_id",
        "in": "path",
        "required": True,
        "schema": ROW_ID,
    },
    "Cursor": {
        "name": "cursor",
        "in": "query",
        "description": "`next_cursor` from the previous page, unchanged.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    },
    "Limit": {
        "name": "limit",
        "in": "query",
        "description": "Questions per page.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "description": "The ETag you have: an unchanged resource answers 304 without a body.",
        "schema": {"type": "string"},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "Makes a retried POST return what the first one made, not a second "
        "post. Reusing a key with a different body is refused (422).",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    },
}

READ_ERRORS = {"304": _response_ref("NotModified"), "400": _response_ref("BadRequest")}
WRITE_ERRORS = {
    "400": _response_ref("BadRequest"),
    "401": _response_ref("Unauthorized"),
    "403": _response_ref("Forbidden"),
    "413": _response_ref("TooLarge"),
    "415": _response_ref("UnsupportedMediaType"),
    "422": _response_ref("Unprocessable"),
    "429": _response_ref("TooManyRequests"),
}
TOKEN = [{"bearerToken": []}]


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(name)}}}


def _paths() -> dict[str, Any]:
    return {
        "/pages/questions": {
            "get": {
                "operationId": "listPageQuestions",
                "summary": "A documentation page's questions, with their replies",
                "description": "An unknown page has no questions (200, empty list).",
                "parameters": [
                    {
                        "name": "url",
                        "in": "query",
                        "required": True,
                        "description": "The page's address, in any spelling.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 2000,
                            "examples": [EXAMPLE_PAGE],
                        },
                    },
                    _param("Cursor"),
                    _param("Limit"),
                    _param("IfNoneMatch"),
                ],
                "responses": {"200": _ok("PageQuestions", "The page's questions."), **READ_ERRORS},
            }
        },
        "/questions": {
            "get": {
                "operationId": "listQuestions",
                "summary": "Every published question, most recent activity first",
                "parameters": [
                    {
                        "name": "topic",
                        "in": "query",
                        "description": "A topic's slug; an unknown topic has no questions.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in QuestionStatus]},
                    },
                    _param("Cursor"),
                    _param("Limit"),
                    _param("IfNoneMatch"),
                ],
                "responses": {"200": _ok("QuestionList", "A page of questions."), **READ_ERRORS},
            },
            "post": {
                "operationId": "askQuestion",
                "summary": "Ask a question about a documentation page",
                "description": "Questions of accounts whose email address is not confirmed yet "
                "are held (`published: false`) until it is.",
                "security": TOKEN,
                "parameters": [_param("IdempotencyKey")],
                "requestBody": _body("NewQuestion"),
                "responses": {
                    "201": _created("Thread", "The new question.", location=True),
                    **WRITE_ERRORS,
                    "409": _response_ref("Conflict"),
                },
            },
        },
        "/search": {
            "get": {
                "operationId": "searchQuestions",
                "summary": "Search public questions and their replies",
                "description": SEARCH_DESCRIPTION,
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "description": "The words to look for. Longer searches are cut at "
                        f"{search_terms.MAX_QUERY_CHARS} characters and "
                        f"{search_terms.MAX_TERMS} words (see `notices`).",
                        "schema": {"type": "string", "minLength": 1, "examples": ["sampling rate"]},
                    },
                    {
                        "name": "topic",
                        "in": "query",
                        "description": "A topic's slug; an unknown topic has no questions.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "team",
                        "in": "query",
                        "description": "A team's slug: questions of its topics; an unknown team "
                        "has none.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in QuestionStatus]},
                    },
                    {
                        "name": "page_prefix",
                        "in": "query",
                        "description": "Only questions asked on doc pages whose canonical "
                        "address starts with this.",
                        "schema": {"type": "string", "examples": ["https://docs.example.com/"]},
                    },
                    _param("Cursor"),
                    _param("Limit"),
                    _param("IfNoneMatch"),
                ],
                "responses": {
                    "200": _ok("SearchResults", "A page of results."),
                    **READ_ERRORS,
                    "429": _response_ref("TooManyRequests"),
                },
            }
        },
        "/questions/{question_id}": {
            "get": {
                "operationId": "getQuestion",
                "summary": "One question with its replies",
                "parameters": [_param("QuestionId"), _param("IfNoneMatch")],
                "responses": {
                    "200": _ok("Thread", "The question and its replies, oldest first."),
                    "304": _response_ref("NotModified"),
                    "404": _response_ref("NotFound"),
                },
            }
        },
        "/questions/{question_id}/replies": {
            "post": {
                "operationId": "replyToQuestion",
                "summary": "Reply to a question",
                "security": TOKEN,
                "parameters": [_param("QuestionId"), _param("IdempotencyKey")],
                "requestBody": _body("NewReply"),
                "responses": {
                    "201": _created("Reply", "The new reply."),
                    **WRITE_ERRORS,
                    "403": _problem("Forbidden: the thread is locked, or the account suspended."),
                    "404": _response_ref("NotFound"),
                    "409": _response_ref("Conflict"),
                },
            }
        },
        "/questions/{question_id}/accept": {
            "post": {
                "operationId": "acceptAnswer",
                "summary": "Accept a reply as the answer, or withdraw the accepted answer",
                "description": "Only the asker (or a moderator) may.",
                "security": TOKEN,
                "parameters": [_param("QuestionId")],
                "requestBody": _body("AcceptAnswer"),
                "responses": {
                    "200": _created("Thread", "The question, answered (or no longer)."),
                    **WRITE_ERRORS,
                    "404": _response_ref("NotFound"),
                    "409": _response_ref("Conflict"),
                },
            }
        },
        "/me": {
            "get": {
                "operationId": "getMe",
                "summary": "The account of the token",
                "security": TOKEN,
                "responses": {
                    "200": {
                        "description": "The account and the token.",
                        "content": {JSON: {"schema": _ref("Me")}},
                    },
                    "401": _response_ref("Unauthorized"),
                    "403": _response_ref("Forbidden"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenAPIDocument",
                "summary": "This document",
                "parameters": [_param("IfNoneMatch")],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                    "304": _response_ref("NotModified"),
                },
            }
        },
    }


SEARCH_DESCRIPTION = """\
Words are all required; `"a phrase"` must appear as written, `or` between two words accepts
either, and `-word` leaves out questions that have it. Common English words (how, the, …) are
ignored and words match their other forms (configure, configured, configuring). The subject
weighs most, then the body, the accepted answer and the other replies; a subject that is exactly
the search comes first, and questions with an accepted answer rank higher. Hidden, deleted and
held posts are never found. A search with nothing to look for is a 400. Searches are
rate-limited per address (429 with `Retry-After`).
"""

DESCRIPTION = """\
Questions and answers under documentation pages.

**Reads** need no authentication and are the same for everyone: any origin may call them
(`Access-Control-Allow-Origin: *`, never with credentials), and they are cacheable (`ETag`,
`Cache-Control: public, max-age=30`; send `If-None-Match` for a 304).

**Writes** and `/me` need a personal API token, created in account settings (or with
`flask users token EMAIL`), sent as `Authorization: Bearer <token>`. Cookies are ignored.
Writes are rate-limited per token (`429` with `Retry-After`).

**Errors** are `application/problem+json` (RFC 9457); a body that fails validation gets 422
with one entry per field in `errors`.
"""


@functools.cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Community API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": RESPONSES,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token from account settings.",
                }
            },
        },
    }
