"""Team metrics per week: questions asked, time to first response (median and 90th percentile),
the share answered within the targets, the share resolved, and the open backlog by priority.

Aggregate queries only, on both databases: the percentiles are the nearest-rank ones (the value
at rank ceil(p * n) among the week's answered questions), found with window functions, so the
database returns one row per team and week however many questions there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from community.extensions import db
from community.hero import queries, services
from community.hero.clock import Targets
from community.questions.models import Question, QuestionStatus, Team, Topic

MAX_WEEKS = 52
NO_TEAM = 0  # questions without a topic


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class Week:
    team_id: int
    week: date
    asked: int
    answered: int
    median_seconds: int | None
    p90_seconds: int | None
    within: tuple[int, int, int]  # answered within great, okay, late
    resolved: int

    def share(self, count: int) -> float | None:
        return count / self.asked if self.asked else None

    @property
    def shares_within(self) -> tuple[float | None, float | None, float | None]:
        return tuple(self.share(n) for n in self.within)  # type: ignore[return-value]

    @property
    def share_resolved(self) -> float | None:
        return self.share(self.resolved)


@dataclass
class TeamMetrics:
    team_id: int
    name: str
    weeks: list[Week]
    backlog: dict[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.backlog.values())


@dataclass
class Report:
    weeks: list[date]  # Mondays, oldest first
    targets: Targets
    teams: list[TeamMetrics]


def _seconds_between(start: Any, end: Any) -> sa.ColumnElement[Any]:
    if db.engine.dialect.name == "postgresql":
        return sa.func.round(sa.extract("epoch", end - start))
    return sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0)


def _week_of(moment: Any) -> sa.ColumnElement[Any]:
    """The Monday (UTC) of the week ``moment`` falls in."""
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc("week", sa.func.timezone("UTC", moment)), sa.Date)
    return sa.func.date(moment, "weekday 0", "-6 days")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def weekly(
    first_week: date, end: datetime, targets: Targets, team_id: int | None = None
) -> list[Week]:
    """Per team and week, for questions published from ``first_week`` (a Monday) to ``end``:
    one query."""
    team = sa.func.coalesce(Topic.team_id, NO_TEAM).label("team")
    week = _week_of(Question.published_at).label("week")
    ttfr = _seconds_between(Question.published_at, Question.first_response_at).label("ttfr")
    resolved = sa.case((Question.status == QuestionStatus.RESOLVED.value, 1), else_=0)
    per_question = (
        sa.select(
            team,
            week,
            ttfr,
            resolved.label("resolved"),
            sa.func.row_number()
            .over(partition_by=(team, week, Question.first_response_at.is_(None)), order_by=ttfr)
            .label("rank"),
            sa.func.count(Question.first_response_at)
            .over(partition_by=(team, week))
            .label("answered"),
        )
        .select_from(Question)
        .outerjoin(Topic, Topic.id == Question.topic_id)
        .where(
            Question.published_at >= datetime.combine(first_week, datetime.min.time(), end.tzinfo),
            Question.published_at < end,
            Question.hidden_at.is_(None),
            Question.deleted_at.is_(None),
        )
    )
    if team_id is not None:
        per_question = per_question.where(
            Topic.team_id == team_id if team_id != NO_TEAM else Question.topic_id.is_(None)
        )
    rows = per_question.subquery()

    def rank_at(percent: int) -> sa.ColumnElement[Any]:
        # Nearest rank: the first answered question whose rank is at least percent% of n.
        return sa.func.min(
            sa.case(
                (
                    sa.and_(
                        rows.c.ttfr.is_not(None), rows.c.rank * 100 >= percent * rows.c.answered
                    ),
                    rows.c.ttfr,
                )
            )
        )

    def within(limit: timedelta) -> sa.ColumnElement[Any]:
        seconds = int(limit.total_seconds())
        return sa.func.sum(sa.case((rows.c.ttfr < seconds, 1), else_=0))

    result = db.session.execute(
        sa.select(
            rows.c.team,
            rows.c.week,
            sa.func.count(),
            sa.func.count(rows.c.ttfr),
            rank_at(50),
            rank_at(90),
            within(targets.great),
            within(targets.okay),
            within(targets.late),
            sa.func.sum(rows.c.resolved),
        )
        .group_by(rows.c.team, rows.c.week)
        .order_by(rows.c.team, rows.c.week)
    ).all()
    return [
        Week(
            team_id=int(row[0]),
            week=_as_date(row[1]),
            asked=int(row[2]),
            answered=int(row[3]),
            median_seconds=_int(row[4]),
            p90_seconds=_int(row[5]),
            within=(int(row[6] or 0), int(row[7] or 0), int(row[8] or 0)),
            resolved=int(row[9] or 0),
        )
        for row in result
    ]


def _int(value: Any) -> int | None:
    return None if value is None else round(float(value))


def backlog(team_id: int | None = None) -> dict[int, dict[str, int]]:
    """Open questions (public, not resolved) per team and priority, now: one query."""
    team = sa.func.coalesce(Topic.team_id, NO_TEAM).label("team")
    priority = queries.priority_expression().label("priority")
    query = queries.with_priority(
        sa.select(team, priority, sa.func.count())
        .select_from(Question)
        .outerjoin(Topic, Topic.id == Question.topic_id)
    ).where(_open())
    if team_id is not None:
        query = query.where(
            Topic.team_id == team_id if team_id != NO_TEAM else Question.topic_id.is_(None)
        )
    found: dict[int, dict[str, int]] = {}
    for team_value, priority_value, count in db.session.execute(query.group_by(team, priority)):
        counts = found.setdefault(int(team_value), dict.fromkeys(queries.PRIORITIES, 0))
        key = priority_value if priority_value in counts else "normal"
        counts[key] += int(count)
    return found


def _open() -> sa.ColumnElement[bool]:
    """Open questions, written so each database counts them its fastest way. PostgreSQL uses
    the partial index ix_questions_open (this is its predicate). SQLite's planner would walk
    ix_questions_published_at for "published_at IS NOT NULL", fetching every row (2 s with a
    million questions), so there that term is hidden from it behind coalesce() and it scans the
    table once (0.3 s)."""
    if db.engine.dialect.name != "sqlite":
        return queries.open_condition()
    return sa.and_(
        Question.status != QuestionStatus.RESOLVED.value,
        sa.func.coalesce(Question.published_at, None).is_not(None),
        Question.hidden_at.is_(None),
        Question.deleted_at.is_(None),
    )


def report(
    now: datetime,
    weeks: int = 8,
    team: Team | None = None,
    all_teams: list[Team] | None = None,
) -> Report:
    """The metrics page: the last ``weeks`` weeks (this one included) per team, and each
    team's backlog. Three queries (settings, the weeks, the backlog), and the teams unless
    ``all_teams`` is given."""
    weeks = min(max(weeks, 1), MAX_WEEKS)
    targets = services.targets()
    last = week_start(now.date())
    mondays = [last - timedelta(days=7 * n) for n in range(weeks - 1, -1, -1)]
    team_id = team.id if team is not None else None
    if all_teams is None:
        all_teams = list(db.session.scalars(sa.select(Team)))
    names = {t.id: t.name for t in all_teams}
    names[NO_TEAM] = "No team"
    by_team: dict[int, TeamMetrics] = {}
    for row in weekly(mondays[0], now, targets, team_id):
        by_team.setdefault(
            row.team_id, TeamMetrics(row.team_id, names.get(row.team_id, "?"), [])
        ).weeks.append(row)
    for found_team, counts in backlog(team_id).items():
        by_team.setdefault(
            found_team, TeamMetrics(found_team, names.get(found_team, "?"), [])
        ).backlog = counts
    if team is not None:
        by_team.setdefault(team.id, TeamMetrics(team.id, team.name, []))
    teams = sorted(by_team.values(), key=lambda t: (t.team_id == NO_TEAM, t.name.lower()))
    for metrics in teams:
        present = {w.week: w for w in metrics.weeks}
        metrics.weeks = [
            present.get(monday) or Week(metrics.team_id, monday, 0, 0, None, None, (0, 0, 0), 0)
            for monday in mondays
        ]
        metrics.backlog = metrics.backlog or dict.fromkeys(queries.PRIORITIES, 0)
    return Report(mondays, targets, teams)


def percent(share: float | None) -> str:
    return "-" if share is None else f"{math.floor(share * 100 + 0.5)}%"


def minutes(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def target_label(limit: timedelta) -> str:
    """A response target exactly, in its largest whole unit: "15 min", "90 min", "1 h", "1 day"."""
    minutes_in = int(limit.total_seconds()) // 60
    if minutes_in and minutes_in % 1440 == 0:
        days = minutes_in // 1440
        return "1 day" if days == 1 else f"{days} days"
    if minutes_in and minutes_in % 60 == 0:
        return f"{minutes_in // 60} h"
    return f"{minutes_in} min"


def minutes_value(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def minutes_value_label(value: float | None) -> str:
    return "no response" if value is None else minutes(int(value * 60))


def response_parts(week: Week) -> list[int]:
    """A week's questions by when they were first answered: within each target, later or not
    at all (the parts of its stacked bar)."""
    great, okay, late = week.within
    return [great, okay - great, late - okay, week.asked - late]
