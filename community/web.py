"""What every HTTP response shares: security headers, safe redirects and error pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from community.db import MAX_ID
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # Posts may show images from any https host; never data: or javascript:.
    "img-src": "'self' https:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# What people write in our forms; the CSRF error page shows these back so nothing is lost.
WRITTEN_FIELDS = ("subject", "body", "name", "reason")


def init_app(app: Flask) -> None:
    # Before the blueprints add their rules, so every ``<int:...>`` in a URL is a row id.
    app.url_map.converters["int"] = RowIdConverter
    app.before_request(_refuse_nul_characters)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


class RowIdConverter(IntegerConverter):
    """An ``int`` in a URL is a row id: one no row can have is a 404, not a database error."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)  # ids start at 1: /questions/0 is not a route either
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def trust_proxies(app: Flask) -> None:
    """Trust exactly ``PROXY_COUNT`` proxies for the client address, scheme and host, so that
    https is seen as https (Secure cookies, HSTS) and rate limits key on the real client. The
    outermost layer: called last, after every other middleware is in place."""
    proxies = app.config["PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )


def _refuse_nul_characters() -> None:
    """No text field of ours may hold NUL (PostgreSQL refuses it): a clear 400, not a 500."""
    values = [*request.args.values()]
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        values += request.form.values()
    if any("\x00" in value for value in values):
        abort(400, "The request contains a NUL character, which no text here may hold.")


def allow_framing_by(*origins: str) -> None:
    """Let the current response be framed by these origins (only the embed route does this)."""
    g.frame_ancestors = " ".join(origins) if origins else "'none'"


def _policy(frame_ancestors: str) -> str:
    policy = {**CONTENT_SECURITY_POLICY, "frame-ancestors": frame_ancestors}
    return "; ".join(f"{k} {v}" for k, v in policy.items())


# Built once: every response carries it, and most say frame-ancestors 'none'.
_DEFAULT_POLICY = _policy("'none'")


def _security_headers(response: Response) -> Response:
    ancestors = g.get("frame_ancestors")
    response.headers.setdefault(
        "Content-Security-Policy", _policy(ancestors) if ancestors else _DEFAULT_POLICY
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", g.get("opener_policy", "same-origin"))
    if response.mimetype == "text/html":
        # Pages carry CSRF tokens and per-person content: never from a shared cache.
        response.headers.setdefault("Cache-Control", "private, no-cache")
    if request.is_secure:
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    return response


def external_url(endpoint: str, _anchor: str | None = None, **values: Any) -> str:
    """An absolute URL under ``BASE_URL``, for emails, Slack and Zendesk.

    Built from configuration, never from the request's Host header, and usable outside requests
    (job handlers, CLI commands).
    """
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{_anchor}" if _anchor else url


def act_and_redirect(target: str, action: Callable[[], object], done: str) -> Response:
    """A button's POST: run one state-changing service call, commit, say what happened, and
    go back to ``target``.

    NotAllowed and NotFound answer 403 and 404; any other broken rule is rolled back and
    flashed. ``action`` returns whether anything changed (None counts as a change; False or 0
    flashes "Nothing to change.").
    """
    try:
        changed = action()
    except (NotAllowed, NotFound) as error:
        abort(error.status, str(error))
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        if changed is None or changed:
            flash(done, "success")
        else:
            flash("Nothing to change.", "info")
    return redirect(target)


def safe_next_url(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None.

    Only a relative path that starts with a single "/" is accepted: no scheme, no host, no
    backslashes (browsers read them as slashes) and no control characters or spaces.
    """
    if not target or len(target) > 2000:
        return None
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def problem(status: int, title: str, detail: str = "", **extra: object) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _http_error(error: HTTPException) -> Response | tuple[str, int, list[tuple[str, str]]]:
    status = error.code or 500
    # Headers the error carries besides its body: Allow on a 405, Retry-After on a 429.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if wants_json():
        response = problem(status, error.name, error.description or "")
        response.headers.extend(headers)
        return response
    template = "errors/404.html" if status in (404, 410) else "errors/error.html"
    return render_template(template, error=error, status=status), status, headers


def _server_error(error: InternalServerError) -> Response | tuple[str, int]:
    if wants_json():
        return problem(500, "Internal Server Error", "Something went wrong on our side.")
    return render_template("errors/500.html"), 500


def _csrf_error(error: CSRFError) -> Response | tuple[str, int]:
    """A form whose token expired or is missing: nothing changed, but show what the person wrote.

    The text is shown for copying rather than offered for a one-click resend, so a forged
    cross-site form cannot borrow our page to get itself submitted.
    """
    # Start this reader's session with a token if they had none (a first-time visitor of a
    # stored embed without script): going back then shows them a page that carries it.
    generate_csrf()
    if wants_json():
        return problem(400, "CSRF token missing or invalid", error.description or "")
    kept = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name in WRITTEN_FIELDS and value.strip()
    ]
    back = safe_next_url(_same_site_path(request.referrer))
    return render_template("errors/csrf.html", kept=kept, back=back), 400


def _same_site_path(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
