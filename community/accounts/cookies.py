"""Which cookie carries the session, by context.

- On the site, the usual signed session cookie (``SameSite=Lax``).
- Inside the embed (``/embed`` and below, framed by a docs site), a cookie of its own that
  browsers keep in a third-party context: ``SameSite=None; Secure; Partitioned`` (CHIPS). When
  the docs site and the community share a site, the browser also sends the site's own cookie,
  so a visitor signed in on the community is signed in inside the embed too.
- The JSON API (``/api/``) has no cookie session at all: it authenticates by bearer token only,
  so a cross-site request can never borrow a visitor's cookies (and CSRF does not apply).

The session itself (its user, its per-device row, its CSRF token) is the same in all three; only
the cookie that carries it differs. A copied embed session is revoked with its row like any other.
"""

from __future__ import annotations

from flask import Flask, Request, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.wrappers import Response

EMBED_PATH = "/embed"
API_PATH = "/api/"


def is_embed_request(req: Request) -> bool:
    return req.path == EMBED_PATH or req.path.startswith(EMBED_PATH + "/")


def is_api_request(req: Request) -> bool:
    return req.path.startswith(API_PATH)


class SessionCookies(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_api_request(request):
            return self.session_class()  # never read from nor written to a cookie
        session = super().open_session(app, request)
        if (
            session is not None
            and not session
            and is_embed_request(request)
            and app.config["SESSION_COOKIE_NAME"] in request.cookies
        ):
            # Same-site embed with no session of its own yet: carry on the site's session.
            serializer = self.get_signing_serializer(app)
            try:
                data = serializer.loads(
                    request.cookies[app.config["SESSION_COOKIE_NAME"]],
                    max_age=int(app.permanent_session_lifetime.total_seconds()),
                )
            except BadSignature:  # tampered or expired: an empty session
                return session
            return self.session_class(data)
        return session

    def save_session(self, app: Flask, session: SecureCookieSession, response: Response) -> None:
        if has_request_context() and is_api_request(request):
            return
        super().save_session(app, session, response)

    def get_cookie_name(self, app: Flask) -> str:
        if _in_embed():
            return app.config["EMBED_SESSION_COOKIE_NAME"]
        return super().get_cookie_name(app)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if _in_embed() else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Browsers drop SameSite=None cookies that are not Secure (localhost counts as secure).
        return True if _in_embed() else super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return True if _in_embed() else super().get_cookie_partitioned(app)


def _in_embed() -> bool:
    return has_request_context() and is_embed_request(request)
