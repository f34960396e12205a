"""The one-hour reminder: a sweep in the worker finds questions nearing the okay mark without a
team response and tells the team's Slack channel and the hero on duty, exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from community import settings as runtime_settings
from community.accounts.models import Role, User
from community.extensions import db
from community.hero import reminders, services
from community.hero.models import Reminder
from community.jobs.models import Job
from community.jobs.registry import periodic
from community.jobs.worker import Worker
from community.questions.models import Question, Team, Topic
from tests.conftest import mail_settings

DOC = "https://docs.example.com/docs/session-replay/setup"
# A Friday afternoon (UTC), far from the real clock: every "now" here is passed in.
ASKED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


@pytest.fixture
def world(app, make, smtp_server, slack_server):
    app.config.update(mail_settings(smtp_server), SLACK_WEBHOOK_URL=slack_server.url())
    topic = make.topic()
    with app.app_context():
        team = db.session.get(Topic, topic).team_id
    make.update(Team, team, slack_webhook_url=slack_server.url("/services/team"))
    ada = make.user(name="Ada Hero", email="ada@example.com", role=Role.TEAM)
    make.update(User, ada, team_id=team)
    with app.app_context():
        services.set_rotation(
            db.session.get(User, make.moderator()),
            db.session.get(Team, team),
            ["ada@example.com"],
            date(2026, 1, 5),
        )
        db.session.commit()
    return {"team": team, "ada": ada}


def ask(make, when: datetime = ASKED, **kwargs) -> int:
    question = make.question(make.user(name="Lin Asker"), page_url=DOC, **kwargs)
    make.update(Question, question, published_at=when, created_at=when)
    return question


def sweep(app, now: datetime) -> int:
    with app.app_context():
        queued = reminders.sweep(now)
        db.session.commit()
        return queued


def reminder_jobs(make) -> list[str]:
    with make.app.app_context():
        return sorted(
            db.session.scalars(
                sa.select(Job.dedupe_key).where(Job.dedupe_key.like("%hero-reminder%"))
            ).all()
        )


def test_a_question_nearing_the_hour_is_reminded_about_once(
    app, make, world, run_jobs, smtp_server, slack_server
):
    question = ask(make, subject="Recordings stop after navigation")
    fresh = ask(make, when=ASKED + timedelta(minutes=10), subject="Asked a little later")
    assert sweep(app, ASKED + timedelta(minutes=44, seconds=59)) == 0
    assert sweep(app, ASKED + timedelta(minutes=45)) == 2  # Slack, and Ada by email
    assert reminder_jobs(make) == [
        f"email:hero-reminder:{question}:60:user:{world['ada']}",
        f"slack:hero-reminder:{question}:60",
    ]
    # Later sweeps, or a second worker's, never queue it again.
    for minutes in (46, 50, 54):
        assert sweep(app, ASKED + timedelta(minutes=minutes)) == 0
    assert make.count(Reminder) == 1
    run_jobs()
    (post,) = [r for r in slack_server.requests if "Nearly" in r.body["text"]]
    assert post.path == "/services/team"
    assert "Nearly an hour without an answer" in post.body["text"]
    assert f"/questions/{question}-recordings-stop-after-navigation|" in post.body["text"]
    assert "on duty: Ada Hero" in post.body["text"]
    reminded = [
        m for m in smtp_server.messages_to("ada@example.com") if m["Subject"].startswith("Nearly")
    ]
    assert [m["Subject"] for m in reminded] == [
        "Nearly an hour without an answer: Recordings stop after navigation"
    ]
    # The later question's turn comes ten minutes later.
    assert sweep(app, ASKED + timedelta(minutes=55)) == 2
    assert f"slack:hero-reminder:{fresh}:60" in reminder_jobs(make)


def test_an_answer_before_delivery_cancels_the_reminder(
    app, make, world, run_jobs, smtp_server, slack_server
):
    question = ask(make)
    sweep(app, ASKED + timedelta(minutes=45))
    make.reply(question, world["ada"])  # the team answers before the worker delivers
    run_jobs()
    assert not [r for r in slack_server.requests if "Nearly" in r.body["text"]]
    assert not [
        m for m in smtp_server.messages_to("ada@example.com") if m["Subject"].startswith("Nearly")
    ]
    with make.app.app_context():
        statuses = db.session.scalars(
            sa.select(Job.status).where(Job.dedupe_key.like("%hero-reminder%"))
        ).all()
    assert statuses == ["done", "done"]


def test_answered_resolved_removed_and_stale_questions_get_no_reminder(app, make, world):
    answered = ask(make)
    make.reply(answered, world["ada"])
    make.update(Question, answered, first_response_at=ASKED + timedelta(minutes=5))
    resolved = ask(make)
    make.update(Question, resolved, status="resolved")
    hidden = ask(make)
    make.update(Question, hidden, hidden_at=ASKED)
    ask(make, when=ASKED - timedelta(days=2))  # too late already: the badge says it
    assert sweep(app, ASKED + timedelta(minutes=50)) == 0
    assert make.count(Reminder) == 0


def test_the_claimer_is_reminded_too_and_a_question_of_no_team_goes_to_the_community(
    app, make, world
):
    claimed = ask(make)
    grace = make.user(name="Grace", email="grace@example.com", role=Role.TEAM)
    make.update(Question, claimed, assignee_id=grace)
    untopical = make.question(make.user())
    make.update(Question, untopical, published_at=ASKED, created_at=ASKED)
    sweep(app, ASKED + timedelta(minutes=45))
    assert reminder_jobs(make) == sorted(
        [
            f"email:hero-reminder:{claimed}:60:user:{world['ada']}",
            f"email:hero-reminder:{claimed}:60:user:{grace}",
            f"slack:hero-reminder:{claimed}:60",
            f"slack:hero-reminder:{untopical}:60",
        ]
    )


def test_with_working_hours_the_reminder_waits_for_the_team_to_be_at_work(app, make, world):
    make.update(
        Team,
        world["team"],
        timezone="Europe/Berlin",
        working_days="12345",
        work_starts_at=time(9),
        work_ends_at=time(17),
    )
    with app.app_context():
        runtime_settings.put(runtime_settings.RESPONSE_CLOCK_WORKING_HOURS, True, actor_id=None)
        db.session.commit()
    # Friday 16:30 in Berlin (15:30 UTC): 30 minutes count on Friday, the rest from Monday 09:00.
    question = ask(make, when=datetime(2026, 11, 27, 15, 30, tzinfo=UTC))
    assert sweep(app, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) == 0  # Saturday
    assert sweep(app, datetime(2026, 11, 30, 8, 14, tzinfo=UTC)) == 0  # Monday 09:14 in Berlin
    assert sweep(app, datetime(2026, 11, 30, 8, 15, tzinfo=UTC)) == 2  # 45 minutes counted
    assert f"slack:hero-reminder:{question}:60" in reminder_jobs(make)


def test_the_worker_sweeps_periodically_and_survives_a_failing_task(app, make, world):
    question = ask(make)
    worker = Worker(app, name="sweeper")
    calls = []

    @periodic("test.failing", every=timedelta(minutes=1))
    def failing(now: datetime) -> int:
        calls.append(now)
        raise RuntimeError("boom")

    try:
        assert worker.run_periodic(ASKED + timedelta(minutes=45)) == 2
        # Within the interval nothing runs again; after it, the sweep runs (and finds nothing).
        assert worker.run_periodic(ASKED + timedelta(minutes=45, seconds=30)) == 0
        assert worker.run_periodic(ASKED + timedelta(minutes=47)) == 0
        assert len(calls) == 2
        assert f"slack:hero-reminder:{question}:60" in reminder_jobs(make)
    finally:
        from community.jobs import registry

        registry._periodic.pop("test.failing")


def test_the_reminder_mark_is_a_runtime_setting(app, make, world):
    with app.app_context():
        runtime_settings.put(runtime_settings.RESPONSE_REMINDER_MINUTES, 30, actor_id=None)
        db.session.commit()
    ask(make)
    assert sweep(app, ASKED + timedelta(minutes=30)) == 2
