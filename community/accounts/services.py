"""Accounts: creating users, checking passwords, ending sessions."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from community.accounts.models import Role, User
from community.db import utcnow
from community.errors import Conflict, DomainError
from community.extensions import db

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# Hashed once, so that a sign-in for an unknown address costs as much as one for a known address.
_DUMMY_HASH = generate_password_hash("not a real password, only for timing")


class WeakPassword(DomainError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at most {MAX_PASSWORD_LENGTH} characters.")


def create_user(
    email: str,
    name: str,
    password: str | None,
    role: Role = Role.MEMBER,
    verified: bool = False,
) -> User:
    """Create an account. Raises Conflict if the address is taken, WeakPassword if too short."""
    email = normalise_email(email)
    if password is not None:
        check_password_rules(password)
    if find_user_by_email(email) is not None:
        raise Conflict("An account with this email address already exists.")
    user = User(
        email=email,
        name=name.strip(),
        role=role.value,
        password_hash=_hash(password) if password is not None else None,
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user whose email and password these are, or None (in the same time either way)."""
    user = find_user_by_email(email)
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def set_password(user: User, password: str) -> None:
    """Change the password and sign the user out of every session."""
    check_password_rules(password)
    user.password_hash = _hash(password)
    end_all_sessions(user)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def end_all_sessions(user: User) -> None:
    user.session_version = User.session_version + 1
    db.session.flush()
    db.session.refresh(user, ["session_version"])


def load_user_for_session(session_id: str) -> User | None:
    """Flask-Login's loader: the id carries the session version, so old cookies stop working."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user
