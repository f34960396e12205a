"""Fake identity providers as real HTTP servers on 127.0.0.1: an OpenID Connect provider and the
parts of GitHub that sign-in uses.

They behave like the real ones where our security depends on it: the authorization code is single
use and bound to its redirect URI, the PKCE verifier is checked against the S256 challenge, ID
tokens are RS256-signed JWTs with iss/aud/exp/iat/nonce, and the JWKS serves the public key. Each
has knobs to misbehave, so tests can check we refuse what a real attacker could send.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

REMOVE = object()  # a claim override that drops the claim


@cache
def signing_key(kid: str) -> RSAKey:
    """RSA keys are slow to make: one per kid for the whole run."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class Person:
    """Who is signed in at the provider."""

    sub: str = "248289761001"
    email: str | None = "alice@example.com"
    email_verified: Any = True
    name: str | None = "Alice Example"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    person: Person


class _Server(abc.ABC):
    """A threaded HTTP server whose requests go to ``self.handle(method, path, query, form,
    headers)`` returning (status, headers, body)."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, headers, body = owner.handle(
                    method, parts.path, query, form, dict(self.headers)
                )
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                if not isinstance(body, bytes):
                    self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A short poll interval: shutdown() waits for it, twice per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @abc.abstractmethod
    def handle(self, method, path, query, form, headers) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, headers, body)."""

    @staticmethod
    def redirect(url: str, **params: str) -> tuple[int, dict[str, str], bytes]:
        joiner = "&" if "?" in url else "?"
        return 302, {"Location": f"{url}{joiner}{urlencode(params)}"}, b""

    @staticmethod
    def client_credentials(form: dict[str, str], headers: dict[str, str]) -> tuple[str, str]:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote(user), unquote(password)
        return form.get("client_id", ""), form.get("client_secret", "")


class FakeOIDCProvider(_Server):
    """An OpenID Connect provider: discovery, /authorize, /token, /jwks, /userinfo.

    Knobs: ``person`` (who signs in), ``claim_overrides`` (merged into the next ID tokens;
    ``REMOVE`` drops a claim), ``sign_with_foreign_key`` (a valid signature by a key not in the
    JWKS, under the same kid), ``unsigned`` (``alg: none``), ``replay_id_token`` (answer with
    this earlier token instead), ``omit_id_token``, ``email_in_id_token`` (False: only /userinfo
    has the address), ``deny`` (the person cancels at the provider), ``metadata_overrides``.
    """

    def __init__(self, client_id: str = "community-test", client_secret: str = "s3cret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.issuer = self.url
        self.metadata_url = self.url + "/.well-known/openid-configuration"
        self.key = signing_key("idp-key-1")
        self.person = Person()
        self.claim_overrides: dict[str, Any] = {}
        self.sign_with_foreign_key = False
        self.unsigned = False
        self.replay_id_token: str | None = None
        self.omit_id_token = False
        self.email_in_id_token = True
        self.deny = False
        self.metadata_overrides: dict[str, Any] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.issued_id_tokens: list[str] = []
        self.metadata_requests = 0
        self._grants: dict[str, Grant] = {}
        self._access_tokens: dict[str, Person] = {}

    def settings(self, name: str = "ACME", *, trust_email: bool = True, **extra: Any) -> dict:
        """The app settings for this provider as a generic OpenID Connect provider."""
        return {
            f"OIDC_{name}_METADATA_URL": self.metadata_url,
            f"OIDC_{name}_CLIENT_ID": self.client_id,
            f"OIDC_{name}_CLIENT_SECRET": self.client_secret,
            f"OIDC_{name}_DISPLAY_NAME": extra.get("display_name", name.title()),
            f"OIDC_{name}_TRUST_EMAIL": trust_email,
        }

    def handle(self, method, path, query, form, headers):
        if path == "/.well-known/openid-configuration":
            self.metadata_requests += 1
            return 200, {}, self.metadata()
        if path == "/authorize" and method == "GET":
            return self.authorize(query)
        if path == "/token" and method == "POST":
            return self.token(form, headers)
        if path == "/jwks":
            return 200, {}, {"keys": [self.key.as_dict(private=False)]}
        if path == "/userinfo":
            person = self._access_tokens.get(headers.get("Authorization", "")[7:])
            if person is None:
                return 401, {}, {"error": "invalid_token"}
            return 200, {}, self.person_claims(person)
        return 404, {}, {"error": "not_found"}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/jwks",
            "userinfo_endpoint": self.url + "/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
            **self.metadata_overrides,
        }

    def authorize(self, query: dict[str, str]):
        self.authorize_requests.append(dict(query))
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return 400, {}, {"error": "invalid_request"}
        if self.deny:
            return self.redirect(
                redirect_uri,
                error="access_denied",
                error_description="<script>alert('provider text')</script>",
                state=query.get("state", ""),
            )
        code = secrets.token_urlsafe(16)
        self._grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=redirect_uri,
            state=query.get("state"),
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
            code_challenge_method=query.get("code_challenge_method"),
            person=Person(**vars(self.person)),
        )
        params = {"code": code}
        if query.get("state"):
            params["state"] = query["state"]
        return self.redirect(redirect_uri, **params)

    def token(self, form: dict[str, str], headers: dict[str, str]):
        self.token_requests.append(dict(form))
        client_id, secret = self.client_credentials(form, headers)
        if (client_id, secret) != (self.client_id, self.client_secret):
            return 401, {}, {"error": "invalid_client"}
        grant = self._grants.pop(form.get("code", ""), None)  # single use
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {}, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {}, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.code_challenge is not None and (
            grant.code_challenge_method != "S256"
            or s256(form.get("code_verifier", "")) != grant.code_challenge
        ):
            return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = secrets.token_urlsafe(16)
        self._access_tokens[access_token] = grant.person
        answer: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
        }
        if not self.omit_id_token:
            answer["id_token"] = self.replay_id_token or self.id_token(grant)
        return 200, {"Cache-Control": "no-store"}, answer

    def person_claims(self, person: Person) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": person.sub}
        if person.email is not None:
            claims["email"] = person.email
        if person.email_verified is not None:
            claims["email_verified"] = person.email_verified
        if person.name is not None:
            claims["name"] = person.name
        return claims

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        person = self.person_claims(grant.person)
        if not self.email_in_id_token:
            person.pop("email", None)
            person.pop("email_verified", None)
        claims.update(person)
        for name, value in self.claim_overrides.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        if self.unsigned:
            header = {"alg": "none", "kid": "idp-key-1", "typ": "JWT"}
            token = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims)) + "."
            self.issued_id_tokens.append(token)
            return token
        key = signing_key("foreign-key") if self.sign_with_foreign_key else self.key
        token = jwt.encode({"alg": "RS256", "kid": "idp-key-1", "typ": "JWT"}, claims, key)
        self.issued_id_tokens.append(token)
        return token


class FakeGitHub(_Server):
    """GitHub's OAuth endpoints and the two API calls sign-in makes (/user, /user/emails).

    Knobs: ``user`` (the /user answer), ``emails`` (the /user/emails answer), ``deny``.
    """

    def __init__(self, client_id: str = "gh-client", client_secret: str = "gh-secret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.user: dict[str, Any] = {"id": 583231, "login": "octocat", "name": "The Octocat"}
        self.emails: list[dict[str, Any]] = [
            {"email": "octocat@example.com", "primary": True, "verified": True},
        ]
        self.deny = False
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._grants: dict[str, Grant] = {}
        self._access_tokens: set[str] = set()

    def settings(self) -> dict[str, Any]:
        return {
            "GITHUB_CLIENT_ID": self.client_id,
            "GITHUB_CLIENT_SECRET": self.client_secret,
            "GITHUB_AUTHORIZE_URL": self.url + "/login/oauth/authorize",
            "GITHUB_TOKEN_URL": self.url + "/login/oauth/access_token",
            "GITHUB_API_URL": self.url + "/api/",
        }

    def handle(self, method, path, query, form, headers):
        if path == "/login/oauth/authorize":
            self.authorize_requests.append(dict(query))
            if query.get("client_id") != self.client_id:
                return 404, {}, b"Not Found"
            if self.deny:
                return self.redirect(
                    query["redirect_uri"], error="access_denied", state=query.get("state", "")
                )
            code = secrets.token_hex(10)
            self._grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=query.get("redirect_uri", ""),
                state=query.get("state"),
                nonce=None,
                code_challenge=query.get("code_challenge"),
                code_challenge_method=query.get("code_challenge_method"),
                person=Person(),
            )
            return self.redirect(query["redirect_uri"], code=code, state=query.get("state", ""))
        if path == "/login/oauth/access_token" and method == "POST":
            self.token_requests.append(dict(form))
            # GitHub answers 200 with an error body, which the client must still refuse.
            if self.client_credentials(form, headers) != (self.client_id, self.client_secret):
                return 200, {}, {"error": "incorrect_client_credentials"}
            grant = self._grants.pop(form.get("code", ""), None)
            if grant is None or form.get("redirect_uri") != grant.redirect_uri:
                return 200, {}, {"error": "bad_verification_code"}
            if grant.code_challenge and s256(form.get("code_verifier", "")) != (
                grant.code_challenge
            ):
                return 200, {}, {"error": "bad_verification_code"}
            token = "gho_" + secrets.token_hex(16)
            self._access_tokens.add(token)
            return 200, {}, {"access_token": token, "token_type": "bearer", "scope": "user:email"}
        if path.startswith("/api/"):
            if headers.get("Authorization", "")[7:] not in self._access_tokens:
                return 401, {}, {"message": "Bad credentials"}
            if path == "/api/user":
                return 200, {}, self.user
            if path == "/api/user/emails":
                return 200, {}, self.emails
        return 404, {}, {"message": "Not Found"}
