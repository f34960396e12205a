from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.db import CreatedAtMixin, utcnow
from community.extensions import db


class Role(StrEnum):
    MEMBER = "member"
    TEAM = "team"  # staff who answer: a "Team" badge with their team's name
    MODERATOR = "moderator"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.TEAM, Role.MODERATOR, Role.ADMIN})


if TYPE_CHECKING:
    from community.questions.models import Team


class User(UserMixin, CreatedAtMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(sa.column("role").in_([r.value for r in Role]), name="role_known"),
        # Emails are stored lower-cased, so this unique constraint is case-insensitive.
        sa.CheckConstraint(
            sa.column("email") == sa.func.lower(sa.column("email")), name="email_lower"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    # Null for accounts that only sign in through an identity provider.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.MEMBER.value)
    # The team a "team" member answers for (shown beside their name).
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    email_verified_at: Mapped[datetime | None]
    # Part of the session id: bumping it signs out every session of this user.
    session_version: Mapped[int] = mapped_column(default=1)
    # The global email switch in notification settings.
    email_notifications: Mapped[bool] = mapped_column(default=True)
    # Two-factor authentication (TOTP); the secret is set at enrolment, enabled once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None]
    banned_at: Mapped[datetime | None]
    banned_until: Mapped[datetime | None]  # null with banned_at set: until lifted
    ban_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # A deleted account keeps its row (its posts stay, attributed to "deleted user").
    deleted_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]

    # Loaded with the author on thread pages (joined, one query), never lazily.
    team: Mapped[Team | None] = relationship(lazy="raise_on_sql")

    # The token of the browser session this object was loaded for (set at sign-in and by the
    # session loader); part of the id Flask-Login keeps in the cookie.
    session_token = None  # not a column: str | None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:{self.session_token or ''}"

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses sessions of inactive users: banned or deleted accounts."""
        return self.deleted_at is None and not self.is_banned

    @property
    def is_banned(self) -> bool:
        if self.banned_at is None:
            return False
        return self.banned_until is None or self.banned_until > utcnow()

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_moderator(self) -> bool:
        return self.role in {Role.MODERATOR, Role.ADMIN}

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def display_name(self) -> str:
        return "deleted user" if self.deleted_at is not None else self.name

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Identity(CreatedAtMixin, db.Model):
    """A sign-in with an identity provider, keyed by (provider, subject), never by email."""

    __tablename__ = "identities"
    __table_args__ = (
        sa.UniqueConstraint("provider", "subject", name="uq_identities_provider_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(50))
    subject: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    last_used_at: Mapped[datetime | None]


class RecoveryCode(CreatedAtMixin, db.Model):
    """A one-time two-factor recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255))
    used_at: Mapped[datetime | None]


class UserSession(CreatedAtMixin, db.Model):
    """One signed-in browser. The cookie holds a random token whose hash is stored here, so a
    session can be listed, ended on its own, and is dead the moment it is signed out, even if
    someone kept a copy of the cookie."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="")


class ApiToken(CreatedAtMixin, db.Model):
    """A personal API token. Only the SHA-256 of its secret is stored, with the secret's first
    characters so its owner can tell tokens apart; the secret itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(sa.String(16))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise_on_sql")
