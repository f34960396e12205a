"""Many people at once, over real HTTP: nothing fails with "database is locked", nothing is
doubled, counters stay exact (security notes 4.2, items 4 and 5)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from community.questions.models import Question, Reply
from tests.conftest import PASSWORD

WRITERS = 20


def _signed_in_session(base: str, email: str) -> requests.Session:
    session = requests.Session()
    response = session.post(
        f"{base}/login", data={"email": email, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return session


def _all_at_once(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_twenty_people_reply_at_the_same_moment(live_server, make):
    question = make.question(make.user(), subject="Busy thread")
    sessions = [
        _signed_in_session(live_server, f"writer{n}@example.com")
        for n in range(WRITERS)
        if make.user(email=f"writer{n}@example.com")
    ]
    url = f"{live_server}/questions/{question}/replies"
    responses = _all_at_once(
        [
            lambda s=s, n=n: s.post(url, data={"body": f"Reply {n}"}, allow_redirects=False)
            for n, s in enumerate(sessions)
        ]
    )
    assert [r.status_code for r in responses] == [302] * WRITERS, [r.text[:200] for r in responses]
    assert make.count(Reply, Reply.question_id == question) == WRITERS
    assert make.get(Question, question).reply_count == WRITERS


def test_a_double_submitted_form_makes_one_question_even_at_the_same_moment(live_server, make):
    make.user(email="ada@example.com")
    session = _signed_in_session(live_server, "ada@example.com")
    form = {"subject": "Submitted twice at once", "body": "Once please", "submission_key": "k" * 40}
    responses = _all_at_once(
        [
            lambda: session.post(f"{live_server}/ask", data=form, allow_redirects=False)
            for _ in range(2)
        ]
    )
    assert [r.status_code for r in responses] == [302, 302]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    assert make.count(Question) == 1


def test_two_moderators_accepting_different_answers_leave_one_accepted(live_server, make):
    asker = make.user()
    question = make.question(asker)
    first, second = make.reply(question, make.user()), make.reply(question, make.user())
    mods = []
    for n in range(2):
        make.moderator(email=f"mod{n}@example.com")
        mods.append(_signed_in_session(live_server, f"mod{n}@example.com"))
    responses = _all_at_once(
        [
            lambda s=mods[0]: s.post(
                f"{live_server}/replies/{first}/accept", allow_redirects=False
            ),
            lambda s=mods[1]: s.post(
                f"{live_server}/replies/{second}/accept", allow_redirects=False
            ),
        ]
    )
    assert [r.status_code for r in responses] == [302, 302]
    final = make.get(Question, question)
    assert final.accepted_reply_id in {first, second}
    assert final.status == "resolved"
