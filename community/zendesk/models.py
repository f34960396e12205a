"""The mirror's own tables: one row per mirrored question, the admins' routing settings, and
the webhook deliveries seen recently (to refuse replays)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.db import CreatedAtMixin, utcnow
from community.extensions import db


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Zendesk's system statuses (accounts with custom statuses still report one of these).
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


class ZendeskTicket(CreatedAtMixin, db.Model):
    """The Zendesk side of one question.

    Two halves: what the site wants (``sequence`` numbers every change to mirror, and
    ``desired_status``/``desired_tag`` say where the latest change leaves the ticket), written
    in the request's transaction; and what Zendesk has (the ticket and its last known status,
    priority and assignee), written by the jobs and the webhook. ``applied_sequence`` is the
    newest change whose status reached Zendesk: a job carrying an older number never sets the
    status again.
    """

    __tablename__ = "zendesk_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    ticket_url: Mapped[str | None] = mapped_column(sa.String(500))
    # The closed ticket this one follows up (Zendesk refuses updates to closed tickets).
    followup_source_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    sequence: Mapped[int] = mapped_column(default=0)
    applied_sequence: Mapped[int] = mapped_column(default=0)
    desired_status: Mapped[str] = mapped_column(sa.String(20), default="new")
    desired_tag: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[str | None] = mapped_column(sa.String(20))
    priority: Mapped[str | None] = mapped_column(sa.String(20))
    assignee_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    assignee_name: Mapped[str | None] = mapped_column(sa.String(200))
    group_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The signature time of the last webhook applied: an older delivery arriving late is ignored.
    remote_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ZendeskTeamGroup(db.Model):
    """Tickets of a team's topics go to this Zendesk group."""

    __tablename__ = "zendesk_team_groups"

    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.BigInteger)


class ZendeskTopicPriority(db.Model):
    """The priority new tickets of a topic get (``normal`` when a topic has no row)."""

    __tablename__ = "zendesk_topic_priorities"
    __table_args__ = (
        sa.CheckConstraint(
            sa.column("priority").in_([p.value for p in Priority]), name="priority_known"
        ),
    )

    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topics.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(sa.String(10))


class ZendeskWebhookDelivery(db.Model):
    """A signed webhook request already handled; the unique digest refuses a replay of it."""

    __tablename__ = "zendesk_webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    signed_at: Mapped[datetime] = mapped_column(index=True)
