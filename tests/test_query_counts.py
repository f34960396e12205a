"""Key pages run a fixed number of queries, however many replies or questions they show."""

from __future__ import annotations

import pytest

DOC = "https://docs.example.com/docs/session-replay"


def _queries_for(client, count_queries, path, **query) -> int:
    with count_queries() as statements:
        response = client.get(path, query_string=query, follow_redirects=False)
    assert response.status_code == 200, response.status_code
    return len(statements)


@pytest.fixture(params=["anonymous", "member", "moderator"])
def viewer(request, auth, make):
    if request.param == "member":
        auth.login_as(make.user())
    elif request.param == "moderator":
        auth.login_as(make.moderator())
    return request.param


def test_thread_page_query_count_does_not_grow_with_replies(client, make, count_queries, viewer):
    asker = make.user()
    repliers = [make.user() for _ in range(3)]
    small = make.question(asker, subject="Small thread", page_url=DOC)
    make.accept(make.reply(small, repliers[0]), asker)
    big = make.question(asker, subject="Big thread", page_url=DOC)
    replies = [make.reply(big, repliers[n % 3]) for n in range(25)]
    make.accept(replies[3], asker)
    waiting = make.question(asker, subject="Waiting thread", page_url=DOC)
    for n in range(10):
        make.reply(waiting, repliers[n % 3])

    small_count = _queries_for(client, count_queries, f"/questions/{small}-small-thread")
    assert _queries_for(client, count_queries, f"/questions/{big}-big-thread") == small_count
    # question (+ author, topic, team, page) and replies (+ authors); signed in: the user and
    # whether they follow the question.
    # Staff also see the hero's tools: the question's tags, its linked GitHub issues, their own
    # follow-up on it and their saved replies; while it waits for the team, its response clock
    # (the runtime settings).
    assert small_count == {"anonymous": 2, "member": 4, "moderator": 8}[viewer]
    clock = _queries_for(client, count_queries, f"/questions/{waiting}-waiting-thread")
    assert clock == small_count + (1 if viewer == "moderator" else 0)


def test_doc_page_query_count_does_not_grow_with_questions(client, make, count_queries, viewer):
    helper = make.user()
    make.question(make.user(), page_url=DOC)
    few = _queries_for(client, count_queries, "/pages", url=DOC)
    for _ in range(15):
        asker = make.user()
        question = make.question(asker, page_url=DOC)
        make.accept(make.reply(question, helper), asker)
    assert _queries_for(client, count_queries, "/pages", url=DOC) == few
    # page (+ topic), questions (+ authors, accepted answers and their authors); the user.
    assert few == (2 if viewer == "anonymous" else 3)


def test_question_list_query_count_does_not_grow_with_questions(
    client, make, count_queries, viewer
):
    make.topic()
    make.question(make.user(), page_url=DOC)
    few = _queries_for(client, count_queries, "/questions")
    for _ in range(25):
        make.question(make.user(), page_url=DOC)
    assert _queries_for(client, count_queries, "/questions") == few
    assert _queries_for(client, count_queries, "/questions", state="unanswered") == few
    # questions (+ authors, topics, pages) and the topic filter; the signed-in user.
    assert few == (2 if viewer == "anonymous" else 3)
