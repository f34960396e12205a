"""The hand-off: what is open for the team, grouped urgent, high, normal, low (oldest first),
with age, last activity and the Zendesk ticket; emailed to the next hero, who acknowledges it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from community import settings as runtime_settings
from community.accounts.models import Role, User
from community.extensions import db
from community.hero import handoffs, queries, services
from community.hero.models import Handoff
from community.jobs.models import Job
from community.moderation.models import AuditEvent
from community.questions.models import Question, Team, Topic
from community.zendesk.models import ZendeskTicket, ZendeskTopicPriority
from tests.conftest import mail_settings

ZENDESK = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_TOKEN": "t0k3n",
    "ZENDESK_TIMEOUT": 1,
}
DOC = "https://docs.example.com/docs/session-replay/"
ROW = re.compile(r'id="handoff-question-(\d+)"')


def this_monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


@pytest.fixture
def world(app, make):
    topic = make.topic()
    low_topic = make.topic(name="Billing", prefix="/docs/billing")
    with app.app_context():
        team = db.session.get(Topic, topic).team_id
        db.session.execute(sa.update(Topic).where(Topic.id == low_topic).values(team_id=team))
        db.session.add(ZendeskTopicPriority(topic_id=low_topic, priority="low"))
        db.session.commit()
    ada = make.user(name="Ada Hero", email="ada@example.com", role=Role.TEAM)
    grace = make.user(name="Grace Hero", email="grace@example.com", role=Role.TEAM)
    for ident in (ada, grace):
        make.update(User, ident, team_id=team)
    moderator = make.moderator(email="mod@example.com")
    with app.app_context():
        services.set_rotation(
            db.session.get(User, moderator),
            db.session.get(Team, team),
            ["ada@example.com", "grace@example.com"],
            this_monday(),
        )
        db.session.commit()
    return {"team": team, "ada": ada, "grace": grace, "moderator": moderator, "topic": topic}


def ask(make, subject: str, ago: timedelta, page: str = DOC + "x") -> int:
    question = make.question(make.user(name=f"Asker of {subject}"), subject=subject, page_url=page)
    moment = datetime.now(UTC) - ago
    make.update(Question, question, published_at=moment, created_at=moment, last_activity_at=moment)
    return question


def urgent(app, make, world, question: int) -> None:
    with app.app_context():
        services.set_urgent(
            db.session.get(User, world["moderator"]), db.session.get(Question, question), True
        )
        db.session.commit()


def groups(page: str) -> dict[str, list[int]]:
    found = {}
    for priority in ("urgent", "high", "normal", "low"):
        start = page.index(f'id="priority-{priority}"')
        end = page.find("</section>", start)
        found[priority] = [int(i) for i in ROW.findall(page[start:end])]
    return found


def test_the_handoff_groups_open_questions_by_priority_oldest_first(app, client, auth, make, world):
    old_normal = ask(make, "Old normal", timedelta(days=3))
    new_normal = ask(make, "New normal", timedelta(hours=2))
    low = ask(
        make, "About billing", timedelta(days=5), page="https://docs.example.com/docs/billing/x"
    )
    tagged = ask(make, "Tagged urgent", timedelta(hours=1))
    urgent(app, make, world, tagged)
    urgent_low = ask(
        make, "Urgent billing", timedelta(hours=3), page="https://docs.example.com/docs/billing/y"
    )
    urgent(app, make, world, urgent_low)
    resolved = ask(make, "Resolved already", timedelta(days=1))
    make.update(Question, resolved, status="resolved")
    ask(make, "Another team's", timedelta(days=1), page="https://docs.example.com/docs/elsewhere")
    auth.login_as(world["ada"])
    page = client.get(f"/moderation/teams/{world['team']}/handoff").get_data(as_text=True)
    assert groups(page) == {
        "urgent": [urgent_low, tagged],
        "high": [],
        "normal": [old_normal, new_normal],
        "low": [low],
    }
    assert "3 days ago" in page and "2 hours ago" in page  # age and last activity
    assert "Ada Hero hands over to <strong>Grace Hero</strong>" in page


@pytest.mark.parametrize("app_config", [ZENDESK])
def test_with_zendesk_the_tickets_priority_and_link_count(app, client, auth, make, world):
    high = ask(make, "High in Zendesk", timedelta(hours=5))
    plain = ask(make, "Plain", timedelta(hours=6))
    with app.app_context():
        db.session.execute(
            sa.update(ZendeskTicket)
            .where(ZendeskTicket.question_id == high)
            .values(
                ticket_id=4711,
                ticket_url="https://acme.zendesk.com/agent/tickets/4711",
                priority="high",
            )
        )
        db.session.commit()
    auth.login_as(world["ada"])
    page = client.get(f"/moderation/teams/{world['team']}/handoff").get_data(as_text=True)
    assert groups(page)["high"] == [high] and groups(page)["normal"] == [plain]
    assert 'href="https://acme.zendesk.com/agent/tickets/4711"' in page


def test_the_next_hero_gets_it_by_email_and_acknowledges_it(
    app, client, auth, make, world, smtp_server, run_jobs
):
    app.config.update(mail_settings(smtp_server))
    tagged = ask(make, "Tagged urgent", timedelta(hours=1))
    urgent(app, make, world, tagged)
    normal = ask(make, "Normal one", timedelta(days=2))
    auth.login_as(world["ada"])
    response = client.post(f"/moderation/teams/{world['team']}/handoff/send", follow_redirects=True)
    assert "Handed over" in response.get_data(as_text=True)
    again = client.post(f"/moderation/teams/{world['team']}/handoff/send", follow_redirects=True)
    assert "was sent already" in again.get_data(as_text=True)
    run_jobs()
    handed = [
        m for m in smtp_server.messages_to("grace@example.com") if "hero week" in m["Subject"]
    ]
    assert len(handed) == 1
    assert (
        handed[0]["Subject"]
        == "Your hero week for "
        + make.get(Team, world["team"]).name
        + ": 2 open questions handed over"
    )
    text = handed[0].get_body(("plain",)).get_content()
    assert "Ada Hero hands" in text
    assert text.index("URGENT (1)") < text.index("Tagged urgent") < text.index("NORMAL (1)")
    assert text.index("NORMAL (1)") < text.index("Normal one")
    assert f"/questions/{normal}-normal-one" in text and "asked 2 days ago" in text
    assert f"/moderation/teams/{world['team']}/handoff" in text
    with app.app_context():
        handoff = db.session.scalar(sa.select(Handoff))
        assert (handoff.from_user_id, handoff.to_user_id) == (world["ada"], world["grace"])
        handoff_id = handoff.id
    # Only Grace (or a moderator) acknowledges.
    assert client.post(f"/moderation/handoffs/{handoff_id}/acknowledge").status_code == 403
    auth.logout()
    auth.login_as(world["grace"])
    assert client.post(f"/moderation/handoffs/{handoff_id}/acknowledge").status_code == 302
    assert make.get(Handoff, handoff_id).acknowledged_by_id == world["grace"]
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like("handoff.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["handoff.send", "handoff.acknowledge"]


def test_the_sweep_hands_over_on_the_first_day_of_the_next_week_if_nobody_did(app, make, world):
    monday = this_monday()
    next_monday = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=UTC)

    def sweep(now: datetime) -> int:
        with app.app_context():
            queued = handoffs.sweep(now)
            db.session.commit()
            return queued

    assert sweep(next_monday - timedelta(hours=1)) == 0  # Sunday: the week is not over
    assert sweep(next_monday + timedelta(hours=1)) == 1
    assert sweep(next_monday + timedelta(hours=2)) == 0  # once
    assert sweep(next_monday + timedelta(days=1)) == 0  # and only on the first day
    with app.app_context():
        handoff = db.session.scalar(sa.select(Handoff))
        assert (handoff.week_starts_on, handoff.from_user_id, handoff.to_user_id) == (
            monday,
            world["ada"],
            world["grace"],
        )
        assert handoff.sent_by_id is None
        keys = db.session.scalars(
            sa.select(Job.dedupe_key).where(Job.dedupe_key.like("email:hero-handoff:%"))
        ).all()
    assert keys == [f"email:hero-handoff:{handoff.id}"]


def test_other_teams_and_members_cannot_see_or_send_it(app, client, auth, make, world):
    outsider = make.user(role=Role.TEAM)
    auth.login_as(outsider)
    assert client.get(f"/moderation/teams/{world['team']}/handoff").status_code == 403
    assert client.post(f"/moderation/teams/{world['team']}/handoff/send").status_code == 403
    assert make.count(Handoff) == 0
    auth.logout()
    auth.login_as(make.user())
    assert client.get(f"/moderation/teams/{world['team']}/handoff").status_code == 403


def test_only_moderators_tag_questions_urgent(app, client, auth, make, world):
    question = ask(make, "Needs attention", timedelta(hours=1))
    auth.login_as(world["ada"])
    assert client.post(f"/moderation/questions/{question}/urgent").status_code == 403
    auth.logout()
    auth.login_as(world["moderator"])
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert "Tag urgent" in page
    assert client.post(f"/moderation/questions/{question}/urgent").status_code == 302
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert '<span class="badge badge-tag">urgent</span>' in page and "Not urgent" in page
    client.post(f"/moderation/questions/{question}/not-urgent")
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.target_id == question, AuditEvent.target_type == "question"
            )
        ).all()
    assert actions == ["question.urgent", "question.not_urgent"]


def test_the_handoff_page_runs_a_fixed_number_of_queries(
    app, client, auth, make, world, count_queries
):
    auth.login_as(world["ada"])

    def count() -> int:
        with count_queries() as statements:
            assert client.get(f"/moderation/teams/{world['team']}/handoff").status_code == 200
        return len(statements)

    ask(make, "First", timedelta(hours=1))
    few = count()
    for n in range(5):
        question = ask(make, f"More {n}", timedelta(hours=n + 2))
        if n % 2:
            urgent(app, make, world, question)
    client.post(f"/moderation/teams/{world['team']}/handoff/send")
    assert count() == few
    # user; team; rotation (teams, members, overrides); hand-offs; open items; runtime settings
    assert few == 8


def test_the_handoffs_clocks_come_with_the_open_items_not_from_the_session(
    app, client, auth, make, world, count_queries, monkeypatch
):
    """Each item's response clock reads its topic's team (working hours, time zone). The view
    has loaded the page's team already; open_items must not lean on that."""
    with app.app_context():
        runtime_settings.put(runtime_settings.RESPONSE_CLOCK_WORKING_HOURS, True, actor_id=None)
        db.session.commit()
    make.topic(name="Flags", prefix="/docs/flags")  # another team's
    loaded = queries.open_items

    def open_items_on_a_session_without_teams(team_id: int) -> queries.OpenItems:
        for team in [o for o in db.session.identity_map.values() if isinstance(o, Team)]:
            db.session.expunge(team)
        return loaded(team_id)

    monkeypatch.setattr(queries, "open_items", open_items_on_a_session_without_teams)
    auth.login_as(world["ada"])

    def count() -> int:
        with count_queries() as statements:
            response = client.get(f"/moderation/teams/{world['team']}/handoff")
            assert response.status_code == 200
        assert 'title="Counting working hours only"' in response.get_data(as_text=True)
        return len(statements)

    ask(make, "First", timedelta(hours=1))
    few = count()
    for n in range(4):
        ask(make, f"Replay {n}", timedelta(hours=n + 2))
        ask(
            make,
            f"Billing {n}",
            timedelta(days=n + 1),
            page=f"https://docs.example.com/docs/billing/{n}",
        )
        ask(make, f"Flags {n}", timedelta(hours=n), page=f"https://docs.example.com/docs/flags/{n}")
        make.topic(name=f"Team topic {n}", prefix=f"/docs/more-{n}")
    page = client.get(f"/moderation/teams/{world['team']}/handoff").get_data(as_text=True)
    assert sum(map(len, groups(page).values())) == 9  # not the other team's flags
    assert count() == few == 8  # as above: the teams come in the open items' one query
