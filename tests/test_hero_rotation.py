"""The weekly rotation: the order, swaps of whole weeks or single days, an imported on-call
schedule (.ics), who is on duty now, "My team", and the on-duty hero's email for new questions."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.extensions import db
from community.hero import ics
from community.hero.models import DutyOverride
from community.hero.rotation import Override, Schedule
from community.moderation.models import AuditEvent
from community.questions.models import Team, Topic
from tests.conftest import mail_settings

MONDAY = date(2026, 11, 2)
A, B, C = 1, 2, 3
DOC = "https://docs.example.com/docs/session-replay/setup"


# -- the schedule (pure) ----------------------------------------------------------------------


def test_each_member_takes_a_week_in_turn():
    schedule = Schedule(MONDAY, (A, B, C))
    assert schedule.scheduled(MONDAY - timedelta(days=1)) is None  # before the start
    assert [schedule.scheduled(MONDAY + timedelta(days=n)) for n in (0, 6, 7, 13, 14, 21)] == [
        A,
        A,
        B,
        B,
        C,
        A,
    ]
    assert Schedule(None, (A,)).on_duty(MONDAY) is None
    assert Schedule(MONDAY, ()).on_duty(MONDAY) is None
    # Weeks start on the start date's weekday (here a Wednesday).
    wednesday = Schedule(date(2026, 11, 4), (A, B))
    assert wednesday.week_start(date(2026, 11, 10)) == date(2026, 11, 4)
    assert wednesday.on_duty(date(2026, 11, 10)) == A
    assert wednesday.on_duty(date(2026, 11, 11)) == B


def test_overrides_change_those_days_only_and_the_newest_wins():
    week_swap = (
        Override(1, MONDAY, MONDAY + timedelta(days=6), B),
        Override(2, MONDAY + timedelta(days=7), MONDAY + timedelta(days=13), A),
    )
    day = Override(3, MONDAY + timedelta(days=2), MONDAY + timedelta(days=2), C)
    schedule = Schedule(MONDAY, (A, B, C), (*week_swap, day))
    days = [schedule.on_duty(MONDAY + timedelta(days=n)) for n in range(21)]
    assert days[:7] == [B, B, C, B, B, B, B]
    assert days[7:14] == [A] * 7
    assert days[14:] == [C] * 7  # C's week is untouched
    weeks = schedule.weeks(MONDAY + timedelta(days=3), 2)
    assert weeks[0] == (MONDAY, [B, B, C, B, B, B, B])
    assert weeks[1][0] == MONDAY + timedelta(days=7)


# -- iCalendar import (pure) --------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Pager//On call//EN
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:1
SUMMARY:On call: Ada
DTSTART;TZID=W. Europe Standard Time:20261102T090000
DTEND;TZID=W. Europe Standard Time:20261109T090000
ATTENDEE;CN=Ada:mailto:ADA@example.com
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:On call grace@example.com
DTSTART;VALUE=DATE:20261109
DTEND;VALUE=DATE:20261111
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:A single evening
DTSTART:20261111T230000Z
DTEND:20261112T010000Z
ORGANIZER:mailto:linus@example.com
END:VEVENT
BEGIN:VEVENT
UID:4
SUMMARY:Every week
DTSTART;VALUE=DATE:20261116
RRULE:FREQ=WEEKLY
ATTENDEE:mailto:ada@example.com
END:VEVENT
BEGIN:VEVENT
UID:5
SUMMARY:Nobody named
DTSTART;VALUE=DATE:20261120
END:VEVENT
END:VCALENDAR
"""


def test_an_on_call_export_becomes_shifts_in_the_teams_dates():
    parsed = ics.parse(ICS.replace("\n", "\r\n").encode(), ZoneInfo("Europe/Berlin"))
    assert [(s.starts_on, s.ends_on, s.email) for s in parsed.shifts] == [
        # Monday 09:00 to Monday 09:00 (a Windows zone name): Monday to Sunday.
        (date(2026, 11, 2), date(2026, 11, 8), "ada@example.com"),
        # All-day events end the day before DTEND.
        (date(2026, 11, 9), date(2026, 11, 10), "grace@example.com"),
        # 23:00Z on the 11th is midnight on the 12th in Berlin; it ends at 02:00 on the 12th.
        (date(2026, 11, 12), date(2026, 11, 12), "linus@example.com"),
    ]
    assert [reason.split(":")[0] for reason in parsed.skipped] == ["Every week", "Nobody named"]
    # The same instants in another team's zone are other dates.
    tokyo = ics.parse(ICS.encode(), ZoneInfo("Asia/Tokyo")).shifts
    assert tokyo[2].starts_on == date(2026, 11, 12)
    new_york = ics.parse(ICS.encode(), ZoneInfo("America/New_York")).shifts
    assert new_york[2].starts_on == date(2026, 11, 11)


@pytest.mark.parametrize("data", [b"", b"not a calendar", b"BEGIN:VEVENT\r\nEND:VEVENT\r\n"])
def test_files_that_are_not_calendars_are_refused(data):
    with pytest.raises(ics.InvalidCalendar):
        ics.parse(data, ZoneInfo("UTC"))


# -- through the site ------------------------------------------------------------------------


@pytest.fixture
def moderator(auth, make) -> int:
    ident = make.moderator(email="mod@example.com", name="Maya Moderator")
    auth.login_as(ident)
    return ident


@pytest.fixture
def team(make) -> int:
    topic = make.topic()
    with make.app.app_context():
        return db.session.get(Topic, topic).team_id


def hero(make, team: int, name: str, email: str) -> int:
    ident = make.user(name=name, email=email, role=Role.TEAM)
    make.update(User, ident, team_id=team)
    return ident


def this_monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def audit(make, action: str) -> list[AuditEvent]:
    with make.app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def on_duty_text(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    start = page.index('id="on-duty')
    return page[start : page.index("</p>", start)]


def test_moderators_set_the_order_and_everyone_sees_whos_on_duty(client, make, moderator, team):
    ada = hero(make, team, "Ada Hero", "ada@example.com")
    grace = hero(make, team, "Grace Hero", "grace@example.com")
    monday = this_monday()
    response = client.post(
        f"/moderation/teams/{team}/rotation",
        data={
            "members": "ada@example.com\r\nGRACE@example.com\r\n",
            "starts_on": monday.isoformat(),
        },
    )
    assert response.status_code == 302
    assert "Ada Hero" in on_duty_text(client, f"/moderation/teams/{team}")
    dashboard = client.get("/moderation").get_data(as_text=True)
    assert f'id="on-duty-{team}"' in dashboard and "Ada Hero" in dashboard
    (row,) = audit(make, "rotation.change")
    assert row.data["after"] == {"members": [ada, grace], "starts_on": monday.isoformat()}
    # A week later it is Grace's turn: the same order, started a week earlier.
    client.post(
        f"/moderation/teams/{team}/rotation",
        data={
            "members": "ada@example.com\ngrace@example.com",
            "starts_on": (monday - timedelta(days=7)).isoformat(),
        },
    )
    assert "Grace Hero" in on_duty_text(client, f"/moderation/teams/{team}")
    assert len(audit(make, "rotation.change")) == 2


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ("ada@example.com\nada@example.com", "once"),
        ("ada@example.com\nmember@example.com", "member@example.com"),
        ("nobody@example.com", "nobody@example.com"),
    ],
)
def test_only_staff_can_be_in_a_rotation(client, make, moderator, team, members, message):
    hero(make, team, "Ada Hero", "ada@example.com")
    make.user(email="member@example.com")
    response = client.post(
        f"/moderation/teams/{team}/rotation",
        data={"members": members, "starts_on": this_monday().isoformat()},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert audit(make, "rotation.change") == []


def test_swaps_trade_weeks_or_days_between_two_people(client, make, moderator, team):
    ada = hero(make, team, "Ada Hero", "ada@example.com")
    grace = hero(make, team, "Grace Hero", "grace@example.com")
    linus = hero(make, team, "Linus Hero", "linus@example.com")
    monday = this_monday()
    client.post(
        f"/moderation/teams/{team}/rotation",
        data={
            "members": "ada@example.com\ngrace@example.com\nlinus@example.com",
            "starts_on": monday.isoformat(),
        },
    )
    # Ada's week (this one) for Grace's (next week).
    next_week = monday + timedelta(days=7)
    response = client.post(
        f"/moderation/teams/{team}/swaps",
        data={
            "scope": "week",
            "first": monday.isoformat(),
            "second": (next_week + timedelta(days=2)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert "Grace Hero" in on_duty_text(client, f"/moderation/teams/{team}")
    with make.app.app_context():
        rows = db.session.scalars(sa.select(DutyOverride).order_by(DutyOverride.id)).all()
        spans = [(r.starts_on, r.ends_on, r.user_id) for r in rows]
    assert spans == [
        (monday, monday + timedelta(days=6), grace),
        (next_week, next_week + timedelta(days=6), ada),
    ]
    (swap,) = audit(make, "rotation.swap")
    assert swap.data["scope"] == "week" and swap.target_id == team
    # A single day: Linus takes Grace's (swapped-in) Tuesday of this week; Grace takes one of
    # Linus's days in three weeks' time. Everyone else's days stay.
    tuesday = monday + timedelta(days=1)
    linus_day = monday + timedelta(days=14)
    assert (
        client.post(
            f"/moderation/teams/{team}/swaps",
            data={"scope": "day", "first": tuesday.isoformat(), "second": linus_day.isoformat()},
        ).status_code
        == 302
    )
    with make.app.app_context():
        from community.hero import queries

        schedule = queries.duty(team, since=monday).schedule
        assert schedule.on_duty(tuesday) == linus and schedule.on_duty(linus_day) == grace
        assert (
            schedule.on_duty(monday) == grace
            and schedule.on_duty(linus_day + timedelta(days=1)) == linus
        )
        assert schedule.on_duty(next_week) == ada
        day_override = db.session.scalar(
            sa.select(DutyOverride.id).where(DutyOverride.starts_on == tuesday)
        )
    # Removing one side of a swap removes both.
    assert (
        client.post(f"/moderation/teams/{team}/overrides/{day_override}/remove").status_code == 302
    )
    with make.app.app_context():
        schedule = queries.duty(team, since=monday).schedule
        assert schedule.on_duty(tuesday) == grace and schedule.on_duty(linus_day) == linus
    assert [r.data["removed"][0]["on_duty"] for r in audit(make, "rotation.override_removed")] == [
        linus
    ]


@pytest.mark.parametrize(
    ("scope", "first", "second", "message"),
    [
        ("week", 0, 0, "same person"),
        ("week", 0, 3, "same person"),
        ("day", 0, 7, None),  # fine: control
        ("day", 0, 0, "same person"),
        ("week", -30, 0, "Nobody is on duty"),
    ],
)
def test_swaps_that_make_no_sense_are_refused(
    client, make, moderator, team, scope, first, second, message
):
    hero(make, team, "Ada Hero", "ada@example.com")
    hero(make, team, "Grace Hero", "grace@example.com")
    monday = this_monday()
    client.post(
        f"/moderation/teams/{team}/rotation",
        data={"members": "ada@example.com\ngrace@example.com", "starts_on": monday.isoformat()},
    )
    response = client.post(
        f"/moderation/teams/{team}/swaps",
        data={
            "scope": scope,
            "first": (monday + timedelta(days=first)).isoformat(),
            "second": (monday + timedelta(days=second)).isoformat(),
        },
    )
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert audit(make, "rotation.swap") == []


def test_an_imported_on_call_schedule_decides_who_is_on_duty(client, make, moderator, team):
    hero(make, team, "Ada Hero", "ada@example.com")
    today = datetime.now(UTC).date()
    calendar = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//EN",
            "BEGIN:VEVENT",
            "UID:1",
            "SUMMARY:Primary",
            f"DTSTART;VALUE=DATE:{(today - timedelta(days=1)):%Y%m%d}",
            f"DTEND;VALUE=DATE:{(today + timedelta(days=3)):%Y%m%d}",
            "ATTENDEE:mailto:ada@example.com",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:2",
            "SUMMARY:Stranger",
            f"DTSTART;VALUE=DATE:{(today + timedelta(days=3)):%Y%m%d}",
            "ATTENDEE:mailto:someone@elsewhere.example",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    ).encode()

    def upload(data: bytes):
        return client.post(
            f"/moderation/teams/{team}/rotation/import",
            data={"schedule": (io.BytesIO(data), "oncall.ics")},
            content_type="multipart/form-data",
        )

    response = upload(calendar)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Imported 1 shifts." in page and "someone@elsewhere.example is not a team member" in page
    assert "Ada Hero" in on_duty_text(client, f"/moderation/teams/{team}")
    (row,) = audit(make, "rotation.import")
    assert (row.data["imported"], row.data["skipped"]) == (1, 1)
    # Importing again replaces the earlier import instead of adding to it.
    upload(calendar)
    assert make.count(DutyOverride) == 1
    refused = upload(b"this is not a calendar")
    assert refused.status_code == 422 and "not an iCalendar" in refused.get_data(as_text=True)
    assert make.count(DutyOverride) == 1


def test_my_team_tells_the_hero_they_are_on_duty_and_lists_the_teams_questions(
    client, auth, make, team
):
    ada = hero(make, team, "Ada Hero", "ada@example.com")
    grace = hero(make, team, "Grace Hero", "grace@example.com")
    start_rotation(make, team, ["ada@example.com", "grace@example.com"])
    asker = make.user()
    ours = make.question(asker, subject="About session replay", page_url=DOC)
    theirs = make.question(asker, subject="About something else")
    auth.login_as(ada)
    page = client.get("/moderation/my-team").get_data(as_text=True)
    assert "You're on duty" in page
    assert f'id="team-question-{ours}"' in page and f'id="team-question-{theirs}"' not in page
    auth.logout()
    auth.login_as(grace)
    page = client.get("/moderation/my-team").get_data(as_text=True)
    assert "You're on duty" not in page and "Ada Hero" in on_duty_text(
        client, "/moderation/my-team"
    )
    # Another team's week is not theirs to see: they get their own.
    other = make.topic(name="Flags", prefix="/docs/flags")
    with make.app.app_context():
        other_team = db.session.get(Topic, other).team_id
        names = {t.id: t.name for t in db.session.scalars(sa.select(Team))}
    page = client.get(f"/moderation/my-team?team={other_team}").get_data(as_text=True)
    assert f"<h1>{names[team]}</h1>" in page


def start_rotation(make, team: int, emails: list[str]) -> None:
    from community.hero import services

    with make.app.app_context():
        services.set_rotation(
            db.session.get(User, make.moderator()),
            db.session.get(Team, team),
            emails,
            this_monday(),
        )
        db.session.commit()


def test_new_questions_email_the_hero_on_duty(app, make, smtp_server, run_jobs, team):
    app.config.update(mail_settings(smtp_server))
    ada = hero(make, team, "Ada Hero", "ada@example.com")
    hero(make, team, "Grace Hero", "grace@example.com")
    start_rotation(make, team, ["ada@example.com", "grace@example.com"])
    asker = make.user(name="Lin Asker")
    question = make.question(asker, subject="Recordings stop after navigation", page_url=DOC)
    make.question(asker, subject="Not the team's")  # no topic: no hero email
    run_jobs()
    (message,) = smtp_server.messages_to("ada@example.com")
    assert message["Subject"].startswith("New question for Team")
    assert "Recordings stop after navigation" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert f"/questions/{question}-recordings-stop-after-navigation" in text
    assert "Lin Asker asked" in text
    assert smtp_server.messages_to("grace@example.com") == []
    # The intent is an outbox row with a dedupe key: never twice for one question and hero.
    with make.app.app_context():
        from community.jobs.models import Job

        keys = db.session.scalars(
            sa.select(Job.dedupe_key).where(Job.dedupe_key.like("email:hero-question:%"))
        ).all()
    assert keys == [f"email:hero-question:{question}:user:{ada}"]


def test_the_team_page_runs_a_fixed_number_of_queries(client, make, moderator, team, count_queries):
    def count() -> int:
        with count_queries() as statements:
            assert client.get(f"/moderation/teams/{team}").status_code == 200
        return len(statements)

    hero(make, team, "Ada Hero", "ada@example.com")
    client.post(
        f"/moderation/teams/{team}/rotation",
        data={"members": "ada@example.com", "starts_on": this_monday().isoformat()},
    )
    few = count()
    emails = []
    for n in range(5):
        hero(make, team, f"Hero {n}", f"hero{n}@example.com")
        emails.append(f"hero{n}@example.com")
    client.post(
        f"/moderation/teams/{team}/rotation",
        data={
            "members": "\n".join(["ada@example.com", *emails]),
            "starts_on": this_monday().isoformat(),
        },
    )
    monday = this_monday()
    client.post(
        f"/moderation/teams/{team}/swaps",
        data={
            "scope": "day",
            "first": monday.isoformat(),
            "second": (monday + timedelta(days=7)).isoformat(),
        },
    )
    assert count() == few
    # user; team; rotation (teams, members, overrides); overrides listed; staff candidates
    assert few == 7
