from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.db import CreatedAtMixin
from community.extensions import db


class AuditEvent(CreatedAtMixin, db.Model):
    """An append-only record of a moderator, admin or security-relevant action."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_target", "target_type", "target_id", "id"),
        sa.Index("ix_audit_events_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for the system itself (a job) or a visitor acting through a signed link.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(80))
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[int | None]
    # Before/after values and the reason, as small JSON.
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class FlagReason(StrEnum):
    SPAM = "spam"
    OFF_TOPIC = "off-topic"
    ABUSIVE = "abusive"
    OTHER = "other"

    @property
    def label(self) -> str:
        return FLAG_REASON_LABELS[self]


FLAG_REASON_LABELS = {
    FlagReason.SPAM: "Spam or advertising",
    FlagReason.OFF_TOPIC: "Off-topic: not about this product or page",
    FlagReason.ABUSIVE: "Rude or abusive",
    FlagReason.OTHER: "Something else",
}


class Flag(CreatedAtMixin, db.Model):
    """A member reports a question or reply; one flag per person per post. Open until a
    moderator acts on the post (hides or deletes it: "actioned") or dismisses its flags."""

    __tablename__ = "flags"
    __table_args__ = (
        sa.UniqueConstraint("reporter_id", "post_type", "post_id"),
        sa.Index("ix_flags_post", "post_type", "post_id"),
        sa.Index("ix_flags_open", "resolved_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    post_type: Mapped[str] = mapped_column(sa.String(10))  # "question" or "reply"
    post_id: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(sa.String(20))  # "actioned" or "dismissed"
