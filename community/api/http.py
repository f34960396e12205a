"""The HTTP mechanics every API response shares: problem documents, JSON request bodies,
conditional GETs and CORS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import jsonify, request
from werkzeug.wrappers import Response

from community.accounts.cookies import is_api_request
from community.web import problem

# A question's body may be 20,000 characters; escaped as \uXXXX that is 120 kB of JSON.
MAX_REQUEST_BYTES = 256 * 1024
READ_MAX_AGE_SECONDS = 30
DOCUMENT_MAX_AGE_SECONDS = 300
# Which request headers a cross-origin page may send, and which response headers it may read.
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-None-Match"
EXPOSED_RESPONSE_HEADERS = (
    "ETag, Location, Retry-After, WWW-Authenticate, "
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
PREFLIGHT_MAX_AGE_SECONDS = 600


class ApiProblem(Exception):
    """Raised anywhere in an API view; answered as an RFC 9457 problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> Response:
        response = problem(self.status, self.title, self.detail, **self.extra)
        response.headers.update(self.headers)
        return response


def bad_parameter(name: str, detail: str) -> ApiProblem:
    return ApiProblem(
        400, "Invalid query parameter", detail, errors=[{"parameter": name, "detail": detail}]
    )


def json_body() -> Any:
    """The request's JSON document; 415 unless it is sent as UTF-8 ``application/json``, 413 when
    too large, 400 when it does not parse."""
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if (
        request.mimetype != "application/json"
        or charset not in {"utf-8", "utf8"}
        or request.content_encoding
    ):
        raise ApiProblem(
            415,
            "Unsupported Media Type",
            "Send the body as JSON in UTF-8, with Content-Type: application/json.",
            headers={"Accept-Post": "application/json"},
        )
    too_large = ApiProblem(
        413, "Content Too Large", f"Keep the body under {MAX_REQUEST_BYTES:,} bytes."
    )
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        raise too_large
    raw = request.stream.read(MAX_REQUEST_BYTES + 1)  # never more, whatever the stream holds
    if len(raw) > MAX_REQUEST_BYTES:
        raise too_large
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ApiProblem(400, "Malformed JSON", "The body is not a valid JSON document.") from error


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def cacheable(payload: Any, max_age: int = READ_MAX_AGE_SECONDS) -> Response:
    """A public read: the same for every client, so any cache may keep it for ``max_age``
    seconds, and an ``If-None-Match`` with its ETag gets a 304 without the body."""
    response = jsonify(payload)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.add_etag()
    return response.make_conditional(request)


def private(payload: Any, status: int = 200) -> Response:
    """A response about the caller (their account, what they just wrote): never stored."""
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def api_response_headers(response: Response) -> Response:
    """CORS for every ``/api/`` response, errors included, and preflights answered.

    The allowed origin is the constant ``*`` and credentials are never allowed: nothing in the API
    depends on cookies or on the Origin, so no page gains anything by calling it from a browser
    that it could not get with curl. Because the headers never vary by Origin, responses need no
    ``Vary: Origin``.
    """
    if not is_api_request(request):
        return response
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED_RESPONSE_HEADERS
    if request.method == "OPTIONS":
        headers["Access-Control-Allow-Methods"] = headers.get("Allow", "GET, HEAD, POST, OPTIONS")
        headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    # Only successful reads say they may be cached; errors and writes never are.
    headers.setdefault("Cache-Control", "no-store")
    return response
