"""What the hero's pages show, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from community.accounts.models import STAFF_ROLES, User
from community.db import utcnow
from community.extensions import db
from community.hero import services
from community.hero.clock import WorkingHours
from community.hero.models import DutyOverride, Rotation, RotationMember
from community.hero.rotation import Override, Schedule, local_today
from community.questions.models import Team


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
