"""The identity-provider adapter: the only module that talks to Authlib's client.

It reads the configured providers (GitHub, Google, any number of generic OpenID Connect
providers), starts a flow (state, PKCE S256 and, for OpenID Connect, a nonce, all kept in the
session by Authlib), finishes it (code exchange, ID-token validation, the GitHub API calls) and
hands the rest of the app a small ``ProviderProfile``. What to do with a profile (which account,
linking, refusing) is decided in ``identities.py``.

Each app gets its own client objects (in ``app.extensions``) rather than the ones Authlib's
registry caches by name: the registry is a process-wide singleton and would keep serving the
first app's settings to every later app (tests create one app per test).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.flask_client import OAuthError
from flask import Flask, current_app, session
from joserfc.errors import JoseError

from community.config import ConfigError
from community.errors import DomainError
from community.extensions import oauth as registry

log = logging.getLogger(__name__)

EXTENSION = "community.identity_providers"
GITHUB = "github"
GOOGLE = "google"
GOOGLE_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# A slow provider fails the sign-in instead of holding a worker for a minute.
HTTP_TIMEOUT_SECONDS = 10
# Clock skew we tolerate on an ID token's exp/iat.
ID_TOKEN_LEEWAY_SECONDS = 60
# Signatures we accept on ID tokens: asymmetric only ("none" and HMAC never, whatever the
# provider's discovery document lists).
ID_TOKEN_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_OIDC_KEY = re.compile(r"^OIDC_([A-Z0-9_]+)_METADATA_URL$")
_PROVIDER_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class ProviderError(DomainError):
    """The provider did not complete the sign-in (cancelled, refused, tampered, unreachable).
    The message is generic on purpose: nothing the provider or the request said is shown."""

    status = 400


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, or its discovery document is not acceptable."""

    status = 502


@dataclass(frozen=True)
class ProviderProfile:
    """Who a provider says signed in, normalised across providers."""

    provider: str  # our key: "github", "google", or a generic provider's lower-cased name
    provider_name: str  # for people: "GitHub"
    subject: str  # the provider's stable id for the person: GitHub's numeric id, OIDC "sub"
    email: str | None
    # True only when the provider says the address is verified *and* we trust it to say so.
    email_verified: bool
    display_name: str | None
    # False for a generic OpenID Connect provider an admin has not marked as verifying emails.
    provider_verifies_email: bool = True


@dataclass
class Provider:
    key: str
    display_name: str
    kind: str  # "github" or "oidc"
    trusts_email: bool
    client: Any = field(repr=False)
    metadata_url: str | None = None


# -- configuration -----------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    registry.init_app(app)
    app.extensions[EXTENSION] = providers_from_config(app.config)


def providers_from_config(config: Mapping[str, Any]) -> dict[str, Provider]:
    """The providers the configuration names, in button order. Raises ConfigError on a half-set
    provider, so a typo fails at start-up instead of hiding a button."""
    providers: dict[str, Provider] = {}
    github = _credentials(config, "GITHUB")
    if github:
        providers[GITHUB] = _github(config, *github)
    google = _credentials(config, "GOOGLE")
    if google:
        providers[GOOGLE] = _oidc(
            GOOGLE,
            "Google",
            config.get("GOOGLE_METADATA_URL") or GOOGLE_METADATA_URL,
            *google,
            trusts_email=True,  # Google says email_verified only for addresses it verified
        )
    for name in sorted(_generic_names(config)):
        key = name.lower()
        if not _PROVIDER_KEY.match(key):
            raise ConfigError(f"OIDC_{name}_*: use letters, digits and _ in the provider name.")
        if key in providers:
            raise ConfigError(f"OIDC_{name}_* clashes with the built-in {key} provider.")
        credentials = _credentials(config, f"OIDC_{name}")
        if not credentials:
            raise ConfigError(f"OIDC_{name}_METADATA_URL is set: set OIDC_{name}_CLIENT_ID too.")
        providers[key] = _oidc(
            key,
            str(config.get(f"OIDC_{name}_DISPLAY_NAME") or name.replace("_", " ").title()),
            str(config[f"OIDC_{name}_METADATA_URL"]),
            *credentials,
            trusts_email=_flag(config.get(f"OIDC_{name}_TRUST_EMAIL")),
        )
    return providers


def _generic_names(config: Mapping[str, Any]) -> set[str]:
    return {
        match.group(1) for key, value in config.items() if value and (match := _OIDC_KEY.match(key))
    }


def _credentials(config: Mapping[str, Any], prefix: str) -> tuple[str, str] | None:
    client_id = config.get(f"{prefix}_CLIENT_ID")
    secret = config.get(f"{prefix}_CLIENT_SECRET")
    if not client_id and not secret:
        return None
    if not client_id or not secret:
        raise ConfigError(f"Set both {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET, or neither.")
    return str(client_id), str(secret)


def _flag(value: Any) -> bool:
    """Environment values arrive as JSON (true) or text ("yes"); anything else is false."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _client(key: str, **kwargs: Any) -> Any:
    framework = registry.framework_integration_cls(key, registry.cache)
    return registry.oauth2_client_cls(framework, key, **kwargs)


def _github(config: Mapping[str, Any], client_id: str, secret: str) -> Provider:
    api = str(config.get("GITHUB_API_URL") or "https://api.github.com/")
    client = _client(
        GITHUB,
        client_id=client_id,
        client_secret=secret,
        authorize_url=config.get("GITHUB_AUTHORIZE_URL")
        or "https://github.com/login/oauth/authorize",
        access_token_url=config.get("GITHUB_TOKEN_URL")
        or "https://github.com/login/oauth/access_token",
        api_base_url=api if api.endswith("/") else api + "/",
        client_kwargs={
            "scope": "read:user user:email",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_post",
            "default_timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
    return Provider(GITHUB, "GitHub", "github", trusts_email=True, client=client)


def _oidc(
    key: str, name: str, metadata_url: str, client_id: str, secret: str, *, trusts_email: bool
) -> Provider:
    client = _client(
        key,
        client_id=client_id,
        client_secret=secret,
        server_metadata_url=metadata_url,
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
    return Provider(key, name, "oidc", trusts_email, client=client, metadata_url=metadata_url)


# -- looking providers up -------------------------------------------------------------------


def configured_providers() -> list[Provider]:
    return list(current_app.extensions.get(EXTENSION, {}).values())


def get_provider(key: str) -> Provider | None:
    return current_app.extensions.get(EXTENSION, {}).get(key)


def provider_name(key: str) -> str:
    """How to name a provider to people, even one no longer configured."""
    found = get_provider(key)
    return found.display_name if found else key.replace("_", " ").title()


# -- the flow --------------------------------------------------------------------------------


def begin(provider: Provider, redirect_uri: str) -> tuple[str, str]:
    """Start a flow: (the provider's authorization URL, the state it carries).

    Authlib keeps the state's data (PKCE verifier, nonce, redirect URI) in the session. One flow
    per browser at a time: pending ones are dropped, so abandoned attempts cannot pile up in the
    session cookie.
    """
    forget_pending_flows()
    try:
        if provider.kind == "oidc":
            _oidc_metadata(provider)
        started = provider.client.create_authorization_url(redirect_uri)
    except _FAILURES as error:
        log.warning("could not start a %s sign-in: %r", provider.key, error)
        raise ProviderUnavailable(
            f"Signing in with {provider.display_name} isn't working right now. Please try again "
            "in a moment, or sign in with your email address."
        ) from error
    provider.client.save_authorize_data(redirect_uri=redirect_uri, **started)
    return started["url"], started["state"]


def forget_pending_flows() -> None:
    for key in [key for key in session if key.startswith("_state_")]:
        session.pop(key, None)


def complete(provider: Provider) -> ProviderProfile:
    """Finish the flow the provider redirected back to us with: check the state, exchange the
    code (with the PKCE verifier), validate the ID token, fetch the person's details."""
    try:
        if provider.kind == "github":
            return _complete_github(provider)
        return _complete_oidc(provider)
    except OAuthError as error:
        forget_pending_flows()
        log.info("%s sign-in refused: %s", provider.key, error.error)
        if error.error == "access_denied":
            raise ProviderError(
                f"Signing in with {provider.display_name} was cancelled. Nothing was changed."
            ) from error
        raise _failed(provider) from error
    except _FAILURES as error:
        forget_pending_flows()
        log.warning("%s sign-in failed: %r", provider.key, error)
        raise _failed(provider) from error


def _failed(provider: Provider) -> ProviderError:
    return ProviderError(
        f"We couldn't confirm your sign-in with {provider.display_name}. Nothing was changed; "
        "please start again."
    )


# Everything a provider exchange can raise: protocol and token errors, an unreachable or
# misbehaving server, a malformed answer.
_FAILURES = (
    OAuthError,
    JoseError,
    requests.RequestException,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
)


def _complete_github(provider: Provider) -> ProviderProfile:
    client = provider.client
    token = client.authorize_access_token()
    user = _json(client.get("user", token=token))
    emails = _json(client.get("user/emails", token=token))
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise ValueError("GitHub /user has no numeric id")
    # Only the primary address, and only if GitHub verified it (never a secondary one).
    listed = emails if isinstance(emails, list) else []
    primary = next((e for e in listed if isinstance(e, dict) and e.get("primary") is True), None)
    email = primary.get("email") if primary else None
    return ProviderProfile(
        provider=provider.key,
        provider_name=provider.display_name,
        subject=str(user["id"]),
        email=email if isinstance(email, str) and email else None,
        email_verified=bool(primary and primary.get("verified") is True and email),
        display_name=_text(user.get("name")) or _text(user.get("login")),
    )


def _complete_oidc(provider: Provider) -> ProviderProfile:
    client = provider.client
    metadata = _oidc_metadata(provider)
    # Authlib checks the signature against the provider's JWKS and the nonce against the one in
    # the session; these options add what it does not check by default: the audience must
    # include our client id, and iss/sub/exp/iat must all be there.
    claims_options = {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": client.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    token = client.authorize_access_token(
        claims_options=claims_options, leeway=ID_TOKEN_LEEWAY_SECONDS
    )
    claims = token.get("userinfo")
    if not claims:
        raise ValueError("no ID token in the token response")
    claims = dict(claims)
    if "email" not in claims and metadata.get("userinfo_endpoint"):
        # Some providers put the address only in the userinfo answer; take it only if it is
        # about the same subject (OpenID Connect Core 5.3.2).
        extra = client.userinfo(token=token)
        if extra.get("sub") == claims["sub"]:
            for name in ("email", "email_verified", "name", "preferred_username"):
                claims.setdefault(name, extra.get(name))
    email = claims.get("email")
    said_verified = claims.get("email_verified") in (True, "true")
    return ProviderProfile(
        provider=provider.key,
        provider_name=provider.display_name,
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) and email else None,
        email_verified=bool(email and said_verified and provider.trusts_email),
        display_name=_text(claims.get("name")) or _text(claims.get("preferred_username")),
        provider_verifies_email=provider.trusts_email,
    )


def _oidc_metadata(provider: Provider) -> dict[str, Any]:
    """The discovery document, checked once: its issuer must be the URL it was fetched from
    (OpenID Connect Discovery 4.3), and only asymmetric signatures are accepted."""
    metadata = provider.client.load_server_metadata()
    if not metadata.get("_checked_by_community"):
        issuer = metadata.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise ValueError(f"{provider.metadata_url} names no issuer")
        url = provider.metadata_url or ""
        if url.endswith(DISCOVERY_SUFFIX) and issuer.rstrip("/") + DISCOVERY_SUFFIX != url:
            raise ValueError(f"{url} names another issuer: {issuer}")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in offered if alg in ID_TOKEN_ALGORITHMS
        ] or ["RS256"]
        metadata["_checked_by_community"] = True
    return metadata


def _json(response: Any) -> Any:
    response.raise_for_status()
    return response.json()


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
