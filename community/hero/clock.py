"""The response clock: how long a question has waited (or waited) for its first team response,
and how that rates against the handbook's targets.

Pure functions over aware datetimes; "now" is always passed in, so every boundary can be tested
with a fixed clock. Working hours are wall-clock times in the team's time zone (``zoneinfo``), so
a 09:00-17:00 day stays 09:00-17:00 across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

ISO_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)  # Monday is 1, as in date.isoweekday()
WEEKDAY_NAMES = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
# A question waiting longer than this is counted only up to here (its badge says "too late"
# long before), so a forgotten question never costs more than this many days of arithmetic.
MAX_COUNTED_DAYS = 3660


class InvalidWorkingHours(ValueError):
    pass


@dataclass(frozen=True)
class WorkingHours:
    """When a team works: the same hours on each of ``days`` (ISO weekdays), in ``timezone``.
    Hours within one day only: ``start`` before ``end`` (no shifts across midnight)."""

    timezone: str = "UTC"
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        zone(self.timezone)  # raises InvalidWorkingHours for an unknown zone
        if not self.days or not self.days <= set(ISO_WEEKDAYS):
            raise InvalidWorkingHours("Choose at least one working day.")
        if self.start >= self.end:
            raise InvalidWorkingHours("The working day must end after it starts.")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def describe(self) -> str:
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M} to {self.end:%H:%M} ({self.timezone})"

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of one local calendar day, in UTC (None on a day off)."""
        if day.isoweekday() not in self.days:
            return None
        tz = self.tz
        return (
            datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC),
            datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC),
        )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidWorkingHours(f"Unknown time zone {name!r}.") from error


def timezone_names() -> list[str]:
    return sorted(available_timezones() - {"localtime"})


def working_time_between(start: datetime, end: datetime, hours: WorkingHours) -> timedelta:
    """How much of [start, end) falls within working hours. Zero when ``end`` <= ``start``."""
    _require_aware(start, end)
    if end <= start:
        return timedelta(0)
    start = max(start, end - timedelta(days=MAX_COUNTED_DAYS))
    tz = hours.tz
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = timedelta(0)
    while day <= last:
        window = hours.window(day)
        if window is not None:
            opens, closes = max(window[0], start), min(window[1], end)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total


def elapsed(start: datetime, end: datetime, hours: WorkingHours | None) -> timedelta:
    """The counted time from ``start`` to ``end``: all of it, or only working hours."""
    _require_aware(start, end)
    if hours is None:
        return max(end - start, timedelta(0))
    return working_time_between(start, end, hours)


class Rating(StrEnum):
    GREAT = "great"
    OKAY = "okay"
    LATE = "late"
    TOO_LATE = "too-late"

    @property
    def label(self) -> str:
        return {"great": "Great", "okay": "Okay", "late": "Late", "too-late": "Too late"}[self]


@dataclass(frozen=True)
class Targets:
    """Under ``great`` is great, under ``okay`` okay, under ``late`` late, the rest too late."""

    great: timedelta = timedelta(minutes=15)
    okay: timedelta = timedelta(hours=1)
    late: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.great < self.okay < self.late:
            raise ValueError("targets must grow: great < okay < late")

    def rate(self, waited: timedelta) -> Rating:
        if waited < self.great:
            return Rating.GREAT
        if waited < self.okay:
            return Rating.OKAY
        if waited < self.late:
            return Rating.LATE
        return Rating.TOO_LATE


@dataclass(frozen=True)
class ResponseClock:
    """A question's clock: still running (``answered`` False) or stopped at the first response."""

    answered: bool
    waited: timedelta
    rating: Rating
    working_hours: bool  # counted working hours only


def response_clock(
    published_at: datetime,
    first_response_at: datetime | None,
    now: datetime,
    targets: Targets,
    hours: WorkingHours | None,
) -> ResponseClock:
    end = first_response_at if first_response_at is not None else now
    waited = elapsed(published_at, end, hours)
    return ResponseClock(
        first_response_at is not None, waited, targets.rate(waited), hours is not None
    )


def when_elapsed_reaches(
    start: datetime, amount: timedelta, hours: WorkingHours | None, *, limit_days: int = 60
) -> datetime | None:
    """The moment the counted time since ``start`` reaches ``amount`` (None if not within
    ``limit_days``): when a reminder falls due."""
    _require_aware(start)
    if hours is None or amount <= timedelta(0):
        return start + max(amount, timedelta(0))
    remaining = amount
    tz = hours.tz
    day = start.astimezone(tz).date()
    for _ in range(limit_days + 1):
        window = hours.window(day)
        if window is not None:
            opens, closes = max(window[0], start), window[1]
            if closes > opens:
                if closes - opens >= remaining:
                    return opens + remaining
                remaining -= closes - opens
        day += timedelta(days=1)
    return None


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass aware (UTC) datetimes")
