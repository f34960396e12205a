from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from community.db import CreatedAtMixin
from community.extensions import db


class Role(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


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
    email_verified_at: Mapped[datetime | None]
    # Part of the session id: bumping it signs out every session of this user.
    session_version: Mapped[int] = mapped_column(default=1)
    # The global email switch in notification settings.
    email_notifications: Mapped[bool] = mapped_column(default=True)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

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
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
