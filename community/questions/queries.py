"""Everything a question page or list needs, loaded in a fixed number of queries."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.db import MAX_ID
from community.extensions import db
from community.questions import permissions
from community.questions.models import (
    Page,
    Question,
    QuestionStatus,
    Reply,
    Team,
    Topic,
    question_pages,
)
from community.questions.permissions import Viewer

MAX_QUESTIONS_PER_DOC_PAGE = 100


def _visible_to(viewer: Viewer, model: type[Question] | type[Reply]) -> sa.ColumnElement[bool]:
    public = sa.and_(
        model.published_at.is_not(None), model.hidden_at.is_(None), model.deleted_at.is_(None)
    )
    if permissions.is_staff(viewer):
        return sa.true()
    if viewer.is_authenticated:
        own_held = sa.and_(
            model.author_id == viewer.id, model.hidden_at.is_(None), model.deleted_at.is_(None)
        )
        return sa.or_(public, own_held)
    return public


def _list_options() -> list:
    return [
        joinedload(Question.author),
        joinedload(Question.topic),
        joinedload(Question.origin_page),
    ]


# -- one thread ---------------------------------------------------------------------------------


@dataclass
class Thread:
    question: Question
    accepted: Reply | None
    replies: list[Reply]  # in order, without the accepted one (shown first)


def thread(question_id: int, viewer: Viewer) -> Thread | None:
    """The question and the replies this viewer may see, or None if they may not see it."""
    question = db.session.scalar(
        sa.select(Question)
        .where(Question.id == question_id)
        .options(
            joinedload(Question.author).joinedload(User.team),
            joinedload(Question.topic).joinedload(Topic.team),
            joinedload(Question.origin_page),
        )
    )
    if question is None or not permissions.can_view(viewer, question):
        return None
    replies = db.session.scalars(
        sa.select(Reply)
        .where(Reply.question_id == question.id, _visible_to(viewer, Reply))
        .options(joinedload(Reply.author).joinedload(User.team))
        .order_by(Reply.created_at, Reply.id)
    ).all()
    accepted = next((r for r in replies if r.id == question.accepted_reply_id), None)
    return Thread(question, accepted, [r for r in replies if r is not accepted])


def question_for_update(question_id: int, viewer: Viewer) -> Question | None:
    question = db.session.get(Question, question_id)
    if question is None or not permissions.can_view(viewer, question):
        return None
    return question


def reply_for_update(reply_id: int, viewer: Viewer) -> Reply | None:
    reply = db.session.scalar(
        sa.select(Reply).where(Reply.id == reply_id).options(joinedload(Reply.question))
    )
    if reply is None or not permissions.can_view(viewer, reply):
        return None
    if not permissions.can_view(viewer, reply.question):
        return None
    return reply


# -- the list of all questions, newest activity first, keyset-paginated --------------------------


@dataclass
class Cursor:
    last_activity_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.last_activity_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text or len(text) > 100:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            moment, _, ident = raw.partition("|")
            parsed = datetime.fromisoformat(moment)
            row_id = int(ident)
            if parsed.tzinfo is None or not 0 < row_id <= MAX_ID:
                return None
            # In UTC now, so a moment at the edge of the calendar fails here, not in the query.
            return cls(parsed.astimezone(UTC), row_id)
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
            return None


@dataclass
class QuestionList:
    questions: list[Question]
    newer: Cursor | None = None  # cursor for the page before this one, if any
    older: Cursor | None = None  # cursor for the page after this one, if any
    filters: dict[str, str] = field(default_factory=dict)


def list_questions(
    viewer: Viewer,
    *,
    per_page: int,
    topic: Topic | None = None,
    status: QuestionStatus | None = None,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> QuestionList:
    """Questions by latest activity; ``before`` pages to older ones, ``after`` to newer ones."""
    query = (
        sa.select(Question)
        .where(
            Question.published_at.is_not(None),
            Question.hidden_at.is_(None),
            Question.deleted_at.is_(None),
        )
        .options(*_list_options())
    )
    if topic is not None:
        query = query.where(Question.topic_id == topic.id)
    if status is not None:
        query = query.where(Question.status == status.value)
    key = sa.tuple_(Question.last_activity_at, Question.id)
    if after is not None:
        query = query.where(key > _cursor_tuple(after))
        query = query.order_by(Question.last_activity_at.asc(), Question.id.asc())
    else:
        if before is not None:
            query = query.where(key < _cursor_tuple(before))
        query = query.order_by(Question.last_activity_at.desc(), Question.id.desc())
    rows = list(db.session.scalars(query.limit(per_page + 1)).unique())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if after is not None:
        rows.reverse()
    result = QuestionList(rows)
    if rows:
        first, last = rows[0], rows[-1]
        has_newer = more if after is not None else before is not None
        has_older = more if after is None else True
        if has_newer:
            result.newer = Cursor(first.last_activity_at, first.id)
        if has_older:
            result.older = Cursor(last.last_activity_at, last.id)
    return result


def _cursor_tuple(cursor: Cursor) -> sa.Tuple:
    return sa.tuple_(
        sa.literal(cursor.last_activity_at, Question.last_activity_at.type),
        sa.literal(cursor.id, Question.id.type),
    )


def topics_with_teams() -> list[Topic]:
    return list(
        db.session.scalars(
            sa.select(Topic).options(joinedload(Topic.team)).order_by(Topic.name)
        ).unique()
    )


def topic_by_slug(slug: str | None) -> Topic | None:
    if not slug:
        return None
    return db.session.scalar(sa.select(Topic).where(Topic.slug == slug))


def team_by_slug(slug: str | None) -> Team | None:
    if not slug:
        return None
    return db.session.scalar(sa.select(Team).where(Team.slug == slug))


# -- a documentation page's questions -----------------------------------------------------------


@dataclass
class PageCursor:
    """Where a page of a doc page's questions ends: pinned first, then latest activity."""

    pinned: bool
    last_activity_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{int(self.pinned)}|{self.last_activity_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> PageCursor | None:
        if not text or len(text) > 100:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            pinned, moment, ident = raw.split("|")
            parsed = datetime.fromisoformat(moment)
            row_id = int(ident)
            if pinned not in {"0", "1"} or parsed.tzinfo is None or not 0 < row_id <= MAX_ID:
                return None
            return cls(pinned == "1", parsed.astimezone(UTC), row_id)
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
            return None


@dataclass
class PageThreads:
    url: str
    page: Page | None
    questions: list[Question]
    # With ``with_replies``: each question's visible replies in order, by question id.
    replies: dict[int, list[Reply]] = field(default_factory=dict)
    next_cursor: PageCursor | None = None

    def other_replies(self, question: Question) -> list[Reply]:
        """The question's replies without the accepted one (which is shown first)."""
        return [r for r in self.replies.get(question.id, []) if r.id != question.accepted_reply_id]


def page_threads(
    canonical_url: str,
    viewer: Viewer,
    *,
    per_page: int = MAX_QUESTIONS_PER_DOC_PAGE,
    cursor: PageCursor | None = None,
    with_replies: bool = False,
) -> PageThreads:
    """The questions shown on one doc page: pinned first, then by latest activity.

    One query for the page, one for its questions and, with ``with_replies``, one for all their
    replies: three at most, however many questions and replies there are.
    """
    page = db.session.scalar(
        sa.select(Page).where(Page.url == canonical_url).options(joinedload(Page.topic))
    )
    if page is None:
        return PageThreads(canonical_url, None, [])
    query = (
        sa.select(Question)
        .join(question_pages, question_pages.c.question_id == Question.id)
        .where(question_pages.c.page_id == page.id, _visible_to(viewer, Question))
        .options(
            # Staff bylines name their team (_macros/posts.html).
            joinedload(Question.author).joinedload(User.team),
            joinedload(Question.accepted_reply).joinedload(Reply.author).joinedload(User.team),
            # Joined in the same query: what the API shows of each question besides its text.
            joinedload(Question.topic),
            joinedload(Question.origin_page),
        )
        .order_by(Question.pinned.desc(), Question.last_activity_at.desc(), Question.id.desc())
        .limit(per_page + 1)
    )
    if cursor is not None:
        key = sa.tuple_(Question.pinned, Question.last_activity_at, Question.id)
        query = query.where(
            key
            < sa.tuple_(
                sa.literal(cursor.pinned, Question.pinned.type),
                sa.literal(cursor.last_activity_at, Question.last_activity_at.type),
                sa.literal(cursor.id, Question.id.type),
            )
        )
    questions = list(db.session.scalars(query).unique())
    result = PageThreads(canonical_url, page, questions[:per_page])
    if len(questions) > per_page:
        last = result.questions[-1]
        result.next_cursor = PageCursor(last.pinned, last.last_activity_at, last.id)
    if with_replies and result.questions:
        result.replies = {question.id: [] for question in result.questions}
        for reply in db.session.scalars(
            sa.select(Reply)
            .where(Reply.question_id.in_(result.replies), _visible_to(viewer, Reply))
            .options(joinedload(Reply.author).joinedload(User.team))
            .order_by(Reply.question_id, Reply.created_at, Reply.id)
        ):
            result.replies[reply.question_id].append(reply)
    return result
