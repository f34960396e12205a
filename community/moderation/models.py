from __future__ import annotations

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
