"""Accounts: sign-up and verification, passwords and resets, settings, roles, sessions."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from community import signals
from community.accounts import emails as account_emails
from community.accounts import tokens
from community.accounts.models import ApiToken, Identity, RecoveryCode, Role, User, UserSession
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed
from community.extensions import db
from community.moderation import audit
from community.notifications.emails import queue_email
from community.web import safe_next_url

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@functools.cache
def _dummy_hash(method: str) -> str:
    """Hashed once per method, so a sign-in for an unknown address costs what one for a known
    address costs."""
    return generate_password_hash("not a real password, only for timing", method=method)


class WeakPassword(DomainError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_password_rules(password: str, *personal: str) -> None:
    """Length 10 to 256, not a well-known password, not the person's own email or name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        raise WeakPassword("That password is too common. A few unrelated words work well.")
    if any(value and lowered == value.strip().lower() for value in personal):
        raise WeakPassword("Don't use your email address or name as your password.")


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
        check_password_rules(password, email, name)
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
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


class SignInRefused(DomainError):
    """The credentials do not open an account that may sign in; the message says why."""


def check_sign_in(email: str, password: str) -> User:
    """The account these credentials open, or ``SignInRefused``."""
    user = authenticate(email, password)
    if user is None or user.deleted_at is not None:
        raise SignInRefused("That email and password don't match an account.")
    if user.is_banned:
        until = f" until {user.banned_until:%-d %B %Y}" if user.banned_until else ""
        raise SignInRefused(f"This account is suspended{until}.")
    return user


def set_password(user: User, password: str) -> None:
    """Change the password and sign the user out of every session."""
    check_password_rules(password, user.email, user.name)
    user.password_hash = _hash(password)
    end_all_sessions(user)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def end_all_sessions(user: User) -> None:
    """Sign the user out everywhere: every session row is revoked and the version bumped (which
    also voids remember-me cookies and emailed links made before)."""
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    user.session_version = User.session_version + 1
    db.session.flush()
    db.session.refresh(user, ["session_version"])


def session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, *, user_agent: str, ip_address: str) -> str:
    """Record a new signed-in browser; returns the token its cookie will carry."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=session_token_hash(token),
            user_agent=user_agent[:300],
            ip_address=ip_address[:64],
        )
    )
    db.session.flush()
    user.session_token = token
    return token


def end_session_by_token(user_id: int, token: str | None) -> None:
    if not token:
        return
    db.session.execute(
        sa.update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.token_hash == session_token_hash(token),
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


def end_session_by_id(user: User, session_id: int) -> bool:
    """End one of the user's own sessions (from the list in settings)."""
    result = db.session.execute(
        sa.update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


def active_sessions(user: User) -> list[UserSession]:
    oldest = utcnow() - timedelta(days=current_app.config["SESSION_IDLE_DAYS"])
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.last_seen_at >= oldest,
            )
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def load_user_for_session(session_id: str) -> User | None:
    """Flask-Login's loader. The id is "<user>:<session version>:<session token>": the version
    ends every session at once, the token names this browser's row, which must be neither
    revoked nor idle too long. One query."""
    user_id, version, token = [*session_id.split(":"), "", ""][:3]
    if not user_id.isdigit() or not version.isdigit() or not token:
        return None
    found = db.session.execute(
        sa.select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(User.id == int(user_id), UserSession.token_hash == session_token_hash(token))
    ).first()
    if found is None:
        return None
    user, row = found
    now = utcnow()
    idle_limit = timedelta(days=current_app.config["SESSION_IDLE_DAYS"])
    if (
        user.session_version != int(version)
        or not user.is_active
        or row.revoked_at is not None
        or now - row.last_seen_at > idle_limit
    ):
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        _touch(row.id, now)
    user.session_token = token
    return user


LAST_SEEN_RESOLUTION = timedelta(minutes=5)


def _touch(session_row_id: int, now: datetime) -> None:
    """Note the session is in use, in its own short transaction (a GET must not turn the
    request's transaction into a writer)."""
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(UserSession).where(UserSession.id == session_row_id).values(last_seen_at=now)
        )


# -- sign-up, verification, reset: the same answer whether or not an account exists ------------


def register(
    email: str,
    name: str,
    password: str,
    *,
    draft_token: str | None = None,
    next_url: str | None = None,
) -> None:
    """Sign up. A new address gets an account (unverified) and a verification email; an address
    that has an account gets an email telling its owner. The caller shows the same page either
    way, and both paths hash a password, so neither the answer nor its timing tells them apart.
    Raises WeakPassword (which depends only on the password, never on the account)."""
    email = normalise_email(email)
    check_password_rules(password, email, name)
    existing = find_user_by_email(email)
    if existing is not None:
        _hash(password)
        queue_email("account_exists", {"user_id": existing.id})
        return
    user = create_user(email, name, password)
    queue_email(
        "verify_email", {"user_id": user.id, "draft": draft_token, "next": safe_next_url(next_url)}
    )


def resend_verification(user: User) -> None:
    if not user.is_verified:
        queue_email("verify_email", {"user_id": user.id})


def verify_email(
    token: str, password: str | None, signed_in_as: User | None
) -> tuple[User, dict[str, str | None]] | None:
    """Mark the address verified from an emailed link; (user, {"draft": saved draft token,
    "next": where they were}) or None for a dead link.

    Whoever confirms must also know the account's password (or already be signed in to it),
    so an account someone else created with this address is never handed to them by its owner
    clicking the link: the owner is sent to reset the password instead (pre-hijacking)."""
    max_age = current_app.config["VERIFY_EMAIL_MAX_AGE_HOURS"] * 3600
    found = tokens.user_from_token(account_emails.VERIFY, token, max_age)
    if found is None:
        return None
    user, payload = found
    if not user.is_active:
        raise NotAllowed("This account is suspended.")
    proven = signed_in_as is not None and signed_in_as.id == user.id
    knows_password = (
        bool(password)
        and user.password_hash is not None
        and (check_password_hash(user.password_hash, password or ""))
    )
    if not proven and user.password_hash is not None and not knows_password:
        raise WrongPassword()
    _mark_verified(user)
    draft, next_url = payload.get("draft"), payload.get("next")
    return user, {
        "draft": draft if isinstance(draft, str) else None,
        "next": safe_next_url(next_url) if isinstance(next_url, str) else None,
    }


def _mark_verified(user: User) -> None:
    if user.email_verified_at is None and user.is_active:
        user.email_verified_at = utcnow()
        db.session.flush()
        signals.email_verified.send(current_app._get_current_object(), user=user)


def request_password_reset(email: str) -> None:
    """Queue a reset email for the address. The job is queued whether or not the address has
    an account (the email builder looks the account up when sending, and sends nothing without
    one), so neither the answer nor the time it takes tells them apart."""
    queue_email("reset_password", {"email": normalise_email(email)[:254]})


def reset_password(token: str, password: str) -> User:
    """Set a new password from an emailed link. The link proves the address, so an unverified
    account becomes verified; every session ends (an attacker who created the account first
    loses it), the owner is told, and nobody is signed in automatically."""
    max_age = current_app.config["RESET_PASSWORD_MAX_AGE_MINUTES"] * 60
    found = tokens.user_from_token(account_emails.RESET, token, max_age)
    if found is None:
        raise InvalidLink()
    user, _payload = found
    set_password(user, password)
    # Whoever held the account before the owner proved the address loses its tokens too.
    revoke_all_api_tokens(user)
    if user.email_verified_at is None:
        # The link proves the address, but not who wrote what the account holds: posts held
        # before the reset stay held for the owner to review and publish (or delete) themselves.
        user.email_verified_at = utcnow()
    queue_email("password_changed", {"user_id": user.id})
    return user


def reset_link_is_valid(token: str) -> bool:
    max_age = current_app.config["RESET_PASSWORD_MAX_AGE_MINUTES"] * 60
    return tokens.user_from_token(account_emails.RESET, token, max_age) is not None


class InvalidLink(DomainError):
    def __init__(self) -> None:
        super().__init__("This link is invalid or has expired. Ask for a new one.")


class WrongPassword(DomainError):
    def __init__(self) -> None:
        super().__init__("That is not your current password.")


# -- account settings ---------------------------------------------------------------------------


def check_current_password(
    user: User, password: str | None, *, recently_signed_in: bool = False
) -> None:
    """Re-authentication for sensitive changes: the current password, or, for an account that
    signs in only through a provider, a sign-in within the last few minutes."""
    if user.password_hash is None:
        if not recently_signed_in:
            raise StaleSignIn()
        return
    if not password or not check_password_hash(user.password_hash, password):
        raise WrongPassword()


class StaleSignIn(DomainError):
    def __init__(self) -> None:
        super().__init__("For your security, sign in again, then make this change.")


def change_password(
    user: User, current: str | None, new: str, *, recently_signed_in: bool = False
) -> None:
    check_current_password(user, current, recently_signed_in=recently_signed_in)
    set_password(user, new)
    queue_email("password_changed", {"user_id": user.id})


def change_name(user: User, name: str) -> None:
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise DomainError("Use a name of 1 to 80 characters.")
    user.name = name
    db.session.flush()


def request_email_change(
    user: User, new_email: str, password: str | None, *, recently_signed_in: bool = False
) -> None:
    """Send a confirmation link to the new address (and a notice to the old one). Nothing
    changes until the link is followed; an address that is taken gets no link, but the answer is
    the same, so the form does not reveal who has an account."""
    check_current_password(user, password, recently_signed_in=recently_signed_in)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise DomainError("That is already your address.")
    if find_user_by_email(new_email) is None:
        queue_email("confirm_email_change", {"user_id": user.id, "new_email": new_email})
    queue_email(
        "email_change_requested",
        {"user_id": user.id, "old_email": user.email, "new_email": new_email},
    )


def confirm_email_change(token: str) -> User:
    max_age = current_app.config["VERIFY_EMAIL_MAX_AGE_HOURS"] * 3600
    found = tokens.read_token(account_emails.CHANGE_EMAIL, token, max_age)
    new_email = found[2].get("new_email") if found else None
    if not isinstance(new_email, str):
        raise InvalidLink()
    confirmed = tokens.user_from_token(account_emails.CHANGE_EMAIL, token, max_age, new_email)
    if confirmed is None:
        raise InvalidLink()
    user, _payload = confirmed
    if find_user_by_email(new_email) is not None:
        raise Conflict("That address now belongs to another account.")
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    db.session.flush()
    queue_email(
        "email_change_requested",
        {"user_id": user.id, "old_email": old_email, "new_email": new_email, "changed": True},
    )
    return user


def delete_account(
    user: User, confirmation: str | None, *, recently_signed_in: bool = False
) -> None:
    """Delete the account: personal data goes, posts stay (shown as by "deleted user")."""
    if user.password_hash is not None:
        check_current_password(user, confirmation)
    else:
        check_current_password(user, None, recently_signed_in=recently_signed_in)
        if normalise_email(confirmation or "") != user.email:
            raise DomainError("Type your email address to confirm.")
    user.deleted_at = utcnow()
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.name = "deleted user"
    user.password_hash = None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.email_notifications = False
    db.session.execute(sa.delete(Identity).where(Identity.user_id == user.id))
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    revoke_all_api_tokens(user)
    end_all_sessions(user)


# -- roles (admins only) -----------------------------------------------------------------------


def change_role(actor: User, user: User, role: Role, team_id: int | None) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only administrators change roles.")
    if role == Role.TEAM and team_id is None:
        raise DomainError("Choose the team this person answers for.")
    if actor.id == user.id and role != Role.ADMIN:
        raise DomainError("You cannot remove your own administrator role.")
    before = {"role": user.role, "team_id": user.team_id}
    user.role = role.value
    user.team_id = team_id if role == Role.TEAM else None
    end_all_sessions(user)  # a privilege change starts a new session
    audit.record(
        "user.role_changed",
        actor_id=actor.id,
        target_type="user",
        target_id=user.id,
        before=before,
        after={"role": user.role, "team_id": user.team_id},
    )


# -- personal API tokens ---------------------------------------------------------------------------

# Not a secret: a fixed marker, so a leaked token is recognisable (secret scanners, logs).
API_TOKEN_PREFIX = "cmty_"  # noqa: S105
API_TOKEN_DISPLAY_LENGTH = len(API_TOKEN_PREFIX) + 6
MAX_API_TOKEN_NAME_LENGTH = 100
MAX_API_TOKENS_PER_USER = 20
API_TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal API token for ``user``: the row, and the secret (shown once, never stored;
    only its SHA-256 is kept)."""
    if not user.is_active:
        raise NotAllowed("This account is suspended.")
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_API_TOKEN_NAME_LENGTH:
        raise DomainError(f"Name the token in 1 to {MAX_API_TOKEN_NAME_LENGTH} characters.")
    if len(active_api_tokens(user)) >= MAX_API_TOKENS_PER_USER:
        raise Conflict(f"You have {MAX_API_TOKENS_PER_USER} tokens: revoke one first.")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=api_token_hash(secret),
        display_prefix=secret[:API_TOKEN_DISPLAY_LENGTH],
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def api_token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def active_api_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False if they have no such live token."""
    result = db.session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


def revoke_all_api_tokens(user: User) -> None:
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def api_token_for_secret(secret: str) -> ApiToken | None:
    """The live token with this secret, its user loaded (one query), or None: unknown, revoked,
    or its account deleted. A banned account's token is returned: the caller refuses it with a
    reason."""
    if not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(
        sa.select(ApiToken)
        .join(ApiToken.user)
        .options(contains_eager(ApiToken.user))
        .where(ApiToken.token_hash == api_token_hash(secret))
    )
    if token is None or token.revoked_at is not None or token.user.deleted_at is not None:
        return None
    return token


def note_api_token_use(token: ApiToken, *, own_transaction: bool) -> None:
    """Record when the token was last used, to the nearest few minutes. A read notes it in a
    transaction of its own (so it never becomes a writer); a write notes it with its changes."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at <= API_TOKEN_USE_RESOLUTION:
        return
    if not own_transaction:
        token.last_used_at = now
        return
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
        )
    set_committed_value(token, "last_used_at", now)
