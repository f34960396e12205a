"""Write first, sign in after: a visitor's question or reply survives signing in or up."""

from __future__ import annotations

import re

import pytest

from community.questions.models import Draft, Question, Reply
from tests.conftest import PASSWORD, mail_settings

DOC = "https://docs.example.com/docs/feature-flags"


@pytest.fixture
def app_config(smtp_server):
    return mail_settings(smtp_server)


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_visitor_question_is_posted_when_they_sign_in(client, make):
    make.user(email="ada@example.com", name="Ada Lovelace")
    response = client.post(
        "/ask",
        data={
            "subject": "Can flags target EU users only?",
            "body": "We need **both** conditions.",
            "page_url": DOC + "/",
            "page_title": "Feature flags",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert make.count(Question) == 0
    assert make.count(Draft) == 1

    sign_in = client.get("/login")
    assert "Can flags target EU users only?" in _text(sign_in)  # "your question is saved"

    wrong = client.post("/login", data={"email": "ada@example.com", "password": "wrong password!"})
    assert wrong.status_code == 200 and make.count(Draft) == 1  # a failed attempt loses nothing

    done = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert done.status_code == 302
    assert re.search(r"/questions/\d+-can-flags-target-eu-users-only$", done.headers["Location"])
    question = make.get(Question, int(re.search(r"/questions/(\d+)", done.headers["Location"])[1]))
    assert question.body_html == "<p>We need <strong>both</strong> conditions.</p>"
    assert make.count(Draft) == 0
    page = _text(client.get("/pages", query_string={"url": DOC}))
    assert "Can flags target EU users only?" in page


def test_visitor_reply_is_posted_when_they_sign_up_and_confirm(client, make, mailbox):
    question = make.question(make.user(), subject="How do I export events?")
    response = client.post(f"/questions/{question}/replies", data={"body": "Use the batch export."})
    assert response.status_code == 302 and make.count(Reply) == 0

    # They follow "Create an account" from the sign-in page instead.
    signup = client.get("/signup")
    assert "Your reply is saved" in _text(signup)
    answer = client.post(
        "/signup",
        data={"name": "Grace Hopper", "email": "grace@example.com", "password": PASSWORD},
    )
    assert answer.location == "/signup/check-email"
    assert "Your reply is saved" in _text(client.get(answer.location))
    assert make.count(Reply) == 0 and make.count(Draft) == 1

    done = client.post(mailbox.link("grace@example.com", "/verify/"), data={"password": PASSWORD})
    assert re.search(rf"/questions/{question}-how-do-i-export-events#reply-\d+$", done.location)
    assert make.count(Reply, Reply.published_at.is_not(None)) == 1
    assert "Use the batch export." in _text(client.get(done.location))


def test_invalid_visitor_question_is_shown_again_not_saved(client, make):
    response = client.post("/ask", data={"subject": "Hi", "body": "Body that is kept"})
    assert response.status_code == 422
    assert "Body that is kept" in _text(response)
    assert make.count(Draft) == 0


def test_a_draft_that_can_no_longer_be_posted_is_kept_for_editing(client, make):
    from community.db import utcnow

    author = make.user()
    question = make.question(author)
    make.user(email="linus@example.com", name="Linus")
    client.post(f"/questions/{question}/replies", data={"body": "My long thoughtful reply"})
    make.update(Question, question, locked=True)  # locked while the visitor signs in

    done = client.post("/login", data={"email": "linus@example.com", "password": PASSWORD})
    assert done.location.endswith("/draft")
    page = client.get("/draft")
    assert page.status_code == 200
    assert "My long thoughtful reply" in _text(page)
    assert "could not post it: This thread is locked" in _text(page)
    assert make.count(Reply) == 0 and make.count(Draft) == 1

    make.update(Question, question, locked=False, last_activity_at=utcnow())
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', _text(page))[1]
    sent = client.post(
        f"/questions/{question}/replies",
        data={"body": "My long thoughtful reply", "submission_key": key},
    )
    assert sent.status_code == 302
    assert make.count(Reply) == 1
    assert make.count(Draft) == 0  # sent from its own form: not posted a second time later


def test_discarding_a_draft(client, make):
    client.post("/ask", data={"subject": "Never mind this one", "body": "Forget it"})
    assert make.count(Draft) == 1
    assert client.post("/draft/discard").status_code == 302
    assert make.count(Draft) == 0
    assert client.get("/draft").status_code == 302


def test_a_replayed_sign_in_does_not_post_the_draft_twice(client, make, auth):
    make.user(email="ada@example.com")
    client.post("/ask", data={"subject": "Posted exactly once", "body": "Only once please"})
    with client.session_transaction() as session:
        saved_session = dict(session)
    auth.login("ada@example.com")
    auth.logout()
    with client.session_transaction() as session:  # an old cookie still naming the draft
        session.update(saved_session)
    auth.login("ada@example.com")
    assert make.count(Question) == 1


def test_an_expired_draft_is_not_posted(client, make, app):
    from datetime import timedelta

    from community.db import utcnow

    make.user(email="ada@example.com")
    client.post("/ask", data={"subject": "Written long ago", "body": "Old text"})
    days = app.config["DRAFT_MAX_AGE_DAYS"]
    with app.app_context():
        from community.extensions import db

        db.session.execute(
            Draft.__table__.update().values(created_at=utcnow() - timedelta(days=days, minutes=1))
        )
        db.session.commit()
    done = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert done.location == "/questions"
    assert make.count(Question) == 0
