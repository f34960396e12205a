"""The end of a hero's week: hand over what is still open to the next hero, by email, and let
them acknowledge it. Sent by hand from the hand-off page, or by a periodic sweep on the first
day of the next week if nobody did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from community.accounts.models import User
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed
from community.extensions import db
from community.hero import queries
from community.hero.handlers import reachable_hero
from community.hero.models import Handoff
from community.jobs.registry import periodic
from community.moderation import audit
from community.notifications.emails import Email, builder, queue_email
from community.questions import permissions
from community.questions.models import Team
from community.web import external_url

EMAIL = "hero_handoff"
SWEEP_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class Week:
    """A rotation week to hand over: its first day, who had it and who has the next one."""

    starts_on: date
    from_user_id: int | None
    to_user_id: int | None


def current_week(duty: queries.TeamDuty) -> Week:
    """This week, from today's hero to the hero of the week after."""
    start = duty.schedule.week_start(duty.today)
    return Week(
        start, duty.schedule.on_duty(duty.today), duty.schedule.on_duty(start + timedelta(days=7))
    )


def previous_week(duty: queries.TeamDuty) -> Week:
    """The week that ended: from its last day's hero to today's."""
    start = duty.schedule.week_start(duty.today) - timedelta(days=7)
    last = start + timedelta(days=6)
    return Week(
        start, duty.schedule.on_duty(last), duty.schedule.on_duty(start + timedelta(days=7))
    )


def send(actor: User | None, team: Team, week: Week) -> Handoff:
    """Record the hand-off of ``week`` and queue the email to the next hero. Once per team and
    week; by the outgoing hero, a team member, a moderator, or the sweep (``actor`` None)."""
    if actor is not None and not (
        permissions.is_staff(actor) or (actor.is_staff and actor.team_id == team.id)
    ):
        raise NotAllowed("Only the team's members and moderators hand over its week.")
    if week.to_user_id is None:
        raise DomainError("Nobody is on duty next week: set up the rotation first.")
    if week.to_user_id == week.from_user_id:
        raise DomainError("The same hero is on duty next week: there is nobody to hand over to.")
    handoff = Handoff(
        team_id=team.id,
        week_starts_on=week.starts_on,
        from_user_id=week.from_user_id,
        to_user_id=week.to_user_id,
        sent_by_id=actor.id if actor is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(handoff)
    except IntegrityError as error:
        raise Conflict("This week's hand-off was sent already.") from error
    queue_email(EMAIL, {"handoff_id": handoff.id}, dedupe_key=f"email:hero-handoff:{handoff.id}")
    audit.record(
        "handoff.send",
        actor_id=actor.id if actor is not None else None,
        target_type="team",
        target_id=team.id,
        week=week.starts_on.isoformat(),
        to_user_id=week.to_user_id,
    )
    return handoff


def acknowledge(actor: User, handoff: Handoff) -> bool:
    """The next hero (or a moderator) has read the hand-off. True if it was not acknowledged."""
    if actor.id != handoff.to_user_id and not permissions.is_staff(actor):
        raise NotAllowed("Only the hero it was handed to, or a moderator, can acknowledge it.")
    if handoff.acknowledged_at is not None:
        return False
    handoff.acknowledged_at = utcnow()
    handoff.acknowledged_by_id = actor.id
    db.session.flush()
    audit.record(
        "handoff.acknowledge",
        actor_id=actor.id,
        target_type="team",
        target_id=handoff.team_id,
        week=handoff.week_starts_on.isoformat(),
    )
    return True


@periodic("hero.handoffs", every=SWEEP_EVERY)
def sweep(now: datetime) -> int:
    """On the first day of a rotation week, hand over the week that ended if nobody did."""
    queued = 0
    for duty in queries.duties(now=now, since=now.date() - timedelta(days=9)):
        if duty.schedule.starts_on is None and not duty.schedule.overrides:
            continue
        if duty.schedule.week_start(duty.today) != duty.today:
            continue
        week = previous_week(duty)
        if week.to_user_id is None or week.to_user_id == week.from_user_id:
            continue
        exists = db.session.scalar(
            sa.select(Handoff.id).where(
                Handoff.team_id == duty.team.id, Handoff.week_starts_on == week.starts_on
            )
        )
        if exists is None:
            try:
                send(None, duty.team, week)
            except Conflict:
                continue
            queued += 1
    return queued


@builder(EMAIL)
def handoff_email(params: dict[str, Any]) -> Email | None:
    handoff = db.session.get(Handoff, params["handoff_id"])
    if handoff is None:
        return None
    hero = reachable_hero(handoff.to_user_id)
    team = db.session.get(Team, handoff.team_id)
    if hero is None or team is None:
        return None
    previous = db.session.get(User, handoff.from_user_id) if handoff.from_user_id else None
    return Email(
        to_address=hero.email,
        to_name=hero.name,
        template=EMAIL,
        context={
            "user": hero,
            "team": team,
            "previous": previous,
            "items": queries.open_items(team.id),
            "handoff_url": external_url("hero.handoff", team_id=team.id),
            "question_url": lambda q: external_url("questions.show", question_id=q.id, slug=q.slug),
        },
    )
