"""The hero's rules: response targets and working hours (this module), read from runtime
settings and teams. Services flush and never commit; configuration changes are audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from community import settings as runtime_settings
from community.accounts.access import needs_two_factor_enrolment
from community.accounts.models import User
from community.db import utcnow
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.hero import ics
from community.hero.clock import (
    InvalidWorkingHours,
    ResponseClock,
    Targets,
    WorkingHours,
    response_clock,
)
from community.hero.models import DutyOverride, OverrideSource, Rotation, RotationMember
from community.hero.rotation import Schedule
from community.moderation import audit
from community.questions import permissions
from community.questions.models import Question, QuestionStatus, QuestionTag, Team

MAX_ROTATION = 52


def require_moderator(actor: User) -> None:
    if not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can do that.")


def is_hero(viewer: Any) -> bool:
    """Team members, moderators and admins who may use the hero's tools now (moderators only
    once enrolled in two-factor authentication, where that is required)."""
    return bool(
        getattr(viewer, "is_authenticated", False)
        and viewer.is_staff
        and not needs_two_factor_enrolment(viewer)
    )


def can_see_team(viewer: Any, team_id: int) -> bool:
    """Moderators see every team's pages; team members their own team's."""
    if not getattr(viewer, "is_authenticated", False):
        return False
    return permissions.is_staff(viewer) or (viewer.is_staff and viewer.team_id == team_id)


# -- targets and working hours ------------------------------------------------------------------


def targets(values: dict[str, Any] | None = None) -> Targets:
    values = runtime_settings.current() if values is None else values
    return Targets(
        great=timedelta(minutes=values["response_great_minutes"]),
        okay=timedelta(minutes=values["response_okay_minutes"]),
        late=timedelta(minutes=values["response_late_minutes"]),
    )


def counts_working_hours() -> bool:
    return bool(runtime_settings.current()["response_clock_working_hours"])


def working_hours_of(team: Team) -> WorkingHours:
    return WorkingHours(
        timezone=team.timezone,
        days=frozenset(int(d) for d in team.working_days),
        start=team.work_starts_at,
        end=team.work_ends_at,
    )


def clock_hours(team: Team | None) -> WorkingHours | None:
    """The hours the clock counts for this team: None (all of them) unless the working-hours
    switch is on and the question has a team."""
    if team is None or not counts_working_hours():
        return None
    return working_hours_of(team)


def clock_for(question: Question, now: datetime | None = None) -> ResponseClock | None:
    """The clock of a published question (its topic and team loaded): stopped at the first
    team response, running while it waits for one, and None for a question that waits on
    nobody (resolved, removed or not yet published without a response)."""
    if question.published_at is None:
        return None
    if question.first_response_at is None and (
        not question.is_public or question.status == QuestionStatus.RESOLVED
    ):
        return None
    team = question.topic.team if question.topic_id is not None else None
    return response_clock(
        question.published_at,
        question.first_response_at,
        now or utcnow(),
        targets(),
        clock_hours(team),
    )


def set_working_hours(
    actor: User, team: Team, *, timezone: str, days: set[int], start: time, end: time
) -> bool:
    """Change when ``team`` works (moderators); audited. True if anything changed."""
    require_moderator(actor)
    try:
        hours = WorkingHours(timezone=timezone, days=frozenset(days), start=start, end=end)
    except InvalidWorkingHours as error:
        raise DomainError(str(error)) from error
    before = _hours_record(team)
    team.timezone = hours.timezone
    team.working_days = "".join(str(d) for d in sorted(hours.days))
    team.work_starts_at, team.work_ends_at = hours.start, hours.end
    after = _hours_record(team)
    if after == before:
        return False
    db.session.flush()
    audit.record(
        "team.working_hours",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        before=before,
        after=after,
    )
    return True


def _hours_record(team: Team) -> dict[str, str]:
    return {
        "timezone": team.timezone,
        "days": team.working_days,
        "start": team.work_starts_at.strftime("%H:%M"),
        "end": team.work_ends_at.strftime("%H:%M"),
    }


# -- the rotation ---------------------------------------------------------------------------------


def set_rotation(actor: User, team: Team, emails: list[str], starts_on: date) -> bool:
    """The team's weekly order (staff accounts, by email) and the day its first week starts.
    Overrides stay as they are. Audited; True if anything changed."""
    require_moderator(actor)
    wanted = [e.strip().lower() for e in emails if e.strip()]
    if len(set(wanted)) != len(wanted):
        raise DomainError("Each person can be in the rotation once.")
    if len(wanted) > MAX_ROTATION:
        raise DomainError(f"A rotation has at most {MAX_ROTATION} people.")
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(wanted)))}
    unknown = [e for e in wanted if e not in users or not _can_be_hero(users[e])]
    if unknown:
        raise DomainError("Not a team member, moderator or admin: " + ", ".join(unknown[:5]) + ".")
    rotation = db.session.get(Rotation, team.id)
    current = [
        m.user_id
        for m in db.session.scalars(
            sa.select(RotationMember)
            .where(RotationMember.team_id == team.id)
            .order_by(RotationMember.position)
        )
    ]
    order = [users[e].id for e in wanted]
    before = {"members": current, "starts_on": rotation.starts_on.isoformat() if rotation else None}
    after = {"members": order, "starts_on": starts_on.isoformat()}
    if before == after:
        return False
    db.session.execute(sa.delete(RotationMember).where(RotationMember.team_id == team.id))
    db.session.flush()
    for position, user_id in enumerate(order):
        db.session.add(RotationMember(team_id=team.id, user_id=user_id, position=position))
    if rotation is None:
        db.session.add(Rotation(team_id=team.id, starts_on=starts_on))
    else:
        rotation.starts_on = starts_on
    db.session.flush()
    audit.record(
        "rotation.change",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        before=before,
        after=after,
    )
    return True


def _can_be_hero(user: User) -> bool:
    return user.is_staff and user.deleted_at is None


def swap(
    actor: User, team: Team, schedule: Schedule, first: date, second: date, *, whole_week: bool
) -> tuple[int, int]:
    """Swap duty between the people on duty on ``first`` and on ``second`` (those days, or
    the rotation weeks holding them): two overrides, one swap key. Returns (who takes the
    first, who takes the second)."""
    require_moderator(actor)
    hero_first, hero_second = schedule.on_duty(first), schedule.on_duty(second)
    if hero_first is None or hero_second is None:
        raise DomainError("Nobody is on duty on one of those days: set up the rotation first.")
    if hero_first == hero_second:
        raise DomainError("The same person is on duty on both: nothing to swap.")
    if whole_week:
        spans = [
            (schedule.week_start(d), schedule.week_start(d) + timedelta(days=6))
            for d in (first, second)
        ]
        if spans[0] == spans[1]:
            raise DomainError("Both days are in the same week: swap single days instead.")
    else:
        if first == second:
            raise DomainError("Choose two different days.")
        spans = [(first, first), (second, second)]
    key = secrets.token_hex(8)
    for (starts_on, ends_on), user_id in zip(spans, (hero_second, hero_first), strict=True):
        db.session.add(
            DutyOverride(
                team_id=team.id,
                starts_on=starts_on,
                ends_on=ends_on,
                user_id=user_id,
                source=OverrideSource.SWAP,
                swap_key=key,
                created_by_id=actor.id,
            )
        )
    db.session.flush()
    audit.record(
        "rotation.swap",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        scope="week" if whole_week else "day",
        first={
            "from": spans[0][0].isoformat(),
            "to": spans[0][1].isoformat(),
            "on_duty": hero_second,
        },
        second={
            "from": spans[1][0].isoformat(),
            "to": spans[1][1].isoformat(),
            "on_duty": hero_first,
        },
    )
    return hero_second, hero_first


def remove_override(actor: User, team: Team, override_id: int) -> bool:
    """Undo a swap (both of its days or weeks) or drop one imported shift. Audited."""
    require_moderator(actor)
    override = db.session.get(DutyOverride, override_id)
    if override is None or override.team_id != team.id:
        raise NotFound("There is no such override for this team.")
    rows = (
        db.session.scalars(
            sa.select(DutyOverride).where(
                DutyOverride.team_id == team.id, DutyOverride.swap_key == override.swap_key
            )
        ).all()
        if override.swap_key
        else [override]
    )
    removed = [
        {"from": r.starts_on.isoformat(), "to": r.ends_on.isoformat(), "on_duty": r.user_id}
        for r in rows
    ]
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    audit.record(
        "rotation.override_removed",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        source=override.source,
        removed=removed,
    )
    return True


@dataclass
class ImportResult:
    imported: int
    skipped: list[str]


def import_schedule(actor: User, team: Team, data: bytes, today: date) -> ImportResult:
    """Replace the team's imported shifts with those of an on-call export (.ics). Shifts that
    ended before ``today`` are left out, and so are people without a staff account. Audited."""
    require_moderator(actor)
    try:
        parsed = ics.parse(data, working_hours_of(team).tz)
    except ics.InvalidCalendar as error:
        raise DomainError(str(error)) from error
    emails = {shift.email for shift in parsed.shifts}
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
    skipped = list(parsed.skipped)
    db.session.execute(
        sa.delete(DutyOverride).where(
            DutyOverride.team_id == team.id, DutyOverride.source == OverrideSource.ICS
        )
    )
    imported = 0
    for shift in parsed.shifts:
        user = users.get(shift.email)
        if user is None or not _can_be_hero(user):
            skipped.append(f"{shift.summary}: {shift.email} is not a team member here")
            continue
        if shift.ends_on < today:
            continue
        db.session.add(
            DutyOverride(
                team_id=team.id,
                starts_on=shift.starts_on,
                ends_on=shift.ends_on,
                user_id=user.id,
                source=OverrideSource.ICS,
                created_by_id=actor.id,
            )
        )
        imported += 1
    db.session.flush()
    audit.record(
        "rotation.import",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        imported=imported,
        skipped=len(skipped),
    )
    return ImportResult(imported, skipped)


# -- tags -----------------------------------------------------------------------------------------

URGENT = "urgent"


def set_tag(question: Question, tag: str, present: bool, actor: User | None) -> bool:
    """Add or remove one of the question's tags; True if that changed anything."""
    row = db.session.get(QuestionTag, (question.id, tag))
    if present == (row is not None):
        return False
    if present:
        try:
            with db.session.begin_nested():
                db.session.add(
                    QuestionTag(
                        question_id=question.id,
                        tag=tag,
                        added_by_id=actor.id if actor is not None else None,
                    )
                )
        except IntegrityError:  # tagged by a concurrent request
            return False
    else:
        db.session.delete(row)
    db.session.flush()
    return True


def set_urgent(actor: User, question: Question, urgent: bool) -> bool:
    """Moderators tag a question urgent: it heads the hand-off and the open backlog. Audited."""
    require_moderator(actor)
    if not set_tag(question, URGENT, urgent, actor):
        return False
    audit.record(
        "question.urgent" if urgent else "question.not_urgent",
        actor_id=actor.id,
        target_type="question",
        target_id=question.id,
        before={"urgent": not urgent},
        after={"urgent": urgent},
    )
    return True
