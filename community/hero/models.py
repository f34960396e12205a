"""The hero's own tables: each team's rotation (order and start), the days someone else is on
duty (swaps, imported on-call schedules)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.accounts.models import User
from community.db import CreatedAtMixin, utcnow
from community.extensions import db
from community.questions.models import Question


class Rotation(db.Model):
    """A team's weekly rotation: week 0 starts on ``starts_on``, each week is the next member's
    (``RotationMember.position`` order), round and round."""

    __tablename__ = "hero_rotations"

    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), primary_key=True)
    starts_on: Mapped[date]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RotationMember(db.Model):
    __tablename__ = "hero_rotation_members"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "position"),
        sa.UniqueConstraint("team_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    position: Mapped[int]

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class OverrideSource:
    SWAP = "swap"
    ICS = "ics"


class DutyOverride(CreatedAtMixin, db.Model):
    """From ``starts_on`` to ``ends_on`` (inclusive, the team's local dates) ``user`` is on
    duty instead of whoever the order says; the newest override wins where two overlap. A swap
    is two rows with one ``swap_key``; an imported schedule's rows have source "ics"."""

    __tablename__ = "hero_duty_overrides"
    __table_args__ = (
        sa.CheckConstraint("starts_on <= ends_on", name="dates_in_order"),
        sa.Index("ix_hero_duty_overrides_team_dates", "team_id", "ends_on", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(10), default=OverrideSource.SWAP)
    swap_key: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User] = relationship(lazy="raise_on_sql", foreign_keys=[user_id])


class Reminder(CreatedAtMixin, db.Model):
    """A reminder sent for a question nearing a target: its key is the question and the target
    (in minutes), so each is sent once however many workers sweep."""

    __tablename__ = "hero_reminders"

    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"), primary_key=True)
    threshold_minutes: Mapped[int] = mapped_column(primary_key=True)


class Handoff(CreatedAtMixin, db.Model):
    """The end of a hero's week: what was open went to the next hero (by email), who may
    acknowledge it. One per team and rotation week."""

    __tablename__ = "hero_handoffs"
    __table_args__ = (sa.UniqueConstraint("team_id", "week_starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    week_starts_on: Mapped[date]  # the week handed over
    from_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: the sweep
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    from_user: Mapped[User | None] = relationship(lazy="raise_on_sql", foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(lazy="raise_on_sql", foreign_keys=[to_user_id])


class SavedReply(CreatedAtMixin, db.Model):
    """A reply kept for reuse: the team's (``team_id``) or one person's (``owner_id``)."""

    __tablename__ = "hero_saved_replies"
    __table_args__ = (
        sa.CheckConstraint("(team_id IS NULL) <> (owner_id IS NULL)", name="team_or_personal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)


class FeatureRequest(CreatedAtMixin, db.Model):
    """A question that asks for something a GitHub issue tracks."""

    __tablename__ = "hero_feature_requests"
    __table_args__ = (
        sa.UniqueConstraint("question_id", "issue_url"),
        sa.Index("ix_hero_feature_requests_issue", "issue_url", "question_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"))
    issue_url: Mapped[str] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    question: Mapped[Question] = relationship(lazy="raise_on_sql")


class FollowUp(CreatedAtMixin, db.Model):
    """A hero promised to get back to someone: due at ``due_at``, emailed once when due."""

    __tablename__ = "hero_follow_ups"
    __table_args__ = (
        sa.UniqueConstraint("question_id", "user_id"),
        sa.Index("ix_hero_follow_ups_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    reminded_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]

    question: Mapped[Question] = relationship(lazy="raise_on_sql")
