"""Signing in with GitHub, Google and OpenID Connect providers, linking and unlinking them.

Every flow is the real Authlib flow against fake providers running as HTTP servers on 127.0.0.1
(tests/oidc_server.py): the test client starts it, the provider's authorize endpoint is visited
with http.client (it answers with a redirect back to our callback), and the test client follows
that redirect. "Refused" always means: the right status, nobody signed in, and no row changed.
"""

from __future__ import annotations

import html
import http.client
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask, render_template
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from community import create_app
from community.accounts import services as account_services
from community.accounts import twofactor
from community.accounts.models import Identity, User
from community.config import ConfigError
from community.extensions import db
from community.jobs.models import Job
from community.moderation.models import AuditEvent
from tests.conftest import PASSWORD, base_config, mail_settings
from tests.oidc_server import REMOVE, FakeGitHub, FakeOIDCProvider, Person, s256
from tests.servers import free_port

CALLBACK = "http://localhost/login/{}/callback"


# -- the providers and the app ------------------------------------------------------------------


@pytest.fixture
def idp():
    server = FakeOIDCProvider().start()
    yield server
    server.stop()


@pytest.fixture
def github():
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture
def setup() -> str:
    """Which providers the app has; parametrize to change it."""
    return "trusted"


@pytest.fixture
def extra_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def app_config(request, setup, idp, github, extra_config) -> dict[str, Any]:
    settings = {
        "trusted": {**idp.settings("ACME", trust_email=True), **github.settings()},
        "untrusted": idp.settings("ACME", trust_email=False),
        "google": {
            "GOOGLE_CLIENT_ID": idp.client_id,
            "GOOGLE_CLIENT_SECRET": idp.client_secret,
            "GOOGLE_METADATA_URL": idp.metadata_url,
        },
        "none": {},
    }[setup]
    config = {**settings, **extra_config}
    if "served_at" in request.fixturenames:
        config["BASE_URL"] = request.getfixturevalue("served_at")
    if "smtp_server" in request.fixturenames:
        config.update(mail_settings(request.getfixturevalue("smtp_server")))
    return config


# -- driving a flow ---------------------------------------------------------------------------


def begin(client: FlaskClient, provider: str = "acme", **query: str) -> str:
    """Start signing in; the provider's authorize URL we were sent to."""
    response = client.get(f"/login/{provider}", query_string=query)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def begin_link(client: FlaskClient, provider: str = "acme") -> str:
    """Start linking from settings; the provider's authorize URL the page moves on to."""
    response = client.post(f"/settings/identities/{provider}/link")
    return continue_url(response)


def continue_url(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', page)
    link = re.search(r'<a class="button" href="([^"]+)" data-continue>', page)
    assert refresh and link, page
    assert refresh.group(1) == link.group(1)
    url = html.unescape(link.group(1))
    assert url.startswith("http://127.0.0.1:"), url
    return url


def at_provider(authorize_url: str) -> str:
    """Visit the provider's authorize endpoint as a browser would; where it sends us back."""
    parts = urlsplit(authorize_url)
    assert parts.hostname == "127.0.0.1", authorize_url
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        assert response.status == 302, response.status
        return response.getheader("Location")
    finally:
        connection.close()


def back_to_us(location: str) -> str:
    """The callback path and query of a provider's redirect (which must point at BASE_URL)."""
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("http", "localhost"), location
    return f"{parts.path}?{parts.query}"


def finish(client: FlaskClient, authorize_url: str):
    return client.get(back_to_us(at_provider(authorize_url)))


def sign_in_with(client: FlaskClient, provider: str = "acme", **query: str):
    return finish(client, begin(client, provider, **query))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def signed_in_user(client: FlaskClient) -> int | None:
    with client.session_transaction() as session:
        value = session.get("_user_id")
    return int(value.split(":")[0]) if value else None


def snapshot(app: Flask) -> dict[str, list[tuple]]:
    with app.app_context():
        return {
            table.name: [
                tuple(row)
                for row in db.session.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).all()
            ]
            for table in db.metadata.sorted_tables
        }


def assert_refused(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    page = html.unescape(response.get_data(as_text=True))
    for fragment in fragments:
        assert fragment in page, fragment
    return page


def user_by_email(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def identities(app: Flask) -> list[tuple[int, str, str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                Identity.user_id, Identity.provider, Identity.subject, Identity.email
            ).order_by(Identity.id)
        ).all()
        return [tuple(row) for row in rows]


def unverified_user(app: Flask, email: str, password: str = PASSWORD) -> int:
    """An account signed up with a password whose address was never confirmed."""
    with app.app_context():
        user = account_services.create_user(email, "Mallory", password, verified=False)
        db.session.commit()
        return user.id


def audit_actions(app: Flask) -> list[tuple[str, dict]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.data).order_by(AuditEvent.id)
        ).all()
        return [(action, data) for action, data in rows]


def make_stale(client: FlaskClient) -> None:
    """Make this browser's sign-in older than the re-authentication window."""
    with client.session_transaction() as session:
        session["signed_in_at"] = {**session["signed_in_at"], "at": time.time() - 11 * 60}


# -- the authorize request -------------------------------------------------------------------


def test_oidc_authorize_request_carries_state_pkce_and_nonce(client, idp):
    url = begin(client, "acme")
    assert url.startswith(idp.url + "/authorize?")
    params = query_of(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == idp.client_id
    assert params["redirect_uri"] == CALLBACK.format("acme")
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert len(params["state"]) >= 20
    assert len(params["nonce"]) >= 20
    # a second flow gets fresh values
    again = query_of(begin(client, "acme"))
    for name in ("state", "nonce", "code_challenge"):
        assert again[name] != params[name], name

    response = finish(client, url := begin(client, "acme"))
    assert response.status_code == 302
    sent = idp.token_requests[-1]
    assert s256(sent["code_verifier"]) == query_of(url)["code_challenge"]
    assert sent["redirect_uri"] == CALLBACK.format("acme")


def test_github_authorize_request_carries_state_and_pkce(client, github):
    params = query_of(begin(client, "github"))
    assert params["client_id"] == github.client_id
    assert params["redirect_uri"] == CALLBACK.format("github")
    assert params["scope"] == "read:user user:email"
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] and len(params["state"]) >= 20
    assert "nonce" not in params


def test_redirect_uri_comes_from_base_url_not_the_host_header(client):
    response = client.get(
        "/login/acme",
        base_url="http://evil.test",
        headers={"X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["redirect_uri"] == CALLBACK.format("acme")


def test_unknown_providers_are_not_found(client, make, auth):
    assert client.get("/login/nope").status_code == 404
    assert client.get("/login/nope/callback?state=x&code=y").status_code == 404
    auth.login_as(make.user())
    assert client.post("/settings/identities/nope/link").status_code == 404


# -- first sign-in and signing in again ---------------------------------------------------------


def test_first_sign_in_creates_a_verified_account_without_a_password(app, client, idp):
    response = sign_in_with(client, "acme", next="/questions?state=resolved")
    assert response.status_code == 302
    assert response.headers["Location"] == "/questions?state=resolved"
    user = user_by_email(app, "alice@example.com")
    assert user is not None
    assert user.is_verified and user.password_hash is None
    assert user.name == "Alice Example"
    assert signed_in_user(client) == user.id
    assert identities(app) == [(user.id, "acme", idp.person.sub, "alice@example.com")]
    assert audit_actions(app)[-1][0] == "identity.linked"


def test_signs_in_again_by_subject_even_after_the_provider_email_changes(app, client, idp):
    assert sign_in_with(client).status_code == 302
    first = user_by_email(app, "alice@example.com")
    client.post("/logout")
    assert signed_in_user(client) is None

    idp.person.email = "alice@elsewhere.example"
    idp.person.name = "Alice E."
    response = sign_in_with(client)
    assert response.status_code == 302
    assert signed_in_user(client) == first.id
    assert user_by_email(app, "alice@elsewhere.example") is None  # no second account
    assert user_by_email(app, "alice@example.com").id == first.id  # our address is unchanged
    assert identities(app) == [(first.id, "acme", idp.person.sub, "alice@elsewhere.example")]


def test_an_address_only_in_userinfo_is_used(app, client, idp):
    idp.email_in_id_token = False
    assert sign_in_with(client).status_code == 302
    assert user_by_email(app, "alice@example.com").is_verified


@pytest.mark.parametrize("setup", ["google"])
def test_google_is_an_openid_connect_provider_that_verifies_emails(app, client, idp):
    page = client.get("/settings/identities", follow_redirects=True).get_data(as_text=True)
    assert "/login/google" in page
    response = sign_in_with(client, "google")
    assert response.status_code == 302
    user = user_by_email(app, "alice@example.com")
    assert signed_in_user(client) == user.id
    assert identities(app) == [(user.id, "google", idp.person.sub, "alice@example.com")]


def test_github_sign_in_uses_the_numeric_id_and_the_primary_verified_email(app, client, github):
    github.emails = [
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "octocat@example.com", "primary": True, "verified": True},
    ]
    assert sign_in_with(client, "github").status_code == 302
    user = user_by_email(app, "octocat@example.com")
    assert user.name == "The Octocat" and user.password_hash is None
    assert identities(app) == [(user.id, "github", "583231", "octocat@example.com")]
    # The login handle and the addresses may change; the numeric id does not.
    client.post("/logout")
    github.user = {"id": 583231, "login": "renamed", "name": None}
    github.emails = [{"email": "new@example.com", "primary": True, "verified": True}]
    assert sign_in_with(client, "github").status_code == 302
    assert signed_in_user(client) == user.id
    assert user_by_email(app, "new@example.com") is None


def test_a_banned_account_cannot_sign_in_with_a_provider(app, client, make):
    assert sign_in_with(client).status_code == 302
    user = user_by_email(app, "alice@example.com")
    client.post("/logout")
    make.update(User, user.id, banned_at=datetime.now(UTC))
    before = snapshot(app)
    assert_refused(sign_in_with(client), 403, "suspended")
    assert signed_in_user(client) is None
    assert snapshot(app) == before


def test_a_provider_sign_in_still_asks_for_the_second_factor(app, client, make):
    owner = make.user(email="alice@example.com")
    with app.app_context():
        user = db.session.get(User, owner)
        secret = twofactor.begin_enrolment(user)
        twofactor.confirm_enrolment(user, pyotp.TOTP(secret).now())
        db.session.commit()
    response = sign_in_with(client)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login/two-factor"
    assert signed_in_user(client) is None
    # The identity (matched by the verified address) is linked all the same; the session waits.
    assert identities(app)[0][:2] == (owner, "acme")


# -- matching an existing account by email ------------------------------------------------------


def test_a_verified_local_account_is_linked_and_its_owner_emailed(
    app, client, make, auth, idp, smtp_server, run_jobs
):
    owner = make.user(email="alice@example.com", name="Alice")
    response = sign_in_with(client)
    assert response.status_code == 302
    assert signed_in_user(client) == owner
    assert identities(app) == [(owner, "acme", idp.person.sub, "alice@example.com")]
    linked = {"provider": "acme", "identity_id": identities_ids(app)[0], "via": "email match"}
    assert ("identity.linked", linked) in audit_actions(app)

    run_jobs()
    (message,) = smtp_server.messages_to("alice@example.com")
    assert message["Subject"] == "Acme was linked to your Community account"
    text = message.get_body(("plain",)).get_content()
    assert "alice@example.com" in text
    assert "http://localhost/settings/identities" in text
    # The password still works too.
    fresh = app.test_client()
    response = fresh.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in_user(fresh) == owner


def identities_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Identity.id).order_by(Identity.id)))


def test_an_unverified_local_account_is_never_handed_over(app, client, auth, idp):
    """Pre-hijacking (classic-federated merge): an attacker signed up with the victim's address
    and a password of their own and never confirmed it. The victim, signing in with a provider
    that verified the address, is not merged into that account and not signed in to it."""
    attacker_password = "attacker's own passphrase 42"
    victim_row = unverified_user(app, "alice@example.com", attacker_password)
    before = snapshot(app)

    response = sign_in_with(client)
    page = assert_refused(response, 409, "already exists", "reset the password")
    assert "alice@example.com" in page
    assert signed_in_user(client) is None
    assert snapshot(app) == before  # no identity, no verification, no email queued
    row = user_by_email(app, "alice@example.com")
    assert row.id == victim_row and not row.is_verified

    # The attacker's password is still the only way in, and it opens no identity.
    attacker = app.test_client()
    response = attacker.post(
        "/login", data={"email": "alice@example.com", "password": attacker_password}
    )
    assert response.status_code == 302
    assert signed_in_user(attacker) == victim_row
    assert identities(app) == []


@pytest.mark.parametrize(
    "person",
    [
        Person(email_verified=False),
        Person(email_verified="false"),
        Person(email_verified=None),
        Person(email=None),
    ],
    ids=["unverified", "unverified-text", "no-verified-claim", "no-email"],
)
def test_an_unverified_or_missing_provider_email_is_refused(app, client, make, idp, person):
    other = make.user(email="alice@example.com")  # must not be matched either
    idp.person = person
    before = snapshot(app)
    expected = "didn't share an email" if person.email is None else "isn't verified"
    assert_refused(sign_in_with(client), 403, expected)
    assert signed_in_user(client) is None
    assert snapshot(app) == before
    assert identities(app) == [] and user_by_email(app, "alice@example.com").id == other


def test_github_unverified_primary_email_is_refused_even_with_a_verified_secondary(
    app, client, make, github
):
    make.user(email="second@example.com")
    github.emails = [
        {"email": "octocat@example.com", "primary": True, "verified": False},
        {"email": "second@example.com", "primary": False, "verified": True},
    ]
    before = snapshot(app)
    assert_refused(sign_in_with(client, "github"), 403, "isn't verified")
    assert snapshot(app) == before
    github.emails = []
    assert_refused(sign_in_with(client, "github"), 403, "didn't share an email")
    assert snapshot(app) == before
    assert signed_in_user(client) is None


@pytest.mark.parametrize("setup", ["untrusted"])
def test_generic_provider_without_trust_email_neither_creates_nor_matches(
    app, client, make, auth, idp
):
    """Non-verifying IdP: its email_verified claim is not believed unless an admin says so."""
    before = snapshot(app)
    assert_refused(sign_in_with(client), 403, "doesn't confirm email addresses")
    assert snapshot(app) == before

    owner = make.user(email="alice@example.com")
    before = snapshot(app)
    assert_refused(sign_in_with(client), 403, "doesn't confirm email addresses")
    assert snapshot(app) == before and signed_in_user(client) is None

    # Linked from settings by the signed-in owner, it then signs in by its subject.
    auth.login_as(owner)
    assert finish(client, begin_link(client)).status_code == 302
    assert identities(app)[0][:2] == (owner, "acme")
    auth.logout()
    assert sign_in_with(client).status_code == 302
    assert signed_in_user(client) == owner
    with app.app_context():
        assert db.session.scalar(sa.select(Identity.email_verified)) is False


# -- state, nonce and the ID token ---------------------------------------------------------------


def _callback_params(client: FlaskClient, provider: str = "acme") -> dict[str, str]:
    return query_of(at_provider(begin(client, provider)))


def _assert_nothing_happened(app, client, before, response, *secrets_: str) -> None:
    page = assert_refused(response, 400)
    for secret in secrets_:
        assert secret not in page
    assert signed_in_user(client) is None
    assert snapshot(app) == before


@pytest.mark.parametrize("provider", ["acme", "github"])
def test_a_missing_or_wrong_state_is_refused(app, client, provider):
    before = snapshot(app)
    params = _callback_params(client, provider)
    without = {"code": params["code"]}
    response = client.get(f"/login/{provider}/callback?{urlencode(without)}")
    _assert_nothing_happened(app, client, before, response, params["code"])

    params = _callback_params(client, provider)
    forged = {**params, "state": "forged-" + params["state"][:10]}
    response = client.get(f"/login/{provider}/callback?{urlencode(forged)}")
    _assert_nothing_happened(app, client, before, response, params["code"], "forged-")
    assert "expired, was already used, or was started in another browser" in (
        response.get_data(as_text=True)
    )

    response = client.get(f"/login/{provider}/callback")  # never started
    _assert_nothing_happened(app, client, before, response)


def test_a_callback_from_another_browser_is_refused(app, client, make, auth):
    """Login CSRF: an attacker finishes the provider step with their own account and feeds the
    callback to the victim, who is signed in: nothing links, nobody is switched."""
    attacker = app.test_client()
    callback = back_to_us(at_provider(begin(attacker)))

    before = snapshot(app)
    _assert_nothing_happened(app, client, before, client.get(callback))

    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    begin_link(client)  # the victim even has a link of their own in progress
    before = snapshot(app)
    response = client.get(back_to_us(at_provider(begin(attacker))))
    assert response.status_code == 400
    assert snapshot(app) == before
    assert signed_in_user(client) == bob
    assert identities(app) == []


def test_a_replayed_callback_is_refused(app, client):
    callback = back_to_us(at_provider(begin(client)))
    assert client.get(callback).status_code == 302
    user = signed_in_user(client)
    before = snapshot(app)
    response = client.get(callback)
    assert response.status_code == 400
    assert snapshot(app) == before
    assert signed_in_user(client) == user  # still the first sign-in, nothing new


def test_a_replayed_id_token_fails_the_nonce_check(app, client, idp):
    assert sign_in_with(client).status_code == 302
    client.post("/logout")
    idp.replay_id_token = idp.issued_id_tokens[-1]  # a valid token from the earlier flow
    before = snapshot(app)
    _assert_nothing_happened(app, client, before, sign_in_with(client))


def _tamper_id(tamper: Any) -> str:
    if isinstance(tamper, str):
        return tamper
    return ",".join(f"{k}={'removed' if v is REMOVE else v}" for k, v in tamper.items())


@pytest.mark.parametrize(
    "tamper",
    [
        {"nonce": REMOVE},
        {"nonce": "another-nonce"},
        {"iss": "http://127.0.0.1:9/"},
        {"iss": REMOVE},
        {"aud": "someone-else"},
        {"aud": ["someone-else"], "azp": "community-test"},
        {"aud": REMOVE},
        {"exp": int(time.time()) - 600},
        {"exp": REMOVE},
        {"iat": REMOVE},
        {"sub": REMOVE},
        "foreign key",
        "alg none",
        "no id token",
    ],
    ids=_tamper_id,
)
def test_a_tampered_id_token_is_refused(app, client, idp, tamper):
    if tamper == "foreign key":
        idp.sign_with_foreign_key = True
    elif tamper == "alg none":
        idp.unsigned = True
        idp.metadata_overrides["id_token_signing_alg_values_supported"] = ["none", "RS256"]
    elif tamper == "no id token":
        idp.omit_id_token = True
    else:
        idp.claim_overrides = dict(tamper)
    before = snapshot(app)
    _assert_nothing_happened(app, client, before, sign_in_with(client))
    assert len(idp.token_requests) == 1  # the code was exchanged, the token then refused


def test_the_control_for_the_tampering_tests_signs_in(app, client, idp):
    idp.claim_overrides = {"aud": ["community-test", "another-audience"], "azp": "community-test"}
    assert sign_in_with(client).status_code == 302
    assert signed_in_user(client) is not None


def test_a_discovery_document_naming_another_issuer_is_refused(app, client, idp):
    idp.metadata_overrides["issuer"] = "http://127.0.0.1:9"
    before = snapshot(app)
    response = client.get("/login/acme")
    assert_refused(response, 502, "isn't working right now")
    assert snapshot(app) == before
    assert idp.authorize_requests == []


def test_an_unreachable_provider_is_a_clear_error(app, client, idp):
    idp.stop()
    before = snapshot(app)
    assert_refused(client.get("/login/acme"), 502, "isn't working right now")
    assert snapshot(app) == before


def test_cancelling_at_the_provider_shows_our_message_not_theirs(app, client, idp, github):
    idp.deny = github.deny = True
    before = snapshot(app)
    for provider in ("acme", "github"):
        page = assert_refused(sign_in_with(client, provider), 400, "was cancelled")
        assert "provider text" not in page and "alert(" not in page
    assert signed_in_user(client) is None
    assert snapshot(app) == before


def test_github_token_errors_are_refused(app, client, github):
    github.client_secret = "rotated"  # GitHub answers 200 with an error body
    before = snapshot(app)
    _assert_nothing_happened(app, client, before, sign_in_with(client, "github"))


def test_an_off_site_next_is_dropped(client):
    for target in ("//evil.test", "https://evil.test/", "/\\evil.test"):
        fresh = client.application.test_client()
        response = sign_in_with(fresh, "acme", next=target)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).netloc in {"", "localhost"}, target
        assert "evil.test" not in response.headers["Location"]


# -- linking from settings ----------------------------------------------------------------------


def test_link_from_settings_and_sign_in_with_it(
    app, client, make, auth, idp, smtp_server, run_jobs
):
    bob = make.user(email="bob@example.com", name="Bob")
    auth.login_as(bob)
    idp.person = Person(sub="bob-at-acme", email="robert@corp.example", name="Robert")
    response = finish(client, begin_link(client))
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/identities"
    assert identities(app) == [(bob, "acme", "bob-at-acme", "robert@corp.example")]
    assert audit_actions(app)[-1][0] == "identity.linked"
    assert user_by_email(app, "bob@example.com").email == "bob@example.com"

    page = client.get("/settings/identities").get_data(as_text=True)
    assert "Linked sign-ins" in page and "robert@corp.example" in page
    assert re.search(r'action="/settings/identities/\d+/unlink"', page)
    assert "/settings/identities/acme/link" not in page  # already linked
    assert "/settings/identities/github/link" in page

    run_jobs()
    (message,) = smtp_server.messages_to("bob@example.com")
    assert message["Subject"] == "Acme was linked to your Community account"

    auth.logout()
    assert sign_in_with(client).status_code == 302
    assert signed_in_user(client) == bob


def test_linking_needs_a_verified_address(app, client, idp):
    unverified_user(app, "mallory@example.com")
    client.post("/login", data={"email": "mallory@example.com", "password": PASSWORD})
    assert signed_in_user(client) is not None
    before = snapshot(app)
    response = client.post("/settings/identities/acme/link")
    assert response.status_code == 302
    assert not response.headers["Location"].startswith("http://127.0.0.1")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Confirm your email address before linking" in page
    assert idp.authorize_requests == []
    assert snapshot(app) == before


def test_linking_an_identity_that_belongs_to_someone_else_is_refused(app, client, make, auth):
    owner_client = app.test_client()
    assert sign_in_with(owner_client).status_code == 302  # alice's account, linked to acme
    owner = signed_in_user(owner_client)
    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    before = snapshot(app)
    response = finish(client, begin_link(client))
    assert_refused(response, 409, "already linked to another account")
    assert snapshot(app) == before
    assert identities(app)[0][0] == owner
    assert signed_in_user(client) == bob


def test_linking_needs_a_recent_sign_in(app, client, make, auth, idp):
    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    make_stale(client)
    response = client.post("/settings/identities/acme/link", data={"next": "/settings/identities"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/settings/identities"]
    assert idp.authorize_requests == []
    # Signing in again (password here; a provider works the same) opens the window.
    auth.login_as(bob)
    assert finish(client, begin_link(client)).status_code == 302
    assert identities(app)[0][0] == bob


def test_a_link_completes_only_for_the_user_who_started_it(app, client, make, auth):
    bob = make.user(email="bob@example.com")
    carol = make.user(email="carol@example.com")
    auth.login_as(bob)
    authorize_url = begin_link(client)
    auth.logout()
    auth.login_as(carol)
    before = snapshot(app)
    response = finish(client, authorize_url)
    assert_refused(response, 400, "signed in as someone else")
    assert snapshot(app) == before
    assert identities(app) == []
    assert signed_in_user(client) == carol


@pytest.mark.parametrize("extra_config", [{"WTF_CSRF_ENABLED": True}])
def test_link_and_unlink_need_the_csrf_token(app, client, make, idp):
    bob = make.user(email="bob@example.com")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"email": "bob@example.com", "password": PASSWORD, "csrf_token": token}
    client.post("/login", data=form)
    assert signed_in_user(client) == bob
    page = client.get("/settings/identities").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    before = snapshot(app)
    assert client.post("/settings/identities/acme/link").status_code == 400
    assert idp.authorize_requests == []
    response = client.post("/settings/identities/acme/link", data={"csrf_token": token})
    authorize_url = continue_url(response)
    assert authorize_url.startswith(idp.url)
    assert snapshot(app) == before  # starting changes only the session
    assert finish(client, authorize_url).status_code == 302
    (identity,) = identities_ids(app)
    assert client.post(f"/settings/identities/{identity}/unlink").status_code == 400
    assert identities_ids(app) == [identity]


# -- unlinking ------------------------------------------------------------------------------------


def test_unlink_removes_the_identity_and_tells_the_owner(
    app, client, make, auth, smtp_server, run_jobs
):
    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    finish(client, begin_link(client))
    (identity,) = identities_ids(app)
    response = client.post(
        f"/settings/identities/{identity}/unlink", data={"next": "/settings/identities"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/identities"
    assert identities(app) == []
    unlinked = {"provider": "acme", "identity_id": identity}
    assert audit_actions(app)[-1] == ("identity.unlinked", unlinked)
    run_jobs()
    subjects = [m["Subject"] for m in smtp_server.messages_to("bob@example.com")]
    assert "Acme was unlinked from your Community account" in subjects


def test_the_last_way_to_sign_in_cannot_be_unlinked(app, client, github):
    assert sign_in_with(client).status_code == 302  # a provider-only account
    (acme,) = identities_ids(app)
    page = client.get("/settings/identities").get_data(as_text=True)
    assert "Your only way to sign in" in page
    before = snapshot(app)
    response = client.post(f"/settings/identities/{acme}/unlink", follow_redirects=True)
    assert "only way you can sign in" in response.get_data(as_text=True)
    assert snapshot(app) == before

    # With a second provider linked, one of them can go, but then not the other.
    github.emails = [{"email": "alice@example.com", "primary": True, "verified": True}]
    assert finish(client, begin_link(client, "github")).status_code == 302
    _acme, github_identity = identities_ids(app)
    assert client.post(f"/settings/identities/{acme}/unlink").status_code == 302
    assert identities_ids(app) == [github_identity]
    before = snapshot(app)
    client.post(f"/settings/identities/{github_identity}/unlink")
    assert snapshot(app) == before


def test_only_the_owner_can_unlink(app, client, make, auth):
    owner_client = app.test_client()
    sign_in_with(owner_client)
    (identity,) = identities_ids(app)
    auth.login_as(make.user(email="bob@example.com"))
    before = snapshot(app)
    assert client.post(f"/settings/identities/{identity}/unlink").status_code == 404
    assert snapshot(app) == before
    anonymous = app.test_client()
    response = anonymous.post(f"/settings/identities/{identity}/unlink")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert snapshot(app) == before


def test_unlinking_needs_a_recent_sign_in(app, client, make, auth):
    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    finish(client, begin_link(client))
    (identity,) = identities_ids(app)
    make_stale(client)
    before = snapshot(app)
    response = client.post(f"/settings/identities/{identity}/unlink")
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert snapshot(app) == before


# -- what the pages show -------------------------------------------------------------------------


def _render(app: Flask, template: str) -> str:
    with app.test_request_context("/login"):
        return render_template(template)


def test_a_button_per_configured_provider(app):
    page = _render(app, "accounts/_provider_buttons.html")
    assert re.findall(r'href="(/login/[a-z]+)"', page) == ["/login/github", "/login/acme"]
    assert ">GitHub<" in page and ">Acme<" in page


@pytest.mark.parametrize("setup", ["none"])
def test_no_buttons_and_no_section_when_no_provider_is_configured(app, client, make, auth):
    assert _render(app, "accounts/_provider_buttons.html").strip() == ""
    assert "/login/" not in client.get("/login").get_data(as_text=True).replace(
        'action="/login"', ""
    )
    assert client.get("/login/acme").status_code == 404
    auth.login_as(make.user())
    page = client.get("/settings/identities").get_data(as_text=True)
    assert "Linked sign-ins</h2>" not in page
    assert "doesn't offer signing in with another account" in page


def test_account_settings_list_linked_sign_ins(app, client, make, auth):
    bob = make.user(email="bob@example.com")
    auth.login_as(bob)
    page = client.get("/settings/account").get_data(as_text=True)
    assert "Linked sign-ins" in page
    assert 'action="/settings/identities/acme/link"' in page
    assert 'action="/settings/identities/github/link"' in page
    finish(client, begin_link(client))
    (identity,) = identities_ids(app)
    page = client.get("/settings/account").get_data(as_text=True)
    assert "alice@example.com" in page
    assert f'action="/settings/identities/{identity}/unlink"' in page
    assert 'action="/settings/identities/acme/link"' not in page
    # The forms come back to the page they are on.
    response = client.post(
        f"/settings/identities/{identity}/unlink", data={"next": "/settings/account"}
    )
    assert response.headers["Location"] == "/settings/account"
    assert identities(app) == []


def test_sign_in_page_shows_the_buttons(client):
    page = client.get("/login?next=/questions").get_data(as_text=True)
    assert 'href="/login/acme?next=/questions"' in page
    assert 'href="/login/github?next=/questions"' in page


# -- in a real browser ----------------------------------------------------------------------------


@pytest.fixture
def served_at() -> str:
    """The address the app will be served on, known before the app is made (for BASE_URL)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def served(app: Flask, served_at: str):
    port = urlsplit(served_at).port
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield served_at
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def test_sign_in_and_link_in_a_browser(app, page, served, make, github):
    """Chromium follows the real redirects: our button, the provider, our callback."""
    page.goto(f"{served}/login?next=/questions")
    page.get_by_role("link", name="Acme").click()
    page.wait_for_url(f"{served}/questions")
    assert "Alice Example" in page.locator(".account-nav").inner_text()

    page.goto(f"{served}/settings/identities")
    github.emails = [{"email": "alice@example.com", "primary": True, "verified": True}]
    page.get_by_role("button", name="Link GitHub").click()
    page.wait_for_url(f"{served}/settings/identities")
    assert "GitHub is linked" in page.locator(".flashes").inner_text()
    rows = page.locator("[data-identity]")
    assert rows.count() == 2
    assert page.dialogs == []


# -- limits and configuration --------------------------------------------------------------------


@pytest.mark.parametrize("extra_config", [{"RATELIMIT_ENABLED": True}])
def test_starting_and_finishing_are_rate_limited_per_address(app, client):
    for _ in range(20):
        assert client.get("/login/acme").status_code == 302
    assert client.get("/login/acme").status_code == 429
    for _ in range(20):
        assert client.get("/login/acme/callback").status_code == 400
    assert client.get("/login/acme/callback").status_code == 429
    other = app.test_client()
    response = other.get("/login/acme", environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"GITHUB_CLIENT_ID": "id-only"}, "GITHUB_CLIENT_SECRET"),
        ({"GOOGLE_CLIENT_SECRET": "secret-only"}, "GOOGLE_CLIENT_ID"),
        (
            {"OIDC_CORP_METADATA_URL": "https://idp.example/.well-known/openid-configuration"},
            "OIDC_CORP_CLIENT_ID",
        ),
        (
            {
                "OIDC_GITHUB_METADATA_URL": "https://idp.example/x",
                "OIDC_GITHUB_CLIENT_ID": "a",
                "OIDC_GITHUB_CLIENT_SECRET": "b",
                "GITHUB_CLIENT_ID": "c",
                "GITHUB_CLIENT_SECRET": "d",
            },
            "clashes",
        ),
    ],
)
def test_half_configured_providers_refuse_to_start(database_url, settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app(base_config(database_url, **settings))


def test_generic_providers_come_from_the_environment(monkeypatch, database_url):
    for name, value in {
        "OIDC_CORP_SSO_METADATA_URL": "https://sso.corp.example/.well-known/openid-configuration",
        "OIDC_CORP_SSO_CLIENT_ID": "community",
        "OIDC_CORP_SSO_CLIENT_SECRET": "s3cret",
        "OIDC_CORP_SSO_DISPLAY_NAME": "Corp SSO",
        "OIDC_CORP_SSO_TRUST_EMAIL": "true",
        "OIDC_OTHER_METADATA_URL": "https://other.example/.well-known/openid-configuration",
        "OIDC_OTHER_CLIENT_ID": "community",
        "OIDC_OTHER_CLIENT_SECRET": "s3cret",
    }.items():
        monkeypatch.setenv(f"COMMUNITY_{name}", value)
    app = create_app(base_config(database_url))
    with app.test_request_context("/login"):
        from community.accounts import oauth

        found = {p.key: p for p in oauth.configured_providers()}
    assert set(found) == {"corp_sso", "other"}
    assert found["corp_sso"].display_name == "Corp SSO" and found["corp_sso"].trusts_email
    assert found["other"].display_name == "Other" and not found["other"].trusts_email
    with app.app_context():
        db.engine.dispose()


def test_refusals_leave_no_outbox_rows(app, client, make, idp):
    """The refusal paths roll back: nothing queued, even when a rule failed after a flush."""
    unverified_user(app, "alice@example.com")
    sign_in_with(client)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
