"""Configuration: defaults, then ``instance/config.py``, then ``COMMUNITY_*`` environment
variables, then the mapping a test passes to ``create_app``.

Everything here is deploy-time configuration. Switches that moderators flip at run time live in
the database instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

ENV_PREFIX = "COMMUNITY"

DEFAULTS: dict[str, Any] = {
    # Required in every environment except tests; ``make dev`` writes one to instance/config.py.
    "SECRET_KEY": None,
    # Left empty, the database is ``instance/community.db`` (SQLite).
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # The public address of this app, used for absolute links (emails, Zendesk) and cookie flags.
    "BASE_URL": "http://127.0.0.1:5000",
    "SITE_NAME": "Community",
    # Several hosts can be folded into one canonical origin: {"www.example.com": "https://example.com"}
    "PAGE_HOST_ALIASES": {},
    # Only pages on these origins can have questions, e.g. ["https://docs.example.com"]. Empty
    # means any http(s) page (fine for a demo; name your docs sites in production).
    "PAGE_ALLOWED_ORIGINS": [],
    "QUESTIONS_PER_PAGE": 20,
    # Memory per worker process for the public page reads every docs page makes (the JSON
    # read and a first-time visitor's embed), answered in front of the app and dropped when the
    # database announces that the page changed (community/questions/page_cache.py). 0: off.
    "PAGE_CACHE_MB": 64,
    # How many reverse proxies (load balancer, nginx) sit in front of the app and set
    # X-Forwarded-For/-Proto/-Host. 0 trusts none of those headers.
    "PROXY_COUNT": 0,
    # Werkzeug's method string; scrypt meets OWASP's recommendation. Tests use a cheaper one.
    "PASSWORD_HASH_METHOD": "scrypt",
    # How long a draft written before signing in is kept.
    "DRAFT_MAX_AGE_DAYS": 7,
    # Outgoing email. With no MAIL_SERVER, emails are written to the log instead (the demo).
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_TIMEOUT": 30,
    "MAIL_DEFAULT_SENDER": "Community <community@localhost>",
    # With no MAIL_SERVER, log whole emails (links included): for local development only.
    "MAIL_LOG_BODIES": False,
    # The community channel's Slack incoming webhook; none logs the announcements instead.
    "SLACK_WEBHOOK_URL": None,
    # The Zendesk mirror: a ticket per question. Set all three of the subdomain ("acme" for
    # acme.zendesk.com), an agent's email and an API token, or none (the mirror is off).
    "ZENDESK_SUBDOMAIN": None,
    "ZENDESK_EMAIL": None,
    "ZENDESK_TOKEN": None,
    # The signing secret of the Zendesk webhook calling BASE_URL/webhooks/zendesk; none: off.
    "ZENDESK_WEBHOOK_SECRET": None,
    # Seconds a Zendesk API call may take before the job gives up and retries later.
    "ZENDESK_TIMEOUT": 15,
    # Rate-limit counters: "memory://" (per process) or "redis://127.0.0.1:6379/0" (shared).
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Sign in with GitHub / Google: set both the client id and secret to show the button. The
    # callback URL to register is BASE_URL + /login/github/callback (or /login/google/callback).
    # Generic OpenID Connect providers need no default: OIDC_<NAME>_METADATA_URL, _CLIENT_ID,
    # _CLIENT_SECRET, _DISPLAY_NAME and _TRUST_EMAIL (false unless the provider verifies emails).
    "GITHUB_CLIENT_ID": None,
    "GITHUB_CLIENT_SECRET": None,
    "GITHUB_AUTHORIZE_URL": "https://github.com/login/oauth/authorize",
    "GITHUB_TOKEN_URL": "https://github.com/login/oauth/access_token",
    "GITHUB_API_URL": "https://api.github.com/",
    "GOOGLE_CLIENT_ID": None,
    "GOOGLE_CLIENT_SECRET": None,
    "GOOGLE_METADATA_URL": "https://accounts.google.com/.well-known/openid-configuration",
    # Moderators and admins must enrol in two-factor authentication before using their powers.
    # On by default; `make dev` turns it off in instance/config.py for the demo accounts.
    "REQUIRE_MODERATOR_2FA": True,
    # How long email links last: verification, password reset, email change.
    "VERIFY_EMAIL_MAX_AGE_HOURS": 48,
    "RESET_PASSWORD_MAX_AGE_MINUTES": 60,
    # The outbox worker: how long a claimed job is reserved, how retries back off, how often an
    # idle worker looks for work.
    "JOBS_LEASE_SECONDS": 300,
    "JOBS_BACKOFF_BASE_SECONDS": 30,
    "JOBS_BACKOFF_MAX_SECONDS": 3600,
    "JOBS_POLL_INTERVAL": 1.0,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
    # A signed-in browser unused this long is signed out (remember-me included).
    "SESSION_IDLE_DAYS": 14,
    "REMEMBER_COOKIE_DURATION": timedelta(days=30),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session: no lost drafts at 1 h
    # Docs sites whose pages may show the embed (CSP frame-ancestors), e.g.
    # ["https://docs.example.com"]. The app itself always may (the admin's live preview).
    "EMBED_ALLOWED_ORIGINS": [],
    # The session cookie inside the embed (SameSite=None; Secure; Partitioned), kept apart from
    # the site's own so that each has the attributes its context needs.
    "EMBED_SESSION_COOKIE_NAME": "community_embed",
    # None means "secure when BASE_URL is https".
    "SESSION_COOKIE_SECURE": None,
    "REMEMBER_COOKIE_SECURE": None,
}

# Values that must never be used as a real secret key.
_WEAK_SECRETS = {"dev", "development", "secret", "changeme", "change-me", "test", "insecure"}
MIN_SECRET_LENGTH = 24


class ConfigError(RuntimeError):
    """The configuration is missing something or contradicts itself; the app refuses to start."""


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config:
        app.config.from_mapping(test_config)
    _derive(app)
    validate(app.config)


def _derive(app: Flask) -> None:
    config = app.config
    uri = config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        os.makedirs(app.instance_path, exist_ok=True)
        uri = "sqlite:///" + os.path.join(app.instance_path, "community.db")
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(uri)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # pool_pre_ping is pointless for a file, and SQLite wants a generous lock wait instead.
        options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        options.setdefault("connect_args", {"timeout": 15})
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    config["BASE_URL"] = str(config["BASE_URL"]).rstrip("/")
    https = config["BASE_URL"].startswith("https://")
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if config.get(key) is None:
            config[key] = https
    config["PREFERRED_URL_SCHEME"] = "https" if https else "http"


def database_uri(uri: str) -> str:
    """Point PostgreSQL URLs at psycopg 3, whatever driver (or none) they name."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def validate(config: Mapping[str, Any]) -> None:
    secret = config.get("SECRET_KEY")
    if not config.get("TESTING"):
        if not secret:
            raise ConfigError(
                "SECRET_KEY is not set: set COMMUNITY_SECRET_KEY or put SECRET_KEY in "
                "instance/config.py (`make dev` writes one for local use)."
            )
        if str(secret).lower() in _WEAK_SECRETS or len(str(secret)) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"SECRET_KEY is too weak: use at least {MIN_SECRET_LENGTH} random characters, "
                'for example python -c "import secrets; print(secrets.token_hex(32))".'
            )
    base = urlsplit(config["BASE_URL"])
    if base.scheme not in {"http", "https"} or not base.netloc:
        raise ConfigError(f"BASE_URL must be an absolute http(s) URL, not {config['BASE_URL']!r}.")
    aliases = config.get("PAGE_HOST_ALIASES")
    if not isinstance(aliases, Mapping):
        raise ConfigError("PAGE_HOST_ALIASES must map a host to a canonical origin (JSON object).")
    for host, origin in aliases.items():
        parts = urlsplit(str(origin))
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.username is not None
            or parts.path not in {"", "/"}
        ):
            raise ConfigError(
                f"PAGE_HOST_ALIASES[{host!r}] must be an origin like https://docs.example.com."
            )
    origins = config.get("PAGE_ALLOWED_ORIGINS")
    if not isinstance(origins, list | tuple) or not all(
        _is_origin(str(origin)) for origin in origins
    ):
        raise ConfigError(
            'PAGE_ALLOWED_ORIGINS must be a list of origins like ["https://docs.example.com"].'
        )
    embed_origins = config.get("EMBED_ALLOWED_ORIGINS")
    if not isinstance(embed_origins, list | tuple) or not all(
        _is_origin(str(origin)) for origin in embed_origins
    ):
        raise ConfigError(
            'EMBED_ALLOWED_ORIGINS must be a list of origins like ["https://docs.example.com"].'
        )
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise ConfigError("Set MAIL_USE_TLS (STARTTLS) or MAIL_USE_SSL (implicit TLS), not both.")
    proxies = config.get("PROXY_COUNT")
    if not isinstance(proxies, int) or not 0 <= proxies <= 5:
        raise ConfigError("PROXY_COUNT must be the number of proxies in front of the app (0-5).")
    if config.get("EMBED_SESSION_COOKIE_NAME") == config.get("SESSION_COOKIE_NAME", "session"):
        raise ConfigError("EMBED_SESSION_COOKIE_NAME must differ from SESSION_COOKIE_NAME.")
    cache = config.get("PAGE_CACHE_MB")
    if isinstance(cache, bool) or not isinstance(cache, int | float) or not 0 <= cache <= 65536:
        raise ConfigError("PAGE_CACHE_MB must be the megabytes per worker (0 turns it off).")
    per_page = config.get("QUESTIONS_PER_PAGE")
    if not isinstance(per_page, int) or not 1 <= per_page <= 100:
        raise ConfigError("QUESTIONS_PER_PAGE must be a whole number from 1 to 100.")


def _is_origin(text: str) -> bool:
    parts = urlsplit(text)
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and parts.username is None
        and parts.path in {"", "/"}
        and not parts.query
        and not parts.fragment
    )
