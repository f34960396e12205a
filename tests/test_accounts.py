"""Sign up, sign in, sign out, and sessions that can be ended."""

from __future__ import annotations

from community.accounts import services
from community.accounts.models import User
from community.extensions import db
from tests.conftest import PASSWORD


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_sign_up_creates_a_member_and_signs_them_in(client, make):
    response = client.post(
        "/signup",
        data={"name": " Ada Lovelace ", "email": "Ada@Example.COM ", "password": PASSWORD},
    )
    assert response.status_code == 302
    home = _text(client.get("/questions"))
    assert "Ada Lovelace" in home and "Sign out" in home
    assert make.count(User, User.email == "ada@example.com", User.role == "member") == 1


def test_sign_up_refuses_a_taken_address_in_any_case_and_keeps_the_name(client, make):
    make.user(email="ada@example.com")
    response = client.post(
        "/signup", data={"name": "Second Ada", "email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "already exists" in _text(response)
    assert 'value="Second Ada"' in _text(response)
    assert PASSWORD not in _text(response)  # a password is never echoed back
    assert make.count(User) == 1


def test_sign_up_checks_every_field(client, make):
    response = client.post(
        "/signup", data={"name": "", "email": "not-an-email", "password": "short"}
    )
    text = _text(response)
    assert "Tell us what to call you." in text
    assert "doesn&#39;t look like an email address" in text or "doesn't look like" in text
    assert "Use between 10 and 256 characters." in text
    assert make.count(User) == 0


def test_sign_in_and_out(client, make, auth):
    make.user(email="grace@example.com", name="Grace Hopper")
    assert auth.login("GRACE@example.com").status_code == 302
    assert "Grace Hopper" in _text(client.get("/questions"))
    assert auth.logout().status_code == 302
    assert "Grace Hopper" not in _text(client.get("/questions"))
    assert client.get("/logout").status_code == 405  # signing out is a POST


def test_wrong_password_and_unknown_email_answer_alike(client, make, auth):
    make.user(email="grace@example.com")
    wrong = auth.login("grace@example.com", "not the password at all")
    unknown = auth.login("nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    message = "That email and password don&#39;t match an account."
    assert message in _text(wrong) and message in _text(unknown)


def test_sign_in_goes_to_a_safe_next_page(client, make, auth):
    make.user(email="grace@example.com")
    response = auth.login("grace@example.com", next="/questions?state=resolved")
    assert response.location == "/questions?state=resolved"
    auth.logout()
    response = auth.login("grace@example.com", next="https://evil.test/phish")
    assert response.location == "/questions"


def test_ending_all_sessions_signs_out_old_cookies(app, client, make, auth):
    user_id = make.user(email="grace@example.com")
    auth.login("grace@example.com")
    other_device = app.test_client()
    other_device.post("/login", data={"email": "grace@example.com", "password": PASSWORD})
    assert "Sign out" in _text(other_device.get("/questions"))

    with app.app_context():
        services.set_password(db.session.get(User, user_id), "a brand new passphrase")
        db.session.commit()

    assert "Sign out" not in _text(client.get("/questions"))
    assert "Sign out" not in _text(other_device.get("/questions"))
    assert auth.login("grace@example.com").status_code == 200  # the old password is gone
    assert auth.login("grace@example.com", "a brand new passphrase").status_code == 302


def test_remember_me_cookie_is_revoked_with_the_session(app, client, make, auth):
    user_id = make.user(email="grace@example.com")
    auth.login("grace@example.com", remember="y")
    remember = client.get_cookie("remember_token")
    assert remember is not None
    with app.app_context():
        services.end_all_sessions(db.session.get(User, user_id))
        db.session.commit()
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert "Sign out" not in _text(fresh.get("/questions"))


def test_cli_creates_verified_accounts_with_a_role(runner, make):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Mod@Example.com",
            "--name",
            "Maya Moderator",
            "--password",
            PASSWORD,
            "--role",
            "moderator",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created moderator mod@example.com" in result.output
    with runner.app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "mod@example.com"))
        assert user.role == "moderator" and user.email_verified_at is not None

    again = runner.invoke(
        args=["users", "create", "mod@example.com", "--name", "X", "--password", PASSWORD]
    )
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(
        args=["users", "create", "new@example.com", "--name", "X", "--password", "short"]
    )
    assert short.exit_code != 0 and "at least 10" in short.output
    bad_role = runner.invoke(
        args=[
            "users",
            "create",
            "x@example.com",
            "--name",
            "X",
            "--password",
            PASSWORD,
            "--role",
            "root",
        ]
    )
    assert bad_role.exit_code != 0


def test_passwords_are_stored_hashed(app, make):
    user_id = make.user(password=PASSWORD)
    with app.app_context():
        stored = db.session.get(User, user_id).password_hash
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))
