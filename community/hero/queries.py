"""What the hero's pages show, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from community.accounts.models import STAFF_ROLES, User
from community.db import utcnow
from community.extensions import db
from community.hero import services
from community.hero.clock import WorkingHours
from community.hero.models import (
    DutyOverride,
    FeatureRequest,
    Handoff,
    Rotation,
    RotationMember,
)
from community.hero.rotation import Override, Schedule, local_today
from community.questions.models import Question, QuestionStatus, QuestionTag, Team, Topic
from community.zendesk import services as zendesk_services
from community.zendesk.models import ZendeskTicket, ZendeskTopicPriority


@dataclass
class TeamDuty:
    team: Team
    hours: WorkingHours
    today: date
    schedule: Schedule
    people: dict[int, User]

    @property
    def on_duty(self) -> User | None:
        user_id = self.schedule.on_duty(self.today)
        return self.people.get(user_id) if user_id is not None else None

    def person(self, user_id: int | None) -> User | None:
        return self.people.get(user_id) if user_id is not None else None


def duties(
    team_ids: list[int] | None = None, now: datetime | None = None, since: date | None = None
) -> list[TeamDuty]:
    """Each team (or those in ``team_ids``) with its schedule and who is on duty today in the
    team's time zone: three queries, however many teams. Overrides ending before ``since``
    (default: yesterday) are left out."""
    now = now or utcnow()
    since = since or (now.date() - timedelta(days=1))
    query = (
        sa.select(Team, Rotation.starts_on)
        .outerjoin(Rotation, Rotation.team_id == Team.id)
        .order_by(Team.name, Team.id)
    )
    if team_ids is not None:
        query = query.where(Team.id.in_(team_ids))
    teams = db.session.execute(query).all()
    ids = [team.id for team, _ in teams]
    if not ids:
        return []
    members = db.session.scalars(
        sa.select(RotationMember)
        .where(RotationMember.team_id.in_(ids))
        .options(joinedload(RotationMember.user))
        .order_by(RotationMember.team_id, RotationMember.position)
    ).all()
    overrides = db.session.scalars(
        sa.select(DutyOverride)
        .where(DutyOverride.team_id.in_(ids), DutyOverride.ends_on >= since)
        .options(joinedload(DutyOverride.user))
        .order_by(DutyOverride.id)
    ).all()
    found = []
    for team, starts_on in teams:
        hours = services.working_hours_of(team)
        own = [m for m in members if m.team_id == team.id]
        own_overrides = [o for o in overrides if o.team_id == team.id]
        people = {m.user_id: m.user for m in own} | {o.user_id: o.user for o in own_overrides}
        schedule = Schedule(
            starts_on,
            tuple(m.user_id for m in own),
            tuple(Override(o.id, o.starts_on, o.ends_on, o.user_id) for o in own_overrides),
        )
        found.append(TeamDuty(team, hours, local_today(now, hours), schedule, people))
    return found


def duty(team_id: int, now: datetime | None = None, since: date | None = None) -> TeamDuty | None:
    found = duties([team_id], now, since)
    return found[0] if found else None


def team_overrides(team_id: int, since: date) -> list[DutyOverride]:
    """The team's overrides that still matter (ending on or after ``since``), by start."""
    return list(
        db.session.scalars(
            sa.select(DutyOverride)
            .where(DutyOverride.team_id == team_id, DutyOverride.ends_on >= since)
            .options(joinedload(DutyOverride.user))
            .order_by(DutyOverride.starts_on, DutyOverride.id)
        )
    )


def staff_candidates(team_id: int) -> list[User]:
    """Who can join a team's rotation: its team members first, then other staff."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_([r.value for r in STAFF_ROLES]), User.deleted_at.is_(None))
            .order_by((User.team_id == team_id).desc(), User.name, User.id)
        )
    )


# -- what is open, by the handbook's order (urgent, high, normal, low) -----------------------------

PRIORITIES = ("urgent", "high", "normal", "low")
URGENT_TAG = "urgent"


def priority_expression() -> sa.ColumnElement[str]:
    """A question's priority for the hero: "urgent" when a moderator tagged it so, else the
    priority Zendesk last reported (with the mirror on), else its topic's default priority,
    else normal. Needs the joins of :func:`with_priority`."""
    tagged = sa.exists().where(
        QuestionTag.question_id == Question.id, QuestionTag.tag == URGENT_TAG
    )
    known = [ZendeskTopicPriority.priority, sa.literal("normal")]
    if zendesk_services.enabled():
        known.insert(0, ZendeskTicket.priority)
    return sa.case((tagged, sa.literal("urgent")), else_=sa.func.coalesce(*known))


def with_priority(query: sa.Select) -> sa.Select:
    return query.outerjoin(ZendeskTicket, ZendeskTicket.question_id == Question.id).outerjoin(
        ZendeskTopicPriority, ZendeskTopicPriority.topic_id == Question.topic_id
    )


def open_condition() -> sa.ColumnElement[bool]:
    """Public and not resolved: what a hero hands over."""
    return sa.and_(
        Question.published_at.is_not(None),
        Question.hidden_at.is_(None),
        Question.deleted_at.is_(None),
        Question.status != QuestionStatus.RESOLVED.value,
    )


@dataclass
class OpenItem:
    question: Question
    priority: str
    ticket: ZendeskTicket | None


@dataclass
class OpenItems:
    groups: dict[str, list[OpenItem]]  # by priority, in the handbook's order
    total: int

    @property
    def shown(self) -> int:
        return sum(len(items) for items in self.groups.values())


MAX_OPEN_ITEMS = 200


def open_items(team_id: int) -> OpenItems:
    """The team's open questions grouped urgent, high, normal, low; oldest first in each (one
    query, and one to count when there are more than are shown). Each question comes with its
    author and its topic's team, which its response clock reads (working hours, time zone)."""
    priority = priority_expression().label("priority")
    rank = sa.case({p: n for n, p in enumerate(PRIORITIES)}, value=priority, else_=len(PRIORITIES))
    query = with_priority(
        sa.select(Question, priority, ZendeskTicket).join(Topic, Topic.id == Question.topic_id)
    ).where(open_condition(), Topic.team_id == team_id)
    rows = db.session.execute(
        query.options(
            joinedload(Question.author),
            contains_eager(Question.topic).joinedload(Topic.team),  # the topic is joined above
        )
        .order_by(rank, Question.created_at, Question.id)
        .limit(MAX_OPEN_ITEMS + 1)
    ).all()
    groups: dict[str, list[OpenItem]] = {p: [] for p in PRIORITIES}
    mirror_on = zendesk_services.enabled()
    for question, found, ticket in rows[:MAX_OPEN_ITEMS]:
        found = found if found in groups else "normal"
        groups[found].append(OpenItem(question, found, ticket if mirror_on else None))
    total = len(rows)
    if total > MAX_OPEN_ITEMS:
        total = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Question)
            .join(Topic, Topic.id == Question.topic_id)
            .where(open_condition(), Topic.team_id == team_id)
        )
    return OpenItems(groups, total)


def handoffs(team_id: int, weeks: list[date]) -> dict[date, Handoff]:
    """The team's hand-offs of these rotation weeks, with both heroes (one query)."""
    found = db.session.scalars(
        sa.select(Handoff)
        .where(Handoff.team_id == team_id, Handoff.week_starts_on.in_(weeks))
        .options(joinedload(Handoff.from_user), joinedload(Handoff.to_user))
    )
    return {handoff.week_starts_on: handoff for handoff in found}


def question_tags(question_id: int) -> set[str]:
    return set(
        db.session.scalars(sa.select(QuestionTag.tag).where(QuestionTag.question_id == question_id))
    )


# -- feature requests -----------------------------------------------------------------------------


@dataclass
class IssueDemand:
    issue_url: str
    asks: int
    links: list[FeatureRequest]

    @property
    def label(self) -> str:
        owner, repo, _, number = self.issue_url.removeprefix("https://github.com/").split("/")
        return f"{owner}/{repo}#{number}"


MAX_ISSUES = 100


def feature_requests() -> list[IssueDemand]:
    """Each linked GitHub issue with the public questions pointing at it (and their askers),
    most-asked first: two queries."""
    public = sa.and_(
        Question.id == FeatureRequest.question_id,
        Question.published_at.is_not(None),
        Question.hidden_at.is_(None),
        Question.deleted_at.is_(None),
    )
    asks = sa.func.count(sa.distinct(FeatureRequest.question_id))
    counted = db.session.execute(
        sa.select(FeatureRequest.issue_url, asks)
        .join(Question, public)
        .group_by(FeatureRequest.issue_url)
        .order_by(asks.desc(), sa.func.max(FeatureRequest.created_at).desc())
        .limit(MAX_ISSUES)
    ).all()
    if not counted:
        return []
    links = db.session.scalars(
        sa.select(FeatureRequest)
        .join(Question, public)
        .where(FeatureRequest.issue_url.in_([url for url, _ in counted]))
        .options(joinedload(FeatureRequest.question).joinedload(Question.author))
        .order_by(FeatureRequest.created_at, FeatureRequest.id)
    ).all()
    return [
        IssueDemand(url, count, [link for link in links if link.issue_url == url])
        for url, count in counted
    ]
