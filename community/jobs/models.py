from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.db import CreatedAtMixin, utcnow
from community.extensions import db


class JobStatus(StrEnum):
    PENDING = "pending"  # waiting for its run_after time
    RUNNING = "running"  # claimed by a worker until locked_until (then claimable again)
    DONE = "done"
    DEAD = "dead"  # failed permanently or ran out of attempts; kept, retryable by hand


class Job(CreatedAtMixin, db.Model):
    """One side effect to deliver (an email, a Slack post, a Zendesk call): the outbox row.

    It is written in the same transaction as the change that causes it, so the change and the
    intent to tell someone about it are committed together or not at all.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in JobStatus]), name="status_known"
        ),
        sa.Index("ix_jobs_status_run_after", "status", "run_after", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(80))
    # Ids and small values only: handlers reload the current state when they run.
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Two intents with the same key are one job (e.g. "email:reply:42:user:7").
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(sa.String(100))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status}>"
