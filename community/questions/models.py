from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.accounts.models import User
from community.db import CreatedAtMixin, utcnow
from community.extensions import db


class QuestionStatus(StrEnum):
    UNANSWERED = "unanswered"  # nobody but the asker has replied
    ANSWERED = "answered"  # someone replied, no answer accepted yet
    RESOLVED = "resolved"  # an answer was accepted (or a moderator marked it resolved)


def slugify(text: str, max_length: int = 80) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "question"


class Team(CreatedAtMixin, db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # The team's own Slack channel (an incoming webhook), set by admins in the app.
    slack_webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    # When the team works (hero.clock.WorkingHours): an IANA time zone, ISO weekdays as digits
    # ("12345": Monday to Friday) and the local start and end of each working day.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    working_days: Mapped[str] = mapped_column(sa.String(7), default="12345", server_default="12345")
    work_starts_at: Mapped[time] = mapped_column(default=time(9), server_default="09:00:00")
    work_ends_at: Mapped[time] = mapped_column(default=time(17), server_default="17:00:00")

    topics: Mapped[list[Topic]] = relationship(back_populates="team", lazy="raise_on_sql")


class Topic(CreatedAtMixin, db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")

    team: Mapped[Team] = relationship(back_populates="topics", lazy="raise_on_sql")


class TopicPageRule(CreatedAtMixin, db.Model):
    """Pages under ``path_prefix`` belong to ``topic``; the longest matching prefix wins."""

    __tablename__ = "topic_page_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topics.id"), index=True)
    path_prefix: Mapped[str] = mapped_column(sa.String(500), unique=True)

    topic: Mapped[Topic] = relationship(lazy="raise_on_sql")


class Page(CreatedAtMixin, db.Model):
    """A documentation page, identified by its normalised URL (see ``questions.pages``)."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000), unique=True)
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topics.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Kept by database triggers (migration 0020): one more after every write that changes what
    # the page shows. Never set by the app; see ``questions.snapshots``.
    content_version: Mapped[int] = mapped_column(server_default=sa.text("1"))

    topic: Mapped[Topic | None] = relationship(lazy="raise_on_sql")

    @property
    def display_title(self) -> str:
        return self.title or self.url


class PageSnapshot(db.Model):
    """A stored public rendering of a page's questions (``kind``: the API's JSON, an anonymous
    embed), valid while ``version`` equals the page's ``content_version`` and ``build`` the
    running code's. A cache: rows may be deleted at any time."""

    __tablename__ = "page_snapshots"

    page_id: Mapped[int] = mapped_column(
        sa.ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int]
    build: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)  # gzip: sent as is to most browsers
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


question_pages = sa.Table(
    "question_pages",
    db.metadata,
    sa.Column("page_id", sa.ForeignKey("pages.id"), primary_key=True),
    sa.Column("question_id", sa.ForeignKey("questions.id"), primary_key=True, index=True),
)


class PostMixin(CreatedAtMixin):
    """Columns shared by questions and replies: authored markdown, rendered once, soft states."""

    body_source: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    edited_at: Mapped[datetime | None]
    # Null while the post is held (unverified author, pre-moderation); set when it goes public.
    published_at: Mapped[datetime | None]
    # Held for a moderator's approval (pre-moderation of new accounts), whatever the address.
    held_for_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # Hidden with the rest of its author's posts by a ban: lifting the ban restores exactly these.
    hidden_by_ban: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    deleted_at: Mapped[datetime | None]
    # A random key per rendered form: a double submit or a client retry finds the first post.
    submission_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    @property
    def is_public(self) -> bool:
        return self.published_at is not None and self.hidden_at is None and self.deleted_at is None


# The other queues' partial indexes: each holds only the questions its queue shows.
_QUEUE_INDEXES = {
    "ix_questions_unresolved": sa.text(
        "status = 'answered' AND accepted_reply_id IS NULL AND published_at IS NOT NULL"
        " AND hidden_at IS NULL AND deleted_at IS NULL"
    ),
    "ix_questions_pending": sa.text(
        "published_at IS NULL AND hidden_at IS NULL AND deleted_at IS NULL"
    ),
    "ix_questions_removed": sa.text("hidden_at IS NOT NULL OR deleted_at IS NOT NULL"),
}


class Question(PostMixin, db.Model):
    __tablename__ = "questions"
    __table_args__ = (
        # The accepted reply must be a reply to this very question.
        sa.ForeignKeyConstraint(
            ["id", "accepted_reply_id"],
            ["replies.question_id", "replies.id"],
            use_alter=True,
            name="fk_questions_accepted_reply",
        ),
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in QuestionStatus]), name="status_known"
        ),
        sa.CheckConstraint(sa.column("reply_count") >= 0, name="reply_count_not_negative"),
        sa.Index("ix_questions_last_activity", "last_activity_at", "id"),
        sa.Index("ix_questions_status_last_activity", "status", "last_activity_at", "id"),
        sa.Index("ix_questions_topic_last_activity", "topic_id", "last_activity_at", "id"),
        # The moderation queues: oldest first among the few questions each one holds.
        sa.Index(
            "ix_questions_needs_first_response",
            "created_at",
            "id",
            postgresql_where=sa.text(
                "first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL"
                " AND hidden_at IS NULL AND deleted_at IS NULL"
            ),
            sqlite_where=sa.text(
                "first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL"
                " AND hidden_at IS NULL AND deleted_at IS NULL"
            ),
        ),
        # The hero's metrics: the weeks' questions by publication, and the open backlog.
        sa.Index("ix_questions_published_at", "published_at"),
        sa.Index(
            "ix_questions_open",
            "topic_id",
            "id",
            postgresql_where=sa.text(
                "status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL"
                " AND deleted_at IS NULL"
            ),
            sqlite_where=sa.text(
                "status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL"
                " AND deleted_at IS NULL"
            ),
        ),
        sa.Index(
            "ix_questions_waiting",
            "created_at",
            "id",
            postgresql_where=sa.text("waiting_since IS NOT NULL"),
            sqlite_where=sa.text("waiting_since IS NOT NULL"),
        ),
        *(
            sa.Index(name, "created_at", "id", postgresql_where=where, sqlite_where=where)
            for name, where in _QUEUE_INDEXES.items()
        ),
    )

    # autoincrement must be explicit: the accepted-reply foreign key makes "id" part of a key.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topics.id"))
    # The page the question was asked on; it may be shown on more pages (``pages``).
    origin_page_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pages.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default=QuestionStatus.UNANSWERED.value)
    accepted_reply_id: Mapped[int | None] = mapped_column(index=True)
    reply_count: Mapped[int] = mapped_column(default=0)
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept from the public replies, so queues need no per-question subquery: when a team member
    # first answered, and since when the asker (or another member) has waited on the team again.
    first_response_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    # The team member who took the question on (claimed it, or was assigned it by a moderator).
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime | None]

    author: Mapped[User] = relationship(lazy="raise_on_sql", foreign_keys=[author_id])
    assignee: Mapped[User | None] = relationship(lazy="raise_on_sql", foreign_keys=[assignee_id])
    topic: Mapped[Topic | None] = relationship(lazy="raise_on_sql")
    origin_page: Mapped[Page | None] = relationship(lazy="raise_on_sql")
    pages: Mapped[list[Page]] = relationship(secondary=question_pages, lazy="raise_on_sql")
    replies: Mapped[list[Reply]] = relationship(
        primaryjoin="Question.id == Reply.question_id",
        foreign_keys="Reply.question_id",
        back_populates="question",
        order_by="Reply.id",
        lazy="raise_on_sql",
    )
    accepted_reply: Mapped[Reply | None] = relationship(
        primaryjoin="Question.accepted_reply_id == Reply.id",
        foreign_keys=[accepted_reply_id],
        viewonly=True,
        lazy="raise_on_sql",
    )

    @property
    def slug(self) -> str:
        return slugify(self.subject)

    def __repr__(self) -> str:
        return f"<Question {self.id}>"


class QuestionTag(CreatedAtMixin, db.Model):
    """A label staff put on a question: "urgent" (moderators), "feature_request" (a linked
    GitHub issue). Mirrored to the question's Zendesk ticket as tags."""

    __tablename__ = "question_tags"
    __table_args__ = (sa.Index("ix_question_tags_tag", "tag", "question_id"),)

    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Reply(PostMixin, db.Model):
    __tablename__ = "replies"
    __table_args__ = (
        sa.UniqueConstraint("question_id", "id", name="uq_replies_question_id_id"),
        sa.Index("ix_replies_question_created", "question_id", "created_at"),
        sa.Index(
            "ix_replies_held_for_review",
            "created_at",
            "id",
            postgresql_where=sa.text("held_for_review"),
            sqlite_where=sa.text("held_for_review"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)

    question: Mapped[Question] = relationship(
        primaryjoin="Question.id == Reply.question_id",
        foreign_keys=[question_id],
        back_populates="replies",
        lazy="raise_on_sql",
    )
    author: Mapped[User] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Reply {self.id} on {self.question_id}>"


class DraftKind(StrEnum):
    QUESTION = "question"
    REPLY = "reply"


class Draft(CreatedAtMixin, db.Model):
    """What a visitor wrote before signing in; posted for them once they have."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("questions.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class PostRevision(CreatedAtMixin, db.Model):
    """A post as it was before an edit: the edit history, kept for good and shown on request."""

    __tablename__ = "post_revisions"
    __table_args__ = (sa.Index("ix_post_revisions_post", "post_type", "post_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_type: Mapped[str] = mapped_column(sa.String(10))  # "question" or "reply"
    post_id: Mapped[int]
    editor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))  # who made the change
    subject: Mapped[str | None] = mapped_column(sa.String(200))  # questions only
    body_source: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)

    editor: Mapped[User] = relationship(lazy="raise_on_sql")
