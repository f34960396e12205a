"""Two-factor authentication through the HTTP surface: enrolment, the sign-in challenge, recovery
codes, turning it off, the administrator's removal confirmed by the owner's email (read from a
real SMTP server), moderator enforcement and the challenge's rate limits (memory and Redis).

TOTP codes are made with pyotp from the secret, like a phone would. A code is accepted once per
account, so a test uses the current step's code first and the next step's code after it: a code
made later is then always for a later step than the one before, whenever the step boundary falls.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import render_template
from flask.testing import FlaskClient
from flask_login import login_user

from community.accounts import twofactor
from community.accounts.access import moderator_required
from community.accounts.models import RecoveryCode, Role, User
from community.accounts.sessions import PENDING_SECOND_FACTOR
from community.db import utcnow
from community.extensions import db
from community.jobs.models import Job
from community.moderation.models import AuditEvent
from tests.conftest import PASSWORD, mail_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
RECOVERY_CODE = re.compile(r"<code>([0-9a-z]{5}-[0-9a-z]{5})</code>")


@pytest.fixture
def app_config(request, smtp_server) -> dict[str, Any]:
    """Mail goes to the test's SMTP server and moderators must enrol; a test may add settings
    with indirect parametrize."""
    return {
        **mail_settings(smtp_server),
        "REQUIRE_MODERATOR_2FA": True,
        **getattr(request, "param", {}),
    }


# -- helpers --------------------------------------------------------------------------------------


def now_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def next_code(secret: str) -> str:
    """The next step's code: accepted now (one step of drift is allowed), and later than any
    code made before it."""
    return pyotp.TOTP(secret).at(time.time() + twofactor.STEP_SECONDS)


def text(response) -> str:
    return response.get_data(as_text=True)


def errors(response) -> list[str]:
    found = re.findall(r'<ul class="errors"[^>]*>\s*<li>([^<]*)</li>', text(response))
    return [html.unescape(message) for message in found]


def signed_in_as(client: FlaskClient) -> int | None:
    with client.session_transaction() as session:
        user_id = session.get("_user_id")
    return int(user_id.partition(":")[0]) if user_id else None


def user_row(make, user_id: int) -> User:
    return make.get(User, user_id)


def email_of(make, user_id: int) -> str:
    return user_row(make, user_id).email


def password_sign_in(
    client: FlaskClient, email: str, environ_base: dict[str, str] | None = None, **fields: Any
):
    return client.post(
        "/login",
        data={"email": email, "password": PASSWORD, **fields},
        environ_base=environ_base or {},
    )


def enrol(client: FlaskClient, next_url: str | None = None) -> tuple[str, list[str]]:
    """Turn two-factor on for the signed-in user, as they would; returns (secret, codes)."""
    query = {"next": next_url} if next_url else {}
    response = client.post(
        "/settings/two-factor", data={"action": "begin", **query}, query_string=query
    )
    assert response.status_code == 302, text(response)
    page = text(client.get(response.location))
    secret = re.search(r'class="manual-key">([^<]+)<', page).group(1).replace(" ", "")
    response = client.post(
        "/settings/two-factor",
        data={"action": "confirm", "code": now_code(secret), **query},
    )
    assert response.status_code == 200, text(response)
    codes = RECOVERY_CODE.findall(text(response))
    assert len(codes) == 10
    return secret, codes


def enrolled_user(app, make, role: Role = Role.MEMBER, **kwargs: Any) -> tuple[int, str]:
    """A user with two-factor on, set up through the services (a fresh client each time);
    returns (user id, secret). The current step's code is spent."""
    user_id = make.user(role=role, **kwargs)
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = twofactor.begin_enrolment(user)
        twofactor.confirm_enrolment(user, now_code(secret))
        db.session.commit()
    return user_id, secret


def audit_trail(app, user_id: int) -> list[tuple[str, int | None]]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.target_type == "user", AuditEvent.target_id == user_id)
            .order_by(AuditEvent.id)
        )
        return [(event.action, event.actor_id) for event in events]


def recovery_rows(app, user_id: int) -> list[tuple[str, Any]]:
    with app.app_context():
        return [
            (row.code_hash, row.used_at)
            for row in db.session.scalars(
                sa.select(RecoveryCode).where(RecoveryCode.user_id == user_id)
            )
        ]


def plain_body(message) -> str:
    return message.get_body(("plain",)).get_content()


# -- enrolment ------------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_key_and_turns_on_only_with_a_right_code(
    app, client, make, auth, run_jobs, smtp_server
):
    user_id = make.user(email="ada@example.com", name="Ada Lovelace")
    auth.login_as(user_id)
    page = text(client.get("/settings/two-factor"))
    assert "Set up two-factor authentication" in page and "<svg" not in page

    assert client.post("/settings/two-factor", data={"action": "begin"}).status_code == 302
    response = client.get("/settings/two-factor")
    page = text(response)
    assert response.headers["Cache-Control"] == "no-store"
    secret = user_row(make, user_id).totp_secret
    assert secret and len(secret) == 32
    # The QR code is inline SVG drawn by segno: no data: URL (the CSP forbids them), no script.
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'class="qr-code"' in svg and "<path" in svg
    assert "data:" not in page and "<script" not in svg and " on" not in svg.lower()
    assert secret not in svg
    assert re.search(r'class="manual-key">([^<]+)<', page).group(1).replace(" ", "") == secret
    with app.app_context():
        uri = twofactor.provisioning_uri(db.session.get(User, user_id))
    assert uri.startswith("otpauth://totp/Community:ada%40example.com?")
    assert f"secret={secret}" in uri and "issuer=Community" in uri

    wrong = str((int(now_code(secret)) + 1) % 1_000_000).zfill(6)
    response = client.post("/settings/two-factor", data={"action": "confirm", "code": wrong})
    assert response.status_code == 422
    assert "didn't work" in " ".join(errors(response))
    assert not user_row(make, user_id).has_two_factor
    assert recovery_rows(app, user_id) == []

    response = client.post(
        "/settings/two-factor", data={"action": "confirm", "code": now_code(secret)}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    codes = RECOVERY_CODE.findall(text(response))
    assert len(codes) == len(set(codes)) == 10
    assert user_row(make, user_id).has_two_factor
    stored = recovery_rows(app, user_id)
    assert len(stored) == 10 and all(used is None for _hash, used in stored)
    assert not any(code.replace("-", "") in code_hash for code in codes for code_hash, _ in stored)
    # Shown once: the settings page has the count, not the codes.
    page = text(client.get("/settings/two-factor"))
    assert "10 unused recovery codes" in page
    assert not any(code in page for code in codes) and "<svg" not in page
    assert audit_trail(app, user_id) == [("two_factor.enabled", user_id)]

    assert smtp_server.received == []  # nothing leaves the request
    run_jobs()
    (notice,) = smtp_server.messages_to("ada@example.com")
    assert "Two-factor authentication is on" in notice["Subject"]
    assert "turned on" in plain_body(notice)


def test_the_account_settings_section_renders_with_only_current_user(app, make):
    user_id = make.user()
    with app.test_request_context("/settings/account"):
        user = db.session.get(User, user_id)
        login_user(user)
        off = render_template("accounts/_two_factor.html")
        user.totp_secret = pyotp.random_base32()
        user.totp_enabled_at = utcnow()
        on = render_template("accounts/_two_factor.html")
        db.session.rollback()
    for section in (off, on):
        assert "Two-factor authentication" in section
        assert 'href="/settings/two-factor"' in section
    assert "Off" in off and "Set up" in off
    assert "On" in on and "since" in on


def test_the_admin_button_shows_only_for_people_with_two_factor(app, make):
    with_it, _secret = enrolled_user(app, make)
    without = make.user()
    with app.test_request_context("/admin/users"):
        buttons = {
            ident: render_template(
                "twofactor/_admin_removal.html", person=db.session.get(User, ident)
            )
            for ident in (with_it, without)
        }
    assert f'action="/admin/users/{with_it}/two-factor/removal"' in buttons[with_it]
    assert 'name="csrf_token"' in buttons[with_it]
    assert buttons[without].strip() == ""


# -- signing in -----------------------------------------------------------------------------------


def test_password_alone_does_not_sign_in_until_the_code(app, client, make):
    user_id, secret = enrolled_user(app, make)
    email = email_of(make, user_id)
    response = password_sign_in(client, email, remember="y", next="/questions?state=resolved")
    assert response.status_code == 302 and response.location == "/login/two-factor"
    assert signed_in_as(client) is None
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get("/settings/two-factor").status_code == 302  # to /login: not signed in
    assert user_row(make, user_id).last_sign_in_at is None

    page = client.get("/login/two-factor")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in text(page)
    response = client.post("/login/two-factor", data={"code": next_code(secret)})
    assert response.status_code == 302
    assert response.location == "/questions?state=resolved"
    assert signed_in_as(client) == user_id
    assert "remember_token=" in " ".join(response.headers.getlist("Set-Cookie"))
    assert user_row(make, user_id).last_sign_in_at is not None
    with client.session_transaction() as session:
        assert PENDING_SECOND_FACTOR not in session
    assert audit_trail(app, user_id)[-1] == ("two_factor.signed_in", user_id)


def test_wrong_and_malformed_codes_are_refused_clearly(app, client, make):
    user_id, secret = enrolled_user(app, make)
    password_sign_in(client, email_of(make, user_id))
    for code, message in [
        ("", "Enter the code"),
        ("12345", "didn't work"),
        (str((int(next_code(secret)) + 1) % 1_000_000).zfill(6), "didn't work"),
        ("not-a-code", "didn't work"),
        ("x" * 41, "longer than any code"),
    ]:
        response = client.post("/login/two-factor", data={"code": code})
        assert response.status_code == 422, code
        assert message in " ".join(errors(response)), code
        assert signed_in_as(client) is None
    assert audit_trail(app, user_id) == [("two_factor.enabled", user_id)]


def test_a_code_is_accepted_once_even_from_another_browser(app, client, make):
    user_id, secret = enrolled_user(app, make)
    email = email_of(make, user_id)
    # The code spent on enrolment (this step's) is already refused.
    password_sign_in(client, email)
    response = client.post("/login/two-factor", data={"code": now_code(secret)})
    assert response.status_code == 422
    assert "already used" in " ".join(errors(response))

    code = next_code(secret)
    assert client.post("/login/two-factor", data={"code": code}).status_code == 302
    assert signed_in_as(client) == user_id

    # Someone who saw the code types it within its 90 seconds, in their own browser.
    onlooker = app.test_client()
    password_sign_in(onlooker, email)
    response = onlooker.post("/login/two-factor", data={"code": code})
    assert response.status_code == 422
    assert "already used" in " ".join(errors(response))
    assert signed_in_as(onlooker) is None
    # ...and the owner, signing in again in the same step, needs a newer code too.
    client.post("/logout")
    password_sign_in(client, email)
    assert client.post("/login/two-factor", data={"code": code}).status_code == 422
    assert signed_in_as(client) is None


def test_a_recovery_code_signs_in_once_and_the_owner_is_told(
    app, client, make, run_jobs, smtp_server
):
    owner = make.user(email="ada@example.com")
    signed_in = app.test_client()
    password_sign_in(signed_in, "ada@example.com")
    _secret, codes = enrol(signed_in)
    run_jobs()
    smtp_server.received.clear()

    password_sign_in(client, "ada@example.com")
    typed = " " + codes[3].upper().replace("-", " - ") + " "  # as someone might type it
    response = client.post("/login/two-factor", data={"code": typed})
    assert response.status_code == 302
    assert signed_in_as(client) == owner
    assert "9 left" in text(client.get("/questions"))
    used = [row for row in recovery_rows(app, owner) if row[1] is not None]
    assert len(used) == 1
    run_jobs()
    (notice,) = smtp_server.messages_to("ada@example.com")
    assert "recovery code was used" in notice["Subject"]

    client.post("/logout")
    password_sign_in(client, "ada@example.com")
    response = client.post("/login/two-factor", data={"code": codes[3]})
    assert response.status_code == 422
    assert signed_in_as(client) is None
    assert client.post("/login/two-factor", data={"code": codes[4]}).status_code == 302


def test_a_pending_second_factor_expires(app, client, make):
    user_id, secret = enrolled_user(app, make)
    password_sign_in(client, email_of(make, user_id))
    with client.session_transaction() as session:
        session[PENDING_SECOND_FACTOR] = {
            **session[PENDING_SECOND_FACTOR],
            "started": time.time() - 301,
        }
    response = client.post("/login/two-factor", data={"code": next_code(secret)})
    assert response.status_code == 302 and response.location.startswith("/login")
    assert signed_in_as(client) is None
    assert "sign in again" in text(client.get(response.location))
    with client.session_transaction() as session:
        assert PENDING_SECOND_FACTOR not in session
    assert client.get("/login/two-factor").status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        {"session_version": 99},  # "sign out everywhere" or a password change meanwhile
        {"banned_at": utcnow()},
        {"totp_enabled_at": None, "totp_secret": None},
    ],
    ids=["session-version", "banned", "two-factor-removed"],
)
def test_a_pending_challenge_dies_with_the_account_state_it_began_in(app, client, make, change):
    user_id, secret = enrolled_user(app, make)
    password_sign_in(client, email_of(make, user_id))
    make.update(User, user_id, **change)
    response = client.post("/login/two-factor", data={"code": next_code(secret)})
    assert response.status_code == 302 and response.location.startswith("/login")
    assert signed_in_as(client) is None
    with client.session_transaction() as session:
        assert PENDING_SECOND_FACTOR not in session
    assert [action for action, _ in audit_trail(app, user_id)] == ["two_factor.enabled"]


# -- managing it ----------------------------------------------------------------------------------


def test_turning_off_needs_a_code_or_the_password(app, client, make, auth, run_jobs, smtp_server):
    user_id = make.user(email="ada@example.com")
    auth.login_as(user_id)
    _secret, _codes = enrol(client)
    run_jobs()
    smtp_server.received.clear()
    for data, message in [
        ({}, "Enter a code from your authenticator app"),
        ({"disable-password": "not my password"}, "password isn't right"),
        ({"disable-code": "123456"}, "didn't work"),
    ]:
        response = client.post("/settings/two-factor", data={"action": "disable", **data})
        assert response.status_code == 422, data
        assert message in " ".join(errors(response)), data
        assert user_row(make, user_id).has_two_factor

    response = client.post(
        "/settings/two-factor", data={"action": "disable", "disable-password": PASSWORD}
    )
    assert response.status_code == 302
    user = user_row(make, user_id)
    assert not user.has_two_factor and user.totp_secret is None
    assert recovery_rows(app, user_id) == []
    assert audit_trail(app, user_id)[-1] == ("two_factor.disabled", user_id)
    run_jobs()
    (notice,) = smtp_server.messages_to("ada@example.com")
    assert "off" in notice["Subject"]

    client.post("/logout")
    assert password_sign_in(client, "ada@example.com").location == "/questions"
    assert signed_in_as(client) == user_id


def test_new_recovery_codes_replace_the_old_ones(app, client, make, auth):
    user_id = make.user(email="ada@example.com")
    auth.login_as(user_id)
    secret, old_codes = enrol(client)
    response = client.post(
        "/settings/two-factor",
        data={"action": "regenerate", "regenerate-code": next_code(secret)},
    )
    assert response.status_code == 200
    new_codes = RECOVERY_CODE.findall(text(response))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert len(recovery_rows(app, user_id)) == 10
    assert audit_trail(app, user_id)[-1] == ("two_factor.recovery_codes_regenerated", user_id)

    client.post("/logout")
    password_sign_in(client, "ada@example.com")
    assert client.post("/login/two-factor", data={"code": old_codes[0]}).status_code == 422
    assert client.post("/login/two-factor", data={"code": new_codes[0]}).status_code == 302


# -- removal by an administrator, confirmed by the owner ------------------------------------------


def removal_link(smtp_server, email: str) -> str:
    (message,) = [m for m in smtp_server.messages_to(email) if "Confirm" in m["Subject"]]
    body = plain_body(message)
    match = re.search(r"http://localhost(/two-factor/remove/[^\s]+)", body)
    assert match, body
    html_body = message.get_body(("html",)).get_content()
    assert match.group(0) in html_body
    return match.group(1)


def test_admin_removal_waits_for_the_owner_to_confirm_by_email(app, make, run_jobs, smtp_server):
    owner, _secret = enrolled_user(app, make, email="ada@example.com", name="Ada Lovelace")
    admin_id = make.user(email="root@example.com", name="Root Admin", role=Role.ADMIN)
    admin = app.test_client()
    password_sign_in(admin, "root@example.com")
    enrol(admin)  # administrators need two-factor themselves (REQUIRE_MODERATOR_2FA)
    run_jobs()
    smtp_server.received.clear()
    before = audit_trail(app, owner)

    response = admin.post(
        f"/admin/users/{owner}/two-factor/removal", data={"next": "/admin/users?q=ada"}
    )
    assert response.status_code == 302 and response.location == "/admin/users?q=ada"
    assert "We emailed ada@example.com" in text(admin.get(response.location))
    assert user_row(make, owner).has_two_factor  # nothing removed yet
    assert audit_trail(app, owner)[len(before) :] == [
        ("two_factor.removal_requested", admin_id),
        ("two_factor.removal_email_queued", admin_id),
    ]
    assert smtp_server.received == []  # queued in the request, sent by the worker
    run_jobs()
    (message,) = smtp_server.messages_to("ada@example.com")
    assert "Root Admin" in plain_body(message)
    link = removal_link(smtp_server, "ada@example.com")

    # The owner lost their phone, so they are not signed in: the link is enough.
    owner_browser = app.test_client()
    state = (user_row(make, owner).totp_secret, recovery_rows(app, owner), audit_trail(app, owner))
    page = owner_browser.get(link)
    assert page.status_code == 200
    assert "Remove two-factor authentication?" in text(page) and "Root Admin" in text(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert owner_browser.get(link).status_code == 200  # mail scanners may open it, twice
    assert (
        user_row(make, owner).totp_secret,
        recovery_rows(app, owner),
        audit_trail(app, owner),
    ) == state

    response = owner_browser.post(link)
    assert response.status_code == 302 and response.location == "/login"
    user = user_row(make, owner)
    assert not user.has_two_factor and user.totp_secret is None
    assert recovery_rows(app, owner) == []
    assert audit_trail(app, owner)[len(before) :] == [
        ("two_factor.removal_requested", admin_id),
        ("two_factor.removal_email_queued", admin_id),
        ("two_factor.removal_confirmed", None),
        ("two_factor.removed", None),
    ]
    with app.app_context():
        confirmed = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "two_factor.removed")
        )
        assert confirmed.data["requested_by"] == admin_id

    # Used once: the link is dead now, and changes nothing.
    trail = audit_trail(app, owner)
    assert owner_browser.post(link).status_code == 400
    assert owner_browser.get(link).status_code == 400
    assert audit_trail(app, owner) == trail
    run_jobs()
    assert any("is off" in m["Subject"] for m in smtp_server.messages_to("ada@example.com"))
    # The password alone signs in now.
    assert password_sign_in(app.test_client(), "ada@example.com").location == "/questions"


def test_a_removal_link_dies_when_the_owner_sets_up_a_new_device(
    app, client, make, run_jobs, smtp_server
):
    owner = make.user(email="ada@example.com")
    password_sign_in(client, "ada@example.com")
    enrol(client)
    admin_id, _ = enrolled_user(app, make, role=Role.ADMIN, email="root@example.com")
    with app.app_context():
        twofactor.request_removal(db.session.get(User, admin_id), db.session.get(User, owner))
        db.session.commit()
    run_jobs()
    link = removal_link(smtp_server, "ada@example.com")
    assert app.test_client().get(link).status_code == 200

    response = client.post(
        "/settings/two-factor", data={"action": "disable", "disable-password": PASSWORD}
    )
    assert response.status_code == 302
    enrol(client)  # a new phone, a new secret
    before = (user_row(make, owner).totp_secret, recovery_rows(app, owner))
    stranger = app.test_client()
    assert stranger.get(link).status_code == 400
    assert stranger.post(link).status_code == 400
    assert (user_row(make, owner).totp_secret, recovery_rows(app, owner)) == before
    for forged in (link[:-2] + ("AA" if not link.endswith("AA") else "BB"), "/two-factor/remove/x"):
        assert stranger.post(forged).status_code == 400


def test_only_admins_with_two_factor_can_ask_and_only_for_verified_owners(app, make):
    owner, _ = enrolled_user(app, make, email="ada@example.com")
    _moderator, mod_secret = enrolled_user(app, make, role=Role.MODERATOR, email="mod@example.com")
    url = f"/admin/users/{owner}/two-factor/removal"

    def jobs() -> int:
        with app.app_context():
            payloads = db.session.scalars(sa.select(Job.payload))
            return sum(1 for payload in payloads if payload.get("email") == "two_factor_removal")

    before = (audit_trail(app, owner), jobs())
    anonymous = app.test_client()
    assert anonymous.post(url).location.startswith("/login")
    member = app.test_client()
    member_id = make.user(email="bob@example.com")
    password_sign_in(member, "bob@example.com")
    assert member.post(url).status_code == 403
    mod = app.test_client()
    password_sign_in(mod, "mod@example.com")
    assert mod.post("/login/two-factor", data={"code": next_code(mod_secret)}).status_code == 302
    assert mod.post(url).status_code == 403
    # An administrator without two-factor is sent to set it up first.
    make.user(email="root@example.com", role=Role.ADMIN)
    admin = app.test_client()
    password_sign_in(admin, "root@example.com")
    response = admin.post(url)
    assert response.status_code == 302 and response.location.startswith("/settings/two-factor")
    assert (audit_trail(app, owner), jobs()) == before

    enrol(admin)
    response = admin.post(f"/admin/users/{member_id}/two-factor/removal")  # no two-factor
    assert "does not use two-factor" in text(admin.get(response.location))
    make.update(User, owner, email_verified_at=None)
    response = admin.post(url)
    assert "is not verified" in text(admin.get(response.location))
    assert admin.post("/admin/users/999999/two-factor/removal").status_code == 404
    assert (audit_trail(app, owner), jobs()) == before


# -- moderators must enrol ------------------------------------------------------------------------


def test_moderators_are_sent_to_enrol_and_then_back(app, client, make):
    app.add_url_rule(
        "/test-moderation",
        "test_moderation",
        moderator_required(lambda: "moderating"),
    )
    target = "/test-moderation?queue=flags"
    moderator = make.moderator(email="mod@example.com")
    password_sign_in(client, "mod@example.com")
    assert signed_in_as(client) == moderator  # no two-factor yet: signed in, but...

    response = client.get(target)
    assert response.status_code == 302
    assert response.location == "/settings/two-factor?next=/test-moderation?queue%3Dflags"
    page = text(client.get(response.location))
    assert "Moderators and administrators need two-factor" in page
    assert f'<input type="hidden" name="next" value="{target}">' in page

    response = client.post("/settings/two-factor", data={"action": "begin", "next": target})
    assert response.status_code == 302
    page = text(client.get(response.location))
    secret = re.search(r'class="manual-key">([^<]+)<', page).group(1).replace(" ", "")
    assert client.get(target).status_code == 302  # a secret alone is not two-factor
    response = client.post(
        "/settings/two-factor",
        data={"action": "confirm", "code": now_code(secret), "next": target},
    )
    assert response.status_code == 200
    (continue_url,) = re.findall(r'href="([^"]+)">I have saved them', text(response))
    assert continue_url.replace("&amp;", "&") == target
    assert text(client.get(continue_url)) == "moderating"

    response = client.post("/settings/two-factor", data={"action": "begin"})
    assert "already on" in text(client.get(response.location))
    member = app.test_client()
    make.user(email="bob@example.com")
    password_sign_in(member, "bob@example.com")
    assert member.get("/test-moderation").status_code == 403


def test_an_off_site_next_is_dropped_on_the_way_back(app, client, make, auth):
    auth.login_as(make.moderator())
    client.post("/settings/two-factor", data={"action": "begin"})
    with app.app_context():
        secret = db.session.scalar(sa.select(User.totp_secret).where(User.totp_secret.is_not(None)))
    response = client.post(
        "/settings/two-factor",
        data={"action": "confirm", "code": now_code(secret), "next": "https://evil.test/"},
    )
    assert response.status_code == 200
    assert "evil.test" not in text(response)
    assert 'href="/settings/two-factor">I have saved them' in text(response)


# -- brute force ----------------------------------------------------------------------------------

LIMITED = pytest.mark.parametrize(
    "app_config",
    [
        {"RATELIMIT_ENABLED": True},
        {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URL},
    ],
    indirect=True,
    ids=["memory", "redis"],
)


@dataclass
class Throttle:
    """Names for one rate-limit test: addresses and emails no other test (or earlier run) used,
    so counters left in a shared Redis cannot leak in, and only this test's keys are deleted."""

    tag: str
    keys: Callable[[], list[bytes]]

    def ip(self, n: int) -> dict[str, dict[str, str]]:
        return {"environ_base": {"REMOTE_ADDR": f"2001:db8:{self.tag[:4]}:{self.tag[4:]}::{n}"}}

    def email(self, n: int) -> str:
        return f"tfa-{self.tag}-{n}@example.com"


@pytest.fixture
def throttle(app) -> Iterator[Throttle]:
    tag = uuid.uuid4().hex[:8]
    if not app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        yield Throttle(tag, list)
        return
    import redis

    server = redis.Redis.from_url(app.config["RATELIMIT_STORAGE_URI"])
    # This test's addresses and emails, and the two-factor routes' own counters (keyed by row
    # ids, which start again at 1 in an emptied SQLite database).
    patterns = (f"*{tag[:4]}:{tag[4:]}*", f"*{tag}*", "*twofactor.*")

    def keys() -> list[bytes]:
        return sorted({key for pattern in patterns for key in server.scan_iter(match=pattern)})

    for key in keys():
        server.delete(key)
    try:
        yield Throttle(tag, keys)
    finally:
        for key in keys():
            server.delete(key)
        server.close()


def wrong_code(secret: str) -> str:
    codes = {pyotp.TOTP(secret).at(time.time() + d * 30) for d in (-1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in codes)


@LIMITED
def test_guessing_one_accounts_code_is_throttled_across_ips(app, make, throttle):
    _user_id, secret = enrolled_user(app, make, email=throttle.email(1))
    attacker = app.test_client()
    assert password_sign_in(attacker, throttle.email(1), **throttle.ip(1)).status_code == 302
    guess = wrong_code(secret)
    statuses = [
        attacker.post("/login/two-factor", data={"code": guess}, **throttle.ip(10 + n)).status_code
        for n in range(5)
    ]
    assert statuses == [422] * 5
    # The right code, from yet another address, while throttled: 429 as well (no oracle).
    throttled = attacker.post(
        "/login/two-factor", data={"code": next_code(secret)}, **throttle.ip(99)
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many attempts" in text(throttled)
    assert signed_in_as(attacker) is None

    # Someone else's sign-in is not affected.
    other_id, other_secret = enrolled_user(app, make, email=throttle.email(2))
    other = app.test_client()
    password_sign_in(other, throttle.email(2), **throttle.ip(2))
    response = other.post(
        "/login/two-factor", data={"code": next_code(other_secret)}, **throttle.ip(2)
    )
    assert response.status_code == 302 and signed_in_as(other) == other_id
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        counters = throttle.keys()
        assert any(b"twofactor.challenge" in key for key in counters), "not in Redis"


@LIMITED
def test_guessing_from_one_ip_is_throttled_across_accounts(app, make, throttle):
    people = [enrolled_user(app, make, email=throttle.email(n)) for n in range(3)]
    browsers = []
    for n in range(3):
        browser = app.test_client()
        response = password_sign_in(browser, throttle.email(n), **throttle.ip(n + 1))
        assert response.status_code == 302
        browsers.append(browser)
    statuses = []
    for browser, (_user_id, secret), tries in zip(browsers, people, (4, 4, 2), strict=True):
        for _ in range(tries):
            response = browser.post(
                "/login/two-factor", data={"code": wrong_code(secret)}, **throttle.ip(50)
            )
            statuses.append(response.status_code)
    assert statuses == [422] * 10
    last_id, last_secret = people[2]
    throttled = browsers[2].post(
        "/login/two-factor", data={"code": next_code(last_secret)}, **throttle.ip(50)
    )
    assert throttled.status_code == 429
    assert signed_in_as(browsers[2]) is None
    # From another address the same person (three tries so far) still gets in.
    response = browsers[2].post(
        "/login/two-factor", data={"code": next_code(last_secret)}, **throttle.ip(51)
    )
    assert response.status_code == 302 and signed_in_as(browsers[2]) == last_id


@LIMITED
def test_the_settings_form_is_not_a_password_oracle(app, client, make, throttle):
    user_id = make.user(email=throttle.email(1))
    assert password_sign_in(client, throttle.email(1), **throttle.ip(1)).status_code == 302
    enrol(client)
    statuses = [
        client.post(
            "/settings/two-factor",
            data={"action": "disable", "disable-password": f"guess number {n}"},
            **throttle.ip(100 + n),
        ).status_code
        for n in range(8)  # enrolment took two of the ten a minute
    ]
    assert statuses == [422] * 8
    response = client.post(
        "/settings/two-factor", data={"action": "disable", "disable-password": PASSWORD}
    )
    assert response.status_code == 429
    assert user_row(make, user_id).has_two_factor


def test_turning_two_factor_on_signs_out_sessions_that_only_had_the_password(app, client, make):
    """A session that never passed a second factor must not become a two-factor session."""
    user_id = make.user(email="ada@example.com")
    shared_pc = app.test_client()
    password_sign_in(shared_pc, "ada@example.com")
    password_sign_in(client, "ada@example.com")
    enrol(client)
    assert shared_pc.get("/settings/account").status_code == 302  # sent to sign in again
    assert client.get("/settings/account").status_code == 200
    assert user_row(make, user_id).has_two_factor
