"""Fixtures for the whole suite.

The schema is built once per session by running the migrations; each test then gets a fresh app
on that database, and every table is emptied after it. Set ``COMMUNITY_TEST_DATABASE_URL`` to run
the same suite on PostgreSQL (CI does); an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from community import create_app
from community.accounts import services as account_services
from community.accounts.models import Role, User
from community.extensions import db
from community.questions import page_cache
from community.questions import services as question_services
from community.questions.models import Question, Reply, Team, Topic, TopicPageRule

PASSWORD = "correct horse battery staple"
TEST_DATABASE_URL = os.environ.get("COMMUNITY_TEST_DATABASE_URL")


# -- no network beyond this machine -----------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _forbid_remote_network() -> Iterator[None]:
    """Any test that tries to reach a host other than loopback fails loudly."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
                raise RuntimeError(f"tests may not connect to {host}: only to 127.0.0.1")
        return original(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


# -- database and app -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "community-test.db")


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production-use",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "BASE_URL": "http://localhost",
        # Hashing costs ~0.1 s with scrypt; the suite creates hundreds of users.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "REQUIRE_MODERATOR_2FA": False,  # the two-factor tests turn it on
        "RATELIMIT_ENABLED": False,  # the rate-limit tests turn it on
        # Off, so each test sees the app itself; tests/test_page_cache.py turns it on.
        "PAGE_CACHE_MB": 0,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def _schema(database_url: str) -> None:
    """Build the schema the way production does: by running every migration from scratch."""
    app = create_app(base_config(database_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change the app's configuration."""
    return {}


@pytest.fixture
def app(_schema: None, database_url: str, app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(base_config(database_url, **app_config))
    yield app
    cache = page_cache.of(app)
    if cache is not None and cache.watcher is not None:
        cache.watcher.stop()  # the listening thread ends within a heartbeat
    with app.app_context():
        _empty_tables()
        db.engine.dispose()


def _empty_tables() -> None:
    db.session.rollback()
    db.session.execute(sa.update(Question).values(accepted_reply_id=None))
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def dialect(app: Flask) -> str:
    with app.app_context():
        return db.engine.dialect.name


# -- making things ----------------------------------------------------------------------------


@dataclass
class Factory:
    """Creates rows through the services (so every rule applies) and returns their ids."""

    app: Flask
    _count: int = 0

    def _next(self) -> int:
        self._count += 1
        return self._count

    def user(
        self,
        name: str | None = None,
        email: str | None = None,
        role: Role = Role.MEMBER,
        password: str = PASSWORD,
    ) -> int:
        n = self._next()
        with self.app.app_context():
            user = account_services.create_user(
                email or f"user{n}@example.com",
                name or f"User {n}",
                password,
                role=role,
                verified=True,
            )
            db.session.commit()
            return user.id

    def moderator(self, **kwargs: Any) -> int:
        return self.user(role=Role.MODERATOR, **kwargs)

    def topic(
        self, name: str = "Session replay", prefix: str | None = "/docs/session-replay"
    ) -> int:
        n = self._next()
        with self.app.app_context():
            team = Team(name=f"Team {n}", slug=f"team-{n}")
            db.session.add(team)
            db.session.flush()
            topic = Topic(team_id=team.id, name=name, slug=f"topic-{n}")
            db.session.add(topic)
            db.session.flush()
            if prefix:
                db.session.add(TopicPageRule(topic_id=topic.id, path_prefix=prefix))
            db.session.commit()
            return topic.id

    def question(
        self,
        author_id: int,
        subject: str | None = None,
        body: str = "How do I **do** this?",
        page_url: str | None = None,
    ) -> int:
        n = self._next()
        with self.app.app_context():
            author = db.session.get(User, author_id)
            page = question_services.resolve_page(page_url) if page_url else None
            question = question_services.ask_question(
                author, subject or f"Question number {n}", body, page=page
            )
            db.session.commit()
            return question.id

    def reply(self, question_id: int, author_id: int, body: str = "Try *this*.") -> int:
        with self.app.app_context():
            author = db.session.get(User, author_id)
            question = db.session.get(Question, question_id)
            reply = question_services.post_reply(author, question, body)
            db.session.commit()
            return reply.id

    def accept(self, reply_id: int, actor_id: int) -> None:
        with self.app.app_context():
            reply = db.session.get(Reply, reply_id)
            question = db.session.get(Question, reply.question_id)
            question_services.accept_answer(db.session.get(User, actor_id), question, reply)
            db.session.commit()

    def update(self, model: type, ident: int, **values: Any) -> None:
        with self.app.app_context():
            db.session.execute(sa.update(model).where(model.id == ident).values(**values))
            db.session.commit()

    def get(self, model: type, ident: int) -> Any:
        """A detached copy of a row, with its columns loaded, for assertions."""
        with self.app.app_context():
            row = db.session.get(model, ident)
            if row is not None:
                db.session.expunge(row)
            return row

    def count(self, model: type, *where: Any) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def make(app: Flask) -> Factory:
    return Factory(app)


class Auth:
    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self.client = client
        self.app = app

    def login(self, email: str, password: str = PASSWORD, **extra: Any):
        return self.client.post("/login", data={"email": email, "password": password, **extra})

    def login_as(self, user_id: int) -> None:
        with self.app.app_context():
            email = db.session.get(User, user_id).email
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient, app: Flask) -> Auth:
    return Auth(client, app)


# -- counting queries -------------------------------------------------------------------------

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)", re.I)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """``with count_queries() as queries: ...``: the SQL statements run inside the block."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not _TRANSACTION_CONTROL.match(statement):
                statements.append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

    return counting


# -- a real server and a real browser ---------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over HTTP on 127.0.0.1 (a free port), for browsers and workers."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; a missing browser fails the test, never skips."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (own cookies); any JavaScript dialog fails the test it opens in."""
    context = browser.new_context()
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


# -- mail, Slack and the worker ---------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    from tests.servers import SMTPServer

    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack_server() -> Iterator[Any]:
    from tests.servers import SlackServer

    server = SlackServer().start()
    yield server
    server.stop()


def mail_settings(smtp_server: Any) -> dict[str, Any]:
    return {
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": smtp_server.port,
        "MAIL_TIMEOUT": 5,
        "MAIL_DEFAULT_SENDER": "Community <community@example.com>",
    }


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], int]:
    """Run the real worker in this process until no job is due; returns how many it ran."""
    from community.jobs.worker import Worker

    def run() -> int:
        return Worker(app, name="test-worker").run(until_empty=True)

    return run


class Mailbox:
    """Reads what the app emailed: runs the worker, then looks at the SMTP server's messages."""

    def __init__(self, smtp_server: Any, run_jobs: Callable[[], int]) -> None:
        self.smtp = smtp_server
        self.run_jobs = run_jobs

    def messages(self, address: str) -> list[Any]:
        self.run_jobs()
        return self.smtp.messages_to(address.lower())

    def last(self, address: str) -> Any:
        messages = self.messages(address)
        assert messages, f"no email to {address}"
        return messages[-1]

    def link(self, address: str, path_prefix: str) -> str:
        """The path of the link starting with ``path_prefix`` in the last email to ``address``."""
        text = self.last(address).get_body(("plain",)).get_content()
        for url in re.findall(r"https?://\S+", text):
            path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
            if path.startswith(path_prefix):
                return path
        raise AssertionError(f"no {path_prefix} link in the last email to {address}:\n{text}")


@pytest.fixture
def mailbox(smtp_server: Any, run_jobs: Callable[[], int]) -> Mailbox:
    return Mailbox(smtp_server, run_jobs)
