"""Accounts with email and password: sign-up with verification, sign-in, reset, settings, roles,
bans, rate limits. Emails are real: the worker sends them to an SMTP server on 127.0.0.1 and the
tests follow the links in them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from community.accounts import services
from community.accounts.models import Role, User
from community.extensions import db
from community.jobs.models import Job
from community.moderation.models import AuditEvent
from community.questions.models import Question, Reply, Team
from tests.conftest import PASSWORD, mail_settings

NEW_PASSWORD = "a completely different passphrase"


@pytest.fixture
def app_config(request, smtp_server):
    """Mail goes to the test's SMTP server; a test may add settings with indirect parametrize."""
    return {**mail_settings(smtp_server), **getattr(request, "param", {})}


RATE_LIMITED = pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True}], indirect=True, ids=["rate-limited"]
)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _signed_in(client) -> bool:
    return "Sign out" in _text(client.get("/questions"))


def _sign_up(client, email="ada@example.com", name="Ada Lovelace", password=PASSWORD):
    return client.post("/signup", data={"name": name, "email": email, "password": password})


def _user(make, email) -> User | None:
    with make.app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


# -- sign-up and verification -------------------------------------------------------------------


def test_sign_up_sends_a_link_that_verifies_and_signs_in(client, make, mailbox):
    response = _sign_up(client, email=" Ada@Example.COM ")
    assert response.status_code == 302
    assert response.location == "/signup/check-email"
    assert "ada@example.com" in _text(client.get(response.location))
    assert not _signed_in(client)
    assert _user(make, "ada@example.com").email_verified_at is None

    link = mailbox.link("ada@example.com", "/verify/")
    page = client.get(link)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert _user(make, "ada@example.com").email_verified_at is None  # a GET changes nothing
    wrong = client.post(link, data={"password": "not the password at all"})
    assert wrong.status_code == 422 and _user(make, "ada@example.com").email_verified_at is None
    assert client.post(link, data={"password": PASSWORD}).status_code == 302
    assert _user(make, "ada@example.com").email_verified_at is not None
    assert _signed_in(client)
    assert client.post(link, data={"password": PASSWORD}).status_code == 400  # single use


def test_sign_up_with_a_taken_address_answers_the_same_and_tells_the_owner(
    app, client, make, mailbox
):
    make.user(email="ada@example.com", name="Ada Lovelace")
    other = app.test_client()
    taken = _sign_up(client, email="ada@example.com", name="Someone Else")
    fresh = _sign_up(other, email="grace@example.com", name="Someone Else")
    assert (taken.status_code, taken.location) == (fresh.status_code, fresh.location)
    assert _text(client.get(taken.location)).replace("ada@", "X@") == _text(
        other.get(fresh.location)
    ).replace("grace@", "X@")
    assert make.count(User) == 2
    warning = mailbox.last("ada@example.com")
    assert warning["Subject"] == "Someone tried to sign up with your address"
    assert "/reset" in warning.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use between 10 and 256 characters."),
        ("password123", "too common"),
        ("aaaaaaaaaaaa", "too common"),
        ("ada@example.com", "email address or name"),
    ],
)
def test_sign_up_refuses_weak_passwords_and_keeps_the_rest(client, make, password, message):
    response = _sign_up(client, password=password)
    assert response.status_code == 422
    assert message in _text(response).replace("&#39;", "'")
    assert 'value="Ada Lovelace"' in _text(response)
    assert password not in _text(response) or password == "ada@example.com"
    assert make.count(User) == 0


def test_unverified_accounts_write_held_posts_published_on_verification(app, client, make, mailbox):
    _sign_up(client)
    assert (
        client.post("/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code
        == 302
    )
    assert "Check your inbox: confirm ada@example.com" in _text(client.get("/questions"))
    asked = client.post("/ask", data={"subject": "Held until I verify", "body": "Details"})
    question = make.get(Question, int(asked.location.split("/")[2].split("-")[0]))
    assert question.published_at is None
    own_view = _text(client.get(asked.location))
    assert "Pending · check your inbox to publish" in own_view

    public = app.test_client()
    assert "Held until I verify" not in _text(public.get("/questions"))
    assert public.get(asked.location).status_code == 404
    assert make.count(Job, Job.kind == "slack.question") == 0  # nothing announced while held

    client.post(mailbox.link("ada@example.com", "/verify/"))  # signed in: no password asked
    assert make.get(Question, question.id).published_at is not None
    assert "Held until I verify" in _text(public.get("/questions"))
    assert make.count(Job, Job.kind == "slack.question") == 1


def test_a_visitors_draft_is_posted_after_following_the_link_on_another_device(
    app, client, make, mailbox
):
    question = make.question(make.user(), subject="How do I export events?")
    client.post(f"/questions/{question}/replies", data={"body": "Use the batch export."})
    _sign_up(client, email="grace@example.com", name="Grace Hopper")
    assert make.count(Reply) == 0
    phone = app.test_client()  # the email is opened elsewhere: no session, no draft cookie
    done = phone.post(mailbox.link("grace@example.com", "/verify/"), data={"password": PASSWORD})
    assert f"/questions/{question}-how-do-i-export-events#reply-" in done.location
    with app.app_context():
        posted = db.session.scalar(sa.select(Reply))
        assert posted.published_at is not None and posted.body_source == "Use the batch export."


@RATE_LIMITED
def test_resending_the_verification_link_is_rate_limited(app, client, make, mailbox):
    _sign_up(client)
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    statuses = [client.post("/settings/account/resend-verification").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert len(mailbox.messages("ada@example.com")) == 4  # the first, and three resends


def test_the_owner_clicking_the_link_does_not_hand_over_a_pre_created_account(
    app, client, make, mailbox
):
    """Pre-hijacking: an attacker signs up with the victim's address, stays signed in, writes a
    held post. The victim, who never chose that password, cannot confirm by clicking alone."""
    attacker = app.test_client()
    _sign_up(attacker, email="victim@example.com", password="attacker passphrase 1")
    attacker.post(
        "/login", data={"email": "victim@example.com", "password": "attacker passphrase 1"}
    )
    attacker.post("/ask", data={"subject": "Spam in the victim's name", "body": "buy now"})
    victim = app.test_client()
    link = mailbox.link("victim@example.com", "/verify/")
    refused = victim.post(link)
    assert refused.status_code == 422 and "/reset" in _text(refused)
    assert _user(make, "victim@example.com").email_verified_at is None
    assert not _signed_in(victim)

    # The victim resets instead: the attacker is out, and the held post is not published.
    victim.post("/reset", data={"email": "victim@example.com"})
    victim.post(mailbox.link("victim@example.com", "/reset/"), data={"password": NEW_PASSWORD})
    assert not _signed_in(attacker)
    assert make.count(Question, Question.published_at.is_not(None)) == 0
    victim.post("/login", data={"email": "victim@example.com", "password": NEW_PASSWORD})
    with app.app_context():
        held = db.session.scalar(sa.select(Question.id))
    page = _text(victim.get(f"/questions/{held}", follow_redirects=True))
    assert "Pending" in page and "Publish" in page  # the owner decides; they can also delete it
    assert victim.post(f"/questions/{held}/publish").status_code == 302
    assert make.get(Question, held).published_at is not None


# -- sign-in ------------------------------------------------------------------------------------


def test_sign_in_and_out(client, make, auth):
    make.user(email="grace@example.com", name="Grace Hopper")
    assert auth.login("GRACE@example.com").status_code == 302
    assert "Grace Hopper" in _text(client.get("/questions"))
    assert auth.logout().status_code == 302
    assert not _signed_in(client)
    assert client.get("/logout").status_code == 405


def test_wrong_password_and_unknown_email_answer_alike(client, make, auth):
    make.user(email="grace@example.com")
    wrong = auth.login("grace@example.com", "not the password at all")
    unknown = auth.login("nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert _text(wrong).replace("grace@", "X@") == _text(unknown).replace("nobody@", "X@")


def test_sign_in_goes_to_a_safe_next_page(client, make, auth):
    make.user(email="grace@example.com")
    assert auth.login("grace@example.com", next="/questions?state=resolved").location == (
        "/questions?state=resolved"
    )
    auth.logout()
    assert auth.login("grace@example.com", next="https://evil.test/phish").location == "/questions"


def test_remember_me_cookie_is_revoked_with_the_session(app, client, make, auth):
    user_id = make.user(email="grace@example.com")
    auth.login("grace@example.com", remember="y")
    remember = client.get_cookie("remember_token")
    with app.app_context():
        services.end_all_sessions(db.session.get(User, user_id))
        db.session.commit()
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert not _signed_in(fresh)


@pytest.mark.parametrize(
    "app_config",
    [
        {"RATELIMIT_ENABLED": True},
        {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15"},
    ],
    ids=["memory", "redis"],
)
def test_brute_force_sign_in_is_throttled_even_for_the_right_password(app, client, make, auth):
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        import redis

        redis.Redis.from_url(app.config["RATELIMIT_STORAGE_URI"]).flushdb()
    make.user(email="grace@example.com")
    statuses = [
        auth.login("grace@example.com", f"wrong guess {n:04d}").status_code for n in range(6)
    ]
    assert statuses == [200] * 6
    throttled = auth.login("grace@example.com")  # the right password, while throttled
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert not _signed_in(client)


@RATE_LIMITED
def test_failures_from_elsewhere_do_not_lock_the_owner_out_but_a_spray_stops(app, client, make):
    make.user(email="grace@example.com")

    def attempt(ip: str, password: str = "a wrong guess!") -> int:
        form = {"email": "grace@example.com", "password": password}
        return client.post("/login", data=form, environ_base={"REMOTE_ADDR": ip}).status_code

    # An attacker fails ten times from each of three networks (under the per-IP limits)...
    for n in range(30):
        assert attempt(f"198.51.100.{n // 10 + 1}") in {200, 429}
    # ...and the owner still signs in from home.
    assert attempt("203.0.113.7", PASSWORD) == 302
    # A spray from many addresses is stopped once the address's daily allowance is spent.
    statuses = [attempt(f"192.0.2.{n + 1}") for n in range(45)]
    assert statuses[0] == 200 and statuses[-1] == 429


@RATE_LIMITED
def test_changing_email_and_signing_up_cannot_mail_bomb_an_address(app, client, make, mailbox):
    make.user(email="grace@example.com")
    statuses = [
        app.test_client()
        .post(
            "/signup",
            data={"name": "X", "email": "grace@example.com", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"},
        )
        .status_code
        for n in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mailbox.messages("grace@example.com")) == 3

    make.user(email="ada@example.com")
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    changes = [
        client.post(
            "/settings/account/email",
            data={"email-new_email": "victim@example.net", "email-current_password": PASSWORD},
        ).status_code
        for _ in range(6)
    ]
    assert changes == [302] * 5 + [429]


def test_banned_accounts_cannot_sign_in_or_keep_their_session(app, client, make, auth):
    from community.db import utcnow

    user_id = make.user(email="eve@example.com")
    auth.login("eve@example.com")
    make.update(User, user_id, banned_at=utcnow(), ban_reason="spam")
    assert not _signed_in(client)
    refused = auth.login("eve@example.com")
    assert refused.status_code == 200 and "This account is suspended." in _text(refused)
    with app.app_context():
        from community.errors import NotAllowed
        from community.questions import services as questions

        with pytest.raises(NotAllowed):
            questions.ask_question(db.session.get(User, user_id), "Spam spam spam", "spam")


def test_banned_accounts_cannot_confirm_and_publish_held_posts(app, client, make, mailbox):
    from community.db import utcnow

    _sign_up(client)
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    client.post("/ask", data={"subject": "Written before the ban", "body": "held"})
    link = mailbox.link("ada@example.com", "/verify/")
    make.update(User, _user(make, "ada@example.com").id, banned_at=utcnow())
    response = app.test_client().post(link, data={"password": PASSWORD})
    assert response.status_code == 422 and "suspended" in _text(response)
    assert make.count(Question, Question.published_at.is_not(None)) == 0


@pytest.mark.parametrize("app_config", [{"REQUIRE_MODERATOR_2FA": True}], indirect=True)
def test_moderators_without_two_factor_have_no_moderator_powers(app, client, make, auth):
    question = make.question(make.user(), subject="Someone else's question")
    auth.login_as(make.moderator())
    response = client.post(
        f"/questions/{question}/edit", data={"subject": "Rewritten by a moderator", "body": "x"}
    )
    assert response.status_code == 403
    assert make.get(Question, question).subject == "Someone else's question"
    assert client.post(f"/questions/{question}/delete").status_code == 403


def test_text_with_nul_characters_is_a_clear_400(client, make):
    for path, data in [
        ("/login", {"email": "a\x00@example.com", "password": "x"}),
        ("/signup", {"name": "A\x00", "email": "a@example.com", "password": PASSWORD}),
        ("/reset", {"email": "a\x00@example.com"}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "NUL" in _text(response)
    assert client.get("/questions", query_string={"topic": "a\x00"}).status_code == 400


def test_accounts_without_a_password_re_authenticate_before_changing_their_email(
    app, client, make, auth
):
    import time

    from community.accounts import sessions

    user_id = make.user(email="oauth-only@example.com")
    auth.login("oauth-only@example.com")
    make.update(User, user_id, password_hash=None)
    with client.session_transaction() as session:
        stamp = dict(session[sessions.SIGNED_IN_AT], at=time.time() - 3600)  # an hour ago
        session[sessions.SIGNED_IN_AT] = stamp
    stale = client.post("/settings/account/email", data={"email-new_email": "new@example.com"})
    assert stale.status_code == 422 and "sign in again" in _text(stale)
    with client.session_transaction() as session:
        session[sessions.SIGNED_IN_AT] = dict(session[sessions.SIGNED_IN_AT], at=time.time())
    fresh = client.post("/settings/account/email", data={"email-new_email": "new@example.com"})
    assert fresh.status_code == 302


# -- password reset -------------------------------------------------------------------------------


def test_reset_answers_alike_and_emails_only_real_accounts(
    app, client, make, smtp_server, run_jobs
):
    make.user(email="grace@example.com")
    known = client.post("/reset", data={"email": "grace@example.com"})
    unknown = app.test_client().post("/reset", data={"email": "nobody@example.com"})
    assert (known.status_code, known.location) == (unknown.status_code, unknown.location)
    run_jobs()
    assert [r.recipients for r in smtp_server.received] == [["grace@example.com"]]


def test_reset_sets_the_password_ends_sessions_and_is_single_use(app, client, make, auth, mailbox):
    make.user(email="grace@example.com")
    other_device = app.test_client()
    other_device.post("/login", data={"email": "grace@example.com", "password": PASSWORD})
    client.post("/reset", data={"email": "grace@example.com"})
    link = mailbox.link("grace@example.com", "/reset/")

    form = client.get(link)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    weak = client.post(link, data={"password": "password123"})
    assert weak.status_code == 422 and "too common" in _text(weak)
    done = client.post(link, data={"password": NEW_PASSWORD})
    assert done.location == "/login"
    assert not _signed_in(client)  # no automatic sign-in
    assert not _signed_in(other_device)
    assert auth.login("grace@example.com").status_code == 200  # the old password is gone
    assert auth.login("grace@example.com", NEW_PASSWORD).status_code == 302
    assert client.get(link).status_code == 400  # used
    assert mailbox.last("grace@example.com")["Subject"] == "Your Community password was changed"


def test_a_reset_link_dies_when_the_password_changes_otherwise(app, client, make, mailbox):
    user_id = make.user(email="grace@example.com")
    client.post("/reset", data={"email": "grace@example.com"})
    link = mailbox.link("grace@example.com", "/reset/")
    with app.app_context():
        services.set_password(db.session.get(User, user_id), NEW_PASSWORD)
        db.session.commit()
    assert client.get(link).status_code == 400
    assert client.post(link, data={"password": "yet another passphrase"}).status_code == 400


def test_expired_and_tampered_reset_links_are_refused(app, client, make, mailbox):
    make.user(email="grace@example.com")
    client.post("/reset", data={"email": "grace@example.com"})
    link = mailbox.link("grace@example.com", "/reset/")
    assert client.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB")).status_code == 400
    verify_style = link.replace("/reset/", "/verify/")  # right signature, wrong purpose
    assert client.post(verify_style).status_code == 400
    app.config["RESET_PASSWORD_MAX_AGE_MINUTES"] = -1
    assert client.get(link).status_code == 400


def test_reset_takes_back_an_account_someone_pre_created(app, client, make, mailbox, auth):
    """Pre-hijacking: an attacker signs up with the victim's address and keeps a session."""
    attacker = app.test_client()
    _sign_up(attacker, email="victim@example.com", password="attacker passphrase 1")
    attacker.post(
        "/login", data={"email": "victim@example.com", "password": "attacker passphrase 1"}
    )
    assert _signed_in(attacker)

    client.post("/reset", data={"email": "victim@example.com"})
    client.post(mailbox.link("victim@example.com", "/reset/"), data={"password": NEW_PASSWORD})
    assert not _signed_in(attacker)
    assert (
        attacker.post(
            "/login", data={"email": "victim@example.com", "password": "attacker passphrase 1"}
        ).status_code
        == 200
    )
    assert _user(make, "victim@example.com").email_verified_at is not None


# -- settings -------------------------------------------------------------------------------------


def test_change_password_needs_the_current_one_and_ends_other_sessions(app, client, make, auth):
    make.user(email="grace@example.com")
    auth.login("grace@example.com")
    other = app.test_client()
    other.post("/login", data={"email": "grace@example.com", "password": PASSWORD})
    wrong = client.post(
        "/settings/account/password",
        data={"password-current_password": "nope nope nope", "password-new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "not your current password" in _text(wrong)
    done = client.post(
        "/settings/account/password",
        data={"password-current_password": PASSWORD, "password-new_password": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert _signed_in(client) and not _signed_in(other)


def test_change_email_is_confirmed_by_the_new_address_and_told_to_the_old(
    app, client, make, auth, mailbox
):
    user_id = make.user(email="grace@example.com")
    make.user(email="taken@example.com")
    auth.login("grace@example.com")
    asked = client.post(
        "/settings/account/email",
        data={"email-new_email": "Grace@New.example", "email-current_password": PASSWORD},
    )
    assert asked.status_code == 302
    assert make.get(User, user_id).email == "grace@example.com"  # nothing changed yet
    notice = mailbox.last("grace@example.com")
    assert notice["Subject"] == "A change of your email address was requested"
    link = mailbox.link("grace@new.example", "/settings/email/")
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302
    assert make.get(User, user_id).email == "grace@new.example"
    assert mailbox.last("grace@example.com")["Subject"] == "Your email address was changed"
    assert client.post(link).status_code == 400  # single use

    taken = client.post(
        "/settings/account/email",
        data={"email-new_email": "taken@example.com", "email-current_password": PASSWORD},
    )
    assert taken.status_code == 302  # the same answer as for a free address...
    assert all(  # ...but no link goes to the other account's owner
        "/settings/email/" not in m.get_body(("plain",)).get_content()
        for m in mailbox.messages("taken@example.com")
    )


def test_sign_out_everywhere(app, client, make, auth):
    make.user(email="grace@example.com")
    auth.login("grace@example.com")
    other = app.test_client()
    other.post("/login", data={"email": "grace@example.com", "password": PASSWORD})
    assert client.post("/settings/account/sign-out-everywhere").status_code == 302
    assert not _signed_in(client) and not _signed_in(other)


def test_delete_account_keeps_posts_as_deleted_user(app, client, make, auth):
    user_id = make.user(email="grace@example.com", name="Grace Hopper")
    question = make.question(user_id, subject="Still useful after I leave")
    auth.login("grace@example.com")
    wrong = client.post("/settings/account/delete", data={"delete-confirmation": "nope"})
    assert wrong.status_code == 422
    assert (
        client.post("/settings/account/delete", data={"delete-confirmation": PASSWORD}).status_code
        == 302
    )
    assert not _signed_in(client)
    page = _text(client.get(f"/questions/{question}", follow_redirects=True))
    assert "Still useful after I leave" in page
    assert "deleted user" in page and "Grace Hopper" not in page
    assert auth.login("grace@example.com").status_code == 200  # gone
    assert _sign_up(client, email="grace@example.com").status_code == 302
    assert _user(make, "grace@example.com").id != user_id  # the address is free again


# -- roles ----------------------------------------------------------------------------------------


def test_only_admins_change_roles_and_each_change_is_audited(app, client, make, auth):
    with app.app_context():
        team = Team(name="Replay", slug="replay")
        db.session.add(team)
        db.session.commit()
        team_id = team.id
    member = make.user(email="hero@example.com", name="Hugo Hero")
    question = make.question(make.user())
    make.reply(question, member, body="Team answer")
    auth.login_as(make.user())
    assert client.get("/admin/users").status_code == 403
    auth.logout()

    admin = make.user(role=Role.ADMIN, email="root@example.com")
    auth.login_as(admin)
    assert "Hugo Hero" in _text(client.get("/admin/users"))
    prefix = f"user-{member}"
    done = client.post(
        f"/admin/users/{member}/role",
        data={f"{prefix}-role": "team", f"{prefix}-team_id": str(team_id)},
    )
    assert done.status_code == 302
    changed = make.get(User, member)
    assert (changed.role, changed.team_id) == ("team", team_id)
    assert "Team · Replay" in _text(client.get(f"/questions/{question}", follow_redirects=True))
    assert make.count(AuditEvent, AuditEvent.action == "user.role_changed") == 1

    no_team = client.post(
        f"/admin/users/{member}/role", data={f"{prefix}-role": "team", f"{prefix}-team_id": "0"}
    )
    assert no_team.status_code == 302 and make.get(User, member).team_id == team_id
    own = f"user-{admin}"
    client.post(f"/admin/users/{admin}/role", data={f"{own}-role": "member", f"{own}-team_id": "0"})
    assert make.get(User, admin).role == "admin"


def test_cli_creates_verified_accounts_with_a_role(runner, make):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Mod@Example.com",
            "--name",
            "Maya",
            "--password",
            PASSWORD,
            "--role",
            "moderator",
        ]
    )
    assert result.exit_code == 0, result.output
    moderator = _user(make, "mod@example.com")
    assert moderator.role == "moderator" and moderator.email_verified_at is not None
    again = runner.invoke(
        args=["users", "create", "mod@example.com", "--name", "X", "--password", PASSWORD]
    )
    assert again.exit_code != 0 and "already exists" in again.output
    common = runner.invoke(
        args=["users", "create", "n@example.com", "--name", "X", "--password", "password123"]
    )
    assert common.exit_code != 0 and "too common" in common.output


def test_passwords_are_stored_hashed(app, make):
    user_id = make.user(password=PASSWORD)
    stored = make.get(User, user_id).password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


# -- sessions -------------------------------------------------------------------------------------


def test_a_copied_session_cookie_dies_when_its_browser_signs_out(app, client, make, auth):
    """Flask's session is a signed cookie; the session row is what makes signing out real."""
    make.user(email="grace@example.com")
    auth.login("grace@example.com", remember="y")
    stolen = {c.key: c.value for c in client._cookies.values()}
    auth.logout()
    thief = app.test_client()
    for name, value in stolen.items():
        thief.set_cookie(name, value)
    assert not _signed_in(thief)


def test_devices_are_listed_and_one_can_be_signed_out(app, client, make, auth):
    make.user(email="grace@example.com")
    auth.login("grace@example.com")
    laptop = app.test_client()
    laptop.post(
        "/login",
        data={"email": "grace@example.com", "password": PASSWORD},
        headers={"User-Agent": "Laptop Browser 1.0"},
    )
    page = _text(client.get("/settings/account"))
    assert "Laptop Browser 1.0" in page and "This device" in page
    from community.accounts.models import UserSession

    with app.app_context():
        laptop_row = db.session.scalar(
            sa.select(UserSession.id).where(UserSession.user_agent == "Laptop Browser 1.0")
        )
    assert client.post(f"/settings/account/sessions/{laptop_row}/end").status_code == 302
    assert not _signed_in(laptop) and _signed_in(client)

    other = make.user(email="bob@example.com")
    auth.logout()
    auth.login_as(other)
    assert client.post(f"/settings/account/sessions/{laptop_row}/end").status_code == 404


def test_an_idle_session_is_signed_out(app, client, make, auth):
    from datetime import timedelta

    from community.accounts.models import UserSession
    from community.db import utcnow

    make.user(email="grace@example.com")
    auth.login("grace@example.com", remember="y")
    assert _signed_in(client)
    idle = utcnow() - timedelta(days=app.config["SESSION_IDLE_DAYS"], minutes=1)
    with app.app_context():
        db.session.execute(sa.update(UserSession).values(last_seen_at=idle))
        db.session.commit()
    assert not _signed_in(client)
