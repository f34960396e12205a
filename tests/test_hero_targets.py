"""Response-time targets through the HTTP surface: the badges on the queues and the thread,
the thresholds and the working-hours switch as runtime settings, and each team's hours."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.extensions import db
from community.moderation.models import AuditEvent
from community.questions.models import Question, Team, Topic

TARGETS = {
    "response_great_minutes": "15",
    "response_okay_minutes": "60",
    "response_late_minutes": "1440",
    "response_reminder_minutes": "45",
}
BADGE = re.compile(r'<span class="badge badge-clock badge-([a-z-]+)"[^>]*>\s*([^<]*?)\s*</span>')


@pytest.fixture
def moderator(auth, make) -> int:
    ident = make.moderator()
    auth.login_as(ident)
    return ident


def team_of(make, topic_id: int) -> int:
    with make.app.app_context():
        return db.session.get(Topic, topic_id).team_id


def asked_ago(make, asker: int, ago: timedelta, **kwargs) -> int:
    question = make.question(asker, **kwargs)
    moment = datetime.now(UTC) - ago
    make.update(Question, question, published_at=moment, created_at=moment)
    return question


def badges(client, path: str) -> list[tuple[str, str]]:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return BADGE.findall(response.get_data(as_text=True))


def audit(make, action: str) -> list[AuditEvent]:
    with make.app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_queue_badges_rate_the_wait_against_the_targets(client, make, moderator):
    asker = make.user()
    asked_ago(make, asker, timedelta(minutes=5), subject="Asked five minutes ago")
    asked_ago(make, asker, timedelta(minutes=30), subject="Asked half an hour ago")
    asked_ago(make, asker, timedelta(hours=2), subject="Asked two hours ago")
    asked_ago(make, asker, timedelta(days=2), subject="Asked two days ago")
    shown = badges(client, "/moderation?queue=first-response")
    # Oldest first.
    assert shown == [
        ("too-late", "Waiting 2 d · Too late"),
        ("late", "Waiting 2 h · Late"),
        ("okay", "Waiting 30 min · Okay"),
        ("great", "Waiting 5 min · Great"),
    ]


def test_the_clock_stops_at_the_first_team_response(client, make, moderator):
    asker, hero = make.user(), make.user(role=Role.TEAM)
    question = asked_ago(make, asker, timedelta(hours=3), subject="Answered quickly")
    make.reply(question, asker)  # the asker adding detail does not stop the clock
    assert badges(client, f"/questions/{question}")[0][0] == "late"
    make.reply(question, hero)
    with make.app.app_context():
        published = db.session.get(Question, question).published_at
    make.update(Question, question, first_response_at=published + timedelta(minutes=10))
    assert badges(client, f"/questions/{question}") == [
        ("great", "First response after 10 min · Great")
    ]
    assert badges(client, "/moderation?queue=unresolved") == [
        ("great", "First response after 10 min · Great")
    ]


@pytest.mark.parametrize("who", ["anonymous", "member", "asker"])
def test_only_staff_see_the_clock(client, auth, make, who):
    asker = make.user()
    question = asked_ago(make, asker, timedelta(minutes=20))
    if who != "anonymous":
        auth.login_as(asker if who == "asker" else make.user())
    assert badges(client, f"/questions/{question}") == []


def test_team_members_see_the_clock_in_their_queues(client, auth, make):
    asked_ago(make, make.user(), timedelta(minutes=20))
    auth.login_as(make.user(role=Role.TEAM))
    assert badges(client, "/moderation") == [("okay", "Waiting 20 min · Okay")]


def test_targets_are_runtime_settings(client, make, moderator):
    asked_ago(make, make.user(), timedelta(minutes=20))
    page = client.get("/moderation/settings").get_data(as_text=True)
    assert 'name="response_okay_minutes"' in page and 'value="60"' in page
    changed = {**TARGETS, "response_great_minutes": "30", "response_okay_minutes": "90"}
    assert client.post("/moderation/settings", data=changed).status_code == 302
    assert badges(client, "/moderation") == [("great", "Waiting 20 min · Great")]
    rows = audit(make, "settings.change")
    assert [(r.data["key"], r.data["before"], r.data["after"]) for r in rows] == [
        ("response_great_minutes", 15, 30),
        ("response_okay_minutes", 60, 90),
    ]
    assert rows[0].actor_id == moderator


@pytest.mark.parametrize(
    "wrong",
    [
        {"response_great_minutes": "60"},  # not under "okay"
        {"response_late_minutes": "30"},
        {"response_okay_minutes": "0"},
        {"response_late_minutes": "99999999"},
        {"response_great_minutes": "ten"},
        {"response_great_minutes": ""},
        {"response_reminder_minutes": "60"},  # the reminder comes before the okay mark
    ],
)
def test_targets_that_do_not_grow_or_fit_are_refused(client, make, moderator, wrong):
    response = client.post("/moderation/settings", data={**TARGETS, **wrong})
    assert response.status_code == 422
    assert 'class="errors"' in response.get_data(as_text=True)
    assert audit(make, "settings.change") == []


def test_moderators_set_each_teams_working_hours(client, make, moderator):
    team = team_of(make, make.topic())
    page = client.get(f"/moderation/teams/{team}").get_data(as_text=True)
    assert "Mon, Tue, Wed, Thu, Fri 09:00 to 17:00 (UTC)" in page
    assert "Team" in client.get("/moderation/teams").get_data(as_text=True)
    form = {"timezone": "Europe/Berlin", "days": ["1", "2", "3", "4"], "start": "08:30"}
    response = client.post(f"/moderation/teams/{team}/hours", data={**form, "end": "16:00"})
    assert response.status_code == 302
    saved = make.get(Team, team)
    assert (saved.timezone, saved.working_days) == ("Europe/Berlin", "1234")
    assert (saved.work_starts_at, saved.work_ends_at) == (time(8, 30), time(16, 0))
    (row,) = audit(make, "team.working_hours")
    assert (row.target_type, row.target_id, row.actor_id) == ("team", team, moderator)
    assert row.data["before"]["timezone"] == "UTC"
    assert row.data["after"] == {
        "timezone": "Europe/Berlin",
        "days": "1234",
        "start": "08:30",
        "end": "16:00",
    }
    # The same again changes nothing and writes no row.
    client.post(f"/moderation/teams/{team}/hours", data={**form, "end": "16:00"})
    assert len(audit(make, "team.working_hours")) == 1


@pytest.mark.parametrize(
    "wrong",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"days": []},
        {"days": ["8"]},
        {"start": "17:00", "end": "09:00"},
        {"start": "25:00"},
    ],
)
def test_working_hours_that_make_no_sense_are_refused(client, make, moderator, wrong):
    team = team_of(make, make.topic())
    form = {"timezone": "UTC", "days": ["1"], "start": "09:00", "end": "17:00", **wrong}
    response = client.post(f"/moderation/teams/{team}/hours", data=form)
    assert response.status_code == 422
    assert make.get(Team, team).working_days == "12345"
    assert audit(make, "team.working_hours") == []


def test_team_members_see_their_own_teams_hours_but_cannot_change_them(client, auth, make):
    team = team_of(make, make.topic())
    other_team = team_of(make, make.topic(name="Flags", prefix="/docs/flags"))
    hero = make.user(role=Role.TEAM)
    make.update(User, hero, team_id=team)
    auth.login_as(hero)
    page = client.get(f"/moderation/teams/{team}")
    assert page.status_code == 200
    assert "09:00 to 17:00" in page.get_data(as_text=True)
    assert "Save working hours" not in page.get_data(as_text=True)
    assert client.get(f"/moderation/teams/{other_team}").status_code == 403
    assert client.get("/moderation/teams").status_code == 403
    hours = {"timezone": "UTC", "days": ["6"], "start": "09:00", "end": "10:00"}
    assert client.post(f"/moderation/teams/{team}/hours", data=hours).status_code == 403
    assert make.get(Team, team).working_days == "12345"


def test_the_clock_can_count_only_working_hours(client, make, moderator):
    topic = make.topic()
    team = team_of(make, topic)
    asker = make.user()
    question = asked_ago(
        make, asker, timedelta(hours=2), page_url="https://docs.example.com/docs/session-replay/x"
    )
    assert make.get(Question, question).topic_id == topic
    untopical = asked_ago(make, asker, timedelta(hours=2))
    # The team works one minute a day: two hours of waiting count one minute at most.
    make.update(Team, team, working_days="1234567", work_starts_at=time(0), work_ends_at=time(0, 1))
    assert {b[1] for b in badges(client, "/moderation")} == {"Waiting 2 h · Late"}
    client.post("/moderation/settings", data={**TARGETS, "response_clock_working_hours": "y"})
    shown = badges(client, f"/questions/{question}")
    assert shown == [("great", "Waiting 1 min · Great")]
    assert 'title="Counting working hours only"' in client.get(
        f"/questions/{question}", follow_redirects=True
    ).get_data(as_text=True)
    # A question of no team counts every hour.
    assert badges(client, f"/questions/{untopical}") == [("late", "Waiting 2 h · Late")]


def test_the_queue_with_clocks_runs_a_fixed_number_of_queries(
    client, make, moderator, count_queries
):
    make.topic()
    asker = make.user()

    def count() -> int:
        with count_queries() as statements:
            assert client.get("/moderation").status_code == 200
        return len(statements)

    asked_ago(
        make, asker, timedelta(minutes=3), page_url="https://docs.example.com/docs/session-replay/a"
    )
    few = count()
    for n in range(6):
        asked_ago(
            make,
            asker,
            timedelta(hours=n),
            page_url="https://docs.example.com/docs/session-replay/b",
        )
    assert count() == few
    # user, queue rows, filter menus, team members, runtime settings (once for every clock),
    # who is on duty (teams with rotations, members, overrides), due follow-ups
    assert few == 9
