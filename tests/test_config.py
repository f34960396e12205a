"""Configuration layering, refusal to start on unsafe settings, and database settings."""

from __future__ import annotations

import pytest

from community import create_app
from community.config import ConfigError, database_uri
from community.extensions import db
from tests.conftest import base_config

STRONG = "f" * 48


def _production(database_url: str, **overrides):
    config = base_config(database_url, TESTING=False, SECRET_KEY=STRONG)
    config.update(overrides)
    return config


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "short-secret"])
def test_production_refuses_to_start_without_a_real_secret(database_url, secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(_production(database_url, SECRET_KEY=secret))


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("BASE_URL", "community.example.com", "BASE_URL"),
        ("PAGE_HOST_ALIASES", {"www.example.com": "example.com"}, "PAGE_HOST_ALIASES"),
        ("PAGE_HOST_ALIASES", ["not", "a", "mapping"], "PAGE_HOST_ALIASES"),
        ("QUESTIONS_PER_PAGE", 0, "QUESTIONS_PER_PAGE"),
    ],
)
def test_contradictory_settings_are_refused_with_a_message(database_url, setting, value, message):
    with pytest.raises(ConfigError, match=message):
        create_app(_production(database_url, **{setting: value}))


def test_environment_variables_override_defaults(monkeypatch, database_url):
    monkeypatch.setenv("COMMUNITY_SECRET_KEY", STRONG)
    monkeypatch.setenv("COMMUNITY_BASE_URL", "https://community.example.com/")
    monkeypatch.setenv("COMMUNITY_SQLALCHEMY_DATABASE_URI", database_url)
    monkeypatch.setenv("COMMUNITY_QUESTIONS_PER_PAGE", "30")
    monkeypatch.setenv("COMMUNITY_PAGE_HOST_ALIASES", '{"www.example.com": "https://example.com"}')
    app = create_app()
    assert app.config["SECRET_KEY"] == STRONG
    assert app.config["BASE_URL"] == "https://community.example.com"
    assert app.config["QUESTIONS_PER_PAGE"] == 30
    assert app.config["PAGE_HOST_ALIASES"] == {"www.example.com": "https://example.com"}
    # https in BASE_URL makes every cookie Secure
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        db.engine.dispose()


def test_the_test_mapping_wins_over_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("COMMUNITY_SITE_NAME", "From the environment")
    app = create_app(base_config(database_url, SITE_NAME="From the test"))
    assert app.config["SITE_NAME"] == "From the test"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # plain http BASE_URL


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given, expected):
    assert database_uri(given) == expected


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'settings.db'}"))
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    with app.app_context():
        db.engine.dispose()


def test_postgresql_connections_are_checked_before_use(database_url):
    app = create_app(base_config("postgresql://postgres@127.0.0.1/unused"))
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


def test_behind_a_proxy_the_forwarded_scheme_and_client_are_trusted(database_url):
    app = create_app(base_config(database_url, PROXY_COUNT=1))
    seen = {}

    @app.get("/whoami")
    def whoami():
        from flask import request

        seen.update(scheme=request.scheme, remote=request.remote_addr)
        return "ok"

    response = app.test_client().get(
        "/whoami",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert seen == {"scheme": "https", "remote": "203.0.113.9"}
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    with app.app_context():
        db.engine.dispose()


def test_without_a_proxy_forwarded_headers_are_ignored(app):
    seen = {}

    @app.get("/whoami")
    def whoami():
        from flask import request

        seen.update(scheme=request.scheme, remote=request.remote_addr)
        return "ok"

    app.test_client().get(
        "/whoami", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert seen == {"scheme": "http", "remote": "127.0.0.1"}


@pytest.mark.parametrize(
    "origins", [["docs.example.com"], ["https://docs.example.com/path"], "https://x.test"]
)
def test_allowed_page_origins_must_be_origins(database_url, origins):
    with pytest.raises(ConfigError, match="PAGE_ALLOWED_ORIGINS"):
        create_app(_production(database_url, PAGE_ALLOWED_ORIGINS=origins))
