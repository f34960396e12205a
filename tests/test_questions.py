"""Asking, reading, replying, editing, deleting and accepting, through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from community.db import utcnow
from community.questions.models import Page, Question, QuestionStatus, Reply, Topic

DOC = "https://docs.example.com/docs/session-replay/installation"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _ask(client, subject="Recordings stop after navigation", body="They *stop*.", **extra):
    data = {"subject": subject, "body": body, **extra}
    return client.post("/ask", data=data)


def _question_id(response) -> int:
    match = re.search(r"/questions/(\d+)-", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


# -- asking -----------------------------------------------------------------------------------


def test_ask_on_a_page_lists_the_question_on_every_spelling_of_that_page(client, auth, make):
    topic = make.topic(name="Session replay", prefix="/docs/session-replay")
    auth.login_as(make.user(name="Ada Lovelace"))

    response = _ask(client, page_url=DOC + "/?utm_source=x#setup", page_title="Install replay")
    assert response.status_code == 302
    question = make.get(Question, _question_id(response))
    assert question.topic_id == topic
    assert question.body_html == "<p>They <em>stop</em>.</p>"

    for spelling in (
        DOC,
        DOC + "/",
        DOC + "/index.html",
        DOC.replace("docs.example", "DOCS.example"),
    ):
        page = client.get("/pages", query_string={"url": spelling})
        assert page.status_code == 200
        assert "Recordings stop after navigation" in _text(page)
        assert "Install replay" in _text(page)
    assert make.count(Page) == 1


def test_ask_without_a_page_and_with_a_chosen_topic(client, auth, make):
    topic = make.topic(name="Feature flags", prefix=None)
    auth.login_as(make.user())
    form = client.get("/ask")
    assert "Feature flags" in _text(form)
    response = _ask(client, topic_id=str(topic))
    question = make.get(Question, _question_id(response))
    assert (question.topic_id, question.origin_page_id) == (topic, None)


def test_ask_page_prefills_the_doc_page_from_the_query_string(client):
    response = client.get("/ask", query_string={"url": DOC, "title": "Install <replay>"})
    text = _text(response)
    assert response.status_code == 200
    assert f'value="{DOC}"' in text
    assert "Install &lt;replay&gt;" in text  # the title is escaped text, never markup


def test_invalid_ask_form_keeps_what_was_written(client, auth, make):
    auth.login_as(make.user())
    response = _ask(client, subject="Hi", body="A long and careful explanation <b>kept</b>")
    assert response.status_code == 422
    text = _text(response)
    assert "Between 5 and 200 characters" in text
    assert "A long and careful explanation &lt;b&gt;kept&lt;/b&gt;" in text
    assert make.count(Question) == 0


def test_ask_with_an_unusable_page_url_says_so_and_keeps_the_text(client, auth, make):
    auth.login_as(make.user())
    response = _ask(client, page_url="javascript:alert(1)", body="My careful question body")
    assert response.status_code == 422
    assert "starting with https://" in _text(response)
    assert "My careful question body" in _text(response)
    assert make.count(Question) == 0


def test_a_double_submitted_form_makes_one_question(client, auth, make):
    auth.login_as(make.user())
    key = "k" * 32
    first = _ask(client, submission_key=key)
    second = _ask(client, submission_key=key)
    assert first.headers["Location"] == second.headers["Location"]
    assert make.count(Question) == 1


# -- reading ----------------------------------------------------------------------------------


def test_permalink_redirects_to_the_canonical_slug(client, make):
    question = make.question(make.user(), subject="Héllo wörld: what's up?")
    bare = client.get(f"/questions/{question}")
    assert bare.status_code == 301
    assert bare.headers["Location"].endswith(f"/questions/{question}-hello-world-what-s-up")
    wrong = client.get(f"/questions/{question}-old-subject")
    assert wrong.status_code == 301
    assert client.get(bare.headers["Location"]).status_code == 200
    assert client.get("/questions/999999").status_code == 404


def test_thread_shows_the_accepted_answer_first_then_replies_in_order(client, make):
    asker, helper, other = make.user(name="Ada"), make.user(name="Grace"), make.user(name="Linus")
    question = make.question(asker)
    first = make.reply(question, other, body="First reply")
    accepted = make.reply(question, helper, body="The real answer")
    make.reply(question, other, body="Third reply")
    make.accept(accepted, asker)

    text = _text(client.get(f"/questions/{question}", follow_redirects=True))
    assert text.index("The real answer") < text.index("First reply") < text.index("Third reply")
    assert "Accepted answer" in text
    assert f'id="reply-{first}"' in text
    assert 'datetime="' in text and "UTC" in text  # relative time, exact time on hover


def test_edited_posts_are_marked(client, auth, make):
    author = make.user()
    question = make.question(author, body="first version")
    auth.login_as(author)
    response = client.post(
        f"/questions/{question}/edit",
        data={"subject": "A better subject", "body": "second version"},
    )
    assert response.status_code == 302
    text = _text(client.get(response.headers["Location"]))
    assert "second version" in text and "first version" not in text
    assert ">edited<" in text
    assert make.get(Question, question).edited_at is not None


def test_question_list_filters_by_topic_and_state(client, make):
    replay = make.topic(name="Replay")
    flags = make.topic(name="Flags", prefix="/docs/flags")
    asker, helper = make.user(), make.user()
    unanswered = make.question(asker, subject="Unanswered replay question", page_url=DOC)
    answered = make.question(
        asker, subject="Answered flags question", page_url="https://d.test/docs/flags/x"
    )
    make.reply(answered, helper)
    resolved = make.question(
        asker, subject="Resolved flags question", page_url="https://d.test/docs/flags"
    )
    make.accept(make.reply(resolved, helper), asker)

    def subjects(**query):
        text = _text(client.get("/questions", query_string=query))
        return {s for s in ("Unanswered replay", "Answered flags", "Resolved flags") if s in text}

    topic_slugs = {t: make.get(Topic, t).slug for t in (replay, flags)}
    assert subjects() == {"Unanswered replay", "Answered flags", "Resolved flags"}
    assert subjects(state="unanswered") == {"Unanswered replay"}
    assert subjects(state="answered") == {"Answered flags"}
    assert subjects(state="resolved") == {"Resolved flags"}
    assert subjects(topic=topic_slugs[flags]) == {"Answered flags", "Resolved flags"}
    assert subjects(topic=topic_slugs[replay], state="answered") == set()
    assert subjects(state="bogus") == subjects()  # unknown filters are ignored, not errors
    assert make.get(Question, unanswered).status == QuestionStatus.UNANSWERED


def test_question_list_pages_through_everything_exactly_once(client, make, app):
    app.config["QUESTIONS_PER_PAGE"] = 7
    author = make.user()
    ids = [make.question(author, subject=f"Paged question {n:02d}") for n in range(17)]
    start = utcnow() - timedelta(days=1)
    for offset, ident in enumerate(ids):  # distinct activity times, one tie to exercise the id
        make.update(Question, ident, last_activity_at=start + timedelta(minutes=offset // 2 * 2))

    seen: list[str] = []
    url = "/questions"
    pages = 0
    while url:
        text = _text(client.get(url))
        seen += re.findall(r"Paged question (\d\d)", text)
        older = re.search(r'rel="next" href="([^"]+)"', text)
        url = older.group(1).replace("&amp;", "&") if older else None
        pages += 1
    assert pages == 3
    assert seen == [f"{n:02d}" for n in sorted(range(17), key=lambda n: (n // 2, n), reverse=True)]

    # And back again from the last page with "Newer".
    newer = re.search(r'rel="prev" href="([^"]+)"', text)
    back = _text(client.get(newer.group(1).replace("&amp;", "&")))
    assert re.findall(r"Paged question (\d\d)", back) == seen[7:14]


def test_garbage_pagination_cursors_are_ignored(client, make):
    make.question(make.user(), subject="Still listed fine")
    for cursor in ("", "!!!", "a" * 500, "MjAyNi0xMS0yNnwx", "bm90LWEtZGF0ZXwxMg"):
        response = client.get("/questions", query_string={"before": cursor, "after": cursor})
        assert response.status_code == 200


def test_doc_page_lists_pinned_first_and_hides_deleted_and_hidden(client, make):
    author = make.user()
    old_pinned = make.question(author, subject="Pinned but old", page_url=DOC)
    make.question(author, subject="Newer ordinary", page_url=DOC)
    deleted = make.question(author, subject="Deleted one", page_url=DOC)
    hidden = make.question(author, subject="Hidden one", page_url=DOC)
    make.update(Question, old_pinned, pinned=True, last_activity_at=utcnow() - timedelta(days=9))
    make.update(Question, deleted, deleted_at=utcnow())
    make.update(Question, hidden, hidden_at=utcnow(), hidden_reason="spam")

    text = _text(client.get("/pages", query_string={"url": DOC}))
    assert text.index("Pinned but old") < text.index("Newer ordinary")
    assert "Deleted one" not in text and "Hidden one" not in text
    assert "Ask a question about this page" in text


def test_doc_page_shows_questions_whose_topic_is_not_the_pages(client, make):
    make.topic("Session replay", prefix="/docs/session-replay")
    other_topic = make.topic("Billing", prefix=None)
    author = make.user()
    moved = make.question(author, subject="Moved to billing", page_url=DOC)
    make.question(author, subject="Still about replay", page_url=DOC)
    make.update(Question, moved, topic_id=other_topic)  # as a moderator's move does

    response = client.get("/pages", query_string={"url": DOC})
    assert response.status_code == 200
    text = _text(response)
    assert "Moved to billing" in text and "Still about replay" in text
    assert ">Billing</a>" in text


def test_unknown_page_shows_an_empty_list_and_the_ask_form(client):
    response = client.get("/pages", query_string={"url": "https://docs.example.com/new"})
    assert response.status_code == 200
    assert "Nobody has asked about this page yet" in _text(response)


@pytest.mark.parametrize("url", ["", "nope", "ftp://x.test/a", "https://", "/docs/relative"])
def test_unusable_page_urls_get_a_clear_400(client, url):
    response = client.get("/pages", query_string={"url": url})
    assert response.status_code == 400
    assert "couldn't tell which page" in _text(response)


# -- replying ---------------------------------------------------------------------------------


def test_reply_updates_counts_status_and_activity(client, auth, make):
    asker, helper = make.user(), make.user(name="Grace Hopper")
    question = make.question(asker)
    before = make.get(Question, question)

    auth.login_as(asker)  # the asker's own follow-up does not make the question answered
    client.post(f"/questions/{question}/replies", data={"body": "More detail from me"})
    assert make.get(Question, question).status == QuestionStatus.UNANSWERED

    auth.logout()
    auth.login_as(helper)
    response = client.post(f"/questions/{question}/replies", data={"body": "Try **this**"})
    assert response.status_code == 302
    assert re.search(r"#reply-\d+$", response.headers["Location"])
    after = make.get(Question, question)
    assert after.reply_count == 2
    assert after.status == QuestionStatus.ANSWERED
    assert after.last_activity_at > before.last_activity_at
    page = _text(client.get(response.headers["Location"]))
    assert "<strong>this</strong>" in page and "Grace Hopper" in page


def test_empty_reply_is_refused_with_the_thread_shown_again(client, auth, make):
    question = make.question(make.user(), subject="A question worth answering")
    auth.login_as(make.user())
    response = client.post(f"/questions/{question}/replies", data={"body": "   "})
    assert response.status_code == 422
    assert "Write something first." in _text(response)
    assert "A question worth answering" in _text(response)
    assert make.count(Reply) == 0


def test_locked_threads_take_no_replies_except_from_moderators(client, auth, make):
    question = make.question(make.user())
    make.update(Question, question, locked=True)
    auth.login_as(make.user())
    assert "locked" in _text(client.get(f"/questions/{question}", follow_redirects=True))
    response = client.post(f"/questions/{question}/replies", data={"body": "Let me in"})
    assert response.status_code == 403
    auth.logout()
    auth.login_as(make.moderator())
    response = client.post(f"/questions/{question}/replies", data={"body": "Moderator note"})
    assert response.status_code == 302
    assert make.count(Reply) == 1


def test_replying_to_a_deleted_question_is_404(client, auth, make):
    question = make.question(make.user())
    make.update(Question, question, deleted_at=utcnow())
    auth.login_as(make.user())
    assert client.post(f"/questions/{question}/replies", data={"body": "hello"}).status_code == 404


# -- accepting --------------------------------------------------------------------------------


def test_asker_accepts_switches_and_withdraws_an_answer(client, auth, make):
    asker, a, b = make.user(), make.user(), make.user()
    question = make.question(asker)
    first, second = make.reply(question, a), make.reply(question, b)
    auth.login_as(asker)

    assert client.post(f"/replies/{first}/accept").status_code == 302
    assert make.get(Question, question).accepted_reply_id == first
    assert make.get(Question, question).status == QuestionStatus.RESOLVED

    client.post(f"/replies/{second}/accept")
    assert make.get(Question, question).accepted_reply_id == second

    assert client.post(f"/questions/{question}/withdraw-answer").status_code == 302
    withdrawn = make.get(Question, question)
    assert (withdrawn.accepted_reply_id, withdrawn.status) == (None, QuestionStatus.ANSWERED)
    assert client.post(f"/questions/{question}/withdraw-answer").status_code == 409


def test_only_the_asker_or_a_moderator_may_accept(client, auth, make):
    asker, helper = make.user(), make.user()
    question = make.question(asker)
    reply = make.reply(question, helper)
    auth.login_as(helper)  # the reply's own author is not the asker
    assert client.post(f"/replies/{reply}/accept").status_code == 403
    assert make.get(Question, question).accepted_reply_id is None
    auth.logout()
    auth.login_as(make.moderator())
    assert client.post(f"/replies/{reply}/accept").status_code == 302
    assert make.get(Question, question).accepted_reply_id == reply


def test_deleting_the_accepted_reply_reopens_the_question(client, auth, make):
    asker, helper = make.user(), make.user()
    question = make.question(asker)
    reply = make.reply(question, helper)
    make.accept(reply, asker)
    auth.login_as(helper)
    assert client.post(f"/replies/{reply}/delete").status_code == 302
    after = make.get(Question, question)
    assert (after.accepted_reply_id, after.status, after.reply_count) == (
        None,
        QuestionStatus.UNANSWERED,
        0,
    )
    assert client.post(f"/replies/{reply}/accept").status_code == 404  # deleted: gone for them


def test_the_database_refuses_an_accepted_reply_from_another_question(app, make):
    asker = make.user()
    one, two = make.question(asker), make.question(asker)
    stranger = make.reply(two, make.user())
    from community.extensions import db

    statement = sa.update(Question).where(Question.id == one).values(accepted_reply_id=stranger)
    with (
        app.app_context(),
        db.engine.connect() as connection,
        pytest.raises(sa.exc.IntegrityError),
    ):
        connection.execute(statement)


# -- deleting ---------------------------------------------------------------------------------


def test_deleting_a_question_hides_it_from_the_public_not_from_moderators(client, auth, make):
    author = make.user()
    question = make.question(author, subject="Soon to be deleted", page_url=DOC)
    auth.login_as(author)
    assert client.post(f"/questions/{question}/delete").status_code == 302
    assert make.get(Question, question).deleted_at is not None
    assert "Soon to be deleted" not in _text(client.get("/questions"))
    assert "Soon to be deleted" not in _text(client.get("/pages", query_string={"url": DOC}))
    assert client.get(f"/questions/{question}", follow_redirects=True).status_code == 404
    auth.logout()
    auth.login_as(make.moderator())
    shown = client.get(f"/questions/{question}", follow_redirects=True)
    assert shown.status_code == 200 and "Deleted" in _text(shown)


def test_only_pages_of_allowed_origins_take_questions(client, auth, make, app):
    app.config["PAGE_ALLOWED_ORIGINS"] = ["https://DOCS.example.com/"]
    auth.login_as(make.user())
    assert client.get("/pages", query_string={"url": DOC}).status_code == 200
    refused = client.get("/pages", query_string={"url": "https://evil.test/docs/x"})
    assert refused.status_code == 400
    assert "pages of our documentation" in _text(refused)
    response = _ask(client, page_url="https://evil.test/docs/x", body="Spam body kept")
    assert response.status_code == 422
    assert "Spam body kept" in _text(response)
    assert make.count(Page) == 0
