"""The hero's rules: response targets and working hours (this module), read from runtime
settings and teams. Services flush and never commit; configuration changes are audited."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from community import settings as runtime_settings
from community.accounts.models import User
from community.db import utcnow
from community.errors import DomainError, NotAllowed
from community.extensions import db
from community.hero.clock import (
    InvalidWorkingHours,
    ResponseClock,
    Targets,
    WorkingHours,
    response_clock,
)
from community.moderation import audit
from community.questions import permissions
from community.questions.models import Question, QuestionStatus, Team


def require_moderator(actor: User) -> None:
    if not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can do that.")


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
