"""The JSON API under ``/api/v1``: public, cacheable reads; writes with a personal API token.

Cookies never reach the API (``accounts.cookies`` gives ``/api/`` no session), so a cross-site
request carries no identity and CSRF does not apply: writes authenticate with
``Authorization: Bearer`` only. Reads are the same for everyone, so they are shared-cacheable and
open to every origin (``Access-Control-Allow-Origin: *``, never with credentials).
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from community.api import http, views
    from community.extensions import csrf

    app.register_blueprint(views.bp)
    # No cookie session under /api/, so there is no session for a forged request to ride on;
    # the bearer token, which a browser never adds on its own, is what authenticates a write.
    csrf.exempt(views.bp)
    app.after_request(http.api_response_headers)
