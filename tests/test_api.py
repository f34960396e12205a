"""The JSON API (/api/v1) through HTTP: reads, writes with personal tokens, errors, caching, CORS,
and the OpenAPI document.

Every request made through the ``api`` fixture is checked against the OpenAPI document the app
serves: its status must be documented for that operation, and its body must match the documented
schema. So each test here is also a test that the document matches the implementation.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from community.accounts import services as account_services
from community.accounts.models import ApiToken, User
from community.db import MAX_ID
from community.extensions import db
from community.questions.models import Page, PageSnapshot, Question, Reply, Topic
from tests.conftest import PASSWORD

DOC = "https://docs.example.com/docs/session-replay/setup"
OTHER_DOC = "https://docs.example.com/docs/feature-flags"
API = "/api/v1"
_UNSET = object()


# -- the document, and a client that checks every response against it ----------------------------


def _path_template(app: Flask, path: str, method: str) -> str | None:
    """The document's path for a request (``/questions/{question_id}``), None if no route."""
    from werkzeug.exceptions import HTTPException

    adapter = app.url_map.bind("localhost")
    try:
        rule, _args = adapter.match(path.split("?")[0], method=method, return_rule=True)
    except HTTPException:
        return None
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix(API)


class Document:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:community-api", resource)

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        if "$ref" in schema:
            schema = {"$ref": "urn:community-api" + schema["$ref"]}
        return Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def check(self, template: str, method: str, response) -> None:
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {template} answered {status}, which the document does not list"
        )
        documented = self.resolve(operation["responses"][status])
        for name, header in documented.get("headers", {}).items():
            if self.resolve(header).get("required"):
                assert name in response.headers, (method, template, status, name)
        content = documented.get("content")
        if not content:
            assert not response.get_data(), (method, template, status)
            return
        assert response.mimetype in content, (method, template, status, response.mimetype)
        errors = list(
            self.validator(content[response.mimetype]["schema"]).iter_errors(response.get_json())
        )
        assert not errors, (method, template, status, [e.message for e in errors[:5]])


@pytest.fixture
def document(app: Flask) -> Document:
    response = app.test_client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    return Document(response.get_json())


class ApiClient:
    """Calls the API and checks every answer against the OpenAPI document."""

    def __init__(self, client: FlaskClient, document: Document) -> None:
        self.client = client
        self.document = document
        self.checked: set[tuple[str, str, int]] = set()

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = _UNSET,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not _UNSET:
            kwargs["data"] = json.dumps(json_body)
            kwargs.setdefault("content_type", "application/json")
        response = self.client.open(API + path, method=method, headers=headers, **kwargs)
        template = _path_template(self.client.application, API + path, method)
        if template is not None and method in {"GET", "POST"}:
            self.document.check(template, method, response)
            self.checked.add((method, template, response.status_code))
        return response

    def get(self, path: str, **kwargs: Any):
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = _UNSET, **kwargs: Any):
        return self.call("POST", path, json_body=json_body, **kwargs)


@pytest.fixture
def api(client: FlaskClient, document: Document) -> ApiClient:
    return ApiClient(client, document)


def new_token(app: Flask, user_id: int, name: str = "tests") -> str:
    with app.app_context():
        _row, secret = account_services.create_api_token(db.session.get(User, user_id), name)
        db.session.commit()
        return secret


def assert_problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    return body


def pointers(response) -> set[str]:
    return {error.get("pointer") for error in response.get_json().get("errors", [])}


# -- a small world: a doc page with answered, hidden, held and deleted questions ---------------


@dataclass
class World:
    asker: int
    helper: int
    moderator: int
    unverified: int
    question: int  # on DOC, with two public replies, the helper's accepted
    answer: int
    asker_reply: int
    hidden_reply: int
    second: int  # on DOC, unanswered
    hidden: int
    deleted: int
    held: int
    other_page: int  # on OTHER_DOC
    asker_token: str
    helper_token: str


@pytest.fixture
def world(app: Flask, make) -> World:
    asker = make.user(name="Ada Asker", email="ada@example.com")
    helper = make.user(name="Hal Helper", email="hal@example.com")
    moderator = make.moderator(name="Mo Moderator", email="mo@example.com")
    unverified = make.user(name="Una Unverified", email="una@example.com")
    make.update(User, unverified, email_verified_at=None)
    make.topic(prefix="/docs/session-replay")
    question = make.question(asker, subject="Recordings stop", body="They **stop**.", page_url=DOC)
    answer = make.reply(question, helper, body="Call `init` *once*.")
    asker_reply = make.reply(question, asker, body="Thanks!")
    hidden_reply = make.reply(question, helper, body="Spam spam spam")
    make.update(Reply, hidden_reply, hidden_at=datetime.now(UTC))
    make.accept(answer, asker)
    second = make.question(helper, subject="Sampling rates", page_url=DOC)
    hidden = make.question(helper, subject="Hidden question", page_url=DOC)
    make.update(Question, hidden, hidden_at=datetime.now(UTC))
    deleted = make.question(asker, subject="Deleted question", page_url=DOC)
    make.update(Question, deleted, deleted_at=datetime.now(UTC))
    held = make.question(unverified, subject="Held question", page_url=DOC)
    other_page = make.question(helper, subject="Flags for ten percent", page_url=OTHER_DOC)
    return World(
        asker=asker,
        helper=helper,
        moderator=moderator,
        unverified=unverified,
        question=question,
        answer=answer,
        asker_reply=asker_reply,
        hidden_reply=hidden_reply,
        second=second,
        hidden=hidden,
        deleted=deleted,
        held=held,
        other_page=other_page,
        asker_token=new_token(app, asker),
        helper_token=new_token(app, helper),
    )


PRIVATE_TEXT = ("@example.com", "Spam spam", "Hidden question", "Deleted question", "Held question")


def assert_nothing_private(response) -> None:
    text = response.get_data(as_text=True)
    for private in PRIVATE_TEXT:
        assert private not in text, private


# -- reads -------------------------------------------------------------------------------------


def test_page_questions_are_the_public_threads_with_their_replies(api, world):
    response = api.get("/pages/questions", query_string={"url": DOC})
    assert response.status_code == 200
    body = response.get_json()
    assert body["page"] == {"url": DOC, "title": ""}
    assert [q["id"] for q in body["questions"]] == [world.second, world.question]
    assert body["next_cursor"] is None
    thread = body["questions"][1]
    assert thread["subject"] == "Recordings stop"
    assert thread["body_markdown"] == "They **stop**."
    assert thread["body_html"] == "<p>They <strong>stop</strong>.</p>"
    assert thread["author"] == {"id": world.asker, "name": "Ada Asker"}
    assert thread["status"] == "resolved"
    assert thread["accepted_reply_id"] == world.answer
    assert thread["reply_count"] == 3  # counted when published; one was hidden later
    assert thread["page"] == {"url": DOC, "title": ""}
    assert thread["topic"]["name"] == "Session replay"
    assert thread["html_url"] == f"http://localhost/questions/{world.question}-recordings-stop"
    assert thread["published"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", thread["created_at"])
    assert [r["id"] for r in thread["replies"]] == [world.answer, world.asker_reply]
    answer = thread["replies"][0]
    assert answer["accepted"] is True
    assert answer["body_markdown"] == "Call `init` *once*."
    assert answer["body_html"] == "<p>Call <code>init</code> <em>once</em>.</p>"
    assert answer["author"] == {"id": world.helper, "name": "Hal Helper"}
    assert answer["html_url"].endswith(
        f"/questions/{world.question}-recordings-stop#reply-{world.answer}"
    )
    assert thread["replies"][1]["accepted"] is False
    assert_nothing_private(response)


@pytest.mark.parametrize(
    "spelling",
    [
        DOC + "/",
        DOC + "/index.html",
        DOC + "?utm_source=x#install",
        "HTTPS://DOCS.EXAMPLE.COM:443/docs//session-replay/./setup",
    ],
)
def test_every_spelling_of_a_page_url_means_the_same_page(api, world, spelling):
    body = api.get("/pages/questions", query_string={"url": spelling}).get_json()
    assert body["page"]["url"] == DOC
    assert [q["id"] for q in body["questions"]] == [world.second, world.question]


def test_an_unknown_page_has_no_questions(api, world):
    response = api.get("/pages/questions", query_string={"url": "https://docs.example.com/new"})
    assert response.status_code == 200
    assert response.get_json() == {
        "page": {"url": "https://docs.example.com/new", "title": ""},
        "questions": [],
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "javascript:alert(1)",
        "ftp://docs.example.com/x",
        "https://",
        "https://user:pw@docs.example.com/x",
        "https://docs.example.com/" + "a" * 3000,
    ],
)
def test_an_invalid_page_url_is_a_bad_request(api, url):
    body = assert_problem(api.get("/pages/questions", query_string={"url": url}), 400)
    assert body["errors"][0]["parameter"] == "url"


def test_a_missing_page_url_is_a_bad_request(api):
    assert_problem(api.get("/pages/questions"), 400)


@pytest.mark.parametrize("app_config", [{"PAGE_ALLOWED_ORIGINS": ["https://docs.example.com"]}])
def test_pages_of_other_sites_are_refused(api, world):
    assert api.get("/pages/questions", query_string={"url": DOC}).status_code == 200
    body = assert_problem(
        api.get("/pages/questions", query_string={"url": "https://evil.test/docs"}), 400
    )
    assert "documentation" in body["detail"]


def test_page_questions_are_paginated_by_cursor(api, make, world):
    extra = [make.question(world.helper, page_url=DOC) for _ in range(3)]
    seen, cursor = [], None
    for _ in range(5):
        query = {"url": DOC, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/pages/questions", query_string=query).get_json()
        seen += [q["id"] for q in body["questions"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [*reversed(extra), world.second, world.question]


def test_list_questions_by_latest_activity_with_filters_and_cursor(api, make, world):
    body = api.get("/questions").get_json()
    assert [q["id"] for q in body["questions"]] == [world.other_page, world.second, world.question]
    assert "replies" not in body["questions"][0]
    assert_nothing_private(api.get("/questions"))
    resolved = api.get("/questions", query_string={"state": "resolved"}).get_json()
    assert [q["id"] for q in resolved["questions"]] == [world.question]
    first = api.get("/questions", query_string={"limit": 2}).get_json()
    assert [q["id"] for q in first["questions"]] == [world.other_page, world.second]
    rest = api.get("/questions", query_string={"limit": 2, "cursor": first["next_cursor"]})
    assert [q["id"] for q in rest.get_json()["questions"]] == [world.question]
    assert rest.get_json()["next_cursor"] is None


def test_list_questions_by_topic(api, app, world):
    with app.app_context():
        slug = db.session.scalar(sa.select(Topic.slug))
    body = api.get("/questions", query_string={"topic": slug}).get_json()
    assert [q["id"] for q in body["questions"]] == [world.second, world.question]
    unknown = api.get("/questions", query_string={"topic": "no-such-topic"})
    assert unknown.status_code == 200
    assert unknown.get_json() == {"questions": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query",
    [
        {"state": "open"},
        {"state": ""},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"limit": "9" * 5000},  # more digits than Python will turn into an int
        {"limit": "٣"},  # an Arabic-Indic digit: isdigit() but not a plain number
        {"cursor": "not-a-cursor"},
        {"cursor": "MjAyMC0wMS0wMVQwMDowMDowMHwy"},  # a date without a time zone
        {"cursor": "x" * 500},
    ],
)
def test_bad_list_parameters_are_bad_requests(api, world, query):
    body = assert_problem(api.get("/questions", query_string=query), 400)
    assert body["errors"][0]["parameter"] in query


def test_bad_page_cursor_is_a_bad_request(api, world):
    query = {"url": DOC, "cursor": "bm90fGF8Y3Vyc29y"}
    assert_problem(api.get("/pages/questions", query_string=query), 400)


def test_nul_in_a_query_is_a_bad_request(api):
    assert_problem(api.get("/questions", query_string={"topic": "a\x00b"}), 400)


def test_one_question_with_its_replies_in_order(api, world):
    response = api.get(f"/questions/{world.question}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == world.question
    assert [(r["id"], r["accepted"]) for r in body["replies"]] == [
        (world.answer, True),
        (world.asker_reply, False),
    ]
    assert_nothing_private(response)


@pytest.mark.parametrize("which", ["hidden", "deleted", "held"])
def test_hidden_deleted_and_held_questions_are_not_found(api, world, which):
    body = assert_problem(api.get(f"/questions/{getattr(world, which)}"), 404)
    assert "Question" not in json.dumps(body)


@pytest.mark.parametrize("ident", [0, 999_999, MAX_ID, MAX_ID + 1, 10**30])
def test_unknown_question_ids_are_not_found(api, ident):
    assert_problem(api.get(f"/questions/{ident}"), 404)


def test_unknown_api_paths_and_methods_are_problems(client):
    assert_problem(client.get(f"{API}/nothing-here"), 404)
    response = client.delete(f"{API}/questions/1")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_moderators_token_does_not_unhide_reads(api, app, world):
    token = new_token(app, world.moderator)
    assert_problem(api.get(f"/questions/{world.hidden}", token=token), 404)


# -- caching -------------------------------------------------------------------------------------


READS = [
    lambda w: f"/pages/questions?url={DOC}",
    lambda w: "/questions",
    lambda w: f"/questions/{w.question}",
    lambda w: "/openapi.json",
]


@pytest.mark.parametrize("read", READS)
def test_reads_are_publicly_cacheable_and_conditional(api, world, read):
    path = read(world)
    response = api.get(path)
    assert response.status_code == 200
    assert re.fullmatch(r"public, max-age=\d+", response.headers["Cache-Control"])
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    again = api.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == response.headers["Cache-Control"]
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    stale = api.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_the_etag_changes_with_the_thread(api, make, world):
    etag = api.get(f"/questions/{world.question}").headers["ETag"]
    make.reply(world.question, world.helper, body="One more thing.")
    response = api.get(f"/questions/{world.question}", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag


def test_errors_and_writes_are_never_cached(api, world):
    assert api.get("/questions/999999").headers["Cache-Control"] == "no-store"
    response = api.post(
        "/questions",
        {"page_url": DOC, "subject": "Cache me?", "body": "No."},
        token=world.asker_token,
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    me = api.get("/me", token=world.asker_token)
    assert me.headers["Cache-Control"] == "no-store"
    assert "Authorization" in me.headers["Vary"]


# -- CORS ----------------------------------------------------------------------------------------


ORIGINS = [
    "https://docs.example.com",
    "https://evil.test",
    "null",
    "https://docs.example.com.evil.test",
    "http://docs.example.com",
]


@pytest.mark.parametrize("origin", ORIGINS)
def test_any_origin_may_read_without_credentials_and_gains_nothing(api, world, origin):
    plain = api.get(f"/questions/{world.question}")
    response = api.get(f"/questions/{world.question}", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Access-Control-Allow-Private-Network" not in response.headers
    assert "Origin" not in response.headers.get("Vary", "")  # the answer never depends on it
    assert response.get_data() == plain.get_data()
    # A forged Origin on a write is no credential either.
    write = api.post(
        "/questions", {"page_url": DOC, "subject": "Hi", "body": "Hi"}, headers={"Origin": origin}
    )
    assert_problem(write, 401)
    assert write.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in write.headers


@pytest.mark.parametrize("path", ["/questions", "/questions/1/replies", "/me", "/nothing"])
def test_preflight_is_answered_for_the_api(client, path):
    response = client.options(
        API + path,
        headers={
            "Origin": "https://evil.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    if path == "/nothing":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "content-type", "idempotency-key", "if-none-match"} <= allowed
    methods = response.headers["Access-Control-Allow-Methods"]
    assert ("POST" in methods) == (path != "/me")
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_the_site_sends_no_cors_headers(client, world):
    response = client.get("/questions", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


# -- cookies give the API no identity ------------------------------------------------------------


def test_a_signed_in_site_session_gives_the_api_no_identity(app, api, auth, client, make, world):
    auth.login_as(world.unverified)  # a held question of theirs is visible to them on the site
    assert client.get(f"/questions/{world.held}", follow_redirects=True).status_code == 200
    before = make.count(Question)

    assert_problem(api.get(f"/questions/{world.held}"), 404)
    me = assert_problem(api.get("/me"), 401)
    assert "token" in me["detail"]
    response = api.post("/questions", {"page_url": DOC, "subject": "Via cookie", "body": "No."})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(api.post(f"/questions/{world.question}/replies", {"body": "No."}), 401)
    assert make.count(Question) == before
    # The API neither reads nor writes the session cookie, so the site session is untouched.
    assert "Set-Cookie" not in response.headers
    assert client.get(f"/questions/{world.held}", follow_redirects=True).status_code == 200


# -- tokens ------------------------------------------------------------------------------------


def _settings(client) -> str:
    return client.get("/settings/account").get_data(as_text=True)


def test_token_lifecycle_through_settings(app, api, auth, client, make):
    user = make.user(name="Tess Token", email="tess@example.com")
    auth.login_as(user)
    assert "You have no API tokens" in _settings(client)
    created = client.post(
        "/settings/account/api-tokens",
        data={"token-name": "Docs build", "token-current_password": PASSWORD},
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    match = re.search(r"data-api-token>(cmty_[A-Za-z0-9_-]+)<", created.get_data(as_text=True))
    assert match, "the new token is shown"
    secret = match.group(1)
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user))
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in json.dumps([str(getattr(row, c.key)) for c in ApiToken.__table__.c])
        token_id, prefix = row.id, row.display_prefix
    assert secret.startswith(prefix) and len(prefix) < 16
    page = _settings(client)
    assert "Docs build" in page and prefix in page
    assert secret not in page  # shown once only

    me = api.get("/me", token=secret)
    assert me.status_code == 200
    body = me.get_json()
    assert body["id"] == user and body["name"] == "Tess Token"
    assert body["verified"] is True and body["role"] == "member"
    assert body["token"]["name"] == "Docs build" and body["token"]["prefix"] == prefix
    assert body["token"]["last_used_at"] is not None
    assert "tess@example.com" not in me.get_data(as_text=True)
    assert "last used" in _settings(client)

    revoked = client.post(f"/settings/account/api-tokens/{token_id}/revoke")
    assert revoked.status_code == 302
    problem = assert_problem(api.get("/me", token=secret), 401)
    assert "revoked" in problem["detail"]
    assert 'error="invalid_token"' in api.get("/me", token=secret).headers["WWW-Authenticate"]
    assert "You have no API tokens" in _settings(client)
    assert client.post(f"/settings/account/api-tokens/{token_id}/revoke").status_code == 404


def test_making_a_token_needs_the_password(app, auth, client, make):
    user = make.user()
    auth.login_as(user)
    for password in ("", "wrong password!"):
        response = client.post(
            "/settings/account/api-tokens",
            data={"token-name": "CI", "token-current_password": password},
        )
        assert response.status_code == 422
        assert "cmty_" not in response.get_data(as_text=True)
    response = client.post(
        "/settings/account/api-tokens", data={"token-name": "", "token-current_password": PASSWORD}
    )
    assert response.status_code == 422
    assert make.count(ApiToken) == 0


def test_nobody_revokes_anothers_token(app, auth, client, make, world):
    auth.login_as(world.helper)
    with app.app_context():
        asker_token = db.session.scalar(
            sa.select(ApiToken.id).where(ApiToken.user_id == world.asker)
        )
    assert client.post(f"/settings/account/api-tokens/{asker_token}/revoke").status_code == 404
    assert client.post("/settings/account/api-tokens/999999/revoke").status_code == 404
    assert make.count(ApiToken, ApiToken.revoked_at.is_not(None)) == 0


def test_settings_need_a_session(client):
    response = client.post("/settings/account/api-tokens", data={"token-name": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token cmty_abc",
        "Bearer cmty_" + "A" * 43,
        "Bearer " + "x" * 5000,
        "Bearer cmty_ü",
    ],
)
def test_requests_without_a_valid_token_are_unauthorized(api, world, header):
    headers = {} if header is None else {"Authorization": header}
    response = api.get("/me", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="community"')


def test_the_bearer_scheme_is_case_insensitive(api, world):
    response = api.get("/me", headers={"Authorization": f"bearer {world.asker_token}"})
    assert response.status_code == 200


def test_a_banned_accounts_tokens_stop_working(api, make, world):
    make.update(User, world.asker, banned_at=datetime.now(UTC))
    body = assert_problem(api.get("/me", token=world.asker_token), 403)
    assert "suspended" in body["detail"]
    before = make.count(Reply)
    response = api.post(
        f"/questions/{world.question}/replies", {"body": "Still here"}, token=world.asker_token
    )
    assert_problem(response, 403)
    assert make.count(Reply) == before
    make.update(User, world.asker, banned_until=datetime.now(UTC) - timedelta(minutes=1))
    assert api.get("/me", token=world.asker_token).status_code == 200  # the ban is over


def test_a_deleted_accounts_tokens_are_revoked(api, auth, client, world):
    auth.login_as(world.asker)
    response = client.post("/settings/account/delete", data={"delete-confirmation": PASSWORD})
    assert response.status_code == 302
    assert_problem(api.get("/me", token=world.asker_token), 401)


def test_a_password_reset_revokes_tokens(api, app, world):
    """Whoever made the account before its owner proved the address loses its tokens too."""
    from community.accounts import emails as account_emails
    from community.accounts import tokens

    with app.app_context():
        link = tokens.make_token(account_emails.RESET, db.session.get(User, world.asker))
        account_services.reset_password(link, "a brand new passphrase")
        db.session.commit()
    assert_problem(api.get("/me", token=world.asker_token), 401)
    assert api.get("/me", token=world.helper_token).status_code == 200


def test_the_cli_prints_a_token_for_scripts(api, runner, world):
    result = runner.invoke(args=["users", "token", "ADA@example.com", "--name", "nightly"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert re.fullmatch(r"cmty_[A-Za-z0-9_-]{43}", secret)
    assert api.get("/me", token=secret).get_json()["token"]["name"] == "nightly"
    missing = runner.invoke(args=["users", "token", "nobody@example.com"])
    assert missing.exit_code != 0 and "No account" in missing.output


def test_a_token_is_noted_as_used_without_a_write_per_request(api, app, count_queries, world):
    assert api.get("/me", token=world.asker_token).status_code == 200
    with count_queries() as statements:
        assert api.get("/me", token=world.asker_token).status_code == 200
    assert len(statements) == 1  # the token with its account; the last use was just noted


# -- writes --------------------------------------------------------------------------------------


def _ask(api, token, **fields):
    body = {"page_url": DOC, "page_title": "Setup", "subject": "How?", "body": "Like *this*?"}
    body.update(fields)
    return api.post("/questions", {k: v for k, v in body.items() if v is not _UNSET}, token=token)


def test_asking_makes_a_public_question(api, make, world):
    response = _ask(api, world.helper_token, page_url=DOC + "/?ref=api", subject="  Spaced   out ")
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"http://localhost{API}/questions/{body['id']}"
    assert body["subject"] == "Spaced out"
    assert body["body_html"] == "<p>Like <em>this</em>?</p>"
    assert body["author"] == {"id": world.helper, "name": "Hal Helper"}
    assert body["page"] == {"url": DOC, "title": "Setup"}
    assert body["published"] is True and body["replies"] == []
    assert body["status"] == "unanswered"
    public = api.get(f"/questions/{body['id']}")
    assert public.status_code == 200
    assert public.get_json()["subject"] == "Spaced out"
    page = api.get("/pages/questions", query_string={"url": DOC}).get_json()
    assert page["questions"][0]["id"] == body["id"]
    assert page["page"]["title"] == "Setup"


def test_an_unverified_askers_question_is_held(api, app, world):
    token = new_token(app, world.unverified)
    response = _ask(api, token)
    assert response.status_code == 201
    assert response.get_json()["published"] is False
    assert_problem(api.get(f"/questions/{response.get_json()['id']}"), 404)


def test_page_title_is_optional(api, world):
    assert _ask(api, world.asker_token, page_title=_UNSET).status_code == 201
    assert _ask(api, world.asker_token, page_title=None).status_code == 201


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"subject": _UNSET}, "#/subject"),
        ({"body": _UNSET}, "#/body"),
        ({"page_url": _UNSET}, "#/page_url"),
        ({"subject": ""}, "#/subject"),
        ({"subject": " \n\t "}, "#/subject"),
        ({"subject": None}, "#/subject"),
        ({"subject": 42}, "#/subject"),
        ({"subject": ["a"]}, "#/subject"),
        ({"subject": {"a": 1}}, "#/subject"),
        ({"subject": True}, "#/subject"),
        ({"subject": "x" * 201}, "#/subject"),
        ({"body": "x" * 20_001}, "#/body"),
        ({"body": "nul \x00 byte"}, "#/body"),
        ({"body": "lone \ud800 surrogate"}, "#/body"),
        ({"page_url": "not a url"}, "#/page_url"),
        ({"page_url": "javascript:alert(1)"}, "#/page_url"),
        ({"page_url": "https://docs.example.com/" + "a" * 2000}, "#/page_url"),
        ({"page_title": 7}, "#/page_title"),
        ({"page_title": "t" * 1001}, "#/page_title"),
        ({"author_id": 1}, "#/author_id"),
        ({"published_at": None}, "#/published_at"),
        ({"a/b~c": 1}, "#/a~1b~0c"),
    ],
)
def test_invalid_questions_are_unprocessable_with_field_errors(api, make, world, fields, pointer):
    before = (make.count(Question), make.count(Page))
    response = _ask(api, world.asker_token, **fields)
    body = assert_problem(response, 422)
    assert pointer in pointers(response), body
    assert (make.count(Question), make.count(Page)) == before


def test_every_field_error_is_listed_at_once(api, world):
    response = api.post("/questions", {"subject": 1, "extra": True}, token=world.asker_token)
    assert_problem(response, 422)
    assert pointers(response) == {"#/subject", "#/body", "#/page_url", "#/extra"}


@pytest.mark.parametrize("payload", [[], "text", 12, None, [{"subject": "x"}]])
def test_a_body_that_is_not_an_object_is_unprocessable(api, world, payload):
    response = api.post("/questions", payload, token=world.asker_token)
    assert_problem(response, 422)
    assert pointers(response) == {"#"}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"subject": "x",}',
        b"{'subject': 'x'}",
        b'{"subject": NaN}',
        b'{"subject": Infinity}',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"n": 1' + b"0" * 5000 + b"}",
    ],
)
def test_malformed_json_is_a_bad_request(api, make, world, raw):
    before = make.count(Question)
    response = api.call(
        "POST", "/questions", data=raw, content_type="application/json", token=world.asker_token
    )
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON"
    assert make.count(Question) == before


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "application/json; charset=latin-1",
    ],
)
def test_bodies_that_are_not_json_are_unsupported(api, make, world, content_type):
    """Also what keeps a plain HTML form on another site from posting here at all."""
    kwargs = {"data": json.dumps({"page_url": DOC, "subject": "S", "body": "B"})}
    if content_type:
        kwargs["content_type"] = content_type
    response = api.call("POST", "/questions", token=world.asker_token, **kwargs)
    assert_problem(response, 415)
    assert response.headers["Accept-Post"] == "application/json"
    assert make.count(Question, Question.subject == "S") == 0


def test_a_gzipped_body_is_unsupported(api, world):
    response = api.call(
        "POST",
        "/questions",
        data=b"\x1f\x8b",
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
        token=world.asker_token,
    )
    assert_problem(response, 415)


def test_a_huge_body_is_too_large(api, make, world):
    response = _ask(api, world.asker_token, body="x" * 300_000)
    assert_problem(response, 413)
    assert make.count(Question, Question.subject == "How?") == 0


def test_unicode_and_markup_are_kept_as_text(api, world):
    subject = "Ünïcödé <script>alert(1)</script> 😀"
    response = _ask(api, world.asker_token, subject=subject, body="<img src=x onerror=alert(1)>")
    assert response.status_code == 201
    body = response.get_json()
    assert body["subject"] == subject
    assert "<img" not in body["body_html"]  # raw HTML in Markdown is shown as text


# -- idempotency ---------------------------------------------------------------------------------


def test_a_retried_post_with_an_idempotency_key_makes_one_question(api, make, world):
    key = {"Idempotency-Key": "3f1e9c7a-5b2d-4e8f-9a6b-1c2d3e4f5a6b"}
    fields = {"page_url": DOC, "subject": "Only once", "body": "Please."}
    first = api.post("/questions", fields, token=world.asker_token, headers=key)
    again = api.post("/questions", fields, token=world.asker_token, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert first.headers["Location"] == again.headers["Location"]
    assert make.count(Question, Question.subject == "Only once") == 1
    # The same key with a different body is a client error, not a second question.
    changed = api.post(
        "/questions", {**fields, "body": "Changed."}, token=world.asker_token, headers=key
    )
    assert_problem(changed, 422)
    # Keys belong to their account: another person's identical key makes their own question.
    theirs = api.post("/questions", fields, token=world.helper_token, headers=key)
    assert theirs.status_code == 201 and theirs.get_json()["id"] != first.get_json()["id"]
    # Without a key, a repeat is a new question.
    assert api.post("/questions", fields, token=world.asker_token).status_code == 201
    assert make.count(Question, Question.subject == "Only once") == 3


def test_idempotent_replies_are_per_question(api, make, world):
    key = {"Idempotency-Key": "reply-1"}
    first = api.post(
        f"/questions/{world.second}/replies", {"body": "Same"}, token=world.asker_token, headers=key
    )
    again = api.post(
        f"/questions/{world.second}/replies", {"body": "Same"}, token=world.asker_token, headers=key
    )
    elsewhere = api.post(
        f"/questions/{world.other_page}/replies",
        {"body": "Same"},
        token=world.asker_token,
        headers=key,
    )
    assert first.status_code == again.status_code == elsewhere.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"] != elsewhere.get_json()["id"]
    assert make.count(Reply, Reply.body_source == "Same") == 2
    assert api.get(f"/questions/{world.second}").get_json()["reply_count"] == 1


def test_a_replayed_key_whose_question_was_deleted_is_a_conflict(api, make, world):
    key = {"Idempotency-Key": "will-be-deleted"}
    fields = {"page_url": DOC, "subject": "Gone soon", "body": "Bye."}
    first = api.post("/questions", fields, token=world.asker_token, headers=key)
    make.update(Question, first.get_json()["id"], deleted_at=datetime.now(UTC))
    assert_problem(api.post("/questions", fields, token=world.asker_token, headers=key), 409)


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "tab\there", "ünï"])
def test_a_malformed_idempotency_key_is_a_bad_request(api, make, world, key):
    response = api.call(
        "POST",
        "/questions",
        json_body={"page_url": DOC, "subject": "Keyed", "body": "B"},
        token=world.asker_token,
        headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    )
    assert_problem(response, 400)
    assert make.count(Question, Question.subject == "Keyed") == 0


# -- replies and answers ------------------------------------------------------------------------


def test_replying(api, make, world):
    response = api.post(
        f"/questions/{world.second}/replies", {"body": "Try **this**."}, token=world.asker_token
    )
    assert response.status_code == 201
    reply = response.get_json()
    assert reply["question_id"] == world.second
    assert reply["body_html"] == "<p>Try <strong>this</strong>.</p>"
    assert reply["author"] == {"id": world.asker, "name": "Ada Asker"}
    assert reply["accepted"] is False and reply["published"] is True
    thread = api.get(f"/questions/{world.second}").get_json()
    assert [r["id"] for r in thread["replies"]] == [reply["id"]]
    assert thread["status"] == "answered"


def test_replying_to_a_locked_thread_is_forbidden(api, make, world):
    make.update(Question, world.second, locked=True)
    response = api.post(
        f"/questions/{world.second}/replies", {"body": "Let me in"}, token=world.asker_token
    )
    body = assert_problem(response, 403)
    assert "locked" in body["detail"]


@pytest.mark.parametrize("which", ["hidden", "deleted", "held"])
def test_replying_to_what_the_caller_cannot_see_is_not_found(api, make, world, which):
    before = make.count(Reply)
    response = api.post(
        f"/questions/{getattr(world, which)}/replies", {"body": "Hello?"}, token=world.asker_token
    )
    assert_problem(response, 404)
    assert make.count(Reply) == before


@pytest.mark.parametrize(
    "payload", [{}, {"body": ""}, {"body": 5}, {"body": "x", "question_id": 1}]
)
def test_invalid_replies_are_refused(api, world, payload):
    response = api.post(f"/questions/{world.second}/replies", payload, token=world.asker_token)
    status = 422
    assert_problem(response, status)


def test_accepting_and_withdrawing_an_answer(api, make, world):
    reply = make.reply(world.second, world.asker, body="Use a lower rate.")
    url = f"/questions/{world.second}/accept"
    response = api.post(url, {"reply_id": reply}, token=world.helper_token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "resolved" and body["accepted_reply_id"] == reply
    assert body["replies"][0]["accepted"] is True
    assert api.post(url, {"reply_id": reply}, token=world.helper_token).status_code == 200
    withdrawn = api.post(url, {"reply_id": None}, token=world.helper_token)
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["accepted_reply_id"] is None
    assert withdrawn.get_json()["status"] == "answered"
    assert_problem(api.post(url, {"reply_id": None}, token=world.helper_token), 409)


def test_only_the_asker_or_a_moderator_accepts(api, app, make, world):
    url = f"/questions/{world.question}/accept"
    body = assert_problem(
        api.post(url, {"reply_id": world.asker_reply}, token=world.helper_token), 403
    )
    assert "asked" in body["detail"]
    assert make.get(Question, world.question).accepted_reply_id == world.answer
    moderator = new_token(app, world.moderator)
    assert api.post(url, {"reply_id": world.asker_reply}, token=moderator).status_code == 200
    assert make.get(Question, world.question).accepted_reply_id == world.asker_reply


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"reply_id": "1"}, 422),
        ({"reply_id": 1.5}, 422),
        ({"reply_id": True}, 422),
        ({"reply_id": 0}, 422),
        ({"reply_id": MAX_ID + 1}, 422),
        ({"reply_id": 10**40}, 422),
        ({"reply_id": 999_999}, 404),
        ({"reply_id": MAX_ID}, 404),
    ],
)
def test_accepting_something_that_is_not_a_reply_is_refused(api, make, world, payload, status):
    response = api.post(f"/questions/{world.question}/accept", payload, token=world.asker_token)
    assert_problem(response, status)
    assert make.get(Question, world.question).accepted_reply_id == world.answer


def test_accepting_a_reply_of_another_question_or_a_hidden_one_is_not_found(api, make, world):
    elsewhere = make.reply(world.other_page, world.helper)
    for reply in (elsewhere, world.hidden_reply):
        response = api.post(
            f"/questions/{world.question}/accept", {"reply_id": reply}, token=world.asker_token
        )
        assert_problem(response, 404)
        assert pointers(response) == {"#/reply_id"}
    assert make.get(Question, world.question).accepted_reply_id == world.answer


def test_writes_to_unknown_questions_are_not_found(api, world):
    for path, document in (("replies", {"body": "x"}), ("accept", {"reply_id": None})):
        for ident in (0, 999_999, MAX_ID + 1):
            response = api.post(f"/questions/{ident}/{path}", document, token=world.asker_token)
            assert_problem(response, 404)


# -- rate limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_writes_are_rate_limited_per_token(api, app, make, world):
    url = f"/questions/{world.second}/replies"
    for n in range(30):
        response = api.post(url, {"body": f"Reply {n}"}, token=world.asker_token)
        assert response.status_code == 201, n
    limited = api.post(url, {"body": "One too many"}, token=world.asker_token)
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["Access-Control-Allow-Origin"] == "*"
    assert make.count(Reply, Reply.body_source == "One too many") == 0
    # Another token (even of the same account) has its own allowance; reads are not limited.
    other = new_token(app, world.asker, "second")
    assert api.post(url, {"body": "From the other token"}, token=other).status_code == 201
    assert api.get(f"/questions/{world.second}").status_code == 200


# -- query counts ------------------------------------------------------------------------------


def _count(api, count_queries, path, **kwargs) -> int:
    with count_queries() as statements:
        response = api.get(path, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(statements)


def _page_count(api, app, count_queries, stored: bool) -> int:
    """A doc page's questions, rendered afresh or (``stored``) from the stored rendering."""
    if not stored:
        with app.app_context():
            db.session.execute(sa.delete(PageSnapshot))
            db.session.commit()
    else:
        api.get("/pages/questions", query_string={"url": DOC})  # stores it
    return _count(api, count_queries, "/pages/questions", query_string={"url": DOC})


def test_read_query_counts_are_fixed(api, app, make, count_queries, world):
    """Page: one query when its stored rendering is current; else the page's version, the
    page, its questions, their replies, and storing it. Thread: the question, its replies.
    List: the questions (plus the topic when filtering). However many replies and questions."""
    with app.app_context():
        topic = db.session.scalar(sa.select(Topic.slug))
    counts = {
        "page": lambda: _page_count(api, app, count_queries, stored=True),
        "page, rendered": lambda: _page_count(api, app, count_queries, stored=False),
        "page, second screen": lambda: _count(
            api, count_queries, "/pages/questions", query_string={"url": DOC, "limit": 5}
        ),
        "unknown page": lambda: _count(
            api, count_queries, "/pages/questions", query_string={"url": DOC + "/new"}
        ),
        "thread": lambda: _count(api, count_queries, f"/questions/{world.question}"),
        "list": lambda: _count(api, count_queries, "/questions"),
        "list by state": lambda: _count(
            api, count_queries, "/questions", query_string={"state": "answered"}
        ),
        "list by topic": lambda: _count(
            api, count_queries, "/questions", query_string={"topic": topic}
        ),
    }
    few = {name: count() for name, count in counts.items()}
    assert few == {
        "page": 1,
        "page, rendered": 5,
        "page, second screen": 3,
        "unknown page": 1,
        "thread": 2,
        "list": 1,
        "list by state": 1,
        "list by topic": 2,
    }
    repliers = [make.user() for _ in range(3)]
    for n in range(20):
        make.reply(world.question, repliers[n % 3])
    for _ in range(10):
        asked = make.question(make.user(), page_url=DOC)
        make.reply(asked, repliers[0])
    assert {name: count() for name, count in counts.items()} == few


def test_me_query_count(api, count_queries, world):
    with count_queries() as first:
        assert api.get("/me", token=world.asker_token).status_code == 200
    assert len(first) == 2  # the token with its account; noting its first use


# -- the OpenAPI document ---------------------------------------------------------------------


def test_the_document_lists_exactly_the_api_routes(app, document):
    doc = document.document
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": API}]
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/"):
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix(API)
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_the_document_is_valid_openapi(document):
    """Every $ref resolves, and each schema in it is a valid JSON Schema 2020-12."""
    doc = document.document

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                document.resolve(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for item in doc["paths"].values():
        for operation in item.values():
            assert operation["operationId"] and operation["responses"]


def test_request_schemas_accept_what_the_api_accepts(document):
    """The request bodies of the document come from the validators: a valid body per the
    document is one the tests above saw accepted, and the invalid ones are invalid there too."""
    new_question = document.validator({"$ref": "#/components/schemas/NewQuestion"})
    assert new_question.is_valid({"page_url": DOC, "subject": "S", "body": "B"})
    assert new_question.is_valid({"page_url": DOC, "page_title": None, "subject": "S", "body": "B"})
    for invalid in (
        {"page_url": DOC, "subject": " ", "body": "B"},
        {"page_url": DOC, "subject": "S"},
        {"page_url": DOC, "subject": "S", "body": "B", "author_id": 1},
        {"page_url": DOC, "subject": "x" * 201, "body": "B"},
    ):
        assert not new_question.is_valid(invalid), invalid
    accept = document.validator({"$ref": "#/components/schemas/AcceptAnswer"})
    assert accept.is_valid({"reply_id": None}) and accept.is_valid({"reply_id": 3})
    assert not accept.is_valid({}) and not accept.is_valid({"reply_id": 0})


def test_every_route_was_checked_against_the_document(api, app, make, world):
    """A tour of every operation, success and failure, through the checking client (each call
    is validated against the document as it is made)."""
    replier = make.user()
    reply = make.reply(world.second, replier)
    token = world.helper_token
    api.get("/pages/questions", query_string={"url": DOC})
    api.get("/pages/questions", query_string={"url": "nope"})
    api.get("/questions")
    api.get("/questions", query_string={"state": "nope"})
    api.get(f"/questions/{world.question}")
    api.get(f"/questions/{world.hidden}")
    api.get("/search", query_string={"q": "recordings"})
    api.get("/search", query_string={"q": "the"})
    api.get("/openapi.json")
    api.get("/me", token=token)
    api.get("/me")
    created = _ask(api, token)
    _ask(api, token, subject="")
    _ask(api, None)
    question = created.get_json()["id"]
    api.post(f"/questions/{question}/replies", {"body": "Self-reply"}, token=token)
    api.post(f"/questions/{question}/replies", {"body": ""}, token=token)
    api.post(f"/questions/{world.hidden}/replies", {"body": "x"}, token=token)
    api.post(f"/questions/{world.second}/accept", {"reply_id": reply}, token=token)
    api.post(f"/questions/{world.second}/accept", {"reply_id": None}, token=token)
    api.post(f"/questions/{world.second}/accept", {"reply_id": None}, token=token)
    api.post(f"/questions/{world.question}/accept", {"reply_id": None}, token=token)
    api.call("POST", "/questions", data="x", content_type="text/plain", token=token)
    statuses = {(method, path): set() for method, path, _ in api.checked}
    for method, path, status in api.checked:
        statuses[(method, path)].add(status)
    assert statuses == {
        ("GET", "/pages/questions"): {200, 400},
        ("GET", "/questions"): {200, 400},
        ("GET", "/questions/{question_id}"): {200, 404},
        ("GET", "/search"): {200, 400},
        ("GET", "/openapi.json"): {200},
        ("GET", "/me"): {200, 401},
        ("POST", "/questions"): {201, 401, 415, 422},
        ("POST", "/questions/{question_id}/replies"): {201, 404, 422},
        ("POST", "/questions/{question_id}/accept"): {200, 403, 409},
    }
