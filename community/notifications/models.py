from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.accounts.models import User
from community.db import CreatedAtMixin, utcnow
from community.extensions import db
from community.questions.models import Question


class Subscription(CreatedAtMixin, db.Model):
    """A user follows a question. ``active`` False records an explicit unfollow, which sticks:
    replying again later does not quietly subscribe them back."""

    __tablename__ = "subscriptions"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    question_id: Mapped[int] = mapped_column(
        sa.ForeignKey("questions.id"), primary_key=True, index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    question: Mapped[Question] = relationship(lazy="raise_on_sql")
