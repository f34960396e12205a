"""Answering well: the greeting, saved replies with placeholders, the "Feature request" action
(reply, tag, Zendesk tag, the feature-requests page) and follow-ups."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.extensions import db
from community.hero import answering
from community.hero.models import FeatureRequest, FollowUp, SavedReply
from community.jobs.models import Job
from community.moderation.models import AuditEvent
from community.questions.models import Question, QuestionTag, Reply, Topic
from tests.conftest import mail_settings
from tests.zendesk_server import FakeZendesk

DOC = "https://docs.example.com/docs/session-replay/install"
ISSUE = "https://github.com/acme/replay/issues/42"
ZENDESK = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_TOKEN": "t0k3n",
    "ZENDESK_TIMEOUT": 1,
}
COMPOSER = re.compile(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture
def world(app, make):
    topic = make.topic()
    other_topic = make.topic(name="Flags", prefix="/docs/flags")
    with app.app_context():
        team = db.session.get(Topic, topic).team_id
        other_team = db.session.get(Topic, other_topic).team_id
    hero = make.user(name="Hugo Hero", email="hugo@example.com", role=Role.TEAM)
    make.update(User, hero, team_id=team)
    outsider = make.user(name="Olga Other", role=Role.TEAM)
    make.update(User, outsider, team_id=other_team)
    asker = make.user(name="Ada Lovelace", email="ada@example.com")
    question = make.question(asker, subject="Recordings stop", page_url=DOC)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE pages SET title = 'Install replay' WHERE url = :url"), {"url": DOC}
        )
        db.session.commit()
    return {"team": team, "hero": hero, "outsider": outsider, "asker": asker, "question": question}


def composer(client, path: str) -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return html.unescape(COMPOSER.search(page).group(1)).lstrip("\r\n")


# -- the greeting and saved replies --------------------------------------------------------------


def test_team_members_start_replies_with_a_greeting(client, auth, make, world):
    path = f"/questions/{world['question']}"
    assert composer(client, path) == ""
    auth.login_as(make.user())
    assert composer(client, path) == ""
    auth.logout()
    auth.login_as(world["hero"])
    assert composer(client, path) == "Hey Ada, "
    # Not on their own question.
    own = make.question(world["hero"], subject="A hero asks")
    assert composer(client, f"/questions/{own}") == ""


def test_saved_replies_fill_in_the_asker_and_the_page(app, client, auth, make, world):
    auth.login_as(world["hero"])
    response = client.post(
        "/moderation/saved-replies",
        data={
            "title": "Self-hosted",
            "body": "for self-hosted deployments see the open-source support docs; "
            "you asked on {page} ({page_url}).",
            "scope": str(world["team"]),
        },
    )
    assert response.status_code == 302
    client.post(
        "/moderation/saved-replies",
        data={
            "title": "Thanks",
            "body": "Thanks {name}, {first_name}! {unknown} stays.",
            "scope": "personal",
        },
    )
    with app.app_context():
        team_reply, personal = db.session.scalars(
            sa.select(SavedReply.id).order_by(SavedReply.id)
        ).all()
        (added,) = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "saved_reply.add")
        ).all()
        assert (added.target_type, added.target_id) == ("team", world["team"])
    path = f"/questions/{world['question']}"
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    assert 'name="saved"' in page and "Self-hosted" in page
    assert composer(client, f"{path}?saved={team_reply}") == (
        "Hey Ada, for self-hosted deployments see the open-source support docs; you asked on "
        f"[Install replay]({DOC}) ({DOC})."
    )
    # A reply that names the asker gets no greeting before it.
    assert (
        composer(client, f"{path}?saved={personal}") == "Thanks Ada Lovelace, Ada! {unknown} stays."
    )
    assert composer(client, f"{path}?saved=999999") == "Hey Ada, "
    assert composer(client, f"{path}?saved=x") == "Hey Ada, "
    # Another team's member sees neither the team's reply nor the personal one.
    auth.logout()
    auth.login_as(world["outsider"])
    assert composer(client, f"{path}?saved={team_reply}") == "Hey Ada, "
    assert composer(client, f"{path}?saved={personal}") == "Hey Ada, "
    assert client.post(f"/moderation/saved-replies/{team_reply}/delete").status_code == 404
    forged = client.post(
        "/moderation/saved-replies", data={"title": "X", "body": "Y", "scope": str(world["team"])}
    )
    assert forged.status_code == 422  # not one of their choices
    auth.logout()
    auth.login_as(world["hero"])
    assert client.post(f"/moderation/saved-replies/{team_reply}/delete").status_code == 302
    assert make.count(SavedReply) == 1


def test_members_have_no_saved_replies(client, auth, make, world):
    auth.login_as(make.user())
    assert client.get("/moderation/saved-replies").status_code == 403


# -- feature requests -----------------------------------------------------------------------------


def test_feature_request_replies_tags_and_keeps_the_link(app, client, auth, make, world):
    auth.login_as(world["hero"])
    url = f"/moderation/questions/{world['question']}/feature-request"
    for wrong in (
        "https://gitlab.com/acme/replay/issues/42",
        "https://github.com/acme/replay/pull/4",
        "nonsense",
    ):
        response = client.post(url, data={"issue_url": wrong}, follow_redirects=True)
        assert "Paste the address of a GitHub issue" in response.get_data(as_text=True)
    assert make.count(FeatureRequest) == 0 and make.count(Reply) == 0
    page = client.post(url, data={"issue_url": ISSUE + "/"}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Linked" in page
    with app.app_context():
        (reply,) = db.session.scalars(sa.select(Reply)).all()
        assert reply.author_id == world["hero"]
        assert reply.body_source == (
            "Hey Ada, thanks for the suggestion! We track it as a feature request on GitHub: "
            f"{ISSUE}\n\nYou can follow progress there."
        )
        assert f'href="{ISSUE}"' in reply.body_html
        assert db.session.scalars(sa.select(QuestionTag.tag)).all() == ["feature_request"]
        assert db.session.scalars(sa.select(FeatureRequest.issue_url)).all() == [ISSUE]
        (event,) = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "question.feature_request")
        ).all()
        assert event.data["issue_url"] == ISSUE
    # The reply counts as the team's first response.
    assert make.get(Question, world["question"]).first_response_at is not None
    assert '<span class="badge badge-tag">feature_request</span>' in page
    again = client.post(url, data={"issue_url": ISSUE}, follow_redirects=True)
    assert "linked to that issue already" in again.get_data(as_text=True)
    assert make.count(Reply) == 1
    auth.logout()
    auth.login_as(make.user())
    assert client.post(url, data={"issue_url": ISSUE}).status_code == 403


@pytest.fixture
def zendesk(monkeypatch) -> Iterator[FakeZendesk]:
    fake = FakeZendesk().start()
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", fake.netloc)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    yield fake
    fake.stop()


@pytest.mark.parametrize("app_config", [ZENDESK])
def test_the_zendesk_ticket_is_tagged_feature_request(
    app, client, auth, make, world, zendesk, run_jobs
):
    run_jobs()  # the question's ticket
    (ticket,) = zendesk.tickets.values()
    assert "feature_request" not in ticket["tags"]
    auth.login_as(world["hero"])
    client.post(
        f"/moderation/questions/{world['question']}/feature-request", data={"issue_url": ISSUE}
    )
    run_jobs()
    assert "feature_request" in ticket["tags"]
    notes = [c["body"] for c in zendesk.comments[ticket["id"]]]
    assert any(n.startswith(f"Feature request: {ISSUE}") for n in notes)
    # A resync (or a ticket made later) carries the tag too.
    with app.app_context():
        from community.zendesk import handlers

        assert handlers._site_tags(world["question"]) == ["feature_request"]


def test_the_feature_requests_page_lists_issues_most_asked_first(app, client, auth, make, world):
    other_issue = "https://github.com/acme/flags/issues/7"
    second = make.question(make.user(name="Grace Hopper"), subject="Also want it", page_url=DOC)
    third = make.question(make.user(name="Linus Pauling"), subject="Flags wish")
    hidden = make.question(make.user(name="Hidden Asker"), subject="Hidden wish")
    with app.app_context():
        hero = db.session.get(User, world["hero"])
        for question_id, url in (
            (third, other_issue),
            (world["question"], ISSUE),
            (second, ISSUE),
            (hidden, other_issue),
        ):
            answering.link_feature_request(hero, db.session.get(Question, question_id), url)
        db.session.commit()
    make.update(Question, hidden, hidden_at=datetime.now(UTC))
    auth.login_as(world["hero"])
    page = client.get("/moderation/feature-requests").get_data(as_text=True)
    assert page.index("acme/replay#42") < page.index("acme/flags#7")
    first_row = page[page.index('id="issue-1"') : page.index('id="issue-2"')]
    assert "Recordings stop" in first_row and "Also want it" in first_row
    assert "Ada Lovelace" in first_row and "Grace Hopper" in first_row
    assert '<td class="asks">2</td>' in first_row
    second_row = page[page.index('id="issue-2"') :]
    assert '<td class="asks">1</td>' in second_row and "Hidden wish" not in page


# -- follow-ups -----------------------------------------------------------------------------------


def test_a_due_follow_up_tops_the_queue_and_emails_once(
    app, client, auth, make, world, smtp_server, run_jobs
):
    app.config.update(mail_settings(smtp_server))
    auth.login_as(world["hero"])
    today = datetime.now(UTC).date()
    response = client.post(
        f"/moderation/questions/{world['question']}/follow-up",
        data={"due_on": today.isoformat(), "note": "check the fix shipped"},
    )
    assert response.status_code == 302
    with app.app_context():
        follow_up = db.session.scalar(sa.select(FollowUp))
        # The team works 09:00-17:00 UTC: due at the start of that day.
        assert follow_up.due_at == datetime.combine(
            today, datetime.min.time(), tzinfo=UTC
        ) + timedelta(hours=9)
        follow_up_id = follow_up.id
    make.update(FollowUp, follow_up_id, due_at=datetime.now(UTC) - timedelta(minutes=1))
    queue = client.get("/moderation").get_data(as_text=True)
    assert queue.index("Your follow-ups due") < queue.index('id="queue-question-')
    assert f'id="follow-up-{world["question"]}"' in queue and "check the fix shipped" in queue
    assert "Your follow-ups due" in client.get("/moderation/my-team").get_data(as_text=True)

    def sweep(now: datetime) -> int:
        with app.app_context():
            queued = answering.sweep_follow_ups(now)
            db.session.commit()
            return queued

    assert sweep(datetime.now(UTC)) == 1
    assert sweep(datetime.now(UTC) + timedelta(minutes=5)) == 0
    run_jobs()
    (email,) = [
        m
        for m in smtp_server.messages_to("hugo@example.com")
        if m["Subject"].startswith("Follow up")
    ]
    assert email["Subject"] == "Follow up today: Recordings stop"
    assert "check the fix shipped" in email.get_body(("plain",)).get_content()
    # Replying on the thread keeps the promise: it leaves the queue.
    make.reply(world["question"], world["hero"])
    assert make.get(FollowUp, follow_up_id).done_at is not None
    assert "Your follow-ups due" not in client.get("/moderation").get_data(as_text=True)
    # A new date is reminded about again.
    client.post(
        f"/moderation/questions/{world['question']}/follow-up",
        data={"due_on": (today + timedelta(days=2)).isoformat()},
    )
    assert make.get(FollowUp, follow_up_id).reminded_at is None
    assert sweep(datetime.now(UTC) + timedelta(days=3)) == 1
    with app.app_context():
        keys = db.session.scalars(
            sa.select(Job.dedupe_key).where(Job.dedupe_key.like("email:hero-follow-up:%"))
        ).all()
    assert len(set(keys)) == 2


def test_follow_ups_are_for_team_members_and_can_be_marked_done(app, client, auth, make, world):
    auth.login_as(make.user())
    url = f"/moderation/questions/{world['question']}/follow-up"
    assert client.post(url, data={"due_on": "2030-01-01"}).status_code == 403
    auth.logout()
    auth.login_as(world["hero"])
    refused = client.post(url, data={"due_on": "2001-01-01"}, follow_redirects=True)
    assert "from today on" in refused.get_data(as_text=True)
    client.post(url, data={"due_on": "2030-01-01"})
    page = client.get(f"/questions/{world['question']}", follow_redirects=True).get_data(
        as_text=True
    )
    assert 'id="follow-up"' in page
    assert client.post(f"{url}/done").status_code == 302
    assert make.get(FollowUp, _only(app, FollowUp)).done_at is not None


def _only(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(model.id))


def test_the_thread_with_hero_tools_runs_a_fixed_number_of_queries(
    app, client, auth, make, world, count_queries
):
    auth.login_as(world["hero"])
    path = f"/questions/{world['question']}-recordings-stop"

    def count() -> int:
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    few = count()
    with app.app_context():
        hero = db.session.get(User, world["hero"])
        for n in range(3):
            answering.add_saved_reply(hero, f"Reply {n}", "Text", None)
        answering.link_feature_request(hero, db.session.get(Question, world["question"]), ISSUE)
        answering.link_feature_request(
            hero,
            db.session.get(Question, world["question"]),
            "https://github.com/acme/replay/issues/43",
        )
        db.session.commit()
    client.post(
        f"/moderation/questions/{world['question']}/follow-up", data={"due_on": "2030-01-01"}
    )
    assert count() == few
    # question, replies, user, following; runtime settings (the clock); tags, issues, follow-up;
    # saved replies
    assert few == 9
