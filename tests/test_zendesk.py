"""The Zendesk mirror, end to end: the real worker and zenpy against a fake Zendesk on
127.0.0.1 (tests/zendesk_server.py), reached through ZENPY_FORCE_NETLOC/ZENPY_FORCE_SCHEME.

Each scenario asserts the exact requests zenpy sends, and the fault tests that whatever fails
and however often the worker restarts, every question ends with exactly one ticket (plus a
linked follow-up where Zendesk closed one) in the right status.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.db import utcnow
from community.extensions import db
from community.jobs.models import Job, JobStatus
from community.moderation.models import AuditEvent
from community.questions import services as question_services
from community.questions.models import Question, Team, Topic
from community.zendesk import webhooks
from community.zendesk.models import ZendeskTeamGroup, ZendeskTicket, ZendeskTopicPriority
from tests.zendesk_server import FakeZendesk

ROOT = Path(__file__).resolve().parent.parent
DOC = "https://docs.example.com/docs/session-replay/setup"
SECRET = "whsec-test-signing-secret"
TOKEN = "t0k3n"
ZENDESK = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_TOKEN": TOKEN,
    "ZENDESK_WEBHOOK_SECRET": SECRET,
    "ZENDESK_TIMEOUT": 1,
}
TICKETS = "/api/v2/tickets.json"
KINDS = ("zendesk.create_ticket", "zendesk.update_ticket")


@pytest.fixture
def zendesk(monkeypatch) -> Iterator[FakeZendesk]:
    fake = FakeZendesk().start()
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", fake.netloc)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    yield fake
    fake.stop()


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(ZENDESK)


OFF: dict[str, Any] = {}


# -- helpers ------------------------------------------------------------------------------------


def ticket_path(ticket_id: int) -> str:
    return f"/api/v2/tickets/{ticket_id}.json"


def mirror(make, question_id: int) -> ZendeskTicket | None:
    with make.app.app_context():
        row = db.session.scalar(
            sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question_id)
        )
        if row is not None:
            db.session.expunge(row)
        return row


def zendesk_jobs(app, *where: Any) -> list[Job]:
    with app.app_context():
        found = list(
            db.session.scalars(sa.select(Job).where(Job.kind.in_(KINDS), *where).order_by(Job.id))
        )
        db.session.expunge_all()
        return found


def make_due(app) -> None:
    """Bring every waiting job forward to now, as if its backoff had passed."""
    with app.app_context():
        db.session.execute(
            sa.update(Job)
            .where(Job.status == JobStatus.PENDING)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def drain(app, run_jobs, rounds: int = 20) -> None:
    """Run the worker (a new one each time: a restart) until every job is done or dead."""
    for _ in range(rounds):
        run_jobs()
        if not zendesk_jobs(app, Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING])):
            return
        make_due(app)
    raise AssertionError("jobs still waiting after every round")


def puts(fake: FakeZendesk) -> list[dict[str, Any]]:
    return [r.body["ticket"] for r in fake.requests if r.method == "PUT"]


def note(body: dict[str, Any]) -> str:
    assert body["comment"]["public"] is False  # internal: the asker gets no Zendesk email
    return body["comment"]["body"]


def team_member(make, team_id: int | None = None) -> int:
    user = make.user(role=Role.TEAM)
    if team_id is not None:
        make.update(User, user, team_id=team_id)
    return user


def team_of(make, topic_id: int) -> Team:
    with make.app.app_context():
        topic = db.session.get(Topic, topic_id)
        team = db.session.get(Team, topic.team_id)
        db.session.expunge_all()
        return team


def slug_of(make, topic_id: int) -> str:
    return make.get(Topic, topic_id).slug


def thread_url(make, question_id: int) -> str:
    return f"http://localhost/questions/{question_id}-{make.get(Question, question_id).slug}"


def published_question(make, run_jobs, zendesk, **kwargs: Any) -> tuple[int, int]:
    """An asker and their question, whose ticket (101, 102, ...) exists already."""
    asker = make.user(name="Ann Asker")
    question = make.question(asker, **kwargs)
    run_jobs()
    assert mirror(make, question).ticket_id is not None
    zendesk.clear()
    return asker, question


# -- 1. a ticket per question --------------------------------------------------------------------


def test_a_published_question_makes_one_ticket_with_everything_agents_need(
    app, make, run_jobs, zendesk
):
    topic = make.topic()
    team = team_of(make, topic)
    with app.app_context():
        db.session.add(ZendeskTeamGroup(team_id=team.id, group_id=360001))
        db.session.add(ZendeskTopicPriority(topic_id=topic, priority="high"))
        db.session.commit()
    asker = make.user(name="Ann Asker", email="ann@example.com")
    question = make.question(
        asker, subject="Recordings stop after navigation", body="It **stops**.", page_url=DOC
    )
    assert zendesk.requests == []  # nothing inside the request
    run_jobs()

    assert zendesk.calls() == [("GET", TICKETS), ("POST", TICKETS)]
    lookup, create = zendesk.requests
    assert lookup.query == {"external_id": f"community-question-{question}", "page[size]": "100"}
    thread = f"http://localhost/questions/{question}-recordings-stop-after-navigation"
    assert create.body == {
        "ticket": {
            "external_id": f"community-question-{question}",
            "group_id": 360001,
            "priority": "high",
            "subject": "Recordings stop after navigation",
            "tags": ["community", slug_of(make, topic), team.slug],
            "comment": {
                "body": "Ann Asker asked on the community:\n\nIt **stops**.\n\n"
                f"Thread (answer there, not here): {thread}\n"
                f"Asked on the doc page: {DOC} ({DOC})",
                "public": False,
            },
            "requester": {"email": "ann@example.com", "name": "Ann Asker"},
        }
    }
    basic = base64.b64encode(f"bot@example.com/token:{TOKEN}".encode()).decode()
    for request in zendesk.requests:
        assert request.headers["authorization"] == f"Basic {basic}"
        assert request.headers["user-agent"].startswith("Zenpy/")
    assert create.headers["idempotency-key"].startswith(f"community-question-{question}-")
    assert "idempotency-key" not in lookup.headers

    row = mirror(make, question)
    assert (row.ticket_id, row.ticket_url) == (101, "https://acme.zendesk.com/agent/tickets/101")
    assert (row.status, row.priority, row.group_id) == ("new", "high", 360001)
    assert [j.status for j in zendesk_jobs(app)] == [JobStatus.DONE]


def test_a_question_without_topic_gets_the_defaults(app, make, run_jobs, zendesk):
    question = make.question(make.user(), body="No page, no topic.")
    run_jobs()
    ticket = zendesk.requests[-1].body["ticket"]
    assert ticket["tags"] == ["community"]
    assert ticket["priority"] == "normal"
    assert "group_id" not in ticket
    assert "Asked on the doc page" not in ticket["comment"]["body"]
    assert zendesk.tickets[101]["external_id"] == f"community-question-{question}"


def test_a_held_question_is_mirrored_only_once_published(app, make, run_jobs, zendesk):
    asker = make.user()
    make.update(User, asker, email_verified_at=None)
    question = make.question(asker)
    run_jobs()
    assert zendesk.requests == [] and mirror(make, question) is None
    with app.app_context():
        user = db.session.get(User, asker)
        user.email_verified_at = utcnow()
        question_services.publish_held_posts(user)
        db.session.commit()
    run_jobs()
    assert zendesk.calls() == [("GET", TICKETS), ("POST", TICKETS)]


# -- 2. replies, acceptance, withdrawal ----------------------------------------------------------


def test_replies_become_private_notes_and_set_the_status_as_an_agent_would(
    app, make, run_jobs, zendesk
):
    topic = make.topic()
    team = team_of(make, topic)
    asker, question = published_question(make, run_jobs, zendesk, page_url=DOC)
    helper = team_member(make, team.id)
    make.update(User, helper, name="Hero")
    member = make.user(name="Mo Member")

    staff_reply = make.reply(question, helper, body="Call `init()` once.")
    run_jobs()
    asker_reply = make.reply(question, asker, body="Still broken.")
    run_jobs()
    member_reply = make.reply(question, member, body="Same here.")
    run_jobs()

    assert zendesk.calls() == [("PUT", ticket_path(101))] * 3
    first, second, third = puts(zendesk)
    url = thread_url(make, question)
    assert first == {
        "id": 101,
        "status": "pending",
        "comment": {
            "body": f"Reply from Hero ({team.name} team):\n\nCall `init()` once.\n\n"
            f"{url}#reply-{staff_reply}\n(community update 1)",
            "public": False,
        },
    }
    assert second["status"] == "open"
    assert note(second).startswith("Reply from Ann Asker (the asker):\n\nStill broken.")
    assert f"#reply-{asker_reply}" in note(second)
    assert "status" not in third  # another member's reply changes nothing but the record
    assert note(third).startswith("Reply from Mo Member (community member):")
    assert f"#reply-{member_reply}" in note(third)
    assert zendesk.tickets[101]["status"] == "open"
    row = mirror(make, question)
    assert (row.sequence, row.applied_sequence, row.status) == (3, 2, "open")


def test_accept_solves_withdraw_reopens_and_the_asker_reopens_a_resolved_question(
    app, make, run_jobs, zendesk, client, auth
):
    asker, question = published_question(make, run_jobs, zendesk)
    moderator = make.moderator(name="Mia Mod")
    answer = make.reply(question, moderator, body="Use a release condition.")
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "pending"
    assert note(puts(zendesk)[-1]).startswith("Reply from Mia Mod (moderator):")

    make.accept(answer, asker)
    run_jobs()
    solved = puts(zendesk)[-1]
    assert solved["status"] == "solved"
    assert note(solved) == (
        "Answer accepted on the community: the reply from Mia Mod.\n"
        f"{thread_url(make, question)}#reply-{answer}\n"
        "(community update 2)"
    )

    auth.login_as(asker)
    assert client.post(f"/questions/{question}/withdraw-answer").status_code == 302
    run_jobs()
    reopened = puts(zendesk)[-1]
    assert reopened["status"] == "open"
    assert note(reopened).startswith("The accepted answer was withdrawn")

    make.accept(answer, asker)
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "solved"
    # Staff chatter on a resolved question leaves it solved; the asker's reply reopens it.
    make.reply(question, moderator, body="Glad it works.")
    run_jobs()
    assert "status" not in puts(zendesk)[-1]
    make.reply(question, asker, body="Actually, one more thing.")
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "open"
    assert [p.get("status") for p in puts(zendesk)] == [
        "pending",
        "solved",
        "open",
        "solved",
        None,
        "open",
    ]
    assert zendesk.calls() == [("PUT", ticket_path(101))] * 6
    assert zendesk.tickets[101]["status"] == "open"
    assert make.get(Question, question).status == "resolved"  # the site keeps its own state


def test_deleting_the_accepted_reply_reopens_the_ticket(app, make, run_jobs, zendesk):
    asker, question = published_question(make, run_jobs, zendesk)
    answer = make.reply(question, make.user())
    make.accept(answer, asker)
    run_jobs()
    moderator = make.moderator()
    with app.app_context():
        reply = db.session.get(question_services.Reply, answer)
        question_services.delete_reply(db.session.get(User, moderator), reply)
        db.session.commit()
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "open"


# -- 3. removal --------------------------------------------------------------------------------


def test_a_deleted_question_solves_its_ticket_with_a_tag(
    app, make, run_jobs, zendesk, client, auth
):
    asker, question = published_question(make, run_jobs, zendesk)
    auth.login_as(asker)
    assert client.post(f"/questions/{question}/delete").status_code == 302
    run_jobs()
    (body,) = puts(zendesk)
    assert body["status"] == "solved"
    assert body["additional_tags"] == ["community_deleted"]
    assert note(body).startswith("The question was deleted on the community.")
    assert zendesk.tickets[101]["tags"][-1] == "community_deleted"
    assert zendesk.tickets[101]["status"] == "solved"


def test_hiding_a_question_as_spam_solves_its_ticket_with_the_spam_tag(
    app, make, run_jobs, zendesk
):
    """Through the service the moderation feature calls."""
    _asker, question = published_question(make, run_jobs, zendesk)
    moderator = make.moderator()
    with app.app_context():
        with pytest.raises(question_services.NotAllowed):
            question_services.hide_question(
                db.session.get(User, make.user()), db.session.get(Question, question), "spam"
            )
        question_services.hide_question(
            db.session.get(User, moderator), db.session.get(Question, question), "spam"
        )
        db.session.commit()
    run_jobs()
    (body,) = puts(zendesk)
    assert (body["status"], body["additional_tags"]) == ("solved", ["community_spam"])
    assert note(body).startswith("The question was hidden as spam")


def test_moderators_restoring_or_resolving_a_question_updates_its_ticket(
    app, make, run_jobs, zendesk, client, auth
):
    _asker, question = published_question(make, run_jobs, zendesk)
    auth.login_as(make.moderator())
    client.post(f"/moderation/questions/{question}/hide", data={"reason": "spam"})
    run_jobs()
    client.post(f"/moderation/questions/{question}/unhide")
    run_jobs()
    restored = puts(zendesk)[-1]
    assert restored["status"] == "open"
    assert note(restored).startswith("A moderator restored the question on the community.")
    client.post(f"/moderation/questions/{question}/resolve")
    run_jobs()
    resolved = puts(zendesk)[-1]
    assert resolved["status"] == "solved"
    assert "marked the question resolved" in note(resolved)
    client.post(f"/moderation/questions/{question}/unresolve")
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "open"
    assert "needs an answer again" in note(puts(zendesk)[-1])
    # A resync after the restore no longer asks for the spam tag.
    assert mirror(make, question).desired_tag == ""


def test_lifting_a_ban_reopens_the_tickets_of_the_questions_it_hid(
    app, make, run_jobs, zendesk, client, auth
):
    asker, _question = published_question(make, run_jobs, zendesk)
    auth.login_as(make.moderator())
    client.post(f"/moderation/users/{asker}/ban", data={"reason": "spam run"})
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "solved"
    client.post(f"/moderation/users/{asker}/unban")
    run_jobs()
    assert puts(zendesk)[-1]["status"] == "open"
    assert zendesk.tickets[101]["status"] == "open"


def test_a_question_deleted_before_its_ticket_was_made_never_reaches_zendesk(
    app, make, run_jobs, zendesk
):
    asker = make.user()
    question = make.question(asker)
    with app.app_context():
        question_services.delete_question(
            db.session.get(User, asker), db.session.get(Question, question)
        )
        db.session.commit()
    run_jobs()
    assert zendesk.requests == []
    assert {j.status for j in zendesk_jobs(app)} == {JobStatus.DONE}


# -- 4. closed tickets ---------------------------------------------------------------------------


def test_a_closed_ticket_continues_in_a_linked_follow_up(app, make, run_jobs, zendesk):
    asker, question = published_question(make, run_jobs, zendesk)
    zendesk.close(101)
    make.reply(question, asker, body="It broke again.")
    run_jobs()

    assert zendesk.calls() == [("PUT", ticket_path(101)), ("GET", TICKETS), ("POST", TICKETS)]
    followup = zendesk.requests[-1].body["ticket"]
    assert followup["via_followup_source_id"] == 101
    assert followup["external_id"] == f"community-question-{question}"
    assert followup["status"] == "open"
    assert followup["comment"]["public"] is False
    assert followup["comment"]["body"].startswith(
        "Follow-up of ticket #101, which Zendesk has closed.\n\nReply from Ann Asker (the asker):"
    )
    row = mirror(make, question)
    assert (row.ticket_id, row.followup_source_id, row.status) == (102, 101, "open")

    # Further changes go to the follow-up; solving a closed ticket is already done.
    zendesk.clear()
    answer = make.reply(question, make.user())
    run_jobs()
    assert zendesk.calls() == [("PUT", ticket_path(102))]
    zendesk.close(102)
    make.accept(answer, asker)
    run_jobs()
    assert zendesk.calls()[-1] == ("PUT", ticket_path(102))
    assert len(zendesk.tickets) == 2
    assert mirror(make, question).status == "closed"
    assert {j.status for j in zendesk_jobs(app)} == {JobStatus.DONE}


# -- 5. order, retries, faults -------------------------------------------------------------------


def test_a_late_retry_never_overwrites_a_newer_status(app, make, run_jobs, zendesk):
    asker, question = published_question(make, run_jobs, zendesk)
    answer = make.reply(question, team_member(make))  # -> pending, update 1
    make.accept(answer, asker)  # -> solved, update 2
    zendesk.fail("PUT", ticket_path(101), status=500)
    run_jobs()  # the reply's update fails and waits; the acceptance goes through
    _create, first, second = zendesk_jobs(app)
    assert first.status == JobStatus.PENDING and "500" in first.last_error
    assert second.status == JobStatus.DONE
    assert zendesk.tickets[101]["status"] == "solved"

    make_due(app)
    run_jobs()
    # The retry first checks whether its note arrived after all, then sends the note alone.
    assert zendesk.calls()[-2:] == [
        ("GET", "/api/v2/tickets/101/comments.json"),
        ("PUT", ticket_path(101)),
    ]
    late = puts(zendesk)[-1]
    assert "status" not in late and "(community update 1)" in note(late)
    assert zendesk.tickets[101]["status"] == "solved"
    assert [c["body"].splitlines()[-1] for c in zendesk.comments[101][1:]] == [
        "(community update 2)",
        "(community update 1)",
    ]


def test_a_note_that_arrived_before_a_timeout_is_not_sent_twice(app, make, run_jobs, zendesk):
    _asker, question = published_question(make, run_jobs, zendesk)
    make.reply(question, make.user())
    zendesk.hang("PUT", ticket_path(101), 1.5)  # past the 1 s timeout, then applied
    run_jobs()
    assert zendesk_jobs(app)[-1].status == JobStatus.PENDING
    time.sleep(0.7)  # let the fake finish the update it was holding
    make_due(app)
    run_jobs()
    assert zendesk.calls() == [
        ("PUT", ticket_path(101)),
        ("GET", "/api/v2/tickets/101/comments.json"),
    ]
    assert len(zendesk.comments[101]) == 2  # the description and one note
    assert zendesk_jobs(app)[-1].status == JobStatus.DONE


def test_a_create_that_timed_out_is_found_by_external_id_not_made_twice(
    app, make, run_jobs, zendesk
):
    question = make.question(make.user())
    zendesk.hang("POST", TICKETS, 3.0)
    started = time.monotonic()
    run_jobs()
    # The client gave up at its 1 s timeout, well before the fake answered at 3 s (a wide
    # margin: this machine is shared, and the point is "did not wait", not a speed).
    assert time.monotonic() - started < 2.6
    (job,) = zendesk_jobs(app)
    assert job.status == JobStatus.PENDING and "timed out" in job.last_error
    zendesk.wait_idle()  # the fake creates the ticket anyway
    make_due(app)
    run_jobs()
    assert zendesk.calls() == [("GET", TICKETS), ("POST", TICKETS), ("GET", TICKETS)]
    assert list(zendesk.tickets) == [101]
    assert mirror(make, question).ticket_id == 101


def test_a_retry_while_the_first_create_is_still_running_replays_it(app, make, run_jobs, zendesk):
    """The lookup cannot see a ticket still being made; the Idempotency-Key can."""
    question = make.question(make.user())
    zendesk.hang("POST", TICKETS, 1.8)
    run_jobs()
    make_due(app)
    run_jobs()  # at once: the first POST is still held by the fake
    first, second = [r for r in zendesk.requests if r.method == "POST"]
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    assert list(zendesk.tickets) == [101]
    assert mirror(make, question).ticket_id == 101


def test_429_reschedules_at_retry_after_without_sleeping(app, make, run_jobs, zendesk, monkeypatch):
    import zenpy.lib.api

    sleeps: list[float] = []
    monkeypatch.setattr(zenpy.lib.api, "sleep", sleeps.append)  # zenpy's own Retry-After wait
    monkeypatch.setattr(time, "sleep", sleeps.append)
    make.question(make.user())
    zendesk.fail("POST", TICKETS, status=429, headers={"Retry-After": "120"})
    before = utcnow()
    run_jobs()
    assert max(sleeps, default=0) < 1  # neither zenpy nor the worker waits for Retry-After
    assert zendesk.calls() == [("GET", TICKETS), ("POST", TICKETS)]  # and no second POST
    (job,) = zendesk_jobs(app)
    assert job.status == JobStatus.PENDING and job.attempts == 1
    assert "429" in job.last_error
    assert job.run_after >= before + timedelta(seconds=120)
    assert run_jobs() == 0  # not due before Retry-After


def test_401_kills_the_job_and_shows_the_credentials_banner_to_moderators(
    app, make, run_jobs, zendesk, client, auth, runner
):
    zendesk.reject_credentials = True
    question = make.question(make.user())
    run_jobs()
    (job,) = zendesk_jobs(app)
    assert job.status == JobStatus.DEAD and job.attempts == 1
    assert job.last_error.startswith("CredentialsRejected: Zendesk credentials rejected (401)")
    assert len(zendesk.requests) == 1  # not retried

    auth.login_as(make.moderator())
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert "Zendesk credentials rejected" in page
    assert "Zendesk credentials rejected" in client.get("/moderation").get_data(as_text=True)
    auth.logout()
    auth.login_as(team_member(make))
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert "Zendesk ticket" in page and "credentials rejected" not in page
    auth.logout()
    auth.login_as(make.user(role=Role.ADMIN))
    assert "Zendesk credentials rejected" in client.get("/admin/zendesk").get_data(as_text=True)

    zendesk.reject_credentials = False  # the token was fixed
    assert runner.invoke(args=["jobs", "retry", "--all-failed"]).exit_code == 0
    run_jobs()
    assert "credentials rejected" not in client.get("/admin/zendesk").get_data(as_text=True)
    assert mirror(make, question).ticket_id == 101


@pytest.mark.parametrize("status", [400, 422])
def test_other_refusals_are_dead_at_once_with_zendesks_reason(app, make, run_jobs, zendesk, status):
    make.question(make.user())
    zendesk.fail(
        "POST", TICKETS, status=status, body={"error": "RecordInvalid", "description": "nope"}
    )
    run_jobs()
    (job,) = zendesk_jobs(app)
    assert job.status == JobStatus.DEAD
    assert f"Zendesk answered {status}" in job.last_error and "nope" in job.last_error


def test_faults_and_restarts_end_with_one_ticket_per_question_in_the_right_status(
    app, make, run_jobs, zendesk
):
    asker = make.user(name="Ann Asker")
    helper = team_member(make)
    questions = [make.question(asker) for _ in range(3)]
    zendesk.fail("GET", TICKETS, status=500)  # the first question's lookup
    zendesk.fail("POST", TICKETS, status=503)  # the second's create
    run_jobs()
    assert list(zendesk.tickets) == [101]  # the third question's
    # Their retries meet a rate limit and a create that times out (but happens).
    zendesk.fail("POST", TICKETS, status=429, headers={"Retry-After": "1"})
    zendesk.hang("POST", TICKETS, 1.3)
    # Meanwhile the threads go on: replies, an answer, a withdrawal, a deletion.
    answers = [make.reply(q, helper) for q in questions]
    make.accept(answers[0], asker)
    make.accept(answers[1], asker)
    with app.app_context():
        question_services.withdraw_answer(
            db.session.get(User, asker), db.session.get(Question, questions[1])
        )
        question_services.delete_question(
            db.session.get(User, asker), db.session.get(Question, questions[2])
        )
        db.session.commit()
    zendesk.fail("PUT", None, status=502, times=2)
    zendesk.fail("PUT", None, status=429, headers={"Retry-After": "1"})
    drain(app, run_jobs)
    zendesk.wait_idle()

    expected = {questions[0]: "solved", questions[1]: "open", questions[2]: "solved"}
    for question, status in expected.items():
        (ticket,) = zendesk.with_external_id(f"community-question-{question}")
        assert ticket["status"] == status, question
        assert mirror(make, question).ticket_id == ticket["id"]
    assert len(zendesk.tickets) == 3
    assert (
        "community_deleted"
        in zendesk.with_external_id(f"community-question-{questions[2]}")[0]["tags"]
    )
    for ticket_id, comments in zendesk.comments.items():
        markers = [c["body"].splitlines()[-1] for c in comments[1:]]
        assert len(markers) == len(set(markers)), (ticket_id, markers)  # no note twice
    assert {j.status for j in zendesk_jobs(app)} == {JobStatus.DONE}


@pytest.fixture
def start_worker(app, database_url, zendesk, tmp_path) -> Iterator[Callable[[], Any]]:
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "COMMUNITY_SQLALCHEMY_DATABASE_URI": database_url,
        "COMMUNITY_SECRET_KEY": secrets.token_hex(24),
        "COMMUNITY_BASE_URL": "http://localhost",
        "COMMUNITY_JOBS_LEASE_SECONDS": "2",
        "COMMUNITY_ZENDESK_SUBDOMAIN": "acme",
        "COMMUNITY_ZENDESK_EMAIL": "bot@example.com",
        "COMMUNITY_ZENDESK_TOKEN": TOKEN,
        "COMMUNITY_ZENDESK_TIMEOUT": "10",
        "ZENPY_FORCE_NETLOC": zendesk.netloc,
        "ZENPY_FORCE_SCHEME": "http",
    }

    def start() -> subprocess.Popen[bytes]:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "community",
                    "jobs",
                    "run",
                    "--poll-interval",
                    "0.1",
                ],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait_until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
    return value


def test_a_worker_killed_mid_create_leaves_exactly_one_ticket(app, make, zendesk, start_worker):
    question = make.question(make.user())
    zendesk.hang("POST", TICKETS, 1.0)  # the worker is killed while Zendesk creates it
    first = start_worker()
    _wait_until(lambda: ("POST", TICKETS) in zendesk.calls())
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    zendesk.wait_idle()
    assert list(zendesk.tickets) == [101]
    assert mirror(make, question).ticket_id is None  # its answer never reached the database

    second = start_worker()
    _wait_until(lambda: (m := mirror(make, question)) is not None and m.ticket_id)
    second.send_signal(signal.SIGTERM)
    assert second.wait(10) == 0
    assert zendesk.calls() == [("GET", TICKETS), ("POST", TICKETS), ("GET", TICKETS)]
    assert list(zendesk.tickets) == [101]
    assert mirror(make, question).ticket_id == 101
    assert [j.status for j in zendesk_jobs(app)] == [JobStatus.DONE]


# -- 6. off, partial, admin page, resync, CLI ------------------------------------------------------


@pytest.mark.parametrize("app_config", [OFF])
def test_with_zendesk_off_nothing_is_queued_or_sent(
    app, make, run_jobs, zendesk, client, auth, runner
):
    asker = make.user()
    question = make.question(asker)
    answer = make.reply(question, make.moderator())
    make.accept(answer, asker)
    with app.app_context():
        question_services.delete_question(
            db.session.get(User, asker), db.session.get(Question, question)
        )
        db.session.commit()
    run_jobs()
    assert zendesk.requests == []
    assert zendesk_jobs(app) == []
    assert make.count(ZendeskTicket) == 0
    other = make.question(asker)
    auth.login_as(make.moderator())
    page = client.get(f"/questions/{other}", follow_redirects=True).get_data(as_text=True)
    assert "Zendesk" not in page
    result = runner.invoke(args=["zendesk", "backfill"])
    assert result.exit_code != 0 and "not configured" in result.output


@pytest.mark.parametrize("app_config", [{**ZENDESK, "ZENDESK_TOKEN": None}])
def test_a_half_configured_zendesk_refuses_to_start(app_config, database_url):
    from community import create_app
    from community.config import ConfigError
    from tests.conftest import base_config

    with pytest.raises(ConfigError, match="ZENDESK_TOKEN"):
        create_app(base_config(database_url, **app_config))


def test_the_ticket_is_shown_to_staff_only_and_moderators_can_resync(
    app, make, run_jobs, zendesk, client, auth
):
    asker, question = published_question(make, run_jobs, zendesk)
    url = f"/questions/{question}"

    def page() -> str:
        return client.get(url, follow_redirects=True).get_data(as_text=True)

    assert "Zendesk" not in page()  # anonymous
    auth.login_as(asker)
    assert "Zendesk" not in page()
    auth.logout()
    auth.login_as(team_member(make))
    shown = page()
    assert "https://acme.zendesk.com/agent/tickets/101" in shown and "#101" in shown
    assert "Resync with Zendesk" not in shown
    assert client.post(f"{url}/zendesk/resync").status_code == 403
    auth.logout()

    moderator = make.moderator()
    auth.login_as(moderator)
    assert "Resync with Zendesk" in page()
    make.update(ZendeskTicket, mirror(make, question).id, desired_status="pending")
    response = client.post(f"{url}/zendesk/resync")
    assert response.status_code == 302
    run_jobs()
    assert puts(zendesk) == [{"id": 101, "status": "pending"}]
    assert make.count(AuditEvent, AuditEvent.action == "zendesk.resync") == 1
    assert client.post("/questions/999999/zendesk/resync").status_code == 404


def test_the_webhooks_status_priority_and_assignee_are_shown(
    app, make, run_jobs, zendesk, client, auth
):
    _asker, question = published_question(make, run_jobs, zendesk)
    response = send_webhook(
        client,
        {
            "ticket_id": "101",
            "status": "Solved",
            "priority": "High",
            "assignee_id": "555",
            "assignee_name": "Agent Smith",
            "group_id": "360001",
        },
    )
    assert response.status_code == 200 and response.json == {"status": "updated"}
    row = mirror(make, question)
    assert (row.status, row.priority, row.assignee_id, row.assignee_name, row.group_id) == (
        "solved",
        "high",
        555,
        "Agent Smith",
        360001,
    )
    assert make.get(Question, question).status == "unanswered"  # shown, not resolved
    auth.login_as(make.moderator())
    shown = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert "solved" in shown and "high priority" in shown and "Agent Smith" in shown


def test_admins_route_teams_to_groups_and_set_topic_priorities(
    app, make, run_jobs, zendesk, client, auth
):
    topic = make.topic()
    team = team_of(make, topic)
    assert client.get("/admin/zendesk").status_code == 302  # to sign in
    for role in (Role.MEMBER, Role.TEAM, Role.MODERATOR):
        auth.login_as(make.user(role=role))
        assert client.get("/admin/zendesk").status_code == 403, role
        response = client.post("/admin/zendesk", data={f"team_{team.id}": "42"})
        assert response.status_code == 403, role
        auth.logout()
    assert make.count(ZendeskTeamGroup) == 0

    auth.login_as(make.user(role=Role.ADMIN))
    page = client.get("/admin/zendesk").get_data(as_text=True)
    assert "http://localhost/webhooks/zendesk" in page and team.name in page
    bad = client.post("/admin/zendesk", data={f"team_{team.id}": "-3"})
    assert bad.status_code == 422
    saved = client.post(
        "/admin/zendesk", data={f"team_{team.id}": "360099", f"topic_{topic}": "urgent"}
    )
    assert saved.status_code == 302
    assert make.get(ZendeskTeamGroup, team.id).group_id == 360099
    assert make.get(ZendeskTopicPriority, topic).priority == "urgent"
    assert make.count(AuditEvent, AuditEvent.action.like("zendesk.%")) == 2

    make.question(make.user(), page_url=DOC)
    run_jobs()
    ticket = zendesk.requests[-1].body["ticket"]
    assert (ticket["group_id"], ticket["priority"]) == (360099, "urgent")

    cleared = client.post("/admin/zendesk", data={f"team_{team.id}": "", f"topic_{topic}": ""})
    assert cleared.status_code == 302
    assert make.count(ZendeskTeamGroup) == 0 and make.count(ZendeskTopicPriority) == 0


def test_backfill_queues_tickets_for_questions_without_one(app, make, run_jobs, zendesk, runner):
    asker = make.user()
    older = [make.question(asker) for _ in range(2)]
    answer = make.reply(older[1], make.user())
    make.accept(answer, asker)
    with app.app_context():  # as if asked before the mirror was switched on
        db.session.execute(sa.delete(Job).where(Job.kind.in_(KINDS)))
        db.session.execute(sa.delete(ZendeskTicket))
        db.session.commit()

    result = runner.invoke(args=["zendesk", "backfill"])
    assert result.exit_code == 0, result.output
    assert "Queued 2 ticket(s)" in result.output
    assert runner.invoke(args=["zendesk", "backfill"]).output.count("Queued 0 ticket(s)") == 1
    run_jobs()
    posts = [r.body["ticket"] for r in zendesk.requests if r.method == "POST"]
    assert [p["external_id"] for p in posts] == [f"community-question-{q}" for q in older]
    assert "status" not in posts[0] and posts[1]["status"] == "solved"
    assert "Queued 0 ticket(s)" in runner.invoke(args=["zendesk", "backfill"]).output

    zendesk.clear()
    make.update(ZendeskTicket, mirror(make, older[0]).id, desired_status="open")
    result = runner.invoke(args=["zendesk", "resync", str(older[0])])
    assert result.exit_code == 0 and "Queued a resync" in result.output
    run_jobs()
    assert puts(zendesk) == [{"id": 101, "status": "open"}]
    assert runner.invoke(args=["zendesk", "resync", "999999"]).exit_code != 0


# -- 7. the webhook ------------------------------------------------------------------------------


def stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def send_webhook(
    client,
    payload: Any,
    *,
    timestamp: str | None = None,
    secret: str = SECRET,
    signature: str | None = None,
    content_type: str = "application/json",
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = timestamp or stamp()
    return client.post(
        "/webhooks/zendesk",
        data=body,
        headers={
            "Content-Type": content_type,
            webhooks.TIMESTAMP_HEADER: timestamp,
            webhooks.SIGNATURE_HEADER: signature or webhooks.sign(secret, timestamp, body),
        },
    )


def test_signatures_follow_zendesks_recipe():
    """base64(HMAC-SHA256(secret, timestamp + body)), computed here independently."""
    import hashlib
    import hmac

    body, timestamp = b'{"say": "hello"}', "2026-07-25T10:00:00Z"
    digest = hmac.new(b"s3cret", b"2026-07-25T10:00:00Z" + body, hashlib.sha256).digest()
    assert webhooks.sign("s3cret", timestamp, body) == base64.b64encode(digest).decode()
    assert webhooks.sign("s3cret", timestamp, body) != webhooks.sign("s3cret", "x", body)


def _refused(response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == status


def test_webhook_refusals_change_nothing(app, make, run_jobs, zendesk, client):
    _asker, question = published_question(make, run_jobs, zendesk)
    payload = {"ticket_id": "101", "status": "solved"}

    _refused(send_webhook(client, payload, secret="wrong-secret"), 401)
    body = json.dumps(payload).encode()
    forged = webhooks.sign(SECRET, stamp(), json.dumps({"ticket_id": "101"}).encode())
    _refused(send_webhook(client, body, signature=forged), 401)  # signed for another body
    old = stamp(datetime.now(UTC) - timedelta(minutes=6))
    _refused(send_webhook(client, payload, timestamp=old), 401)
    ahead = stamp(datetime.now(UTC) + timedelta(minutes=6))
    _refused(send_webhook(client, payload, timestamp=ahead), 401)
    _refused(send_webhook(client, payload, content_type="text/plain"), 415)
    _refused(send_webhook(client, payload, content_type="application/x-www-form-urlencoded"), 415)
    _refused(send_webhook(client, b"not json"), 400)
    _refused(client.post("/webhooks/zendesk", json=payload), 401)  # unsigned
    assert mirror(make, question).status == "new"

    timestamp = stamp()
    signature = webhooks.sign(SECRET, timestamp, body)
    first = send_webhook(client, body, timestamp=timestamp, signature=signature)
    assert first.status_code == 200
    _refused(send_webhook(client, body, timestamp=timestamp, signature=signature), 409)
    assert mirror(make, question).status == "solved"


def test_webhook_ignores_other_tickets_and_late_deliveries(app, make, run_jobs, zendesk, client):
    _asker, question = published_question(make, run_jobs, zendesk)
    assert send_webhook(client, {"ticket_id": "999"}).json == {"status": "ignored"}
    now = datetime.now(UTC)
    newer = send_webhook(client, {"ticket_id": 101, "status": "pending"}, timestamp=stamp(now))
    assert newer.json == {"status": "updated"}
    late = send_webhook(
        client, {"ticket_id": 101, "status": "open"}, timestamp=stamp(now - timedelta(minutes=1))
    )
    assert late.status_code == 200 and late.json == {"status": "stale"}
    assert mirror(make, question).status == "pending"


@pytest.mark.parametrize("app_config", [{**ZENDESK, "ZENDESK_WEBHOOK_SECRET": None}])
def test_webhook_without_a_secret_is_not_there(client):
    _refused(send_webhook(client, {"ticket_id": 101}), 404)
