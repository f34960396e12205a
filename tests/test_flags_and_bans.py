"""Members flag posts; moderators work the flagged queue, hide replies, ban and unban people."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User, UserSession
from community.db import utcnow
from community.extensions import db
from community.moderation.models import AuditEvent, Flag
from community.questions.models import Question, QuestionStatus, Reply
from tests.conftest import PASSWORD

DOC = "https://docs.example.com/docs/session-replay/setup"


def audit_actions(make) -> list[str]:
    with make.app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def flags_of(make) -> list[tuple[str, int, str, str | None]]:
    with make.app.app_context():
        return [
            (f.post_type, f.post_id, f.reason, f.resolution)
            for f in db.session.scalars(sa.select(Flag).order_by(Flag.id))
        ]


# -- flagging -------------------------------------------------------------------------------------


def test_a_member_flags_a_post_once(client, auth, make):
    author, reporter = make.user(name="Spammy"), make.user(email="rep@example.com")
    question = make.question(author, subject="Buy cheap watches now")
    reply = make.reply(question, author, body="Visit my shop")
    auth.login_as(reporter)
    form = client.get(f"/questions/{question}/flag")
    assert form.status_code == 200 and "Spam or advertising" in form.get_data(as_text=True)
    response = client.post(f"/questions/{question}/flag", data={"reason": "spam"})
    assert response.status_code == 302
    assert "Thanks: a moderator will look at it." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    again = client.post(f"/questions/{question}/flag", data={"reason": "abusive"})
    assert again.status_code == 302
    assert "already flagged" in client.get(again.headers["Location"]).get_data(as_text=True)
    client.post(f"/replies/{reply}/flag", data={"reason": "other", "note": "  a link   farm "})
    assert flags_of(make) == [("question", question, "spam", None), ("reply", reply, "other", None)]
    with make.app.app_context():
        assert (
            db.session.scalar(sa.select(Flag.note).where(Flag.post_type == "reply"))
            == "a link farm"
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose what is wrong"),
        ({"reason": "nonsense"}, "Not a valid choice"),
        ({"reason": "other", "note": "   "}, "Tell the moderators what is wrong"),
        ({"reason": "spam", "note": "x" * 501}, "500 characters"),
    ],
)
def test_a_flag_needs_a_reason_and_keeps_the_note_on_error(client, auth, make, data, message):
    question = make.question(make.user())
    auth.login_as(make.user())
    response = client.post(f"/questions/{question}/flag", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert flags_of(make) == []


def test_nobody_flags_their_own_hidden_or_missing_posts(client, auth, make):
    author = make.user()
    question = make.question(author)
    assert client.post(f"/questions/{question}/flag", data={"reason": "spam"}).status_code == 302
    assert flags_of(make) == []  # anonymous: sent to sign in
    auth.login_as(author)
    own = client.post(f"/questions/{question}/flag", data={"reason": "spam"})
    assert own.status_code == 422 and "your own post" in own.get_data(as_text=True)
    auth.logout()
    auth.login_as(make.user())
    make.update(Question, question, hidden_at=utcnow())
    assert client.post(f"/questions/{question}/flag", data={"reason": "spam"}).status_code == 404
    assert client.get("/replies/999999/flag").status_code == 404
    assert flags_of(make) == []


def test_the_flag_link_shows_on_others_posts_only(client, auth, make):
    author, reader = make.user(), make.user()
    question = make.question(author, subject="A question to flag")
    reply = make.reply(question, reader)
    auth.login_as(reader)
    page = client.get(f"/questions/{question}", follow_redirects=True).get_data(as_text=True)
    assert f'href="/questions/{question}/flag"' in page
    assert f'href="/replies/{reply}/flag"' not in page


# -- the flagged queue ---------------------------------------------------------------------------


@pytest.fixture
def moderator(client, auth, make) -> int:
    moderator_id = make.moderator(name="Mo Derator")
    auth.login_as(moderator_id)
    return moderator_id


def _flag(make, reporter: int, model: type, post: int, reason: str, note: str = "") -> None:
    from community.moderation import flags

    with make.app.app_context():
        flags.flag(db.session.get(User, reporter), db.session.get(model, post), reason, note)
        db.session.commit()


def test_the_flagged_queue_groups_flags_by_post(client, make, moderator):
    author = make.user(name="Spammy")
    first, second = make.user(name="Reporter One"), make.user(name="Reporter Two")
    question = make.question(author, subject="Cheap watches")
    reply = make.reply(make.question(make.user(), subject="Innocent thread"), author, body="Ad")
    _flag(make, first, Question, question, "spam")
    _flag(make, second, Question, question, "spam", "same shop as yesterday")
    _flag(make, first, Reply, reply, "abusive")
    html = client.get("/moderation?queue=flagged").get_data(as_text=True)
    assert html.index(f'id="queue-question-{question}"') < html.index(f'id="queue-reply-{reply}"')
    assert "2 flags" in html and "spam \u00d7 2" in html
    assert "Reporter One" in html and "Reporter Two" in html and "same shop as yesterday" in html
    assert "Reply in" in html and "Innocent thread" in html


def test_hiding_settles_flags_and_dismissing_keeps_the_post(client, make, moderator):
    author = make.user()
    question = make.question(author, subject="Cheap watches")
    innocent = make.question(make.user(), subject="A fine question")
    _flag(make, make.user(), Question, question, "spam")
    _flag(make, make.user(), Question, innocent, "off-topic")
    hidden = client.post(
        f"/moderation/questions/{question}/hide",
        data={"reason": "spam", "next": "/moderation?queue=flagged"},
    )
    assert hidden.headers["Location"] == "/moderation?queue=flagged"
    dismissed = client.post(f"/moderation/questions/{innocent}/dismiss-flags")
    assert dismissed.status_code == 302
    assert flags_of(make) == [
        ("question", question, "spam", "actioned"),
        ("question", innocent, "off-topic", "dismissed"),
    ]
    assert make.get(Question, innocent).hidden_at is None
    assert "Nothing is flagged" in client.get("/moderation?queue=flagged").get_data(as_text=True)
    assert audit_actions(make) == ["question.hide", "flags.dismiss"]


def test_hiding_a_reply_hides_it_withdraws_acceptance_and_restores(client, make, moderator):
    asker, spammer = make.user(), make.user()
    question = make.question(asker, subject="Where are recordings?")
    spam = make.reply(question, spammer, body="BUY WATCHES")
    make.accept(spam, asker)
    response = client.post(f"/moderation/replies/{spam}/hide", data={"reason": "spam"})
    assert response.status_code == 302
    assert make.get(Reply, spam).hidden_at is not None
    state = make.get(Question, question)
    assert state.accepted_reply_id is None and state.reply_count == 0
    assert state.status == QuestionStatus.UNANSWERED.value
    public = make.app.test_client().get(f"/questions/{question}", follow_redirects=True)
    assert "BUY WATCHES" not in public.get_data(as_text=True)
    assert client.post(f"/moderation/replies/{spam}/hide", data={"reason": ""}).status_code == 302
    client.post(f"/moderation/replies/{spam}/unhide")
    assert make.get(Reply, spam).hidden_at is None
    assert make.get(Question, question).reply_count == 1
    assert audit_actions(make) == ["reply.hide", "reply.unhide"]


# -- bans -----------------------------------------------------------------------------------------


def _ban(client, user_id: int, **data: str):
    return client.post(f"/moderation/users/{user_id}/ban", data={"reason": "spam run", **data})


def test_a_ban_hides_everything_at_once_and_signs_them_out(app, client, make, moderator):
    spammer = make.user(name="Spammy", email="spammy@example.com")
    bystander = make.user(name="Bystander")
    own = make.question(spammer, subject="Buy cheap watches", page_url=DOC)
    earlier_hidden = make.question(spammer, subject="An older hidden question", page_url=DOC)
    make.update(Question, earlier_hidden, hidden_at=utcnow(), hidden_reason="off-topic")
    thread = make.question(bystander, subject="A real question", page_url=DOC)
    reply = make.reply(thread, spammer, body="Visit my watch shop")
    spammer_browser = app.test_client()
    spammer_browser.post("/login", data={"email": "spammy@example.com", "password": PASSWORD})
    assert spammer_browser.get("/settings/account").status_code == 200

    response = _ban(client, spammer)
    assert response.status_code == 302

    public = app.test_client()
    listing = public.get("/questions").get_data(as_text=True)
    assert "Buy cheap watches" not in listing and "A real question" in listing
    page = public.get("/pages?url=" + quote(DOC)).get_data(as_text=True)
    assert "Buy cheap watches" not in page
    embed = public.get("/embed?url=" + quote(DOC)).get_data(as_text=True)
    assert "Buy cheap watches" not in embed and "Visit my watch shop" not in embed
    assert public.get(f"/questions/{own}").status_code == 404
    assert make.get(Question, thread).reply_count == 0
    # Signed out everywhere, and cannot sign in again.
    assert spammer_browser.get("/settings/account").status_code == 302
    again = spammer_browser.post(
        "/login", data={"email": "spammy@example.com", "password": PASSWORD}
    )
    assert "suspended" in again.get_data(as_text=True)
    with app.app_context():
        live = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == spammer, UserSession.revoked_at.is_(None))
        )
        assert live == 0
    assert audit_actions(make) == ["user.ban"]

    # Lifting the ban restores exactly what the ban hid.
    client.post(f"/moderation/users/{spammer}/unban")
    assert make.get(Question, own).hidden_at is None
    assert make.get(Reply, reply).hidden_at is None
    assert make.get(Question, earlier_hidden).hidden_reason == "off-topic"
    assert make.get(Question, thread).reply_count == 1
    assert audit_actions(make) == ["user.ban", "user.unban"]


def test_a_temporary_ban_ends_when_they_come_back(app, client, make, moderator):
    spammer = make.user(email="temp@example.com")
    question = make.question(spammer, subject="Shouting in caps")
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert _ban(client, spammer, until=tomorrow).status_code == 302
    assert make.get(User, spammer).banned_until is not None
    make.update(User, spammer, banned_until=utcnow() - timedelta(minutes=1))
    visitor = app.test_client()
    signed_in = visitor.post("/login", data={"email": "temp@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert make.get(Question, question).hidden_at is None
    assert make.get(User, spammer).banned_at is None
    assert audit_actions(make) == ["user.ban", "user.ban_expired"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": ""}, "Say why this account is banned."),
        ({"until": "2001-01-01"}, "must be in the future"),
        ({"until": "not a date"}, "Not a valid date value"),
    ],
)
def test_a_ban_needs_a_reason_and_a_future_end(client, make, moderator, data, message):
    member = make.user()
    response = _ban(client, member, **data)
    if response.status_code == 302:
        response = client.get(response.headers["Location"])
    assert message in response.get_data(as_text=True)
    assert make.get(User, member).banned_at is None


def test_who_may_ban_whom(app, client, auth, make, moderator):
    admin, other_moderator = make.user(role=Role.ADMIN), make.moderator()
    for target in (admin, other_moderator, moderator):
        assert _ban(client, target).status_code == 403
        assert make.get(User, target).banned_at is None
    auth.logout()
    auth.login_as(admin)
    assert _ban(client, other_moderator).status_code == 302
    assert make.get(User, other_moderator).banned_at is not None
    assert _ban(client, admin).status_code == 403


def test_members_cannot_ban_or_see_profiles(client, auth, make):
    member, target = make.user(), make.user()
    auth.login_as(member)
    assert client.get(f"/moderation/users/{target}").status_code == 403
    assert _ban(client, target).status_code == 403
    assert make.get(User, target).banned_at is None


def test_a_profile_shows_posts_flags_and_history_in_fixed_queries(
    client, make, moderator, count_queries
):
    person = make.user(name="Frequent Poster")
    question = make.question(person, subject="First question")
    make.reply(question, person, body="And a follow-up")
    _flag(make, person, Question, make.question(make.user()), "spam")
    _ban(client, person)
    client.post(f"/moderation/users/{person}/unban")

    def count() -> int:
        with count_queries() as statements:
            response = client.get(f"/moderation/users/{person}")
        assert response.status_code == 200
        return len(statements)

    html = client.get(f"/moderation/users/{person}").get_data(as_text=True)
    assert "First question" in html and "user.ban" in html and "user.unban" in html
    assert "spam on a question" in html
    few = count()
    for n in range(4):
        make.reply(make.question(person, subject=f"Another question {n}"), person)
    assert count() == few
