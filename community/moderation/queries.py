"""What the moderation pages show: the queues and the audit log, each in a fixed number of queries.

Queues are ordered by the Zendesk priority the mirror last saw (urgent, high, normal, low, then
none: no mirror row, or the mirror off) and then by age, oldest first. They page by offset with a
cap: a queue is worked from the top, and nobody reads its thousandth page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.extensions import db
from community.moderation.models import AuditEvent, Flag
from community.questions.models import Page, Question, QuestionStatus, Reply, Team, Topic
from community.zendesk import services as zendesk_services
from community.zendesk.models import ZendeskTicket

PER_PAGE = 25
MAX_PAGE = 40  # offset pagination stops here: PER_PAGE * MAX_PAGE rows per queue at most
AUDIT_PER_PAGE = 50
MAX_PREFIX_LENGTH = 2000


class Queue(StrEnum):
    FIRST_RESPONSE = "first-response"
    WAITING = "waiting"
    UNRESOLVED = "unresolved"
    PENDING = "pending"
    FLAGGED = "flagged"
    REMOVED = "removed"

    @property
    def title(self) -> str:
        return QUEUE_TITLES[self]


QUEUE_TITLES = {
    Queue.FIRST_RESPONSE: "Needs first response",
    Queue.WAITING: "Waiting on us",
    Queue.UNRESOLVED: "Unresolved",
    Queue.PENDING: "Pending",
    Queue.FLAGGED: "Flagged",
    Queue.REMOVED: "Hidden and deleted",
}

# What team members (who answer but do not moderate) see.
TEAM_QUEUES = (Queue.FIRST_RESPONSE, Queue.WAITING, Queue.UNRESOLVED)

# Lower sorts first; questions without a (known) priority come last.
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
NO_PRIORITY_RANK = 4


@dataclass
class QueueFilters:
    team: Team | None = None
    topic: Topic | None = None
    page_prefix: str = ""
    assignee_id: int | None = None  # "claimed by me"

    def as_args(self) -> dict[str, str]:
        args = {
            "team": self.team.slug if self.team else "",
            "topic": self.topic.slug if self.topic else "",
            "page": self.page_prefix,
            "mine": "1" if self.assignee_id else "",
        }
        return {k: v for k, v in args.items() if v}


@dataclass
class QueueRow:
    question: Question
    ticket: ZendeskTicket | None
    first_staff_reply_at: datetime | None

    @property
    def time_to_first_response(self):
        start = self.question.published_at or self.question.created_at
        if self.first_staff_reply_at is None:
            return None
        return self.first_staff_reply_at - start


@dataclass
class QueuePage:
    queue: Queue
    rows: list[QueueRow]
    page: int
    has_next: bool
    filters: QueueFilters = field(default_factory=QueueFilters)


# -- the conditions -----------------------------------------------------------------------------
# Whether a team member answered, and whether the asker waits on the team again, are kept on the
# question itself (``first_response_at``, ``waiting_since``: see questions.services), so each
# queue is a plain filter over one table, served by a partial index.


def _public_question() -> sa.ColumnElement[bool]:
    return sa.and_(
        Question.published_at.is_not(None),
        Question.hidden_at.is_(None),
        Question.deleted_at.is_(None),
    )


def queue_condition(queue: Queue) -> sa.ColumnElement[bool]:
    """Which questions belong to ``queue``. Resolved questions wait on nobody."""
    not_resolved = Question.status != QuestionStatus.RESOLVED.value
    if queue is Queue.FIRST_RESPONSE:
        return sa.and_(_public_question(), not_resolved, Question.first_response_at.is_(None))
    if queue is Queue.WAITING:
        return sa.and_(_public_question(), not_resolved, Question.waiting_since.is_not(None))
    if queue is Queue.UNRESOLVED:
        return sa.and_(
            _public_question(),
            Question.status == QuestionStatus.ANSWERED.value,
            Question.accepted_reply_id.is_(None),
        )
    if queue is Queue.PENDING:
        return sa.and_(
            Question.published_at.is_(None),
            Question.hidden_at.is_(None),
            Question.deleted_at.is_(None),
        )
    return sa.or_(Question.hidden_at.is_not(None), Question.deleted_at.is_not(None))


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the queue page -----------------------------------------------------------------------------


def queue_page(queue: Queue, filters: QueueFilters, page: int = 1) -> QueuePage:
    """One page of ``queue``: the questions with asker, topic and team, page, mirror row and
    first staff reply, in one query."""
    page = min(max(page, 1), MAX_PAGE)
    result = db.session.execute(queue_select(queue, filters, page))
    rows = [QueueRow(question, ticket, first) for question, ticket, first in result.unique()]
    has_next = len(rows) > PER_PAGE and page < MAX_PAGE
    return QueuePage(queue, rows[:PER_PAGE], page, has_next, filters)


def queue_select(queue: Queue, filters: QueueFilters, page: int) -> sa.Select:
    """The statement behind :func:`queue_page` (one row more than a page, to know of a next)."""
    mirror_on = zendesk_services.enabled()
    if mirror_on:
        ranks = sa.case(PRIORITY_RANK, value=ZendeskTicket.priority, else_=NO_PRIORITY_RANK)
        query = sa.select(Question, ZendeskTicket, Question.first_response_at).outerjoin(
            ZendeskTicket, ZendeskTicket.question_id == Question.id
        )
    else:
        ranks = sa.literal(NO_PRIORITY_RANK)
        query = sa.select(Question, sa.null(), Question.first_response_at)
    query = query.where(queue_condition(queue)).options(
        joinedload(Question.author),
        joinedload(Question.assignee),
        joinedload(Question.topic).joinedload(Topic.team),
        joinedload(Question.origin_page),
    )
    if filters.assignee_id is not None:
        query = query.where(Question.assignee_id == filters.assignee_id)
    if filters.topic is not None:
        query = query.where(Question.topic_id == filters.topic.id)
    if filters.team is not None:
        query = query.where(
            Question.topic_id.in_(sa.select(Topic.id).where(Topic.team_id == filters.team.id))
        )
    if filters.page_prefix:
        pattern = escape_like(filters.page_prefix) + "%"
        query = query.where(
            Question.origin_page_id.in_(
                sa.select(Page.id).where(Page.url.like(pattern, escape="\\"))
            )
        )
    if mirror_on:
        query = query.order_by(ranks)
    query = query.order_by(Question.created_at.asc(), Question.id.asc())
    return query.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)


def filter_choices() -> tuple[list[Team], list[Topic]]:
    """Teams and topics for the filter menus (one query: topics with their teams)."""
    topics = list(
        db.session.scalars(
            sa.select(Topic).options(joinedload(Topic.team)).order_by(Topic.name, Topic.id)
        ).unique()
    )
    teams = sorted({topic.team.id: topic.team for topic in topics}.values(), key=lambda t: t.name)
    return teams, topics


def question_for_moderation(question_id: int) -> Question | None:
    return db.session.get(Question, question_id)


def topic(topic_id: int) -> Topic | None:
    return db.session.get(Topic, topic_id)


# -- the audit log ------------------------------------------------------------------------------


@dataclass
class AuditPage:
    events: list[AuditEvent]
    actors: dict[int, User]
    page: int
    has_next: bool


def audit_page(
    *,
    action: str = "",
    target_type: str = "",
    target_id: int | None = None,
    page: int = 1,
) -> AuditPage:
    """Newest first, filtered by action and target; the actors in a second query."""
    page = min(max(page, 1), MAX_PAGE)
    query = sa.select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    events = list(
        db.session.scalars(query.limit(AUDIT_PER_PAGE + 1).offset((page - 1) * AUDIT_PER_PAGE))
    )
    has_next = len(events) > AUDIT_PER_PAGE and page < MAX_PAGE
    events = events[:AUDIT_PER_PAGE]
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    actors = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(actor_ids)))}
    return AuditPage(events, actors, page, has_next)


# -- a person, for moderators -------------------------------------------------------------------

PROFILE_ITEMS = 20


@dataclass
class Profile:
    user: User
    questions: list[Question]  # newest first, in every state
    replies: list[Reply]
    flags_raised: list[Flag]
    open_flags_on_posts: int
    history: list[AuditEvent]
    actors: dict[int, User]


def profile(user_id: int) -> Profile | None:
    """A person's posts, flags and moderation history: seven queries at most."""
    user = db.session.scalar(
        sa.select(User).where(User.id == user_id).options(joinedload(User.team))
    )
    if user is None:
        return None
    questions = list(
        db.session.scalars(
            sa.select(Question)
            .where(Question.author_id == user.id)
            .order_by(Question.created_at.desc(), Question.id.desc())
            .limit(PROFILE_ITEMS)
        )
    )
    replies = list(
        db.session.scalars(
            sa.select(Reply)
            .where(Reply.author_id == user.id)
            .options(joinedload(Reply.question))
            .order_by(Reply.created_at.desc(), Reply.id.desc())
            .limit(PROFILE_ITEMS)
        )
    )
    flags_raised = list(
        db.session.scalars(
            sa.select(Flag)
            .where(Flag.reporter_id == user.id)
            .order_by(Flag.created_at.desc(), Flag.id.desc())
            .limit(PROFILE_ITEMS)
        )
    )
    own_posts = sa.or_(
        sa.and_(
            Flag.post_type == "question",
            Flag.post_id.in_(sa.select(Question.id).where(Question.author_id == user.id)),
        ),
        sa.and_(
            Flag.post_type == "reply",
            Flag.post_id.in_(sa.select(Reply.id).where(Reply.author_id == user.id)),
        ),
    )
    open_flags = db.session.scalar(
        sa.select(sa.func.count()).select_from(Flag).where(Flag.resolved_at.is_(None), own_posts)
    )
    history = list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.target_type == "user", AuditEvent.target_id == user.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(PROFILE_ITEMS)
        )
    )
    actor_ids = {event.actor_id for event in history if event.actor_id is not None}
    actors = (
        {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(actor_ids)))}
        if actor_ids
        else {}
    )
    return Profile(user, questions, replies, flags_raised, open_flags or 0, history, actors)
