"""The response clock's arithmetic, with a fixed "now": targets' boundaries, working hours
across nights, weekends, daylight-saving changes and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from community.hero.clock import (
    InvalidWorkingHours,
    Rating,
    Targets,
    WorkingHours,
    elapsed,
    response_clock,
    when_elapsed_reaches,
    working_time_between,
)

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
OFFICE = WorkingHours("UTC", frozenset({1, 2, 3, 4, 5}), time(9), time(17))  # Mon-Fri 9-17


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026-11-23 is a Monday.
MONDAY = (2026, 11, 23)
FRIDAY = (2026, 11, 27)
SATURDAY = (2026, 11, 28)


@pytest.mark.parametrize(
    ("waited", "rating"),
    [
        (timedelta(0), Rating.GREAT),
        (15 * MINUTE - timedelta(seconds=1), Rating.GREAT),
        (15 * MINUTE, Rating.OKAY),  # "great" is strictly under 15 minutes
        (HOUR - timedelta(seconds=1), Rating.OKAY),
        (HOUR, Rating.LATE),
        (DAY - timedelta(seconds=1), Rating.LATE),
        (DAY, Rating.TOO_LATE),
        (30 * DAY, Rating.TOO_LATE),
    ],
)
def test_targets_rate_each_side_of_every_boundary(waited, rating):
    assert Targets().rate(waited) is rating


def test_targets_must_grow():
    with pytest.raises(ValueError, match="grow"):
        Targets(great=HOUR, okay=HOUR, late=DAY)
    with pytest.raises(ValueError, match="grow"):
        Targets(great=timedelta(0), okay=HOUR, late=DAY)
    custom = Targets(great=5 * MINUTE, okay=30 * MINUTE, late=8 * HOUR)
    assert custom.rate(29 * MINUTE) is Rating.OKAY and custom.rate(8 * HOUR) is Rating.TOO_LATE


def test_all_hours_count_without_working_hours():
    start = utc(*SATURDAY, 23, 50)
    assert elapsed(start, start + 25 * HOUR, None) == 25 * HOUR
    assert elapsed(start, start - HOUR, None) == timedelta(0)  # a clock never runs backwards


@pytest.mark.parametrize(
    ("start", "end", "counted"),
    [
        # Within one working day, and at its exact edges.
        (utc(*MONDAY, 10, 0), utc(*MONDAY, 10, 45), 45 * MINUTE),
        (utc(*MONDAY, 9, 0), utc(*MONDAY, 17, 0), 8 * HOUR),
        # Asked before opening or after closing: only the open part counts.
        (utc(*MONDAY, 7, 0), utc(*MONDAY, 9, 30), 30 * MINUTE),
        (utc(*MONDAY, 16, 30), utc(*MONDAY, 20, 0), 30 * MINUTE),
        (utc(*MONDAY, 17, 0), utc(*MONDAY, 23, 59), timedelta(0)),
        # Overnight: 16:00-17:00 and 09:00-10:00.
        (utc(*MONDAY, 16, 0), utc(2026, 11, 24, 10, 0), 2 * HOUR),
        # Over the weekend: Friday 16:00 to Monday 10:00 is two working hours.
        (utc(*FRIDAY, 16, 0), utc(2026, 11, 30, 10, 0), 2 * HOUR),
        # Asked on Saturday: nothing counts until Monday 09:00.
        (utc(*SATURDAY, 12, 0), utc(2026, 11, 30, 9, 0), timedelta(0)),
        (utc(*SATURDAY, 12, 0), utc(2026, 11, 30, 9, 14), 14 * MINUTE),
        # A whole week is five working days.
        (utc(*MONDAY, 0, 0), utc(2026, 11, 30, 0, 0), 40 * HOUR),
        # Backwards or empty: nothing.
        (utc(*MONDAY, 12, 0), utc(*MONDAY, 11, 0), timedelta(0)),
        (utc(*MONDAY, 12, 0), utc(*MONDAY, 12, 0), timedelta(0)),
    ],
)
def test_working_time_across_nights_and_weekends(start, end, counted):
    assert working_time_between(start, end, OFFICE) == counted


def test_working_hours_are_the_teams_local_time():
    # New York, Mon-Fri 9-17: in November that is 14:00-22:00 UTC.
    new_york = WorkingHours("America/New_York", frozenset({1, 2, 3, 4, 5}), time(9), time(17))
    assert working_time_between(utc(*MONDAY, 13, 0), utc(*MONDAY, 15, 0), new_york) == HOUR
    # Monday 23:00 UTC is still Monday 18:00 in New York: closed; Tuesday opens at 14:00 UTC.
    assert working_time_between(utc(*MONDAY, 23, 0), utc(2026, 11, 24, 14, 30), new_york) == (
        30 * MINUTE
    )
    # Tokyo, Mon-Fri 9-18 (+09:00): Monday 09:00 JST is Sunday 00:00 UTC.
    tokyo = WorkingHours("Asia/Tokyo", frozenset({1, 2, 3, 4, 5}), time(9), time(18))
    sunday_utc = utc(2026, 11, 22, 23, 30)  # Monday 08:30 in Tokyo
    assert working_time_between(sunday_utc, utc(*MONDAY, 1, 0), tokyo) == HOUR
    # Friday 18:00 in Tokyo is Friday 09:00 UTC: a UTC Friday afternoon counts nothing there.
    assert working_time_between(utc(*FRIDAY, 9, 0), utc(*FRIDAY, 23, 0), tokyo) == timedelta(0)


@pytest.mark.parametrize(
    ("day", "counted"),
    [
        ((2026, 3, 29), 11 * HOUR),  # Berlin springs forward at 02:00: a 00:00-12:00 day is 11 h
        ((2026, 10, 25), 13 * HOUR),  # and falls back: 13 h
        ((2026, 6, 14), 12 * HOUR),
    ],
)
def test_working_hours_across_daylight_saving_changes(day, counted):
    every_morning = WorkingHours("Europe/Berlin", frozenset(range(1, 8)), time(0), time(12))
    start, end = utc(*day, 0, 0) - 3 * HOUR, utc(*day, 0, 0) + 21 * HOUR
    assert working_time_between(start, end, every_morning) == counted


def test_office_hours_stay_local_when_the_clocks_change():
    # Berlin office 9-17: before the change 08:00-16:00 UTC, after it 07:00-15:00 UTC.
    berlin = WorkingHours("Europe/Berlin", frozenset({1, 2, 3, 4, 5}), time(9), time(17))
    friday, monday = utc(2026, 3, 27, 15, 0), utc(2026, 3, 30, 8, 0)  # 16:00 CET, 10:00 CEST
    assert working_time_between(friday, monday, berlin) == 2 * HOUR
    assert monday - friday == 65 * HOUR


def test_when_the_counted_time_reaches_an_amount():
    # 45 minutes from Friday 16:30: 30 minutes on Friday, 15 on Monday.
    assert when_elapsed_reaches(utc(*FRIDAY, 16, 30), 45 * MINUTE, OFFICE) == utc(
        2026, 11, 30, 9, 15
    )
    assert when_elapsed_reaches(utc(*MONDAY, 10), 45 * MINUTE, OFFICE) == utc(*MONDAY, 10, 45)
    assert when_elapsed_reaches(utc(*SATURDAY, 3), HOUR, None) == utc(*SATURDAY, 4)
    assert when_elapsed_reaches(utc(*MONDAY, 10), timedelta(0), OFFICE) == utc(*MONDAY, 10)
    # Exactly what working_time_between counts back.
    due = when_elapsed_reaches(utc(*FRIDAY, 16, 59), 3 * HOUR, OFFICE)
    assert working_time_between(utc(*FRIDAY, 16, 59), due, OFFICE) == 3 * HOUR


def test_the_response_clock_runs_until_the_first_response():
    asked = utc(*MONDAY, 10, 0)
    running = response_clock(asked, None, utc(*MONDAY, 10, 20), Targets(), None)
    assert (running.answered, running.waited, running.rating) == (False, 20 * MINUTE, "okay")
    stopped = response_clock(asked, utc(*MONDAY, 10, 10), utc(2026, 12, 25, 0, 0), Targets(), None)
    assert (stopped.answered, stopped.waited, stopped.rating) == (True, 10 * MINUTE, "great")
    # Asked on Friday evening, answered on Monday at 09:10: great, in working hours.
    weekend = response_clock(
        utc(*FRIDAY, 18), utc(2026, 11, 30, 9, 10), utc(2026, 11, 30, 12), Targets(), OFFICE
    )
    assert (weekend.waited, weekend.rating, weekend.working_hours) == (
        10 * MINUTE,
        Rating.GREAT,
        True,
    )


def test_working_hours_refuse_nonsense():
    with pytest.raises(InvalidWorkingHours, match="time zone"):
        WorkingHours("Mars/Olympus_Mons")
    with pytest.raises(InvalidWorkingHours, match="working day"):
        WorkingHours("UTC", frozenset())
    with pytest.raises(InvalidWorkingHours, match="end after"):
        WorkingHours("UTC", frozenset({1}), time(17), time(9))
    with pytest.raises(ValueError, match="naive"):
        working_time_between(datetime(2026, 1, 1), utc(2026, 1, 2), OFFICE)
    assert OFFICE.describe() == "Mon, Tue, Wed, Thu, Fri 09:00 to 17:00 (UTC)"
