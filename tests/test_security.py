"""Security through the HTTP surface: headers, CSRF, safe methods, redirects, authorisation, errors.

Every check compares the whole database before and after a refused request, so "refused" always
means "and nothing changed", not only "returned an error status".
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash

from community.accounts import emails as account_emails
from community.accounts import services as account_services
from community.accounts import tokens, twofactor
from community.accounts.models import Role, User, UserSession
from community.extensions import csrf, db
from community.jobs.models import Job
from community.notifications import services as notification_services
from community.questions.models import Draft, Question, QuestionStatus, Reply, Team, slugify

PASSWORD = "a long and memorable passphrase"
CSRF_ON = {"WTF_CSRF_ENABLED": True}
HTTPS_SITE = {"BASE_URL": "https://community.example.com"}

# Routes that accept a cross-site POST without a CSRF token. Each must carry its own
# authentication (a webhook signature, a signed unsubscribe token); adding one is a reviewed change.
# Each exempt view authenticates another way; a new one must be added here on purpose.
EXPECTED_CSRF_EXEMPT_VIEWS: set[str] = {
    # RFC 8058 one-click unsubscribe: mail clients POST without cookies; a signed token decides.
    "community.notifications.views.unsubscribe",
    # The Zendesk webhook: Zendesk posts without cookies; an HMAC signature over timestamp and
    # body (constant-time compare, fresh timestamps, no replays) decides. tests/test_zendesk.py.
    "community.zendesk.views.webhook",
}
EXPECTED_CSRF_EXEMPT_BLUEPRINTS: set[str] = {
    # The JSON API (/api/v1): it has no cookie session at all (accounts/cookies.py), so a forged
    # cross-site request carries no identity to abuse; writes authenticate with a bearer token,
    # which a browser never attaches on its own, and only accept application/json. The tests
    # below (and tests/test_api.py) show that a signed-in browser, with or without the site's
    # CSRF token, gets 401 there and changes nothing.
    "api",
}
API_WRITES = {"api.create_question", "api.create_reply", "api.accept_answer"}
EXEMPT_ENDPOINTS = {"notifications.unsubscribe", "zendesk.webhook", *API_WRITES}


# -- helpers ----------------------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing changed.

    Except the stored renderings of pages, a cache that a public read may fill."""
    with app.app_context():
        return {
            table.name: [
                tuple(row)
                for row in db.session.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).all()
            ]
            for table in db.metadata.sorted_tables
            if table.name != "page_snapshots"
        }


def row(app: Flask, model: type, ident: int) -> dict[str, Any]:
    with app.app_context():
        found = db.session.get(model, ident)
        return {column.key: getattr(found, column.key) for column in model.__table__.columns}


def csrf_token(client: FlaskClient) -> str:
    """The token the sign-in form carries for this client's session."""
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the sign-in form has no CSRF token"
    return match.group(1)


def token_field(client: FlaskClient) -> dict[str, str]:
    """The form field a browser would send, when the app has CSRF protection on."""
    if client.application.config["WTF_CSRF_ENABLED"]:
        return {"csrf_token": csrf_token(client)}
    return {}


def sign_in(client: FlaskClient, email: str) -> None:
    """Sign in the way a browser does, with the form's token (works with CSRF on or off)."""
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, **token_field(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def signed_in_user(client: FlaskClient) -> str | None:
    with client.session_transaction() as session:
        return session.get("_user_id")


def login_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def fill(rule_text: str, values: dict[str, Any]) -> str:
    """The path of a URL rule with its arguments filled in (``<int:question_id>`` -> ``7``)."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule_text)


def csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name.lower()] = sources
    return directives


def cookie_attributes(response, name: str) -> dict[str, str]:
    """The attributes of the Set-Cookie header for ``name``, lower-cased keys."""
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        if first.split("=", 1)[0] == name:
            parsed = {}
            for attribute in attributes:
                key, _, value = attribute.partition("=")
                parsed[key.lower()] = value
            return parsed
    raise AssertionError(f"no Set-Cookie for {name!r} in {response.headers.getlist('Set-Cookie')}")


def browser_resolves(location: str, current: str = "http://localhost/login") -> Any:
    """Resolve a Location header the way a browser's URL parser does (WHATWG, special schemes):
    leading/trailing C0 controls and spaces are stripped, tabs and newlines removed anywhere, and
    a backslash read as a slash."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21)))
    cleaned = re.sub(r"[\t\n\r]", "", cleaned).replace("\\", "/")
    return urlsplit(urljoin(current, cleaned))


# -- the cast: A asks, B is another member, C replies, M moderates -----------------------------


@dataclass
class World:
    author: int
    other: int
    replier: int
    moderator: int
    emails: dict[int, str]
    question: int  # A's question
    own_reply: int  # A's reply on it
    answer: int  # C's reply on it, not accepted
    resolved_question: int  # A's second question, C's reply accepted
    accepted: int
    subject: str
    admin: int
    unsubscribe_token: str  # A's token for their own question
    team: int
    other_session: int  # A signed in on another device
    api_token: int  # A's personal API token
    unverified: int  # signed up, never confirmed
    verify_token: str  # the unverified person's confirmation link
    reset_token: str  # A's password reset link
    email_change_token: str  # A's link to move to new-ada@example.com
    two_factor_user: int  # T has two-factor on; this step's code went on enrolment
    two_factor_secret: str
    removal_token: str  # T's link to confirm the admin's request to remove it
    identity: int  # A's linked GitHub sign-in (A has a password too, so it may be unlinked)
    provider: str  # a provider's key, for the sign-in routes
    dead_job: int  # a notification that failed for good


@pytest.fixture
def world(make) -> World:
    emails = {}

    def person(email: str, role: Role = Role.MEMBER) -> int:
        ident = make.user(
            email=email, name=email.split("@")[0].title(), role=role, password=PASSWORD
        )
        emails[ident] = email
        return ident

    author = person("ada@example.com")
    other = person("bob@example.com")
    replier = person("cleo@example.com")
    moderator = person("mod@example.com", Role.MODERATOR)
    admin = person("root@example.com", Role.ADMIN)
    subject = "Recordings stop after navigation"
    question = make.question(author, subject=subject)
    own_reply = make.reply(question, author, body="More detail from the asker.")
    answer = make.reply(question, replier, body="Initialise it once.")
    resolved_question = make.question(author, subject="Flags for ten percent")
    accepted = make.reply(resolved_question, replier, body="Use a release condition.")
    make.accept(accepted, author)
    unverified = person("new@example.com")
    make.update(User, unverified, email_verified_at=None)
    with make.app.app_context():
        unsubscribe_token = notification_services.unsubscribe_token(author, question)
        ada = db.session.get(User, author)
        verify_token = tokens.make_token(
            account_emails.VERIFY, db.session.get(User, unverified), draft=None, next=None
        )
        reset_token = tokens.make_token(account_emails.RESET, ada)
        new_email = "new-ada@example.com"
        email_change_token = tokens.make_token(
            account_emails.CHANGE_EMAIL, ada, new_email, new_email=new_email
        )
        team = Team(name="Replay", slug="replay")
        db.session.add(team)
        other_session = UserSession(user_id=author, token_hash="0" * 64, user_agent="Phone")
        db.session.add(other_session)
        db.session.commit()
        team_id, other_session_id = team.id, other_session.id
        api_token_id = account_services.create_api_token(ada, "Docs build")[0].id
        db.session.commit()
    two_factor_user = person("tess@example.com")
    with make.app.app_context():
        tess = db.session.get(User, two_factor_user)
        two_factor_secret = twofactor.begin_enrolment(tess)
        twofactor.confirm_enrolment(tess, pyotp.TOTP(two_factor_secret).now())
        removal = twofactor.request_removal(db.session.get(User, admin), tess)
        removal_token = twofactor.removal_token(tess, removal.id)
        db.session.commit()
    with make.app.app_context():
        from community.accounts import identities
        from community.accounts.oauth import ProviderProfile

        github = ProviderProfile("github", "GitHub", "1", emails[author], True, "Ada")
        identity = identities.link_identity(db.session.get(User, author), github)[0].id
        db.session.commit()
    with make.app.app_context():
        from community.jobs.models import Job, JobStatus

        job = Job(kind="email.send", payload={}, status=JobStatus.DEAD.value, attempts=8)
        db.session.add(job)
        db.session.commit()
        dead_job = job.id
    return World(
        dead_job=dead_job,
        identity=identity,
        provider="github",
        two_factor_user=two_factor_user,
        two_factor_secret=two_factor_secret,
        removal_token=removal_token,
        author=author,
        other=other,
        replier=replier,
        moderator=moderator,
        emails=emails,
        question=question,
        own_reply=own_reply,
        answer=answer,
        resolved_question=resolved_question,
        accepted=accepted,
        subject=subject,
        admin=admin,
        unsubscribe_token=unsubscribe_token,
        team=team_id,
        other_session=other_session_id,
        api_token=api_token_id,
        unverified=unverified,
        verify_token=verify_token,
        reset_token=reset_token,
        email_change_token=email_change_token,
    )


def leave_pending_draft(client: FlaskClient, make, world: World) -> None:
    """Sign ``world.author`` in on ``client`` with a draft that could not be posted (a reply to a
    thread locked meanwhile), so the draft routes have something to act on."""
    locked = make.question(world.other, subject="A thread that gets locked")
    response = client.post(
        f"/questions/{locked}/replies",
        data={"body": "Written before signing in.", **token_field(client)},
    )
    assert login_redirect(response)
    make.update(Question, locked, locked=True)
    sign_in(client, world.emails[world.author])
    assert make.count(Draft) == 1


# -- headers and cookies ----------------------------------------------------------------------


def test_html_pages_send_the_security_headers(client, world):
    pages = ["/questions", "/login", f"/questions/{world.question}", "/no-such-page"]
    for path in pages:
        response = client.get(path, follow_redirects=True)
        assert response.mimetype == "text/html", path
        policy = csp(response)
        assert policy.get("frame-ancestors") == ["'none'"], path
        assert policy.get("object-src") == ["'none'"], path
        assert policy.get("base-uri") == ["'none'"], path
        assert "'self'" in policy.get("script-src", []), path
        for directive in ("script-src", "default-src"):
            sources = policy.get(directive, [])
            assert "'unsafe-inline'" not in sources, (path, directive)
            assert "'unsafe-eval'" not in sources, (path, directive)
            assert "*" not in sources and "data:" not in sources, (path, directive)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        cache = response.headers.get("Cache-Control", "")
        assert "private" in cache and "no-cache" in cache, path  # never from a shared cache
        assert response.headers.get("Referrer-Policy") in {
            "strict-origin-when-cross-origin",
            "strict-origin",
            "same-origin",
            "no-referrer",
        }, path
    assert client.get("/no-such-page").status_code == 404


def test_session_and_remember_cookies_are_httponly_and_samesite_lax(client, world):
    response = client.post(
        "/login",
        data={"email": world.emails[world.author], "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        attributes = cookie_attributes(response, name)
        assert "httponly" in attributes, name
        assert attributes.get("samesite", "").lower() == "lax", name


@pytest.mark.parametrize("app_config", [HTTPS_SITE])
def test_https_site_sends_secure_cookies_and_hsts(app, world):
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": world.emails[world.author], "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        assert "secure" in cookie_attributes(response, name), name
    for path in ("/questions", "/login", "/no-such-page"):
        hsts = client.get(path, base_url="https://localhost").headers.get(
            "Strict-Transport-Security", ""
        )
        max_age = re.search(r"max-age=(\d+)", hsts)
        assert max_age and int(max_age.group(1)) >= 31_536_000, (path, hsts)


# -- CSRF ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostCase:
    """A request to a POST route that succeeds when it carries a valid token."""

    data: Callable[[World], dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)  # URL argument -> World attribute
    changes_db: bool = True
    status: int = 302
    actor: str = "author"  # the World attribute of the person who sends it
    query: str = ""  # the embed's routes carry the doc page they are about


EMBED = "?url=https%3A%2F%2Fdocs.example.com%2Fdocs%2Fembedded"
DOCS_HOME = "https%3A%2F%2Fdocs.example.com%2F"
POST_CASES: dict[str, PostCase] = {
    "accounts.sign_up": PostCase(
        lambda w: {"name": "Eve", "email": "eve@example.com", "password": PASSWORD}
    ),
    "accounts.sign_in": PostCase(  # records last_sign_in_at
        lambda w: {"email": w.emails[w.author], "password": PASSWORD}
    ),
    "accounts.sign_out": PostCase(lambda w: {}),  # revokes this browser's session row
    "accounts.verify": PostCase(lambda w: {"password": PASSWORD}, ids={"token": "verify_token"}),
    # A is verified already: nothing to send, but the route answers.
    "accounts.resend_verification": PostCase(lambda w: {}, changes_db=False),
    "accounts.request_reset": PostCase(lambda w: {"email": w.emails[w.author]}),
    "accounts.reset": PostCase(
        lambda w: {"password": "a new and long passphrase"}, ids={"token": "reset_token"}
    ),
    "accounts.change_name": PostCase(lambda w: {"name-name": "Ada L."}),
    "accounts.change_password": PostCase(
        lambda w: {
            "password-current_password": PASSWORD,
            "password-new_password": "a new and long passphrase",
        }
    ),
    "accounts.change_email": PostCase(
        lambda w: {"email-new_email": "other-ada@example.com", "email-current_password": PASSWORD}
    ),
    "accounts.confirm_email_change": PostCase(lambda w: {}, ids={"token": "email_change_token"}),
    "accounts.sign_out_everywhere": PostCase(lambda w: {}),
    "accounts.end_other_session": PostCase(lambda w: {}, ids={"session_id": "other_session"}),
    "accounts.delete_account": PostCase(lambda w: {"delete-confirmation": PASSWORD}),
    # A new token is shown on the page that answers (never carried through a redirect).
    "accounts.create_api_token": PostCase(
        lambda w: {"token-name": "CI", "token-current_password": PASSWORD}, status=200
    ),
    "accounts.revoke_api_token": PostCase(lambda w: {}, ids={"token_id": "api_token"}),
    "accounts.change_role": PostCase(
        lambda w: {f"user-{w.other}-role": "moderator", f"user-{w.other}-team_id": "0"},
        ids={"user_id": "other"},
        actor="admin",
    ),
    "questions.ask": PostCase(
        lambda w: {"subject": "A brand new question", "body": "Details here.", "topic_id": "0"}
    ),
    "questions.reply": PostCase(lambda w: {"body": "A new reply."}),
    "questions.edit_question": PostCase(
        lambda w: {"subject": "An edited subject", "body": "Edited details."}
    ),
    "questions.edit_reply": PostCase(lambda w: {"body": "An edited reply."}),
    "questions.delete_question": PostCase(lambda w: {}),
    "questions.delete_reply": PostCase(lambda w: {}),
    "questions.accept": PostCase(lambda w: {}, ids={"reply_id": "answer"}),
    "questions.withdraw": PostCase(lambda w: {}, ids={"question_id": "resolved_question"}),
    "questions.discard_draft": PostCase(lambda w: {}),
    # Nothing of A's is held: the route answers 409 without changing anything.
    "questions.publish_question": PostCase(lambda w: {}, changes_db=False, status=409),
    "questions.publish_reply": PostCase(lambda w: {}, changes_db=False, status=409),
    # A already follows their own question: following again changes nothing.
    "notifications.follow": PostCase(lambda w: {}, changes_db=False),
    "notifications.unfollow": PostCase(lambda w: {}),
    "notifications.settings": PostCase(lambda w: {}),  # unticked box: emails off
    "notifications.unsubscribe": PostCase(lambda w: {}, status=200),
    "notifications.team_channels": PostCase(
        lambda w: {"team_id": str(w.team), "webhook_url": "https://hooks.slack.test/T1"},
        actor="admin",
    ),
    # Zendesk is not configured in this module's app: the resync is refused with a message
    # (tests/test_zendesk.py resyncs against a fake Zendesk), and the webhook is not there.
    "zendesk.resync": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "zendesk.webhook": PostCase(lambda w: {}, changes_db=False, status=404),
    "zendesk.settings": PostCase(lambda w: {f"team_{w.team}": "360001"}, actor="admin"),
    "twofactor.settings": PostCase(lambda w: {"action": "begin"}),
    # T, waiting for their second factor, sends the next step's code (this one's is spent).
    "twofactor.challenge": PostCase(
        lambda w: {"code": pyotp.TOTP(w.two_factor_secret).at(time.time() + 30)},
        actor="two_factor_user",
    ),
    "twofactor.request_removal": PostCase(
        lambda w: {}, ids={"user_id": "two_factor_user"}, actor="admin"
    ),
    # The link is the authentication: whoever holds it (here A, signed in) confirms for T.
    "twofactor.confirm_removal": PostCase(lambda w: {}, ids={"token": "removal_token"}),
    # No provider is configured in this module's app, so linking 404s once past the CSRF check;
    # tests/test_oauth.py checks the token on a configured provider.
    "oauth.link": PostCase(
        lambda w: {}, ids={"provider": "provider"}, changes_db=False, status=404
    ),
    "oauth.unlink": PostCase(lambda w: {}, ids={"identity_id": "identity"}),
    # Moderation controls act on A's open question; undoing what was never done changes nothing.
    "moderation.pin": PostCase(lambda w: {}, actor="moderator"),
    "moderation.unpin": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.lock": PostCase(lambda w: {}, actor="moderator"),
    "moderation.unlock": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.hide": PostCase(lambda w: {"reason": "spam"}, actor="moderator"),
    "moderation.unhide": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.delete": PostCase(lambda w: {}, actor="moderator"),
    "moderation.undelete": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.resolve": PostCase(lambda w: {}, actor="moderator"),
    # The resolved question has an accepted answer: refused with a message, nothing changes.
    "moderation.unresolve": PostCase(
        lambda w: {}, ids={"question_id": "resolved_question"}, changes_db=False, actor="moderator"
    ),
    "moderation.move": PostCase(lambda w: {"topic_id": "0"}, changes_db=False, actor="moderator"),
    # Flags and bans (actor "other" flags A's posts; nothing is flagged for the dismissals).
    "flags.flag_question": PostCase(lambda w: {"reason": "spam"}, actor="other"),
    "flags.flag_reply": PostCase(lambda w: {"reason": "abusive"}, actor="other"),
    "moderation.dismiss_question_flags": PostCase(
        lambda w: {}, changes_db=False, actor="moderator"
    ),
    "moderation.dismiss_reply_flags": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.hide_reply": PostCase(lambda w: {"reason": "spam"}, actor="moderator"),
    "moderation.unhide_reply": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.ban": PostCase(
        lambda w: {"reason": "spam"}, ids={"user_id": "other"}, actor="moderator"
    ),
    "moderation.unban": PostCase(
        lambda w: {}, ids={"user_id": "other"}, changes_db=False, actor="moderator"
    ),
    "moderation.claim": PostCase(lambda w: {}, actor="moderator"),
    "moderation.unclaim": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.assign": PostCase(
        lambda w: {"assignee_id": "0"}, changes_db=False, actor="moderator"
    ),
    "moderation.bulk": PostCase(
        lambda w: {"action": "hide-spam", "question_id": str(w.question)}, actor="moderator"
    ),
    # Nothing is held for review here: approving or rejecting changes nothing.
    "moderation.approve_question": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.reject_question": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.approve_reply": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.reject_reply": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.settings": PostCase(
        lambda w: {
            "premoderate_new_accounts": "y",
            "response_great_minutes": "15",
            "response_okay_minutes": "60",
            "response_late_minutes": "1440",
            "response_reminder_minutes": "45",
        },
        actor="moderator",
    ),
    # The support hero's week (community/hero): configuration is for moderators.
    "hero.team_hours": PostCase(
        lambda w: {"timezone": "Europe/Berlin", "days": "1", "start": "09:00", "end": "17:00"},
        ids={"team_id": "team"},
        actor="moderator",
    ),
    "hero.rotation": PostCase(
        lambda w: {"members": "mod@example.com", "starts_on": "2026-11-23"},
        ids={"team_id": "team"},
        actor="moderator",
    ),
    # No rotation to swap in: refused with the form's error, nothing changes.
    "hero.swap": PostCase(
        lambda w: {"scope": "day", "first": "2026-11-23", "second": "2026-11-24"},
        ids={"team_id": "team"},
        changes_db=False,
        status=422,
        actor="moderator",
    ),
    # No such override (the id of a question): 404 once past the CSRF check.
    "hero.remove_override": PostCase(
        lambda w: {},
        ids={"team_id": "team", "override_id": "question"},
        changes_db=False,
        status=404,
        actor="moderator",
    ),
    # An empty calendar: nothing imported, but the import is audited.
    "hero.import_schedule": PostCase(
        lambda w: {
            "schedule": (
                io.BytesIO(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n"),
                "oncall.ics",
            )
        },
        ids={"team_id": "team"},
        actor="moderator",
    ),
    # No rotation: nobody to hand over to; refused with a message, nothing changes.
    "hero.send_handoff": PostCase(
        lambda w: {}, ids={"team_id": "team"}, changes_db=False, actor="moderator"
    ),
    "hero.acknowledge_handoff": PostCase(
        lambda w: {},
        ids={"handoff_id": "question"},
        changes_db=False,
        status=404,
        actor="moderator",
    ),
    "hero.mark_urgent": PostCase(lambda w: {}, actor="moderator"),
    "hero.saved_replies": PostCase(
        lambda w: {"title": "Self-hosted", "body": "See the docs.", "scope": "personal"},
        actor="moderator",
    ),
    "hero.delete_saved_reply": PostCase(
        lambda w: {},
        ids={"saved_id": "question"},
        changes_db=False,
        status=404,
        actor="moderator",
    ),
    "hero.feature_request": PostCase(
        lambda w: {"issue_url": "https://github.com/acme/replay/issues/42"}, actor="moderator"
    ),
    "hero.follow_up": PostCase(lambda w: {"due_on": "2030-01-01"}, actor="moderator"),
    "hero.follow_up_done": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "hero.unmark_urgent": PostCase(lambda w: {}, changes_db=False, actor="moderator"),
    "moderation.retry_job": PostCase(lambda w: {}, ids={"job_id": "dead_job"}, actor="moderator"),
    # The embed: the same actions as the site, on its own routes (its session falls back on the
    # site's cookie when both are on one site, as here).
    "embed.ask": PostCase(
        lambda w: {"subject": "A question from the embed", "body": "Details."}, query=EMBED
    ),
    "embed.preview": PostCase(
        lambda w: {"body": "**Bold**"}, changes_db=False, status=200, query=EMBED
    ),
    "embed.reply": PostCase(lambda w: {"body": "A reply from the embed."}, query=EMBED),
    "embed.accept": PostCase(lambda w: {}, ids={"reply_id": "answer"}, query=EMBED),
    "embed.withdraw": PostCase(lambda w: {}, ids={"question_id": "resolved_question"}, query=EMBED),
    "embed.follow": PostCase(lambda w: {}, changes_db=False, query=EMBED),
    "embed.unfollow": PostCase(lambda w: {}, query=EMBED),
    # Already signed in: the embed's sign-in form just goes back to the questions.
    "embed.sign_in": PostCase(
        lambda w: {"email": w.emails[w.author], "password": PASSWORD},
        changes_db=False,
        query=EMBED,
    ),
    "embed.sign_up": PostCase(
        lambda w: {"name": "Eve", "email": "eve@example.com", "password": PASSWORD},
        status=200,
        query=EMBED,
    ),
    "embed.sign_out": PostCase(lambda w: {}, query=EMBED),
    # A sign-in request lives in the embed's session; nothing is recorded until the popup ends.
    "embed.begin_popup": PostCase(lambda w: {}, changes_db=False, status=200, query=EMBED),
    "embed.redeem": PostCase(lambda w: {}, changes_db=False, status=200, query=EMBED),
    # No popup sign-in is under way in this browser: refused, nothing recorded.
    "embed.popup_done": PostCase(lambda w: {}, changes_db=False, status=400),
    # The API ignores cookies: a signed-in browser with the site's own CSRF token is still no
    # one there (401), and nothing changes. Its writes need a bearer token (tests/test_api.py).
    "api.create_question": PostCase(lambda w: {}, changes_db=False, status=401),
    "api.create_reply": PostCase(lambda w: {}, changes_db=False, status=401),
    "api.accept_answer": PostCase(lambda w: {}, changes_db=False, status=401),
}
DEFAULT_IDS = {"question_id": "question", "reply_id": "own_reply", "token": "unsubscribe_token"}


def post_rules(app: Flask) -> list:
    return [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())]


def post_url(rule, world: World) -> str:
    case = POST_CASES[rule.endpoint]
    names = {**DEFAULT_IDS, **case.ids}
    path = fill(rule.rule, {arg: getattr(world, names[arg]) for arg in rule.arguments})
    return path + case.query


def test_every_post_route_has_a_csrf_case(app):
    assert {rule.endpoint for rule in post_rules(app)} == set(POST_CASES)


def test_csrf_exempt_routes_are_exactly_the_reviewed_ones(app):
    assert set(csrf._exempt_views) == EXPECTED_CSRF_EXEMPT_VIEWS
    assert {blueprint.name for blueprint in csrf._exempt_blueprints} == (
        EXPECTED_CSRF_EXEMPT_BLUEPRINTS
    )


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_post_routes_refuse_a_missing_or_foreign_token(app, client, make, world):
    leave_pending_draft(client, make, world)
    stranger = app.test_client()
    foreign_token = csrf_token(stranger)
    before = snapshot(app)
    rules = post_rules(app)
    assert len(rules) >= len(POST_CASES)
    for rule in rules:
        if rule.endpoint in EXEMPT_ENDPOINTS:
            continue  # authenticated by its signed token instead (tested with notifications)
        url = post_url(rule, world)
        for token in (None, foreign_token):
            data = POST_CASES[rule.endpoint].data(world)  # afresh: an uploaded file is read once
            sent = data if token is None else {**data, "csrf_token": token}
            response = client.post(url, data=sent)
            assert response.status_code == 400, (rule.endpoint, token)
            assert snapshot(app) == before, (rule.endpoint, token)
        assert signed_in_user(client) is not None, rule.endpoint


@pytest.mark.parametrize("app_config", [CSRF_ON])
@pytest.mark.parametrize("endpoint", sorted(POST_CASES))
def test_post_routes_work_with_the_sessions_own_token(app, client, make, world, endpoint):
    """The control for the test above: the same requests, with a valid token, take effect."""
    leave_pending_draft(client, make, world)
    (rule,) = [rule for rule in post_rules(app) if rule.endpoint == endpoint]
    case = POST_CASES[endpoint]
    if case.actor != "author":
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        sign_in(client, world.emails[getattr(world, case.actor)])
    before = snapshot(app)
    response = client.post(
        post_url(rule, world), data={**case.data(world), "csrf_token": csrf_token(client)}
    )
    assert response.status_code == case.status, response.get_data(as_text=True)
    assert (snapshot(app) != before) is case.changes_db
    if endpoint == "accounts.sign_out":
        assert signed_in_user(client) is None


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_api_writes_ignore_the_browser_session_and_its_csrf_token(app, client, world):
    """Why the API may be CSRF-exempt: cookies never authenticate there. A signed-in browser,
    sending the session's own CSRF token, JSON or a form, same-site or cross-site, is no one to
    the API: 401 and nothing changes, and the browser's session survives untouched."""
    sign_in(client, world.emails[world.author])
    token = csrf_token(client)
    bodies = {
        "api.create_question": {
            "page_url": "https://docs.example.com/docs/x",
            "subject": "Forged",
            "body": "Forged",
        },
        "api.create_reply": {"body": "Forged"},
        "api.accept_answer": {"reply_id": world.answer},
    }
    before = snapshot(app)
    rules = [rule for rule in post_rules(app) if rule.endpoint in API_WRITES]
    assert {rule.endpoint for rule in rules} == API_WRITES
    for rule in rules:
        body = bodies[rule.endpoint]
        for headers in ({}, {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site"}):
            headers = {**headers, "X-CSRFToken": token}
            for sent in (
                {"json": body},
                {"data": {**body, "csrf_token": token}},
                {"data": "{}", "content_type": "text/plain"},
            ):
                response = client.post(post_url(rule, world), headers=headers, **sent)
                assert response.status_code == 401, (rule.endpoint, sent)
                assert response.mimetype == "application/problem+json"
                assert "Set-Cookie" not in response.headers
    assert snapshot(app) == before
    assert signed_in_user(client) is not None


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_sign_in_needs_the_token(app, client, world):
    """Login CSRF: a forged form must not sign the visitor into the attacker's account."""
    before = snapshot(app)
    form = {"email": world.emails[world.author], "password": PASSWORD}
    assert client.post("/login", data=form).status_code == 400
    foreign = csrf_token(app.test_client())
    assert client.post("/login", data={**form, "csrf_token": foreign}).status_code == 400
    assert signed_in_user(client) is None
    assert snapshot(app) == before


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_csrf_page_gives_back_the_text_but_never_the_password(app, client, world):
    sign_in(client, world.emails[world.author])
    response = client.post(
        "/ask",
        data={
            "subject": "Why <b>bold</b> & more",
            "body": "My long text <script>alert(1)</script>",
            "topic_id": "0",
        },
        headers={"Referer": "https://evil.test/forged"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Why &lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert "My long text &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "evil.test" not in page
    assert csp(response).get("frame-ancestors") == ["'none'"]

    secret = "a-very-secret-passphrase-1234"
    anonymous = app.test_client()
    for path, form in (
        ("/signup", {"name": "Eve Example", "email": "eve@example.com", "password": secret}),
        ("/login", {"email": "eve@example.com", "password": secret}),
    ):
        response = anonymous.post(path, data=form)
        assert response.status_code == 400, path
        page = response.get_data(as_text=True)
        assert secret not in page, path
        if "name" in form:
            assert "Eve Example" in page


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_csrf_error_as_json_is_a_problem_document(client, world):
    sign_in(client, world.emails[world.author])
    response = client.post(
        f"/questions/{world.question}/delete", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 400


# -- safe methods -------------------------------------------------------------------------------

GET_QUERY = {
    "questions.index": "?state=resolved",
    "questions.page": "?url=https%3A%2F%2Fdocs.example.com%2Fdocs%2Fnever-seen&title=New",
    "questions.ask": "?url=https%3A%2F%2Fdocs.example.com%2Fdocs%2Fnever-seen&title=New",
    "accounts.sign_in": "?next=%2Fquestions",
    "api.page_questions": "?url=https%3A%2F%2Fdocs.example.com%2Fdocs%2Fnever-seen",
    "accounts.sign_up": "?next=%2Fquestions",
    "moderation.queue": "?queue=waiting&team=replay&page=https%3A%2F%2Fdocs.example.com%2F%25_",
    "moderation.audit_log": "?action=question.pin&target_type=question&target_id=1",
    "embed.page": EMBED + "&title=Embedded&theme=dark",
    "embed.sign_in": EMBED + "&saved=question",
    "embed.sign_up": EMBED,
    "embed.popup": "?r=" + "a-sign-in-request-from-an-embed",
    "embed.similar": EMBED + "&subject=Recordings+stop+after+navigation",
    "search.similar": "?subject=Recordings+stop+after+navigation&url=" + DOCS_HOME,
    "api.search": "?q=recordings+stop&state=unanswered",
}


def get_urls(app: Flask, world: World) -> Iterator[tuple[str, str]]:
    """Every GET rule, once for each object it could act on (an open question, a resolved one;
    the asker's own reply, someone else's unaccepted one, the accepted one)."""
    choices = {
        "question_id": [world.question, world.resolved_question],
        "reply_id": [world.own_reply, world.answer, world.accepted],
        "slug": [slugify(world.subject)],
        "token": [world.unsubscribe_token],
        "user_id": [world.other],
        "team_id": [world.team],
        "session_id": [world.other_session],
        "provider": ["github"],
        "filename": ["css/app.css"],
    }
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        names = sorted(rule.arguments)
        for picked in itertools.product(*(choices[name] for name in names)):
            path = fill(rule.rule, dict(zip(names, picked, strict=True)))
            yield rule.endpoint, path + GET_QUERY.get(rule.endpoint, "")


@pytest.mark.parametrize("viewer", ["anonymous", "author with a draft", "moderator"])
def test_no_get_route_changes_state(app, client, make, world, viewer):
    if viewer == "author with a draft":
        leave_pending_draft(client, make, world)
    elif viewer == "moderator":
        sign_in(client, world.emails[world.moderator])
    before = snapshot(app)
    seen = set()
    for endpoint, url in get_urls(app, world):
        response = client.get(url)
        response.close()
        assert response.status_code < 500, (endpoint, url)
        assert snapshot(app) == before, (endpoint, url)
        seen.add(endpoint)
    assert {"questions.draft", "questions.page", "questions.edit_question"} <= seen
    if viewer == "author with a draft":
        assert client.get("/draft").status_code == 200


def test_post_only_routes_refuse_get(app, client, world):
    sign_in(client, world.emails[world.author])
    before = snapshot(app)
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")
    response = client.get("/logout", headers={"Accept": "application/json"})
    assert (response.status_code, response.mimetype) == (405, "application/problem+json")
    assert "POST" in response.headers.get("Allow", "")
    assert signed_in_user(client) is not None
    paths_with_get = {
        rule.rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())
    }
    for rule in post_rules(app):
        # POST /api/v1/questions asks, GET /api/v1/questions lists: the path answers GET.
        if "GET" not in (rule.methods or ()) and rule.rule not in paths_with_get:
            assert client.get(post_url(rule, world)).status_code == 405, rule.endpoint
    assert snapshot(app) == before


@pytest.mark.parametrize("ident", [0, 2**31, 2**63, 10**20])
def test_ids_no_row_can_have_are_not_found(app, client, world, ident):
    """Out-of-range ids must not reach the database (PostgreSQL: "integer out of range")."""
    sign_in(client, world.emails[world.admin])
    before = snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        int_args = set(re.findall(r"<int:([^<>]+)>", rule.rule))
        if not int_args:
            continue
        path = fill(rule.rule, {arg: ident if arg in int_args else "x" for arg in rule.arguments})
        path += EMBED if rule.endpoint.startswith("embed.") else ""
        for method in sorted({"GET", "POST"} & set(rule.methods or ())):
            response = client.open(path, method=method)
            assert response.status_code == 404, (method, path)
            checked += 1
    assert checked >= 10
    assert snapshot(app) == before


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "2020-01-01T00:00:00+00:00|2147483648",
        "2020-01-01T00:00:00+00:00|99999999999999999999",
        "2020-01-01T00:00:00+00:00|-1",
        "0001-01-01T00:00:00+05:00|1",
        "9999-12-31T23:59:59-05:00|1",
        "2020-01-01T00:00:00|1",
        "not a date|1",
    ],
)
@pytest.mark.parametrize("direction", ["before", "after"])
def test_tampered_page_cursors_are_ignored(client, world, cursor, direction):
    response = client.get("/questions", query_string={direction: _cursor(cursor)})
    assert response.status_code == 200
    assert world.subject in response.get_data(as_text=True)


# -- open redirects -----------------------------------------------------------------------------

# Django's IsSafeURLTests.test_bad_urls, with our evil host.
BAD_NEXT = [
    "http://evil.test",
    "https://evil.test",
    "http:///evil.test",
    "//evil.test",
    "///evil.test",
    "\\\\evil.test",
    "\\/evil.test",
    "/\\evil.test",
    "/\\/evil.test",
    "http:/\\/evil.test",
    "http:\\/evil.test",
    "http:\\\\evil.test",
    "javascript:alert(1)",
    "\njavascript:alert(1)",
    "\x08//evil.test",
    "http://localhost\\@evil.test",
    "http://localhost@evil.test",
    "%2F%2Fevil.test",
    "/%09/evil.test",
    "/\t/evil.test",
    " //evil.test",
    "https:evil.test",
    "/\x00/evil.test",
    "//localhost@evil.test",
]


def assert_on_site(location: str) -> None:
    assert not location.startswith("//"), location
    assert "\\" not in location, location
    resolved = browser_resolves(location)
    assert resolved.scheme in {"http", "https"}, location
    assert resolved.netloc == "localhost", location
    direct = urlsplit(location)
    assert direct.netloc in {"", "localhost"}, location


def hidden_next(page: str) -> str:
    match = re.search(r'<input[^>]*name="next"[^>]*>', page)
    assert match, "the form has no next field"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


@pytest.mark.parametrize("path", ["/login", "/signup"])
def test_forms_drop_an_off_site_next(client, path):
    for target in BAD_NEXT:
        response = client.get(path, query_string={"next": target})
        if "\x00" in target:  # refused outright: no text here may hold NUL
            assert response.status_code == 400, target
            continue
        assert response.status_code == 200, target
        page = response.get_data(as_text=True)
        assert_on_site(hidden_next(page))
        # Links may carry the visitor's current path on (``/login?next=/signup?next=...``), but
        # no link, form or field on the page may lead off-site.
        for attribute in re.findall(r'(?:href|action|src)="([^"]*)"', page):
            assert_on_site(html.unescape(attribute))
    page = client.get(path, query_string={"next": "/questions?state=resolved"}).get_data(
        as_text=True
    )
    assert hidden_next(page) == "/questions?state=resolved"


def sign_in_with_next(client: FlaskClient, path: str, world: World, target: str):
    """Sign in with ``next``; for sign-up, ``next`` rides in the confirmation link, so follow it
    (built by the real email builder) and return where that finally redirects."""
    if path == "/login":
        form = {"email": world.emails[world.author], "password": PASSWORD}
        return client.post(path, data={**form, "next": target})
    form = {"name": "Newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    answer = client.post(path, data={**form, "next": target})
    assert answer.status_code == 302 and answer.headers["Location"] == "/signup/check-email"
    app = client.application
    with app.app_context():
        job = db.session.scalars(sa.select(Job).order_by(Job.id.desc())).first()
        assert job.payload["email"] == "verify_email"
        link = account_emails.verify_email(job.payload["params"]).context["link"]
    return client.post(urlsplit(link).path, data={"password": PASSWORD})


@pytest.mark.parametrize("path", ["/login", "/signup"])
@pytest.mark.parametrize("target", BAD_NEXT)
def test_sign_in_never_redirects_off_site(client, world, path, target):
    if "\x00" in target:  # refused outright, before any redirect: no text here may hold NUL
        form = {"email": world.emails[world.author], "password": PASSWORD, "next": target}
        assert client.post(path, data=form).status_code == 400
        return
    response = sign_in_with_next(client, path, world, target)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert signed_in_user(client) is not None
    assert_on_site(response.headers["Location"])


@pytest.mark.parametrize("path", ["/login", "/signup"])
def test_sign_in_honours_a_clean_relative_next(client, world, path):
    response = sign_in_with_next(client, path, world, "/questions?state=resolved")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in {"", "localhost"}
    assert (location.path, location.query) == ("/questions", "state=resolved")


def test_login_required_sends_back_to_a_relative_path(client, world):
    response = client.get(f"/questions/{world.question}/edit")
    assert login_redirect(response)
    (target,) = parse_qs(urlsplit(response.headers["Location"]).query)["next"]
    assert target == f"/questions/{world.question}/edit"


# -- object-level authorisation -------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    method: str
    url: Callable[[World], str]
    data: dict[str, str]
    done: Callable[[Any, World, Any], bool]  # (make, world, response) -> the action took effect


def _question(make, world: World, attr: str = "question") -> Question:
    return make.get(Question, getattr(world, attr))


ACTIONS = {
    "edit question (form)": Action(
        "GET",
        lambda w: f"/questions/{w.question}/edit",
        {},
        lambda make, w, r: r.status_code == 200 and w.subject in r.get_data(as_text=True),
    ),
    "edit question": Action(
        "POST",
        lambda w: f"/questions/{w.question}/edit",
        {"subject": "Edited by someone", "body": "New details."},
        lambda make, w, r: _question(make, w).subject == "Edited by someone",
    ),
    "edit reply (form)": Action(
        "GET",
        lambda w: f"/replies/{w.own_reply}/edit",
        {},
        lambda make, w, r: r.status_code == 200 and "More detail" in r.get_data(as_text=True),
    ),
    "edit reply": Action(
        "POST",
        lambda w: f"/replies/{w.own_reply}/edit",
        {"body": "Edited reply."},
        lambda make, w, r: make.get(Reply, w.own_reply).body_source == "Edited reply.",
    ),
    "delete question": Action(
        "POST",
        lambda w: f"/questions/{w.question}/delete",
        {},
        lambda make, w, r: _question(make, w).deleted_at is not None,
    ),
    "delete reply": Action(
        "POST",
        lambda w: f"/replies/{w.own_reply}/delete",
        {},
        lambda make, w, r: make.get(Reply, w.own_reply).deleted_at is not None,
    ),
    "accept answer": Action(
        "POST",
        lambda w: f"/replies/{w.answer}/accept",
        {},
        lambda make, w, r: _question(make, w).accepted_reply_id == w.answer,
    ),
    "withdraw answer": Action(
        "POST",
        lambda w: f"/questions/{w.resolved_question}/withdraw-answer",
        {},
        lambda make, w, r: _question(make, w, "resolved_question").accepted_reply_id is None,
    ),
}
ACTORS = ["anonymous", "author", "other member", "replier", "moderator"]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action_name", sorted(ACTIONS))
def test_object_actions_are_authorised(app, client, make, world, action_name, actor):
    action = ACTIONS[action_name]
    if actor != "anonymous":
        ident = {
            "author": world.author,
            "other member": world.other,
            "replier": world.replier,
            "moderator": world.moderator,
        }[actor]
        sign_in(client, world.emails[ident])
    before = snapshot(app)
    response = client.open(action.url(world), method=action.method, data=action.data)

    if actor == "anonymous":
        assert login_redirect(response)
        assert snapshot(app) == before
    elif actor in {"other member", "replier"}:
        assert response.status_code == 403
        assert snapshot(app) == before
    else:
        expected = 200 if action.method == "GET" else 302
        assert response.status_code == expected, response.get_data(as_text=True)
        assert action.done(make, world, response)


@pytest.mark.parametrize("state", ["deleted_at", "hidden_at"])
def test_deleted_or_hidden_question_is_not_found_except_by_moderators(app, make, world, state):
    make.update(Question, world.question, **{state: datetime.now(UTC)})
    url = f"/questions/{world.question}"
    for viewer in ("anonymous", world.other, world.author):
        client = app.test_client()
        if viewer != "anonymous":
            sign_in(client, world.emails[viewer])
        assert client.get(url).status_code == 404, viewer
        assert client.get(f"{url}-{slugify(world.subject)}").status_code == 404, viewer
        assert world.subject not in client.get("/questions").get_data(as_text=True), viewer
    moderator = app.test_client()
    sign_in(moderator, world.emails[world.moderator])
    response = moderator.get(url, follow_redirects=True)
    assert response.status_code == 200
    assert world.subject in response.get_data(as_text=True)


def test_other_members_cannot_act_on_a_deleted_question_by_id(app, client, make, world):
    make.update(Question, world.question, deleted_at=datetime.now(UTC))
    sign_in(client, world.emails[world.other])
    before = snapshot(app)
    for name in ("edit question (form)", "edit question", "accept answer", "edit reply"):
        action = ACTIONS[name]
        response = client.open(action.url(world), method=action.method, data=action.data)
        assert response.status_code == 404, name
    assert snapshot(app) == before


# -- mass assignment ----------------------------------------------------------------------------

PRIVILEGED_FIELDS = {
    "role": "admin",
    "is_admin": "1",
    "is_moderator": "true",
    "email_verified": "1",
    "email_verified_at": "2020-01-01T00:00:00+00:00",
    "session_version": "42",
    "password_hash": "pbkdf2:sha256:1$x$y",
    "status": QuestionStatus.RESOLVED.value,
    "reply_count": "99",
    "pinned": "y",
    "locked": "y",
    "deleted_at": "2020-01-01T00:00:00+00:00",
    "hidden_at": "2020-01-01T00:00:00+00:00",
    "published_at": "",
    "created_at": "2001-01-01T00:00:00+00:00",
    "edited_at": "2001-01-01T00:00:00+00:00",
}


def test_sign_up_ignores_role_and_verification_fields(app, client):
    response = client.post(
        "/signup",
        data={
            "name": "Mallory",
            "email": "mallory@example.com",
            "password": PASSWORD,
            **PRIVILEGED_FIELDS,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "mallory@example.com"))
        assert user.role == Role.MEMBER
        assert not user.is_moderator
        assert user.email_verified_at is None
        assert user.session_version == 1
        assert check_password_hash(user.password_hash, PASSWORD)


def assert_recent(moment: datetime) -> None:
    assert datetime.now(UTC) - moment < timedelta(minutes=5)


def test_ask_ignores_ownership_and_state_fields(app, client, make, world):
    sign_in(client, world.emails[world.other])
    before = make.count(Question)
    response = client.post(
        "/ask",
        data={
            "subject": "Posted with extra fields",
            "body": "Body.",
            "topic_id": "0",
            "author_id": str(world.author),
            "accepted_reply_id": str(world.answer),
            "id": str(world.question),
            **PRIVILEGED_FIELDS,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert make.count(Question) == before + 1
    with app.app_context():
        question = db.session.scalar(
            sa.select(Question).where(Question.subject == "Posted with extra fields")
        )
        assert question.id != world.question
        assert question.author_id == world.other
        assert question.status == QuestionStatus.UNANSWERED
        assert question.accepted_reply_id is None
        assert question.reply_count == 0
        assert not question.pinned and not question.locked
        assert question.deleted_at is None and question.hidden_at is None
        assert question.published_at is not None
        assert question.edited_at is None
        assert_recent(question.created_at)
    assert make.get(Question, world.question).subject == world.subject


def test_reply_ignores_ownership_and_target_fields(app, client, make, world):
    sign_in(client, world.emails[world.other])
    resolved_before = row(app, Question, world.resolved_question)
    response = client.post(
        f"/questions/{world.question}/replies",
        data={
            "body": "A reply with extra fields.",
            "author_id": str(world.author),
            "question_id": str(world.resolved_question),
            "accepted": "y",
            **PRIVILEGED_FIELDS,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        reply = db.session.scalar(
            sa.select(Reply).where(Reply.body_source == "A reply with extra fields.")
        )
        assert reply.author_id == world.other
        assert reply.question_id == world.question
        assert reply.deleted_at is None and reply.hidden_at is None
        assert reply.published_at is not None
        assert_recent(reply.created_at)
    question = make.get(Question, world.question)
    assert question.accepted_reply_id is None
    assert row(app, Question, world.resolved_question) == resolved_before


def test_edit_question_changes_only_subject_and_body(app, client, world):
    sign_in(client, world.emails[world.author])
    before = row(app, Question, world.question)
    response = client.post(
        f"/questions/{world.question}/edit",
        data={
            "subject": "A better subject",
            "body": "Better details.",
            "author_id": str(world.other),
            "accepted_reply_id": str(world.answer),
            "topic_id": "1",
            "submission_key": "k" * 24,
            **PRIVILEGED_FIELDS,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    after = row(app, Question, world.question)
    assert after["subject"] == "A better subject"
    assert after["body_source"] == "Better details."
    editable = {"subject", "body_source", "body_html", "edited_at"}
    assert {k: v for k, v in after.items() if k not in editable} == {
        k: v for k, v in before.items() if k not in editable
    }


def test_edit_reply_changes_only_the_body(app, client, world):
    sign_in(client, world.emails[world.author])
    before = row(app, Reply, world.own_reply)
    response = client.post(
        f"/replies/{world.own_reply}/edit",
        data={
            "body": "Clarified.",
            "author_id": str(world.other),
            "question_id": str(world.resolved_question),
            "submission_key": "k" * 24,
            **PRIVILEGED_FIELDS,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    after = row(app, Reply, world.own_reply)
    assert after["body_source"] == "Clarified."
    editable = {"body_source", "body_html", "edited_at"}
    assert {k: v for k, v in after.items() if k not in editable} == {
        k: v for k, v in before.items() if k not in editable
    }


def test_anothers_submission_key_does_not_return_or_touch_their_question(app, client, make, world):
    """The key is only an idempotency hint: a key that belongs to someone else's post must not
    hand back that post (or fail); a new post is made for the person who sent it."""
    key = "A" * 32
    make.update(Question, world.question, submission_key=key)
    before = row(app, Question, world.question)
    sign_in(client, world.emails[world.other])
    response = client.post(
        "/ask",
        data={"subject": "Same key, other person", "body": "Mine.", "submission_key": key},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert f"/questions/{world.question}-" not in response.headers["Location"]
    with app.app_context():
        mine = db.session.scalar(
            sa.select(Question).where(Question.subject == "Same key, other person")
        )
        assert mine.author_id == world.other
    assert row(app, Question, world.question) == before


def test_anothers_reply_submission_key_does_not_return_or_touch_their_reply(
    app, client, make, world
):
    key = "B" * 32
    make.update(Reply, world.answer, submission_key=key)
    before = row(app, Reply, world.answer)
    sign_in(client, world.emails[world.other])
    response = client.post(
        f"/questions/{world.question}/replies",
        data={"body": "My own reply.", "submission_key": key},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert not response.headers["Location"].endswith(f"#reply-{world.answer}")
    with app.app_context():
        mine = db.session.scalar(sa.select(Reply).where(Reply.body_source == "My own reply."))
        assert mine.author_id == world.other
    assert row(app, Reply, world.answer) == before


# -- error pages --------------------------------------------------------------------------------


def test_not_found_is_a_friendly_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page and "Browse questions" in page


def test_not_found_as_json_is_a_problem_document(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"


SECRET_IN_EXCEPTION = "database password is hunter2"


@pytest.fixture
def broken_route(app: Flask) -> str:
    def explode() -> str:
        raise RuntimeError(SECRET_IN_EXCEPTION)

    app.add_url_rule("/explode-for-test", "explode_for_test", explode)
    return "/explode-for-test"


@pytest.mark.parametrize("app_config", [{"PROPAGATE_EXCEPTIONS": False}])
def test_server_error_is_friendly_and_leaks_nothing(client, broken_route):
    response = client.get(broken_route)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    for leak in (SECRET_IN_EXCEPTION, "Traceback", "RuntimeError", "explode"):
        assert leak not in page
    assert csp(response).get("frame-ancestors") == ["'none'"]

    response = client.get(broken_route, headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 500
    assert SECRET_IN_EXCEPTION not in response.get_data(as_text=True)
