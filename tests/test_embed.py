"""The embed through HTTP: framing rules, its own cookie, acting in place, signing in inside the
frame and through the popup hand-over. The cross-site browser journey is in
tests/test_embed_browser.py."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from community.accounts import services as account_services
from community.accounts import twofactor
from community.accounts.models import Role, User
from community.db import utcnow
from community.embed.models import EmbedSignIn
from community.extensions import db
from community.notifications.models import Subscription
from community.questions.models import Draft, PageSnapshot, Question, QuestionStatus
from tests.conftest import PASSWORD, mail_settings

DOCS = "https://docs.example.com"
DOC = f"{DOCS}/docs/session-replay/installation"
QUERY = "?" + urlencode({"url": DOC, "title": "Install replay", "origin": DOCS})
PAGE = "/embed" + QUERY


@pytest.fixture
def app_config(smtp_server) -> dict[str, Any]:
    return {
        **mail_settings(smtp_server),
        "EMBED_ALLOWED_ORIGINS": [DOCS],
        "WTF_CSRF_ENABLED": True,
    }


def token(client: FlaskClient, path: str = PAGE) -> str:
    """The reader's CSRF token: in the page, or (a page rendered for every first-time visitor)
    from the address the page names, as embed-frame.js asks for it."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    if match:
        return match.group(1)
    asked = re.search(r'data-token-url="([^"]+)"', page)
    assert asked and 'name="csrf_token" value=""' in page, "no CSRF token on " + path
    return client.get(html.unescape(asked.group(1))).get_json()["csrf_token"]


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None, **kwargs: Any):
    return client.post(path, data={**(data or {}), "csrf_token": token(client)}, **kwargs)


def embed_cookie(response) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("community_embed="):
            return header
    return None


def sign_in_embed(client: FlaskClient, email: str, password: str = PASSWORD):
    return client.post(
        "/embed/sign-in" + QUERY,
        data={"email": email, "password": password, "csrf_token": token(client)},
    )


def signed_in_as(client: FlaskClient) -> str | None:
    match = re.search(r"Signed in as ([^<]+)</span>", client.get(PAGE).get_data(as_text=True))
    return match.group(1) if match else None


# -- framing and cookies --------------------------------------------------------------------------


def test_only_the_embed_may_be_framed_and_only_by_allowed_sites(client):
    embed = client.get(PAGE)
    assert embed.status_code == 200
    policy = embed.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {DOCS}" in policy
    assert "X-Frame-Options" not in embed.headers
    for path in ("/questions", "/login", "/pages?url=" + quote(DOC), "/popup/done"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.test",
        "http://docs.example.com",  # scheme downgrade
        "https://docs.example.com.evil.test",
        "https://xdocs.example.com",
        "null",
    ],
)
def test_an_embed_claiming_another_site_is_refused(client, origin):
    response = client.get("/embed?" + urlencode({"url": DOC, "origin": origin}))
    assert response.status_code == 400
    assert "allowed to show these questions" in response.get_data(as_text=True)
    assert "data-parent-origin" not in response.get_data(as_text=True)


def test_the_app_may_embed_itself(client):
    """The admin preview and the demo docs page are on the app's own origin ('self')."""
    response = client.get("/embed?" + urlencode({"url": DOC, "origin": "http://localhost"}))
    assert response.status_code == 200
    assert 'data-parent-origin="http://localhost"' in response.get_data(as_text=True)


def test_a_page_outside_the_docs_is_refused(app, client):
    app.config["PAGE_ALLOWED_ORIGINS"] = [DOCS]
    response = client.get("/embed?" + urlencode({"url": "https://elsewhere.test/x"}))
    assert response.status_code == 400
    assert "pages of our documentation" in response.get_data(as_text=True)
    assert client.get("/embed").status_code == 400


def test_the_embed_session_rides_a_partitioned_cross_site_cookie(client):
    assert embed_cookie(client.get(PAGE)) is None  # a first view starts no session
    response = client.get("/embed/token" + QUERY)  # using a form does
    cookie = embed_cookie(response)
    assert cookie, response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "partitioned", "samesite"} <= attributes
    assert "SameSite=None" in cookie
    site = client.get("/login")
    site_cookie = next(h for h in site.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "SameSite=Lax" in site_cookie and "Partitioned" not in site_cookie


def test_signed_in_on_the_same_site_means_signed_in_inside_the_embed(client, make):
    """Docs and community on one site: the browser sends the site's cookie into the frame."""
    make.user(name="Ada Lovelace", email="ada@example.com")
    client.post(
        "/login",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": token(client, "/login"),
        },
    )
    assert signed_in_as(client) == "Ada Lovelace"
    # Signing out anywhere ends that session for the embed too (the session row is revoked).
    client.post("/logout", data={"csrf_token": token(client, "/login")})
    assert signed_in_as(client) is None


def test_a_forged_embed_cookie_is_an_empty_session(client, make):
    make.user(email="ada@example.com")
    client.set_cookie("community_embed", "not-a-signed-session")
    response = client.get(PAGE)
    assert response.status_code == 200
    assert signed_in_as(client) is None


# -- the page's questions -----------------------------------------------------------------------


def _thread(make, asker: int, helper: int, subject: str, replies: int = 2) -> tuple[int, int]:
    question = make.question(asker, subject=subject, page_url=DOC)
    first = make.reply(question, helper, body="Try **the** fix.")
    for n in range(replies - 1):
        make.reply(question, asker, body=f"Follow-up {n}")
    make.accept(first, asker)
    return question, first


def test_questions_show_their_accepted_answer_and_other_replies_expandable(app, client, make):
    asker, helper = make.user(name="Ada"), make.user(name="Grace")
    question, answer = _thread(make, asker, helper, "Recordings stop after navigation")
    open_question = make.question(asker, subject="Masking inputs in replays", page_url=DOC)
    html = client.get(PAGE).get_data(as_text=True)
    assert "2 questions about this page" in html
    assert "Recordings stop after navigation" in html and "Masking inputs in replays" in html
    accepted = html.index(f'id="reply-{answer}"')
    details = html.index("<details", html.index(f'id="question-{question}"'))
    assert accepted < details, "the accepted answer shows before the expandable replies"
    assert "1 more reply" in html
    assert "<strong>the</strong>" in html
    # The full thread opens on the site, in a new tab, never inside the frame.
    assert f'href="/questions/{open_question}-masking-inputs-in-replays" target="_blank"' in html


def test_hidden_deleted_and_unpublished_posts_stay_out_of_the_embed(app, client, make):
    asker, helper = make.user(), make.user()
    hidden = make.question(asker, subject="A hidden question", page_url=DOC)
    deleted = make.question(asker, subject="A deleted question", page_url=DOC)
    held = make.question(asker, subject="A held question", page_url=DOC)
    shown = make.question(asker, subject="A public question", page_url=DOC)
    hidden_reply = make.reply(shown, helper, body="A hidden reply")
    make.update(Question, hidden, hidden_at=sa.func.now())
    make.update(Question, deleted, deleted_at=sa.func.now())
    make.update(Question, held, published_at=None)
    from community.questions.models import Reply

    make.update(Reply, hidden_reply, hidden_at=sa.func.now())
    html = client.get(PAGE).get_data(as_text=True)
    assert "A public question" in html
    for text in ("A hidden question", "A deleted question", "A held question", "A hidden reply"):
        assert text not in html


def test_the_embed_renders_in_a_fixed_number_of_queries(app, client, make, count_queries):
    asker, helper = make.user(), make.user()

    def queries_for_page() -> int:
        with count_queries() as statements:
            assert client.get(PAGE).status_code == 200
        return len(statements)

    def rendered_afresh() -> int:
        with app.app_context():
            db.session.execute(sa.delete(PageSnapshot))
            db.session.commit()
        return queries_for_page()

    _thread(make, asker, helper, "The first thread", replies=1)
    few = rendered_afresh(), queries_for_page()
    for n in range(6):
        _thread(make, asker, helper, f"Another thread number {n}", replies=4)
    # Stored for every first-time visitor: the page's version with its stored rendering. Out of
    # date: that, the page, its questions, their replies, how many ways of opening the page are
    # stored already, and storing the new rendering.
    assert (rendered_afresh(), queries_for_page()) == few == (6, 1)
    # Signed in, rendered for the reader: the session, the page, its questions, their replies,
    # what they follow.
    make.user(email="reader@example.com")
    sign_in_embed(client, "reader@example.com")
    signed_in = queries_for_page()
    for n in range(3):
        _thread(make, asker, helper, f"Yet another thread {n}", replies=2)
    assert queries_for_page() == signed_in


def test_ten_questions_fit_in_a_small_document(app, client, make):
    asker, helper = make.user(name="Ada Lovelace"), make.user(name="Grace Hopper")
    body = "I set up **session replay** as in the docs, but recordings stop when I navigate. " * 3
    for n in range(10):
        question = make.question(
            asker, subject=f"Recordings stop after navigation {n}", body=body, page_url=DOC
        )
        answer = make.reply(question, helper, body="Check `capture_pageview` in your config. " * 4)
        make.reply(question, asker, body="Thanks, that was it!")
        make.accept(answer, asker)
    size = len(client.get(PAGE).data)
    assert size < 50_000, size


# -- acting in place ----------------------------------------------------------------------------


def test_write_first_then_sign_in_inside_the_frame_posts_it_and_stays_in_the_embed(
    app, client, make
):
    make.user(name="Ada Lovelace", email="ada@example.com")
    response = post(
        client,
        "/embed/ask" + QUERY,
        {
            "subject": "How do I mask inputs?",
            "body": "I need **privacy**.",
            "page_title": "Install replay",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/embed/sign-in?")
    assert "saved=question" in response.headers["Location"]
    notice = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your question is saved" in notice
    signed_in = sign_in_embed(client, "ada@example.com")
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"].startswith("/embed?")
    html = client.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert "Your question is posted." in html
    assert "How do I mask inputs?" in html
    with app.app_context():
        question = db.session.scalar(sa.select(Question))
        assert question.subject == "How do I mask inputs?"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0


def test_sign_up_inside_the_frame_then_the_email_link_posts_the_draft(app, client, mailbox):
    post(client, "/embed/ask" + QUERY, {"subject": "Does replay work offline?", "body": "Details"})
    response = client.post(
        "/embed/sign-up" + QUERY,
        data={
            "name": "Eve Example",
            "email": "eve@example.com",
            "password": PASSWORD,
            "csrf_token": token(client, "/embed/sign-up" + QUERY),
        },
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    link = mailbox.link("eve@example.com", "/verify/")
    other_device = app.test_client()
    form_token = token(other_device, link)
    other_device.post(link, data={"password": PASSWORD, "csrf_token": form_token})
    with app.app_context():
        question = db.session.scalar(sa.select(Question))
        assert question is not None and question.subject == "Does replay work offline?"
        assert question.published_at is not None


def test_reply_accept_withdraw_follow_in_place(app, client, make):
    asker = make.user(name="Ada", email="ada@example.com")
    helper = make.user(name="Grace")
    question = make.question(asker, subject="Where are my recordings?", page_url=DOC)
    answer = make.reply(question, helper, body="In the replay tab.")
    sign_in_embed(client, "ada@example.com")

    response = post(client, f"/embed/questions/{question}/replies" + QUERY, {"body": "Found them!"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#question-{question}")
    assert "Your reply is posted." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )

    assert post(client, f"/embed/replies/{answer}/accept" + QUERY).status_code == 302
    assert make.get(Question, question).accepted_reply_id == answer
    assert make.get(Question, question).status == QuestionStatus.RESOLVED.value
    assert post(client, f"/embed/questions/{question}/withdraw-answer" + QUERY).status_code == 302
    assert make.get(Question, question).accepted_reply_id is None

    assert post(client, f"/embed/questions/{question}/unfollow" + QUERY).status_code == 302
    assert (
        make.count(Subscription, Subscription.user_id == asker, Subscription.active.is_(True)) == 0
    )
    assert "· follow</summary>" in client.get(PAGE).get_data(as_text=True)
    assert post(client, f"/embed/questions/{question}/follow" + QUERY).status_code == 302
    assert "· following</summary>" in client.get(PAGE).get_data(as_text=True)


def test_only_the_asker_accepts_and_nobody_acts_signed_out(app, client, make):
    asker = make.user(email="ada@example.com")
    make.user(email="bob@example.com")
    helper = make.user()
    question = make.question(asker, page_url=DOC)
    answer = make.reply(question, helper)
    response = post(client, f"/embed/replies/{answer}/accept" + QUERY)
    assert response.status_code == 302 and "/embed/sign-in" in response.headers["Location"]
    sign_in_embed(client, "bob@example.com")
    assert post(client, f"/embed/replies/{answer}/accept" + QUERY).status_code == 403
    assert make.get(Question, question).accepted_reply_id is None


def test_a_reply_to_a_locked_thread_is_refused(app, client, make):
    make.user(email="ada@example.com")
    question = make.question(make.user(), page_url=DOC)
    make.update(Question, question, locked=True)
    sign_in_embed(client, "ada@example.com")
    response = post(client, f"/embed/questions/{question}/replies" + QUERY, {"body": "Hello?"})
    assert response.status_code == 403


def test_an_invalid_question_comes_back_with_the_text_and_a_message(client):
    response = post(
        client, "/embed/ask" + QUERY, {"subject": "Hm", "body": "My long careful details"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Between 5 and 200 characters" in html
    assert "My long careful details" in html


def test_preview_renders_markdown_safely(client, make):
    response = post(
        client, "/embed/preview" + QUERY, {"body": "**bold** <script>alert(1)</script>"}
    )
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<strong>bold</strong>" in html and "<script>" not in html
    # Without script, the Preview button re-renders the form with the preview and the text.
    response = post(
        client,
        "/embed/ask" + QUERY,
        {"subject": "Half written", "body": "*draft* text", "preview": "1"},
    )
    assert response.status_code == 200
    assert "<em>draft</em>" in response.get_data(as_text=True)
    assert "Half written" in response.get_data(as_text=True)
    assert make.count(Question) == 0


def test_wrong_password_and_two_factor_accounts_inside_the_frame(app, client, make):
    make.user(email="ada@example.com")
    response = sign_in_embed(client, "ada@example.com", "wrong password")
    assert response.status_code == 422
    assert "match an account" in response.get_data(as_text=True)
    user_id = make.user(email="tess@example.com")
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = twofactor.begin_enrolment(user)
        twofactor.confirm_enrolment(user, pyotp.TOTP(secret).now())
        db.session.commit()
    response = sign_in_embed(client, "tess@example.com")
    assert response.status_code == 200
    assert "Continue in a new window" in response.get_data(as_text=True)
    assert signed_in_as(client) is None


# -- the popup hand-over ------------------------------------------------------------------------


def _begin_popup(embed: FlaskClient) -> str:
    response = post(embed, "/embed/sign-in/popup" + QUERY, {"provider": ""})
    assert response.status_code == 200
    return response.get_json()["url"]


def _popup_sign_in(app: Flask, popup_url: str, email: str) -> tuple[FlaskClient, str]:
    """The popup: a top-level window with its own (site) cookie; returns it and the code."""
    popup = app.test_client()
    first = popup.get(popup_url)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?next=")
    login_token = token(popup, first.headers["Location"])
    signed_in = popup.post(
        first.headers["Location"],
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": login_token,
            "next": "/popup/done",
        },
    )
    assert signed_in.headers["Location"] == "/popup/done"
    confirm = popup.get("/popup/done")
    assert "Continue as" in confirm.get_data(as_text=True)
    assert confirm.headers["Cross-Origin-Opener-Policy"] == "unsafe-none"
    done = popup.post("/popup/done", data={"csrf_token": token(popup, "/popup/done")})
    code = re.search(r'data-code="([^"]+)"', done.get_data(as_text=True)).group(1)
    return popup, code


def _redeem(embed: FlaskClient, code: str | None) -> dict[str, Any]:
    data = {} if code is None else {"code": code}
    return post(embed, "/embed/sign-in/redeem" + QUERY, data).get_json()


def test_the_popup_hands_its_sign_in_to_the_embed_once(app, client, make):
    make.user(name="Ada Lovelace", email="ada@example.com")
    popup, code = _popup_sign_in(app, _begin_popup(client), "ada@example.com")
    assert _redeem(client, "a-made-up-code-" + "x" * 30) == {"signed_in": False}
    result = _redeem(client, code)
    assert result["signed_in"] is True and result["location"].startswith("/embed?")
    assert signed_in_as(client) == "Ada Lovelace"
    # Once only, even for the same browser.
    client.post("/embed/sign-out" + QUERY, data={"csrf_token": token(client)})
    assert signed_in_as(client) is None
    assert _redeem(client, code) == {"signed_in": False}
    # The popup's relaxed opener policy ended with its flow.
    assert popup.get("/questions").headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_code_is_useless_in_a_session_that_did_not_ask_for_it(app, client, make):
    """A page that opens our popup itself (login CSRF, account hand-over) gets nothing."""
    make.user(email="ada@example.com")
    victim_embed = app.test_client()
    _popup, code = _popup_sign_in(app, _begin_popup(victim_embed), "ada@example.com")
    attacker_embed = client
    _begin_popup(attacker_embed)  # has a request of its own, not the one the code is for
    assert _redeem(attacker_embed, code) == {"signed_in": False}
    assert _redeem(attacker_embed, None) == {"signed_in": False}
    assert signed_in_as(attacker_embed) is None


def test_the_popup_confirms_before_handing_over_a_standing_session(app, client, make):
    """Visiting the popup URL while signed in shows a confirmation; a GET records nothing."""
    make.user(email="ada@example.com")
    popup = app.test_client()
    popup.post(
        "/login",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": token(popup, "/login"),
        },
    )
    url = _begin_popup(client)
    assert popup.get(url).headers["Location"] == "/popup/done"
    assert popup.get("/popup/done").status_code == 200
    assert make.count(EmbedSignIn) == 0
    assert popup.post("/popup/done").status_code == 400  # no token: refused, nothing recorded
    assert make.count(EmbedSignIn) == 0


def test_polling_picks_up_a_popup_cut_off_from_its_opener(app, client, make):
    make.user(name="Ada Lovelace", email="ada@example.com")
    url = _begin_popup(client)
    assert _redeem(client, None) == {"signed_in": False}
    _popup_sign_in(app, url, "ada@example.com")
    assert _redeem(client, None)["signed_in"] is True
    assert signed_in_as(client) == "Ada Lovelace"


def test_a_stale_hand_over_or_a_changed_password_opens_nothing(app, client, make):
    make.user(email="ada@example.com")
    _popup, code = _popup_sign_in(app, _begin_popup(client), "ada@example.com")
    with app.app_context():
        db.session.execute(sa.update(EmbedSignIn).values(created_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert _redeem(client, code) == {"signed_in": False}

    other = app.test_client()
    _popup, code = _popup_sign_in(app, _begin_popup(other), "ada@example.com")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
        account_services.set_password(user, "an entirely new passphrase")
        db.session.commit()
    assert _redeem(other, code) == {"signed_in": False}


def test_a_popup_without_its_request_or_past_its_time_is_refused(app, client, make):
    assert client.get("/popup/sign-in").status_code == 400
    assert client.get("/popup/done").status_code == 400
    make.user(email="ada@example.com")
    popup = app.test_client()
    popup.get("/popup/sign-in?r=" + "r" * 40)
    with popup.session_transaction() as session:
        session["embed_popup"] = {**session["embed_popup"], "started": time.time() - 3600}
    popup.post(
        "/login",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": token(popup, "/login"),
        },
    )
    assert popup.get("/popup/done").status_code == 400


# -- the admin's embed code page ------------------------------------------------------------------


def test_the_embed_code_page_builds_the_snippet_and_a_preview(app, client, make):
    make.user(email="root@example.com", role=Role.ADMIN)
    client.post(
        "/login",
        data={
            "email": "root@example.com",
            "password": PASSWORD,
            "csrf_token": token(client, "/login"),
        },
    )
    response = client.get(
        "/admin/embed?" + urlencode({"page_url": DOC, "page_title": 'Say "hi"', "theme": "dark"})
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "data-community-questions" in html
    assert (
        "data-page-title=&#34;Say &amp;#34;hi&amp;#34;&#34;" in html
    )  # escaped twice: shown as code
    assert "data-theme=&#34;dark&#34;" in html
    assert "/static/embed.js" in html
    assert f'src="/embed?url={DOC}' in html
    bad = client.get("/admin/embed?" + urlencode({"page_url": "javascript:alert(1)"}))
    assert bad.status_code == 422


def test_the_embed_code_page_is_for_admins_only(client, make):
    make.user(email="ada@example.com")
    assert client.get("/admin/embed").status_code == 302  # to sign in
    client.post(
        "/login",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": token(client, "/login"),
        },
    )
    assert client.get("/admin/embed").status_code == 403


def test_the_loader_stays_tiny_and_framework_free():
    import gzip
    from pathlib import Path

    source = (Path(__file__).parent.parent / "static" / "embed.js").read_bytes()
    assert len(gzip.compress(source)) < 3 * 1024
    assert b"import " not in source and b"require(" not in source
