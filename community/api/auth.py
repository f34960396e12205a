"""Who is calling: a personal API token in ``Authorization: Bearer``, never a cookie.

Reads do not look at the token at all (they are the same for everyone, hence cacheable); writes
and ``/me`` require one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from community.accounts import services as account_services
from community.accounts.models import ApiToken, User
from community.api.http import ApiProblem

View = TypeVar("View", bound=Callable[..., Any])
REALM = 'Bearer realm="community"'


@dataclass(frozen=True)
class PublicViewer:
    """The viewer of every API read: nobody in particular, so only public posts are shown."""

    is_authenticated: bool = False
    id: int = 0
    is_moderator: bool = False


PUBLIC = PublicViewer()


def bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip() or None


def token_required(view: View) -> View:
    """Run ``view`` only for a live token of an account in good standing: 401 (with
    ``WWW-Authenticate: Bearer``, RFC 6750) without one, 403 for a suspended account."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        secret = bearer_secret()
        if secret is None:
            raise ApiProblem(
                401,
                "Unauthorized",
                "Send a personal API token as `Authorization: Bearer <token>`; create one in "
                "your account settings.",
                headers={"WWW-Authenticate": REALM},
            )
        token = account_services.api_token_for_secret(secret)
        if token is None:
            raise ApiProblem(
                401,
                "Unauthorized",
                "This token is not valid: it may have been revoked.",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )
        if not token.user.is_active:
            raise ApiProblem(403, "Forbidden", "This account is suspended.")
        account_services.note_api_token_use(
            token, own_transaction=request.method in {"GET", "HEAD"}
        )
        g.api_token = token
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def current_token() -> ApiToken:
    return g.api_token


def current_user() -> User:
    return g.api_token.user


def token_rate_limit_key() -> str:
    """Rate limits on writes count per token (set by :func:`token_required`, which runs first)."""
    return f"api-token:{g.api_token.id}"
