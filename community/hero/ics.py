"""Reading an on-call schedule exported as iCalendar (.ics): the only module that imports
``icalendar``.

Each event without a repeat rule is one shift. The person is the first ``mailto:`` attendee, or
else the organizer, or else an email address in the summary or description. A shift covers each
of the team's local dates from its start to the day before its end (an event that starts and
ends on one date covers that date), so a Monday 09:00 to Monday 09:00 shift is Monday to Sunday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

MAX_BYTES = 1_000_000
MAX_EVENTS = 5_000
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class InvalidCalendar(ValueError):
    pass


@dataclass(frozen=True)
class Shift:
    starts_on: date
    ends_on: date  # inclusive
    email: str
    summary: str


@dataclass
class Schedule:
    shifts: list[Shift] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable event was left out


def parse(data: bytes, tz: ZoneInfo) -> Schedule:
    """The shifts in ``data`` as local dates in ``tz`` (floating times are taken as ``tz``'s)."""
    if len(data) > MAX_BYTES:
        raise InvalidCalendar("That file is too large for a schedule (1 MB at most).")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise InvalidCalendar("That is not an iCalendar (.ics) file.") from error
    if calendar.name != "VCALENDAR":
        raise InvalidCalendar("That is not an iCalendar (.ics) file.")
    events = calendar.walk("VEVENT")
    if len(events) > MAX_EVENTS:
        raise InvalidCalendar(f"That schedule has more than {MAX_EVENTS} events.")
    found = Schedule()
    for event in events:
        summary = str(event.get("SUMMARY", "")).strip()[:200] or "(no summary)"
        try:
            shift = _shift(event, summary, tz)
        except (ValueError, TypeError, AttributeError) as error:
            found.skipped.append(f"{summary}: {error}")
            continue
        found.shifts.append(shift)
    found.shifts.sort(key=lambda s: (s.starts_on, s.ends_on))
    return found


def _shift(event: icalendar.Event, summary: str, tz: ZoneInfo) -> Shift:
    if event.get("RRULE") is not None:
        raise ValueError("repeating events are not supported; export single shifts")
    start = event.get("DTSTART")
    if start is None:
        raise ValueError("no start")
    begins = start.dt
    if event.get("DTEND") is not None:
        ends = event.get("DTEND").dt
    elif event.get("DURATION") is not None:
        ends = begins + event.get("DURATION").dt
    else:
        ends = begins
    first, after_last = _local_date(begins, tz), _local_date(ends, tz)
    if after_last < first:
        raise ValueError("it ends before it starts")
    last = max(first, after_last - timedelta(days=1))
    email = _email(event)
    if email is None:
        raise ValueError("no email address names the person on call")
    return Shift(first, last, email, summary)


def _local_date(moment: date | datetime, tz: ZoneInfo) -> date:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(tz).date()
    return moment


def _email(event: icalendar.Event) -> str | None:
    attendees = event.get("ATTENDEE")
    if attendees is not None and not isinstance(attendees, list):
        attendees = [attendees]
    for candidate in [*(attendees or []), event.get("ORGANIZER")]:
        text = str(candidate or "")
        if text.lower().startswith("mailto:"):
            return text[7:].strip().lower() or None
    for text in (str(event.get("SUMMARY", "")), str(event.get("DESCRIPTION", ""))):
        match = EMAIL.search(text)
        if match:
            return match.group(0).lower()
    return None
