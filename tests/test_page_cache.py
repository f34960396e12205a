"""The page cache in front of the app (``questions.page_cache``): repeated public reads answered
from memory, exactly as the app answers them, and dropped as soon as the database says the page
changed (NOTIFY on PostgreSQL, ``PRAGMA data_version`` on SQLite)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from community import config as app_config_module
from community import create_app
from community.extensions import db
from community.questions import page_cache
from community.questions.models import Page, Question
from tests.conftest import base_config

DOC = "https://docs.example.com/docs/session-replay/setup"
NEW_PAGE = "https://docs.example.com/docs/nobody-asked-yet"
API = "/api/v1/pages/questions"
EMBED_ARGS = {"url": DOC, "title": "Set up replay", "origin": "https://docs.example.com"}
# Headers a server adds to each response, not the app.
PER_RESPONSE = {"Date", "Server", "Connection"}


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {
        "PAGE_CACHE_MB": 4,
        "EMBED_ALLOWED_ORIGINS": ["https://docs.example.com"],
        "PAGE_ALLOWED_ORIGINS": ["https://docs.example.com"],
    }


@pytest.fixture
def cache(app: Flask) -> page_cache.PageCache:
    found = page_cache.of(app)
    assert found is not None and found.watcher is not None
    found.watcher.settle()  # listening (PostgreSQL) before the first read
    return found


@pytest.fixture
def question(make) -> int:
    asker = make.user(name="Ada Asker")
    question = make.question(asker, "How do I record?", page_url=DOC)
    make.reply(question, make.user(name="Hal Helper"), "Like this.")
    return question


def api(client: FlaskClient, url: str = DOC, **headers: str):
    return client.get(API, query_string={"url": url}, headers=headers)


def embed(client: FlaskClient, **headers: str):
    return client.get("/embed", query_string=EMBED_ARGS, headers=headers)


def past_the_cache(app: Flask) -> FlaskClient:
    """A reader with an unrelated cookie: the app answers as for anyone, but the cache stands
    aside. (The test client sends only the cookies in its jar.)"""
    client = app.test_client()
    client.set_cookie("analytics", "1")
    return client


def cached(read, client: FlaskClient, *args: Any, **headers: str):
    """Read until the answer is kept. On SQLite the first reader of a page stores its rendering
    in the database, and that commit (like any other) empties the cache: the next one keeps it."""
    cache = page_cache.of(client.application)
    for _ in range(3):
        entries = cache.stats()["entries"]
        response = read(client, *args, **headers)
        if cache.stats()["entries"] > entries:
            return response
    raise AssertionError("the response was never kept")


def headers_of(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_RESPONSE}


@pytest.mark.parametrize("read", [api, embed], ids=["api", "embed"])
def test_a_repeated_read_is_answered_without_the_app_exactly_as_the_app_answers(
    app, client, cache, question, count_queries, read
):
    first = cached(read, client, **{"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    with count_queries() as statements:
        again = read(client, **{"Accept-Encoding": "gzip"})
    assert statements == []  # no Flask view, no database
    assert cache.counts["hits"] == 1
    from_app = read(past_the_cache(app), **{"Accept-Encoding": "gzip"})
    for response in again, from_app:
        assert response.status_code == 200
        assert response.get_data() == first.get_data()
        assert headers_of(response) == headers_of(first)
    assert first.headers["Content-Encoding"] == "gzip"

    # Each coding is kept on its own, as the app chooses it.
    plain = cached(read, client, **{"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in plain.headers
    assert read(client).get_data() == plain.get_data()


@pytest.mark.parametrize("read", [api, embed], ids=["api", "embed"])
def test_a_revalidation_gets_the_same_304_as_from_the_app(app, client, cache, question, read):
    etag = cached(read, client).headers["ETag"]
    answered = read(client, **{"If-None-Match": etag})
    from_app = read(past_the_cache(app), **{"If-None-Match": etag})
    assert answered.status_code == from_app.status_code == 304
    assert headers_of(answered) == headers_of(from_app)
    assert cache.counts["not_modified"] == 1
    assert read(client, **{"If-None-Match": '"something-else"'}).status_code == 200


def test_a_page_nobody_asked_about_is_cached_until_someone_asks(app, client, cache, make):
    empty = cached(api, client, NEW_PAGE)
    assert empty.get_json()["questions"] == []
    assert api(client, NEW_PAGE).get_data() == empty.get_data()
    assert cache.counts["hits"] == 1
    make.question(make.user(), "The first question here", page_url=NEW_PAGE)
    cache.watcher.settle()
    subjects = [q["subject"] for q in api(client, NEW_PAGE).get_json()["questions"]]
    assert subjects == ["The first question here"]


def test_a_write_drops_the_pages_it_changes(app, client, cache, make, question, dialect):
    other = "https://docs.example.com/docs/session-replay/other"
    make.question(make.user(), "Elsewhere", page_url=other)
    cached(api, client), cached(api, client, other)
    make.reply(question, make.user(), "A second answer")
    cache.watcher.settle()
    hits = cache.counts["hits"]
    api(client, other)
    # PostgreSQL names the page; SQLite only says that something changed.
    assert cache.counts["hits"] == hits + (1 if dialect == "postgresql" else 0)
    replies = api(client).get_json()["questions"][0]["replies"]
    assert [r["body_html"].strip() for r in replies][-1] == "<p>A second answer</p>"


def test_a_bulk_update_outside_the_app_is_seen_too(app, client, cache, question):
    cached(api, client)
    with app.app_context():
        db.session.execute(sa.update(Question).values(subject="Renamed in bulk"))
        db.session.commit()
    cache.watcher.settle()
    assert api(client).get_json()["questions"][0]["subject"] == "Renamed in bulk"


def test_what_names_a_reader_goes_to_the_app(
    app, client, cache, question, count_queries, auth, make
):
    cached(api, client), cached(embed, client)
    with count_queries() as statements:
        api(client, Authorization="Bearer not-a-token")
        embed(past_the_cache(app))
        client.get("/embed", query_string={**EMBED_ARGS, "open": str(question)})
        client.head(API, query_string={"url": DOC})
    assert len(statements) >= 4 and cache.counts["hits"] == 0
    # A signed-in reader's embed is their own, never the cached one.
    auth.login_as(make.user(name="Sam Signed-In"))
    hits = cache.counts["hits"]
    assert "Sam Signed-In" in embed(client).get_data(as_text=True)
    assert cache.counts["hits"] == hits


def test_a_request_that_began_before_a_change_does_not_store(app, cache, question):
    """The race a cache must not lose: a slow read of the old page finishing after the change
    was announced would keep the old page for good."""
    inner = cache.app

    def slow_app(environ: dict[str, Any], start_response: Any) -> Any:
        answer = inner(environ, start_response)
        cache.invalidate(_page_id(app))  # the change is heard while this answer is on its way
        return answer

    cache.app = slow_app
    try:
        for _ in range(2):  # (on SQLite, the first reader's stored rendering empties it anyway)
            assert api(app.test_client()).status_code == 200
    finally:
        cache.app = inner
    assert cache.stats()["entries"] == 0
    cached(api, app.test_client())


def test_without_its_source_of_changes_the_cache_stands_aside(app, client, cache, question):
    cached(api, client)
    watcher = cache.watcher
    cache.watcher = None
    try:
        api(client)
        assert cache.counts["hits"] == 0
    finally:
        cache.watcher = watcher


def test_losing_the_source_of_changes_turns_the_cache_off_and_empties_it(
    app, client, cache, question, dialect
):
    cached(api, client)
    assert api(client).status_code == 200 and cache.counts["hits"] == 1
    if dialect == "postgresql":  # the listening connection is cut
        with app.app_context():
            ended = db.session.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": page_cache.LISTENER_NAME},
            )
        assert ended >= 1
        deadline = time.monotonic() + 3
        while cache.watcher.ready() and time.monotonic() < deadline:
            time.sleep(0.01)
    else:  # the file cannot be read for a moment
        cache.watcher._connection.close()
        assert not cache.watcher.ready()
    # Emptied: whatever changed meanwhile cannot be served from before.
    assert cache.stats()["entries"] == 0
    cache.watcher.settle(timeout=15)  # back
    cached(api, client), api(client)
    assert cache.counts["hits"] == 2


def test_a_watcher_that_cannot_confirm_changes_stands_aside(
    app, client, cache, question, dialect, monkeypatch
):
    """PostgreSQL: a connection that answers queries but no longer delivers notifications (a
    dead link, a pooler that moved the LISTEN elsewhere) must turn the cache off, not leave it
    stale; its own heartbeat, never heard back, does. SQLite: a file whose version cannot be
    read turns it off the same way."""
    watcher = cache.watcher
    cached(api, client)
    if dialect == "postgresql":
        watcher.heartbeat = 0.2
        heard = watcher._heard
        watcher._heard = lambda payload: None if payload.startswith("beat:") else heard(payload)
        deadline = time.monotonic() + 5
        while watcher.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        import sqlite3

        def unreadable() -> int:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(watcher, "_read", unreadable)
    assert not watcher.ready()
    hits = cache.counts["hits"]
    api(client), api(client)
    assert cache.counts["hits"] == hits  # every read went to the app

    if dialect == "postgresql":
        watcher._heard = heard
    else:
        monkeypatch.undo()
    watcher.settle()
    # Back, and emptied: whatever was missed while it stood aside cannot be served.
    assert cache.stats()["entries"] == 0
    cached(api, client), api(client)
    assert cache.counts["hits"] == hits + 1


def test_emptying_a_table_empties_every_cache(app, client, cache, question, dialect):
    """PostgreSQL's TRUNCATE fires no row trigger: a statement trigger announces it. SQLite has
    no TRUNCATE; its DELETE without WHERE is one commit like any other."""
    cached(api, client)
    emptying = "TRUNCATE replies CASCADE" if dialect == "postgresql" else "DELETE FROM replies"
    with app.app_context():
        db.session.execute(sa.text(emptying))  # on PostgreSQL, the questions go too
        db.session.commit()
    cache.watcher.settle()
    assert cache.stats()["entries"] == 0
    questions = api(client).get_json()["questions"]
    if dialect == "postgresql":
        assert questions == []
    else:
        assert [q["replies"] for q in questions] == [[]]


def test_a_commit_by_another_process_is_seen(app, client, cache, question, database_url):
    cached(api, client)
    assert cache.stats()["entries"] == 1
    change = "UPDATE questions SET subject = 'Changed by another process'"
    if database_url.startswith("sqlite"):
        import sqlite3

        with app.app_context():
            other = sqlite3.connect(db.engine.url.database)
        other.execute(change)
        other.commit()
        other.close()
    else:
        import psycopg

        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as other:
            other.execute(change)
    cache.watcher.settle()
    assert api(client).get_json()["questions"][0]["subject"] == "Changed by another process"


def _page_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Page.id).where(Page.url == DOC))


# -- the cache on its own, with a stand-in app ---------------------------------------------------


class Always:
    """A watcher for the unit tests: always current."""

    def ready(self) -> bool:
        return True

    def settle(self, timeout: float = 5.0) -> None:
        pass

    def stop(self) -> None:
        pass


def stand_in(body: bytes = b"x" * 1000, tag: Any = 1, headers: list | None = None):
    calls = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["QUERY_STRING"])
        environ[page_cache.ENVIRON_KEY] = tag
        start_response("200 OK", [("Content-Type", "text/plain"), *(headers or [])])
        return [body]

    return app, calls


def call(cache: page_cache.PageCache, query: str, **environ: str) -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, _headers: list, _exc: Any = None) -> None:
        seen["status"] = status

    body = b"".join(
        cache(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/read",
                "QUERY_STRING": query,
                "wsgi.url_scheme": "http",
                "HTTP_HOST": "community.test",
                **environ,
            },
            start_response,
        )
    )
    return seen["status"], body


def test_memory_is_bounded_and_the_least_recently_read_go_first():
    inner, calls = stand_in()
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=20_000)
    cache.watcher = Always()
    for n in range(40):
        call(cache, f"page={n}")
    stats = cache.stats()
    assert stats["bytes"] <= 20_000 and 0 < stats["entries"] < 40
    call(cache, "page=39")  # the most recent is still there
    assert calls.count("page=39") == 1
    call(cache, "page=0")  # the oldest was pushed out
    assert calls.count("page=0") == 2


def test_a_response_that_sets_a_cookie_is_never_kept():
    inner, calls = stand_in(headers=[("Set-Cookie", "session=someone")])
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    call(cache, "page=1"), call(cache, "page=1")
    assert calls == ["page=1", "page=1"]


def test_unmarked_responses_and_other_paths_are_left_alone():
    inner, calls = stand_in(tag=None)
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    call(cache, "page=1"), call(cache, "page=1")
    call(cache, "page=1", PATH_INFO="/other"), call(cache, "page=1", PATH_INFO="/other")
    assert len(calls) == 4 and cache.stats()["entries"] == 0


def test_forgetting_old_invalidations_cannot_let_a_stale_answer_in(monkeypatch):
    monkeypatch.setattr(page_cache, "_MAX_REMEMBERED", 3)
    inner, _calls = stand_in(tag=1)
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()

    def changes_meanwhile(environ: dict[str, Any], start_response: Any) -> Any:
        answer = inner(environ, start_response)
        for page in range(1, 6):  # page 1's own invalidation is then forgotten
            cache.invalidate(page)
        return answer

    cache.app = changes_meanwhile
    call(cache, "page=1")
    assert cache.stats()["entries"] == 0


def test_a_reader_revalidating_fills_the_cache_and_gets_a_304_from_it():
    """Browsers revalidate the embed on every visit (it is ``no-cache``): a first revalidation
    asks the app for the whole answer, keeps it, and answers the condition from it."""
    seen = []

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_IF_NONE_MATCH"))
        environ[page_cache.ENVIRON_KEY] = 3
        start_response("200 OK", [("Content-Type", "text/plain"), ("ETag", '"v3"')])
        return [b"the page"]

    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    assert call(cache, "page=3", HTTP_IF_NONE_MATCH='"v3"') == ("304 NOT MODIFIED", b"")
    assert seen == [None]  # the app was asked for the whole answer
    assert call(cache, "page=3") == ("200 OK", b"the page")
    assert call(cache, "page=3", HTTP_IF_NONE_MATCH='"v2"') == ("200 OK", b"the page")
    assert len(seen) == 1 and cache.counts == {**cache.counts, "hits": 2, "misses": 1}


def test_the_mount_point_is_part_of_the_address():
    """Links are built under SCRIPT_NAME (which gunicorn takes from a request header): a page
    rendered under someone's made-up prefix is never given to anyone else."""
    inner, calls = stand_in()
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    call(cache, "page=1"), call(cache, "page=1", SCRIPT_NAME="//evil.example")
    assert len(calls) == 2


def test_the_date_is_the_servers_and_never_replayed():
    inner, _calls = stand_in(headers=[("Date", "Thu, 01 Jan 2026 00:00:00 GMT")])
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    call(cache, "page=1")
    (entry,) = cache._entries.values()
    assert [name for name, _ in entry.headers] == ["Content-Type"]


def test_other_conditions_and_ranges_go_to_the_app():
    inner, calls = stand_in()
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=1_000_000)
    cache.watcher = Always()
    call(cache, "page=1")
    for header in ("HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_RANGE"):
        call(cache, "page=1", **{header: "x"})
    assert len(calls) == 4


def test_made_up_spellings_of_one_page_push_out_its_own_oldest():
    inner, calls = stand_in(tag=7)
    cache = page_cache.PageCache(inner, ["/read"], max_bytes=10_000_000)
    cache.watcher = Always()
    for n in range(page_cache._MAX_PER_PAGE + 5):
        call(cache, f"url=https://docs.example.com/page&junk={n}")
    assert cache.stats()["entries"] == page_cache._MAX_PER_PAGE
    call(cache, "url=https://docs.example.com/page&junk=0")  # the oldest went first
    assert calls.count("url=https://docs.example.com/page&junk=0") == 2


@pytest.mark.parametrize("value", [-1, "a lot", True, 10**6])
def test_a_bad_size_is_refused_at_start(value):
    with pytest.raises(app_config_module.ConfigError, match="PAGE_CACHE_MB"):
        create_app(base_config("sqlite://", PAGE_CACHE_MB=value))


@pytest.mark.usefixtures("_schema")
def test_off_means_no_layer_in_front(database_url):
    app = create_app(base_config(database_url, PAGE_CACHE_MB=0))
    assert page_cache.of(app) is None
    assert not isinstance(app.wsgi_app, page_cache.PageCache)
