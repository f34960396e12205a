"""Reply emails, follow/unfollow, one-click unsubscribe and Slack announcements, end to end:
the request records jobs, the real worker delivers them to real servers on 127.0.0.1."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from community.accounts.models import User
from community.extensions import db
from community.jobs.models import Job, JobStatus
from community.notifications.models import Subscription
from community.questions.models import Question, Team, Topic
from tests.conftest import mail_settings

DOC = "https://docs.example.com/docs/session-replay/installation"


@pytest.fixture
def app_config(smtp_server, slack_server):
    return {**mail_settings(smtp_server), "SLACK_WEBHOOK_URL": slack_server.url()}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _bodies(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def _reply_as(client, auth, user_id, question_id, body):
    auth.login_as(user_id)
    response = client.post(f"/questions/{question_id}/replies", data={"body": body})
    assert response.status_code == 302
    auth.logout()
    return response


def test_a_reply_emails_every_follower_but_its_author(client, auth, make, run_jobs, smtp_server):
    asker = make.user(name="Ada Lovelace", email="ada@example.com")
    earlier = make.user(name="Grace Hopper", email="grace@example.com")
    author = make.user(name="Linus Pauling", email="linus@example.com")
    bystander = make.user(email="bob@example.com")
    question = make.question(asker, subject="Recordings stop", page_url=DOC)
    make.reply(question, earlier, body="Is the snippet loaded twice?")
    run_jobs()
    assert [r.recipients for r in smtp_server.received] == [["ada@example.com"]]
    smtp_server.received.clear()

    response = _reply_as(client, auth, author, question, "Initialise it **once**.")
    assert smtp_server.received == []  # nothing leaves the request
    run_jobs()

    assert sorted(r.recipients[0] for r in smtp_server.received) == [
        "ada@example.com",
        "grace@example.com",
    ]
    message = smtp_server.messages_to("ada@example.com")[0]
    assert message["Subject"] == "Re: Recordings stop"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    text, html = _bodies(message)
    reply_link = "http://localhost" + response.location
    assert reply_link in text and reply_link in html
    assert "Initialise it **once**." in text
    assert "<strong>once</strong>" in html
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"].strip()  # may be folded onto its own line
    assert re.fullmatch(r"<http://localhost/unsubscribe/[\w.-]+>", unsubscribe)
    assert not smtp_server.messages_to("linus@example.com")
    assert not smtp_server.messages_to("bob@example.com") and bystander

    run_jobs()  # nothing left to do: no second email
    assert len(smtp_server.received) == 2


def test_unverified_and_switched_off_followers_get_nothing(
    app, client, auth, make, run_jobs, smtp_server
):
    asker = make.user(email="ada@example.com")
    quiet = make.user(email="quiet@example.com")
    question = make.question(asker)
    make.reply(question, quiet)
    make.update(User, asker, email_verified_at=None)
    make.update(User, quiet, email_notifications=False)
    make.reply(question, make.user())
    run_jobs()
    assert smtp_server.received == []


def test_accepting_tells_the_answers_author_once(client, auth, make, run_jobs, smtp_server):
    asker = make.user(email="ada@example.com")
    helper = make.user(email="grace@example.com", name="Grace Hopper")
    question = make.question(asker, subject="Flags for EU users")
    reply = make.reply(question, helper)
    run_jobs()
    smtp_server.received.clear()

    auth.login_as(asker)
    client.post(f"/replies/{reply}/accept")
    client.post(f"/questions/{question}/withdraw-answer")
    client.post(f"/replies/{reply}/accept")
    run_jobs()
    accepted = smtp_server.messages_to("grace@example.com")
    assert len(accepted) == 1
    assert accepted[0]["Subject"] == "Your answer was accepted: Flags for EU users"


def test_an_email_for_a_reply_deleted_before_sending_is_not_sent(
    client, auth, make, run_jobs, smtp_server
):
    asker, helper = make.user(), make.user()
    question = make.question(asker)
    reply = make.reply(question, helper)
    auth.login_as(helper)
    client.post(f"/replies/{reply}/delete")
    run_jobs()
    assert smtp_server.received == []
    assert make.count(Job, Job.status == JobStatus.DEAD) == 0


def test_follow_and_unfollow_from_the_thread(client, auth, make, run_jobs, smtp_server):
    asker = make.user()
    reader = make.user(email="reader@example.com")
    question = make.question(asker, subject="Followed question")
    auth.login_as(reader)
    page = _text(client.get(f"/questions/{question}", follow_redirects=True))
    assert "Follow" in page and "Following" not in page
    assert client.post(f"/questions/{question}/follow").status_code == 302
    assert "Following" in _text(client.get(f"/questions/{question}", follow_redirects=True))
    settings = _text(client.get("/settings/notifications"))
    assert "Followed question" in settings
    auth.logout()

    make.reply(question, make.user())
    run_jobs()
    assert len(smtp_server.messages_to("reader@example.com")) == 1

    auth.login_as(reader)
    client.post(f"/questions/{question}/unfollow")
    make.reply(question, make.user())
    run_jobs()
    assert len(smtp_server.messages_to("reader@example.com")) == 1


def test_an_explicit_unfollow_survives_replying_again(client, auth, make, run_jobs, app):
    asker, helper = make.user(), make.user()
    question = make.question(asker)
    make.reply(question, helper)
    auth.login_as(helper)
    client.post(f"/questions/{question}/unfollow")
    client.post(f"/questions/{question}/replies", data={"body": "One more thought"})
    with app.app_context():
        active = db.session.scalar(
            sa.select(Subscription.active).where(
                Subscription.user_id == helper, Subscription.question_id == question
            )
        )
    assert active is False


def test_the_global_switch_in_settings(client, auth, make, run_jobs, smtp_server):
    asker = make.user(email="ada@example.com")
    question = make.question(asker)
    auth.login_as(asker)
    assert client.post("/settings/notifications", data={}).status_code == 302
    assert make.get(User, asker).email_notifications is False
    make.reply(question, make.user())
    run_jobs()
    assert smtp_server.received == []
    client.post("/settings/notifications", data={"email_notifications": "y"})
    assert make.get(User, asker).email_notifications is True


def test_one_click_unsubscribe_changes_nothing_on_get_and_works_on_post(
    app, make, run_jobs, smtp_server
):
    asker = make.user(email="ada@example.com")
    question = make.question(asker, subject="Unsubscribe me")
    make.reply(question, make.user())
    run_jobs()
    header = smtp_server.messages_to("ada@example.com")[0]["List-Unsubscribe"].strip()
    path = header.strip("<>").removeprefix("http://localhost")

    scanner = app.test_client()  # a link scanner: no cookies, a GET
    page = scanner.get(path)
    assert page.status_code == 200 and "Stop emails about this question?" in _text(page)
    assert make.count(Subscription, Subscription.active.is_(True)) == 2

    mail_client = app.test_client()  # RFC 8058: a POST with no cookie and no CSRF token
    done = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Unsubscribe me" in _text(done)
    assert make.count(Subscription, Subscription.user_id == asker, Subscription.active) == 0
    assert mail_client.post(path).status_code == 200  # idempotent

    smtp_server.received.clear()
    make.reply(question, make.user())
    run_jobs()
    assert smtp_server.messages_to("ada@example.com") == []


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "WzEsIDJd.tampered",
        "WzEsIDJd",
        "WyJ4IiwgMl0.x",
    ],
)
def test_forged_unsubscribe_links_are_refused(client, make, token):
    asker = make.user()
    make.question(asker)
    assert client.get(f"/unsubscribe/{token}").status_code == 400
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert make.count(Subscription, Subscription.active.is_(False)) == 0


def test_unsubscribe_tokens_cannot_be_moved_to_another_user_or_salt(app, client, make):
    from itsdangerous import URLSafeSerializer

    from community.notifications import services

    ada, bob = make.user(), make.user()
    question = make.question(ada)
    make.reply(question, bob)
    with app.app_context():
        good = services.unsubscribe_token(ada, question)
        other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="reset").dumps(
            [bob, question]
        )
    signature = good.rpartition(".")[2]
    swapped = URLSafeSerializer("x").dumps([bob, question]).rpartition(".")[0] + "." + signature
    for token in (other_salt, swapped):
        assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert make.count(Subscription, Subscription.active.is_(False)) == 0
    assert client.post(f"/unsubscribe/{good}").status_code == 200  # the control


@pytest.mark.parametrize(
    "subject",
    [
        "Broken\r\nBcc: victim@example.com",
        "Line\nbreak and \u2028 separator \x85 next line",
        "=?UTF-8?Q?a=0ABcc:_victim@example.com?=",
    ],
)
def test_subjects_and_names_cannot_inject_headers(make, run_jobs, smtp_server, app, subject):
    asker = make.user(email="ada@example.com", name=subject)
    question = make.question(asker)
    make.update(Question, question, subject=subject)
    make.reply(question, make.user())
    run_jobs()
    (received,) = smtp_server.received
    assert received.recipients == ["ada@example.com"]
    message = received.message
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert len(message["To"].addresses) == 1


def test_new_questions_are_announced_in_slack_with_user_text_escaped(
    app, make, run_jobs, slack_server
):
    topic = make.topic(name="Session replay", prefix="/docs/session-replay")
    with app.app_context():
        team = db.session.get(Team, db.session.get(Topic, topic).team_id)
        team.slack_webhook_url = slack_server.url("/services/team-replay")
        db.session.commit()
    asker = make.user(name="Eve <!channel>")
    make.question(asker, subject="Help <!channel> & <https://evil.test|click>", page_url=DOC)
    run_jobs()

    paths = sorted(request.path for request in slack_server.requests)
    assert paths == ["/services/community", "/services/team-replay"]
    text = slack_server.requests[0].body["text"]
    assert "<!channel>" not in text and "<https://evil.test|" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert "|Help &lt;!channel&gt; &amp; &lt;https://evil.test|click&gt;>" in text
    assert "http://localhost/questions/" in text and "Session replay" in text


def test_slack_failure_never_fails_posting_and_is_retried(
    client, auth, make, run_jobs, slack_server, app
):
    slack_server.answers.append((500, {}))
    auth.login_as(make.user())
    response = client.post("/ask", data={"subject": "Posted while Slack is down", "body": "x"})
    assert response.status_code == 302
    run_jobs()
    assert slack_server.requests == []
    with app.app_context():
        job = db.session.scalar(sa.select(Job).where(Job.kind == "slack.question"))
        assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
        job.run_after = job.created_at
        db.session.commit()
    run_jobs()
    assert len(slack_server.requests) == 1


def test_admins_set_team_channels_others_cannot(client, auth, make, app):
    from community.accounts.models import Role

    topic = make.topic()
    with app.app_context():
        team_id = db.session.get(Topic, topic).team_id
    auth.login_as(make.user())
    assert client.get("/admin/slack").status_code == 403
    auth.logout()
    auth.login_as(make.user(role=Role.ADMIN))
    page = client.get("/admin/slack")
    assert page.status_code == 200
    bad = client.post(
        "/admin/slack", data={"team_id": str(team_id), "webhook_url": "javascript:alert(1)"}
    )
    assert bad.status_code == 422
    good = client.post(
        "/admin/slack",
        data={"team_id": str(team_id), "webhook_url": "https://hooks.slack.com/services/T/B/x"},
    )
    assert good.status_code == 302
    assert make.get(Team, team_id).slack_webhook_url == "https://hooks.slack.com/services/T/B/x"
    assert client.post("/admin/slack", data={"team_id": "999999"}).status_code == 404
