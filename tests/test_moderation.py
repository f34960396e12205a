"""The moderation dashboard: queues, thread controls, restore and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.extensions import db
from community.moderation import flags, queries
from community.moderation.models import AuditEvent
from community.questions.models import Question, Reply, Team, Topic
from community.zendesk.models import ZendeskTicket

DOC = "https://docs.example.com/docs/session-replay/setup"
ZENDESK = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_TOKEN": "t0k3n",
    "ZENDESK_TIMEOUT": 1,
}
ROW = re.compile(r'id="queue-question-(\d+)"')


def flag(make, reporter_id: int, model: type, post_id: int, reason: str, note: str = "") -> None:
    with make.app.app_context():
        flags.flag(db.session.get(User, reporter_id), db.session.get(model, post_id), reason, note)
        db.session.commit()


def delete_reply(make, reply_id: int) -> None:
    """As its author does, through the service (which keeps the question's response times)."""
    from community.questions import services as question_services

    with make.app.app_context():
        reply = db.session.get(Reply, reply_id)
        question_services.delete_reply(db.session.get(User, reply.author_id), reply)
        db.session.commit()


def queue_ids(client, queue: str, **args: Any) -> list[int]:
    response = client.get("/moderation", query_string={"queue": queue, **args})
    assert response.status_code == 200, response.status_code
    return [int(i) for i in ROW.findall(response.get_data(as_text=True))]


def unverified(make) -> int:
    ident = make.user()
    make.update(User, ident, email_verified_at=None)
    return ident


def audit_rows(make, question_id: int) -> list[AuditEvent]:
    with make.app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.target_type == "question", AuditEvent.target_id == question_id)
            .order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


@pytest.fixture
def moderator(auth, make) -> int:
    ident = make.moderator()
    auth.login_as(ident)
    return ident


# -- queue membership ---------------------------------------------------------------------------


def test_needs_first_response(client, make, moderator):
    asker, member, staff = make.user(), make.user(), make.user(role=Role.TEAM)
    untouched = make.question(asker)
    member_only = make.question(asker)
    make.reply(member_only, member)
    own_follow_up = make.question(asker)
    make.reply(own_follow_up, asker)
    team_answered = make.question(asker)
    make.reply(team_answered, staff)
    moderator_answered = make.question(asker)
    make.reply(moderator_answered, moderator)
    staff_reply_deleted = make.question(asker)
    delete_reply(make, make.reply(staff_reply_deleted, staff))
    staff_reply_held = make.question(asker)
    make.update(User, staff, email_verified_at=None)
    make.reply(staff_reply_held, staff)  # held: not a response the asker can see
    make.update(User, staff, email_verified_at=datetime.now(UTC))
    held = make.question(unverified(make))
    hidden = make.question(asker)
    make.update(Question, hidden, hidden_at=datetime.now(UTC))
    deleted = make.question(asker)
    make.update(Question, deleted, deleted_at=datetime.now(UTC))
    resolved_by_member = make.question(asker)
    make.accept(make.reply(resolved_by_member, member), asker)

    ids = queue_ids(client, "first-response")
    assert ids == [untouched, member_only, own_follow_up, staff_reply_deleted, staff_reply_held]
    assert {team_answered, moderator_answered, held, hidden, deleted} & set(ids) == set()
    assert queue_ids(client, "") == ids  # the default queue


def test_waiting_on_us(client, make, moderator):
    asker, member, staff = make.user(), make.user(), make.user(role=Role.TEAM)
    asker_wrote_last = make.question(asker)
    make.reply(asker_wrote_last, staff)
    make.reply(asker_wrote_last, asker)
    member_wrote_last = make.question(asker)
    make.reply(member_wrote_last, moderator)
    make.reply(member_wrote_last, member)
    staff_wrote_last = make.question(asker)
    make.reply(staff_wrote_last, asker)
    make.reply(staff_wrote_last, staff)
    never_staff = make.question(asker)
    make.reply(never_staff, member)
    make.reply(never_staff, asker)
    follow_up_deleted = make.question(asker)
    make.reply(follow_up_deleted, staff)
    delete_reply(make, make.reply(follow_up_deleted, asker))
    resolved = make.question(asker)
    answer = make.reply(resolved, staff)
    make.accept(answer, asker)
    make.reply(resolved, asker, body="Thanks!")
    hidden = make.question(asker)
    make.reply(hidden, staff)
    make.reply(hidden, asker)
    make.update(Question, hidden, hidden_at=datetime.now(UTC))

    assert queue_ids(client, "waiting") == [asker_wrote_last, member_wrote_last]


def test_unresolved(client, make, moderator):
    asker, member = make.user(), make.user()
    answered = make.question(asker)
    make.reply(answered, member)
    unanswered = make.question(asker)
    make.reply(unanswered, asker)
    accepted = make.question(asker)
    make.accept(make.reply(accepted, member), asker)
    marked = make.question(asker)
    make.reply(marked, member)
    client.post(f"/moderation/questions/{marked}/resolve")
    deleted = make.question(asker)
    make.reply(deleted, member)
    make.update(Question, deleted, deleted_at=datetime.now(UTC))

    assert queue_ids(client, "unresolved") == [answered]


def test_pending_lists_held_questions_only(client, make, moderator):
    newcomer = unverified(make)
    held = make.question(newcomer)
    held_deleted = make.question(newcomer)
    make.update(Question, held_deleted, deleted_at=datetime.now(UTC))
    held_hidden = make.question(newcomer)
    make.update(Question, held_hidden, hidden_at=datetime.now(UTC))
    make.question(make.user())

    assert queue_ids(client, "pending") == [held]


def test_hidden_and_deleted_with_restore(client, make, moderator):
    asker = make.user()
    public = make.question(asker)
    hidden = make.question(asker)
    deleted = make.question(asker)
    client.post(f"/moderation/questions/{hidden}/hide", data={"reason": "off-topic"})
    client.post(f"/moderation/questions/{deleted}/delete")
    assert queue_ids(client, "removed") == [hidden, deleted]
    assert public not in queue_ids(client, "removed")

    page = client.get("/moderation?queue=removed").get_data(as_text=True)
    assert f"/moderation/questions/{hidden}/unhide" in page
    assert f"/moderation/questions/{deleted}/undelete" in page
    response = client.post(
        f"/moderation/questions/{hidden}/unhide", data={"next": "/moderation?queue=removed"}
    )
    assert response.location == "/moderation?queue=removed"
    client.post(f"/moderation/questions/{deleted}/undelete")
    assert queue_ids(client, "removed") == []
    assert queue_ids(client, "first-response") == [public, hidden, deleted]


def test_unknown_queue_is_not_found(client, moderator):
    assert client.get("/moderation?queue=flags").status_code == 404


# -- order, details, filters, pagination --------------------------------------------------------


def _set_priority(make, question_id: int, priority: str | None, **more: Any) -> None:
    with make.app.app_context():
        db.session.execute(
            sa.update(ZendeskTicket)
            .where(ZendeskTicket.question_id == question_id)
            .values(priority=priority, **more)
        )
        db.session.commit()


@pytest.mark.parametrize("app_config", [ZENDESK])
def test_queues_order_by_zendesk_priority_then_age(client, make, moderator):
    asker = make.user()
    low, high_old, no_row, normal, none, high_new, urgent = (make.question(asker) for _ in range(7))
    _set_priority(make, low, "low")
    _set_priority(make, high_old, "high")
    with make.app.app_context():
        db.session.execute(sa.delete(ZendeskTicket).where(ZendeskTicket.question_id == no_row))
        db.session.commit()
    _set_priority(make, normal, "normal", ticket_id=4242, ticket_url="https://acme.test/t/4242")
    _set_priority(make, none, None)
    _set_priority(make, high_new, "high", status="open")
    _set_priority(make, urgent, "urgent")

    ids = queue_ids(client, "first-response")
    assert ids == [urgent, high_old, high_new, normal, low, no_row, none]
    page = client.get("/moderation").get_data(as_text=True)
    assert 'href="https://acme.test/t/4242"' in page
    assert "Zendesk #4242" in page
    assert ">open<" in page


def test_without_zendesk_the_order_is_by_age_only(client, make, moderator):
    asker = make.user()
    older, newer = make.question(asker), make.question(asker)
    with make.app.app_context():  # a row left from when the mirror was on
        db.session.add(ZendeskTicket(question_id=newer, priority="high", ticket_id=7))
        db.session.commit()
    assert queue_ids(client, "first-response") == [older, newer]
    assert "Zendesk #7" not in client.get("/moderation").get_data(as_text=True)


def test_rows_show_subject_page_topic_asker_and_first_response(client, make, moderator):
    topic = make.topic(name="Replay topic")
    asker = make.user(name="Ada Asker")
    question = make.question(asker, subject="Recordings stop", page_url=DOC)
    staff = make.user(role=Role.TEAM)
    make.reply(question, asker)
    with make.app.app_context():
        asked = db.session.get(Question, question).published_at - timedelta(hours=5, minutes=1)
    make.update(Question, question, published_at=asked, created_at=asked)
    make.reply(question, staff)
    make.reply(question, asker)

    response = client.get("/moderation?queue=waiting")
    page = response.get_data(as_text=True)
    assert "Recordings stop" in page and "Ada Asker" in page
    assert "Replay topic" in page and DOC in page
    assert "First response after 5 h · Late" in page
    with make.app.app_context():
        assert db.session.get(Question, question).topic_id == topic
    make.question(asker, subject="Nobody yet")
    assert "Waiting 1 min · Great" in client.get("/moderation").get_data(as_text=True)


def test_filters_by_team_topic_and_page_prefix(client, make, moderator):
    replay = make.topic(name="Replay", prefix="/docs/replay")
    flags = make.topic(name="Flags", prefix="/docs/flags")
    with make.app.app_context():
        team_slug = db.session.get(Team, db.session.get(Topic, flags).team_id).slug
        topic_slug = db.session.get(Topic, replay).slug
    asker = make.user()
    in_replay = make.question(asker, page_url="https://docs.example.com/docs/replay/a_b")
    lookalike = make.question(asker, page_url="https://docs.example.com/docs/replay/aXb")
    in_flags = make.question(asker, page_url="https://docs.example.com/docs/flags/start")
    no_page = make.question(asker)

    assert queue_ids(client, "first-response", topic=topic_slug) == [in_replay, lookalike]
    assert queue_ids(client, "first-response", team=team_slug) == [in_flags]
    prefix = "https://docs.example.com/docs/replay/a_"
    assert queue_ids(client, "first-response", page=prefix) == [in_replay]
    assert queue_ids(client, "first-response", page="https://docs.example.com/docs/%") == []
    assert queue_ids(client, "first-response", page="%") == []
    assert queue_ids(client, "first-response", page="_") == []
    assert queue_ids(client, "first-response", page="https://docs.example.com/docs/") == [
        in_replay,
        lookalike,
        in_flags,
    ]
    # Unknown team or topic slugs are ignored rather than emptying the queue.
    assert no_page in queue_ids(client, "first-response", topic="nope", team="nope")


def test_pagination(client, make, moderator, monkeypatch):
    monkeypatch.setattr(queries, "PER_PAGE", 3)
    asker = make.user()
    ids = [make.question(asker) for _ in range(7)]
    assert queue_ids(client, "first-response") == ids[:3]
    page = client.get("/moderation?queue=first-response").get_data(as_text=True)
    assert 'rel="next"' in page and 'rel="prev"' not in page
    assert queue_ids(client, "first-response", p=2) == ids[3:6]
    last = client.get("/moderation?queue=first-response&p=3").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(last)] == ids[6:]
    assert 'rel="next"' not in last and 'rel="prev"' in last
    assert queue_ids(client, "first-response", p=0) == ids[:3]
    assert queue_ids(client, "first-response", p="x") == ids[:3]
    assert queue_ids(client, "first-response", p=10**9) == []  # capped, not an error


@pytest.mark.parametrize("app_config", [{}, ZENDESK])
@pytest.mark.parametrize("queue", [q.value for q in queries.Queue])
def test_queue_query_count_does_not_grow_with_rows(
    app, client, make, moderator, count_queries, queue
):
    def add_rows(n: int) -> None:
        staff, member = make.user(role=Role.TEAM), make.user()
        for _ in range(n):
            question = make.question(member if queue != "pending" else unverified(make))
            if queue == "waiting":
                make.reply(question, staff)
                make.reply(question, member)
            elif queue == "unresolved":
                make.reply(question, staff)
            elif queue == "removed":
                make.update(Question, question, hidden_at=datetime.now(UTC))
            elif queue == "flagged":
                reply = make.reply(question, staff)
                for reporter in (make.user(), make.user()):
                    flag(make, reporter, Question, question, "spam")
                    flag(make, reporter, Reply, reply, "off-topic")

    def count() -> tuple[int, int]:
        with count_queries() as statements:
            response = client.get("/moderation", query_string={"queue": queue})
        assert response.status_code == 200
        return len(statements), len(ROW.findall(response.get_data(as_text=True)))

    make.topic()
    add_rows(1)
    few, shown = count()
    assert shown == 1
    add_rows(6)
    many, shown = count()
    assert shown == 7
    if queue == "flagged":
        # the signed-in user; the flagged posts; their flags; the reporters; the replies; the
        # questions (of both).
        assert few == many == 6
        return
    # the signed-in user; topics with teams (filters); the queue with everything on its rows;
    # the team members (bulk assignment); on Pending, the replies held for review; with Zendesk
    # on, the count of jobs it refused for bad credentials (the banner); on the three queues
    # of published questions, the runtime settings of their response clocks (once); who is on
    # duty in each team (teams with rotations, their members, their overrides); the viewer's
    # follow-ups that are due.
    clocks = queue in ("first-response", "waiting", "unresolved")
    on_duty = 3 + 1
    expected = 4 + (queue == "pending") + bool(app.config["ZENDESK_SUBDOMAIN"]) + clocks + on_duty
    assert few == many == expected


# -- thread controls ----------------------------------------------------------------------------

CONTROLS = {
    "pin": ({}, lambda q: q.pinned, "question.pin"),
    "lock": ({}, lambda q: q.locked, "question.lock"),
    "hide": ({"reason": "spam"}, lambda q: q.hidden_at is not None, "question.hide"),
    "delete": ({}, lambda q: q.deleted_at is not None, "question.delete"),
    "resolve": ({}, lambda q: q.status == "resolved", "question.resolve"),
}


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_controls_change_state_and_write_an_audit_row(client, make, moderator, name):
    data, done, action = CONTROLS[name]
    question = make.question(make.user(), subject="A thread to moderate")
    response = client.post(f"/moderation/questions/{question}/{name}", data=data)
    assert response.status_code == 302
    assert response.location == f"/questions/{question}-a-thread-to-moderate"
    assert done(make.get(Question, question))
    (event,) = audit_rows(make, question)
    assert (event.action, event.actor_id) == (action, moderator)
    assert set(event.data) >= {"before", "after"}
    # Doing it again changes nothing and writes nothing.
    client.post(f"/moderation/questions/{question}/{name}", data=data)
    assert len(audit_rows(make, question)) == 1


@pytest.mark.parametrize(
    ("on", "off", "field"),
    [("pin", "unpin", "pinned"), ("lock", "unlock", "locked")],
)
def test_controls_undo(client, make, moderator, on, off, field):
    question = make.question(make.user())
    client.post(f"/moderation/questions/{question}/{on}")
    client.post(f"/moderation/questions/{question}/{off}")
    assert getattr(make.get(Question, question), field) is False
    events = audit_rows(make, question)
    assert [e.action for e in events] == [f"question.{on}", f"question.{off}"]
    assert events[1].data == {"before": {field: True}, "after": {field: False}}


def test_hide_keeps_the_reason_and_details(client, make, moderator):
    question = make.question(make.user())
    client.post(
        f"/moderation/questions/{question}/hide",
        data={"reason": "abusive", "details": "insults in the body"},
    )
    assert make.get(Question, question).hidden_reason == "abusive"
    (event,) = audit_rows(make, question)
    assert event.data["reason"] == "abusive" and event.data["details"] == "insults in the body"
    other = make.question(make.user())
    response = client.post(f"/moderation/questions/{other}/hide", data={"reason": "because"})
    assert response.status_code == 302
    assert make.get(Question, other).hidden_at is None
    assert audit_rows(make, other) == []


@pytest.mark.parametrize("app_config", [ZENDESK])
def test_hiding_as_spam_tags_the_zendesk_ticket(client, make, moderator):
    question = make.question(make.user())
    client.post(f"/moderation/questions/{question}/hide", data={"reason": "spam"})
    with make.app.app_context():
        mirror = db.session.scalar(
            sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question)
        )
        assert (mirror.desired_status, mirror.desired_tag) == ("solved", "community_spam")


def test_move_to_another_topic(client, make, moderator):
    first, second = make.topic(name="First", prefix=None), make.topic(name="Second", prefix=None)
    question = make.question(make.user())
    page = client.get(f"/moderation/questions/{question}/move")
    assert page.status_code == 200 and "Second" in page.get_data(as_text=True)
    assert client.post(f"/moderation/questions/{question}/move", data={"topic_id": second})
    assert make.get(Question, question).topic_id == second
    client.post(f"/moderation/questions/{question}/move", data={"topic_id": "0"})
    assert make.get(Question, question).topic_id is None
    response = client.post(f"/moderation/questions/{question}/move", data={"topic_id": "999"})
    assert response.status_code == 422
    events = audit_rows(make, question)
    assert [e.data for e in events] == [
        {"before": {"topic_id": None}, "after": {"topic_id": second}},
        {"before": {"topic_id": second}, "after": {"topic_id": None}},
    ]
    assert first != second


def test_resolve_and_unresolve(client, make, moderator):
    asker, member = make.user(), make.user()
    answered = make.question(asker)
    make.reply(answered, member)
    client.post(f"/moderation/questions/{answered}/resolve")
    question = make.get(Question, answered)
    assert (question.status, question.accepted_reply_id) == ("resolved", None)
    client.post(f"/moderation/questions/{answered}/unresolve")
    assert make.get(Question, answered).status == "answered"  # recomputed from the replies

    bare = make.question(asker)
    client.post(f"/moderation/questions/{bare}/resolve")
    client.post(f"/moderation/questions/{bare}/unresolve")
    assert make.get(Question, bare).status == "unanswered"

    accepted = make.question(asker)
    make.accept(make.reply(accepted, member), asker)
    response = client.post(f"/moderation/questions/{accepted}/unresolve", follow_redirects=True)
    assert "withdraw it instead" in response.get_data(as_text=True)
    assert make.get(Question, accepted).status == "resolved"
    assert audit_rows(make, accepted) == []


ROUTES = ["pin", "unpin", "lock", "unlock", "hide", "unhide", "delete", "undelete", "resolve"]
ROUTES += ["unresolve", "move"]


@pytest.mark.parametrize("who", ["anonymous", "member", "team", "author"])
def test_controls_and_pages_refuse_everyone_but_moderators(app, client, auth, make, who):
    author = make.user()
    question = make.question(author)
    if who != "anonymous":
        auth.login_as({"member": make.user(), "team": make.user(role=Role.TEAM)}.get(who, author))
    with app.app_context():
        before = db.session.get(Question, question).__dict__.copy()
    for route in ROUTES:
        response = client.post(
            f"/moderation/questions/{question}/{route}", data={"reason": "spam", "topic_id": "0"}
        )
        if who == "anonymous":
            assert response.status_code == 302 and "/login" in response.location, route
        else:
            assert response.status_code == 403, route
    team_may = {"/moderation"} if who == "team" else set()
    for path in ("/moderation", "/moderation/audit", f"/moderation/questions/{question}/move"):
        response = client.get(path)
        expected = 200 if path in team_may else 302 if who == "anonymous" else 403
        assert response.status_code == expected, path
    after = make.get(Question, question)
    for column in ("pinned", "locked", "hidden_at", "deleted_at", "status", "topic_id"):
        assert getattr(after, column) == before[column], column
    assert make.count(AuditEvent, AuditEvent.target_type == "question") == 0


def test_admins_may_moderate(client, auth, make):
    auth.login_as(make.user(role=Role.ADMIN))
    question = make.question(make.user())
    assert client.get("/moderation").status_code == 200
    client.post(f"/moderation/questions/{question}/lock")
    assert make.get(Question, question).locked


@pytest.mark.parametrize("app_config", [{"REQUIRE_MODERATOR_2FA": True}])
def test_moderators_without_two_factor_are_sent_to_enrol(client, auth, make):
    auth.login_as(make.moderator())
    question = make.question(make.user())
    response = client.get("/moderation?queue=waiting")
    assert response.status_code == 302
    assert response.location.startswith("/settings/two-factor?next=/moderation")
    response = client.post(f"/moderation/questions/{question}/pin")
    assert response.status_code == 302 and "/settings/two-factor" in response.location
    assert not make.get(Question, question).pinned
    # Nor do they see the controls on the thread page.
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert "/moderation/questions/" not in page


def test_thread_page_shows_controls_to_moderators_only(app, client, make, moderator):
    question = make.question(make.user(), subject="Controls here")
    url = f"/questions/{question}-controls-here"
    page = client.get(url).get_data(as_text=True)
    for route in ("pin", "lock", "hide", "delete", "resolve", "move"):
        assert f"/moderation/questions/{question}/{route}" in page, route
    public = app.test_client().get(url).get_data(as_text=True)
    assert "/moderation/" not in public


# -- restore and visibility ---------------------------------------------------------------------


def test_restore_puts_counts_and_status_back(client, make, moderator):
    asker, member, helper = make.user(), make.user(), make.user()
    question = make.question(asker)
    make.reply(question, asker)
    extra = make.reply(question, member)
    answer = make.reply(question, helper)
    make.accept(answer, asker)
    client.post(f"/moderation/questions/{question}/delete")
    # While it is away a moderator removes a reply, and the stored count drifts.
    assert client.post(f"/replies/{extra}/delete").status_code == 302
    make.update(Question, question, reply_count=17)
    client.post(f"/moderation/questions/{question}/undelete")
    restored = make.get(Question, question)
    assert (restored.reply_count, restored.status) == (2, "resolved")
    assert restored.accepted_reply_id == answer and restored.deleted_at is None

    answered = make.question(asker)
    make.reply(answered, member)
    client.post(f"/moderation/questions/{answered}/hide", data={"reason": "off-topic"})
    make.update(Question, answered, status="unanswered", reply_count=0)
    client.post(f"/moderation/questions/{answered}/unhide")
    restored = make.get(Question, answered)
    assert (restored.reply_count, restored.status) == (1, "answered")
    assert (restored.hidden_at, restored.hidden_reason) == (None, None)

    marked = make.question(asker)
    client.post(f"/moderation/questions/{marked}/resolve")
    client.post(f"/moderation/questions/{marked}/hide", data={"reason": "spam"})
    client.post(f"/moderation/questions/{marked}/unhide")
    assert make.get(Question, marked).status == "resolved"  # a moderator's "resolved" stays
    actions = [e.action for e in audit_rows(make, question)]
    assert actions == ["question.delete", "question.undelete"]


@pytest.mark.parametrize("route", ["hide", "delete"])
def test_removed_questions_are_not_found_by_the_public(app, client, make, moderator, route):
    author = make.user()
    question = make.question(author, subject="Soon gone", page_url=DOC)
    client.post(f"/moderation/questions/{question}/{route}", data={"reason": "spam"})
    url = f"/questions/{question}-soon-gone"
    for viewer in ("anonymous", make.user(), author):
        other = app.test_client()
        if viewer != "anonymous":
            with app.app_context():
                email = db.session.get(User, viewer).email
            other.post("/login", data={"email": email, "password": "correct horse battery staple"})
        assert other.get(url).status_code == 404, viewer
        assert "Soon gone" not in other.get("/questions").get_data(as_text=True)
        assert "Soon gone" not in other.get("/pages", query_string={"url": DOC}).get_data(
            as_text=True
        )
    page = client.get(url)
    assert page.status_code == 200 and "Soon gone" in page.get_data(as_text=True)
    restore = "unhide" if route == "hide" else "undelete"
    assert f"/moderation/questions/{question}/{restore}" in page.get_data(as_text=True)
    client.post(f"/moderation/questions/{question}/{restore}")
    assert app.test_client().get(url).status_code == 200


def test_unknown_question_is_not_found(client, moderator):
    assert client.post("/moderation/questions/999999/pin").status_code == 404
    assert client.get("/moderation/questions/999999/move").status_code == 404


# -- the audit log ------------------------------------------------------------------------------


def test_audit_log_lists_filters_and_pages(client, make, moderator, monkeypatch):
    monkeypatch.setattr(queries, "AUDIT_PER_PAGE", 2)
    first, second = make.question(make.user()), make.question(make.user())
    client.post(f"/moderation/questions/{first}/pin")
    client.post(f"/moderation/questions/{first}/lock")
    client.post(f"/moderation/questions/{second}/pin")

    def actions(**args: Any) -> list[str]:
        response = client.get("/moderation/audit", query_string=args)
        assert response.status_code == 200
        return re.findall(r"action=(question\.\w+)\">", response.get_data(as_text=True))

    assert actions() == ["question.pin", "question.lock"]  # newest first, two per page
    assert actions(p=2) == ["question.pin"]
    assert actions(action="question.pin") == ["question.pin", "question.pin"]
    assert actions(target_type="question", target_id=first) == ["question.lock", "question.pin"]
    assert actions(target_type="question", target_id=second) == ["question.pin"]
    assert actions(target_id="x") == ["question.pin", "question.lock"]
    assert actions(target_id=2**40) == ["question.pin", "question.lock"]
    page = client.get("/moderation/audit").get_data(as_text=True)
    assert "Moderator" in page or "User" in page


def test_audit_log_is_append_only(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/moderation/audit"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_audit_log_query_count_is_fixed(client, make, moderator, count_queries):
    question = make.question(make.user())
    client.post(f"/moderation/questions/{question}/pin")

    def count() -> int:
        with count_queries() as statements:
            assert client.get("/moderation/audit").status_code == 200
        return len(statements)

    few = count()
    for _ in range(5):
        other = make.moderator()
        with make.app.app_context():
            db.session.add(
                AuditEvent(
                    actor_id=other, action="question.pin", target_type="question", target_id=1
                )
            )
            db.session.commit()
    assert count() == few == 3


# Routes under /moderation and /admin that team members (who answer but do not moderate) use.
TEAM_ENDPOINTS = {
    "moderation.queue",
    "moderation.claim",
    "moderation.unclaim",
    # The support hero's tools (community/hero). Team pages (hero.team, hero.handoff, ...) are
    # for the team's own members, and this one has no team.
    "hero.my_team",
    "hero.saved_replies",
    "hero.delete_saved_reply",  # their own
    "hero.feature_requests",
    "hero.metrics_page",
    "hero.metrics_csv",
    "hero.feature_request",
    "hero.follow_up",
    "hero.follow_up_done",
}


@pytest.mark.parametrize("who", ["anonymous", "member", "team"])
def test_every_moderation_and_admin_route_is_closed_to_those_not_named(
    app, client, auth, make, who
):
    """Enumerated from the URL map, so a new route cannot be forgotten."""
    author = make.user()
    question = make.question(author)
    reply = make.reply(question, make.user())
    viewer = author
    if who != "anonymous":
        viewer = make.user(role=Role.TEAM if who == "team" else Role.MEMBER)
        auth.login_as(viewer)
    with app.app_context():
        from community.hero.models import Handoff, SavedReply

        saved = SavedReply(title="Mine", body="Text", owner_id=viewer)
        db.session.add(saved)

        team = Team(name="Replay", slug="replay")
        db.session.add(team)
        db.session.flush()
        # Handed to someone else: acknowledging it is not this person's to do either.
        handoff = Handoff(team_id=team.id, week_starts_on=date(2026, 11, 23), to_user_id=author)
        db.session.add(handoff)
        db.session.commit()
        team_id, handoff_id, saved_id = team.id, handoff.id, saved.id
    values = {
        "question_id": question,
        "reply_id": reply,
        "user_id": author,
        "job_id": 1,
        "team_id": team_id,
        "override_id": 1,
        "handoff_id": handoff_id,
        "saved_id": saved_id,
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/moderation", "/admin")):
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)
        for method in sorted({"GET", "POST"} & set(rule.methods or ())):
            response = client.open(path, method=method, data={"reason": "spam"})
            if who == "anonymous":
                assert response.status_code == 302 and "/login" in response.location, rule
            elif who == "team" and rule.endpoint in TEAM_ENDPOINTS:
                # 422: let in, and the form (here only a "reason") refused.
                assert response.status_code in (200, 302, 422), rule
            else:
                assert response.status_code == 403, (rule, method)
            checked += 1
    assert checked >= 25


# -- claims and bulk actions ----------------------------------------------------------------------


def test_team_members_see_their_queues_and_claim(app, client, auth, make):
    hero, other_hero = make.user(name="Hero", role=Role.TEAM), make.user(role=Role.TEAM)
    asker = make.user()
    first, second = make.question(asker), make.question(asker)
    auth.login_as(hero)
    page = client.get("/moderation").get_data(as_text=True)
    assert "Needs first response" in page and "Flagged" not in page and "bulk-form" not in page
    assert client.get("/moderation?queue=pending").status_code == 403
    assert client.post(f"/moderation/questions/{first}/claim").status_code == 302
    assert make.get(Question, first).assignee_id == hero
    assert "Claimed by <strong>you</strong>" in client.get("/moderation").get_data(as_text=True)
    assert queue_ids(client, "first-response", mine="1") == [first]
    assert queue_ids(client, "first-response") == [first, second]
    auth.logout()
    auth.login_as(other_hero)
    taken = client.post(f"/moderation/questions/{first}/claim", follow_redirects=True)
    assert "Someone else has claimed" in taken.get_data(as_text=True)
    assert make.get(Question, first).assignee_id == hero
    assert client.post(f"/moderation/questions/{first}/unclaim").status_code == 403
    auth.logout()
    auth.login_as(hero)
    client.post(f"/moderation/questions/{first}/unclaim")
    assert make.get(Question, first).assignee_id is None
    assert [e.action for e in audit_rows(make, first)] == ["question.claim", "question.unclaim"]


def test_moderators_assign_to_team_members_only(client, make, moderator):
    hero, member = make.user(role=Role.TEAM), make.user()
    question = make.question(member)
    client.post(f"/moderation/questions/{question}/assign", data={"assignee_id": str(hero)})
    assert make.get(Question, question).assignee_id == hero
    refused = client.post(
        f"/moderation/questions/{question}/assign",
        data={"assignee_id": str(member)},
        follow_redirects=True,
    )
    assert "only be assigned to team members" in refused.get_data(as_text=True)
    assert make.get(Question, question).assignee_id == hero
    assert (
        client.post(
            f"/moderation/questions/{question}/assign", data={"assignee_id": "999999"}
        ).status_code
        == 400
    )
    row = audit_rows(make, question)[-1]
    assert (row.action, row.data["before"], row.data["after"]) == (
        "question.assign",
        {"assignee_id": None},
        {"assignee_id": hero},
    )


def test_bulk_hide_move_and_assign(client, make, moderator):
    asker, hero = make.user(), make.user(role=Role.TEAM)
    topic = make.topic(name="Billing", prefix=None)
    ids = [make.question(asker, subject=f"Bulk question {n}") for n in range(4)]
    back = "/moderation?queue=first-response"

    def bulk(action: str, chosen: list[int], **extra: str):
        data = {"action": action, "question_id": [str(i) for i in chosen], "next": back, **extra}
        return client.post("/moderation/bulk", data=data, follow_redirects=True)

    assert "2 of 2 questions changed" in bulk("move", ids[:2], topic_id=str(topic)).get_data(
        as_text=True
    )
    assert [make.get(Question, i).topic_id for i in ids] == [topic, topic, None, None]
    bulk("assign", ids[1:3], assignee_id=str(hero))
    assert [make.get(Question, i).assignee_id for i in ids] == [None, hero, hero, None]
    bulk("hide-spam", [ids[0], ids[3]])
    assert [make.get(Question, i).hidden_at is not None for i in ids] == [True, False, False, True]
    assert queue_ids(client, "first-response") == ids[1:3]
    nothing = bulk("hide-spam", [])
    assert "Tick some questions" in nothing.get_data(as_text=True)
    assert bulk("delete-everything", ids).status_code == 200
    assert make.get(Question, ids[1]).deleted_at is None
    too_many = bulk("hide-spam", list(range(1, 103)))
    assert "at most 100" in too_many.get_data(as_text=True)
    actions = [e.action for i in ids for e in audit_rows(make, i)]
    assert sorted(actions) == sorted(
        ["question.move"] * 2 + ["question.assign"] * 2 + ["question.hide"] * 2
    )


# -- pre-moderation ------------------------------------------------------------------------------


def premoderate(client) -> None:
    response = client.post(
        "/moderation/settings",
        data={
            "premoderate_new_accounts": "y",
            # The response targets as they are (the form always sends every setting).
            "response_great_minutes": "15",
            "response_okay_minutes": "60",
            "response_late_minutes": "1440",
            "response_reminder_minutes": "45",
        },
    )
    assert response.status_code == 302


def test_premoderation_holds_a_new_accounts_first_posts_until_approved(
    app, client, auth, make, moderator
):
    regular = make.user()
    make.question(regular, subject="Posted before the switch")
    premoderate(client)
    assert [e.action for e in _all_audit(make)] == ["settings.change"]
    newcomer = make.user(name="New Person")
    held = make.question(newcomer, subject="My very first question")
    held_reply = make.reply(make.question(regular, subject="Someone else's thread"), newcomer)
    assert make.get(Question, held).published_at is None
    assert make.get(Question, held).held_for_review
    assert make.get(Reply, held_reply).published_at is None
    # Regulars and staff are not held.
    assert make.get(Question, make.question(regular)).published_at is not None
    public = app.test_client().get("/questions").get_data(as_text=True)
    assert "My very first question" not in public
    pending = client.get("/moderation?queue=pending").get_data(as_text=True)
    assert f'id="queue-question-{held}"' in pending and f'id="held-reply-{held_reply}"' in pending
    assert "Approve" in pending

    client.post(f"/moderation/questions/{held}/approve")
    assert make.get(Question, held).published_at is not None
    assert not make.get(Question, held).held_for_review
    client.post(f"/moderation/replies/{held_reply}/reject")
    assert make.get(Reply, held_reply).deleted_at is not None
    assert make.get(Reply, held_reply).published_at is None
    # Once one post is approved, the newcomer's next post goes straight out.
    assert make.get(Question, make.question(newcomer)).published_at is not None
    actions = [e.action for e in _all_audit(make)]
    assert actions == ["settings.change", "question.approve", "reply.reject"]


def test_the_author_is_told_their_post_waits_for_a_moderator(app, client, auth, make, moderator):
    premoderate(client)
    auth.logout()
    newcomer = make.user()
    auth.login_as(newcomer)
    response = client.post(
        "/ask", data={"subject": "Waiting for approval", "body": "Details", "topic_id": "0"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "a moderator will publish it shortly" in page
    assert "Awaiting a moderator" in page
    with app.app_context():  # ids are not counts: PostgreSQL's sequences outlive emptied tables
        held = db.session.scalar(
            sa.select(Question.id).where(Question.subject == "Waiting for approval")
        )
    publish = client.post(f"/questions/{held}/publish")
    assert publish.status_code == 409


def test_an_unverified_newcomer_needs_both_approval_and_their_address(app, client, make, moderator):
    from community.accounts import services as account_services
    from community.questions import services as question_services

    premoderate(client)
    with app.app_context():
        user = account_services.create_user("late@example.com", "Late", "a long passphrase here")
        question = question_services.ask_question(user, "Held twice over", "Details")
        db.session.commit()
        question_id, user_id = question.id, user.id
    client.post(f"/moderation/questions/{question_id}/approve")
    assert make.get(Question, question_id).published_at is None  # still waits for the address
    with app.app_context():
        user = db.session.get(User, user_id)
        user.email_verified_at = datetime.now(UTC)
        question_services.publish_held_posts(user)
        db.session.commit()
    assert make.get(Question, question_id).published_at is not None


def _all_audit(make) -> list[AuditEvent]:
    with make.app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


# -- edit history --------------------------------------------------------------------------------


def test_edits_keep_history_and_moderator_edits_are_audited(app, client, auth, make):
    author = make.user(name="Ada", email="ada@example.com")
    question = make.question(author, subject="The first subject", body="First **body**")
    reply = make.reply(question, make.user(), body="A reply v1")
    auth.login_as(author)
    client.post(
        f"/questions/{question}/edit", data={"subject": "The second subject", "body": "Second"}
    )
    auth.logout()
    moderator_id = make.moderator(name="Mo")
    auth.login_as(moderator_id)
    client.post(f"/replies/{reply}/edit", data={"body": "A reply v2, tidied by a moderator"})
    history = client.get(f"/questions/{question}/history").get_data(as_text=True)
    assert history.index("The second subject") < history.index("The first subject")
    assert "<strong>body</strong>" in history and "Ada" in history
    reply_history = app.test_client().get(f"/replies/{reply}/history").get_data(as_text=True)
    assert "A reply v1" in reply_history and "A reply v2" in reply_history
    assert "Mo" in reply_history
    thread = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert f'href="/questions/{question}/history"' in thread
    # The author's own edit is not a moderation action; the moderator's is.
    assert [(e.action, e.target_id) for e in _all_audit(make)] == [("reply.edit", reply)]
    hidden = make.question(author, subject="Hidden one")
    make.update(Question, hidden, hidden_at=datetime.now(UTC))
    assert app.test_client().get(f"/questions/{hidden}/history").status_code == 404


# -- background work ------------------------------------------------------------------------------


def test_the_dashboard_shows_background_work_and_retries_a_dead_job(app, client, make, moderator):
    from community.jobs.models import Job, JobStatus

    with app.app_context():
        dead = Job(
            kind="email.reply",
            payload={},
            status=JobStatus.DEAD.value,
            attempts=8,
            last_error="SMTP 550 mailbox unavailable",
        )
        waiting = Job(
            kind="slack.question", payload={}, run_after=datetime.now(UTC) - timedelta(minutes=10)
        )
        db.session.add_all([dead, waiting])
        db.session.commit()
        dead_id = dead.id
    page = client.get("/moderation/jobs").get_data(as_text=True)
    assert "SMTP 550 mailbox unavailable" in page and f'id="job-{dead_id}"' in page
    assert "is a worker running" in page
    client.post(f"/moderation/jobs/{dead_id}/retry")
    job = make.get(Job, dead_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING.value, 0)
    assert [e.action for e in _all_audit(make)] == ["job.retry"]
    assert "No dead jobs" in client.get("/moderation/jobs").get_data(as_text=True)


def test_response_times_follow_replies_coming_and_going(client, make, moderator):
    asker, staff = make.user(), make.user(role=Role.TEAM)
    question = make.question(asker)
    staff_reply = make.reply(question, staff)
    assert make.get(Question, question).first_response_at is not None
    assert queue_ids(client, "first-response") == []
    make.reply(question, asker)
    assert queue_ids(client, "waiting") == [question]
    client.post(f"/moderation/replies/{staff_reply}/hide", data={"reason": "spam"})
    state = make.get(Question, question)
    assert (state.first_response_at, state.waiting_since) == (None, None)
    assert queue_ids(client, "first-response") == [question]
    client.post(f"/moderation/replies/{staff_reply}/unhide")
    assert queue_ids(client, "waiting") == [question]
    make.reply(question, staff)
    assert queue_ids(client, "waiting") == []


def test_moving_a_question_to_another_doc_page(app, client, make, moderator):
    old, new = DOC, "https://docs.example.com/docs/feature-flags/setup"
    question = make.question(make.user(), subject="Asked on the wrong page", page_url=old)
    response = client.post(
        f"/moderation/questions/{question}/move", data={"topic_id": "0", "page_url": new}
    )
    assert response.status_code == 302
    public = app.test_client()
    assert "Asked on the wrong page" in public.get("/pages", query_string={"url": new}).get_data(
        as_text=True
    )
    assert "Asked on the wrong page" not in public.get(
        "/pages", query_string={"url": old}
    ).get_data(as_text=True)
    row = audit_rows(make, question)[-1]
    assert row.action == "question.move_page"
    bad = client.post(
        f"/moderation/questions/{question}/move",
        data={"topic_id": "0", "page_url": "javascript:alert(1)"},
    )
    assert bad.status_code == 422
    assert "javascript:alert(1)" in bad.get_data(as_text=True)


def test_history_and_background_work_pages_load_in_fixed_queries(
    app, client, make, moderator, count_queries
):
    from community.jobs.models import Job, JobStatus
    from community.questions import services as question_services

    question = make.question(make.user(), subject="Edited again and again")

    def edit_and_fail(n: int) -> None:
        with app.app_context():
            for i in range(n):
                found = db.session.get(Question, question)
                question_services.edit_question(
                    db.session.get(User, moderator), found, f"Edited again {i}", f"Body {i}"
                )
                db.session.add(Job(kind="email.send", payload={}, status=JobStatus.DEAD.value))
            db.session.commit()

    def count(path: str) -> int:
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    edit_and_fail(1)
    few = (count(f"/questions/{question}/history"), count("/moderation/jobs"))
    edit_and_fail(5)
    many = (count(f"/questions/{question}/history"), count("/moderation/jobs"))
    # history: the signed-in user, the question, its revisions with their editors;
    # jobs: the user, the health (oldest wait, dead count), counts by state, the dead jobs.
    assert few == many == (3, 5)
