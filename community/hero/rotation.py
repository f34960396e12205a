"""Who is on duty on a given day: the weekly order, with overrides on top. Pure: the schedule
is a value built from rows, and the day is passed in (a team's local date)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from community.hero.clock import WorkingHours

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Override:
    id: int
    starts_on: date
    ends_on: date  # inclusive
    user_id: int

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class Schedule:
    starts_on: date | None = None
    members: tuple[int, ...] = ()  # user ids, in rotation order
    overrides: tuple[Override, ...] = field(default_factory=tuple)

    def week_start(self, day: date) -> date:
        """The first day of the rotation week holding ``day`` (weeks start on the weekday of
        ``starts_on``; Mondays without a rotation)."""
        anchor = self.starts_on or date(2001, 1, 1)  # a Monday
        return day - timedelta(days=(day - anchor).days % 7)

    def scheduled(self, day: date) -> int | None:
        """Whose week it is by the order alone (None before the start or with nobody)."""
        if self.starts_on is None or not self.members or day < self.starts_on:
            return None
        week = (day - self.starts_on).days // 7
        return self.members[week % len(self.members)]

    def on_duty(self, day: date) -> int | None:
        covering = [o for o in self.overrides if o.covers(day)]
        if covering:
            return max(covering, key=lambda o: o.id).user_id
        return self.scheduled(day)

    def weeks(self, first_day: date, count: int) -> list[tuple[date, list[int | None]]]:
        """``count`` rotation weeks from the one holding ``first_day``: each week's start and
        who is on duty on each of its seven days."""
        start = self.week_start(first_day)
        return [
            (
                start + n * WEEK,
                [self.on_duty(start + n * WEEK + timedelta(days=d)) for d in range(7)],
            )
            for n in range(count)
        ]


def local_today(now: datetime, hours: WorkingHours) -> date:
    """The team's calendar date at ``now`` (duty changes at the team's local midnight)."""
    return now.astimezone(hours.tz).date()
