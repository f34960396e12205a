"""Search and similar questions, on SQLite (FTS5) and PostgreSQL (tsvector + GIN) alike.

Through the public surface (the site's /questions?q=, the API's /search, the ask forms and their
similar-questions lookups) and, where the rule is subtle, the service itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from community.accounts.models import User
from community.extensions import db
from community.questions.models import Question, Reply, Team, Topic
from community.search import highlight, queries, terms
from tests.test_api import ApiClient, Document

DOC = "https://docs.example.com/docs/session-replay/setup"
OTHER_DOC = "https://docs.example.com/docs/feature-flags/rollout"


# -- a small community to search ------------------------------------------------------------------


@dataclass
class World:
    asker: int
    helper: int
    moderator: int
    replay_topic: int
    flags_topic: int
    exact: int  # subject "Sampling rate"
    covering: int  # subject mentions sampling rate, on DOC
    body_only: int  # "sampling rate" only in its body, many times
    flags: int  # another topic and team, on OTHER_DOC
    hidden: int
    deleted: int
    held: int  # an unverified author's question
    reviewed: int  # held for a moderator's review


def _subjects(results: queries.SearchResults) -> list[str]:
    return [hit.question.subject for hit in results.hits]


@pytest.fixture
def world(app: Flask, make) -> World:
    asker = make.user(name="Ada Asker", email="ada@example.com")
    helper = make.user(name="Hal Helper", email="hal@example.com")
    moderator = make.moderator(name="Mo Moderator", email="mo@example.com")
    unverified = make.user(name="Una Unverified", email="una@example.com")
    make.update(User, unverified, email_verified_at=None)
    replay_topic = make.topic(name="Session replay", prefix="/docs/session-replay")
    flags_topic = make.topic(name="Feature flags", prefix="/docs/feature-flags")
    exact = make.question(asker, subject="Sampling rate", body="What should it be?", page_url=DOC)
    covering = make.question(
        helper,
        subject="Sampling rate for mobile recordings",
        body="Mobile apps record too much.",
        page_url=DOC,
    )
    body_only = make.question(
        asker,
        subject="Replay costs too much",
        body="The sampling rate, the sampling rate, always the sampling rate.",
        page_url=DOC,
    )
    flags = make.question(
        helper,
        subject="Rollout percentage ignored",
        body="The flag's sampling rate of users is wrong.",
        page_url=OTHER_DOC,
    )
    hidden = make.question(asker, subject="Hidden sampling rate secret", body="hidden text")
    make.update(Question, hidden, hidden_at=datetime.now(UTC))
    deleted = make.question(asker, subject="Deleted sampling rate secret", body="deleted text")
    make.update(Question, deleted, deleted_at=datetime.now(UTC))
    held = make.question(unverified, subject="Held sampling rate secret", body="held text")
    reviewed = make.question(asker, subject="Reviewed sampling rate secret", body="text")
    make.update(Question, reviewed, held_for_review=True, published_at=None)
    return World(
        asker=asker,
        helper=helper,
        moderator=moderator,
        replay_topic=replay_topic,
        flags_topic=flags_topic,
        exact=exact,
        covering=covering,
        body_only=body_only,
        flags=flags,
        hidden=hidden,
        deleted=deleted,
        held=held,
        reviewed=reviewed,
    )


def search(app: Flask, text: str, **filters) -> queries.SearchResults:
    with app.app_context():
        results = queries.search(text, queries.SearchFilters(**filters))
        for hit in results.hits:  # keep what the assertions read, outside the session
            db.session.expunge(hit.question)
        return results


def text_of(response) -> str:
    """The page's text, as read: tags (such as the <mark> of a highlight) removed."""
    return re.sub(r"<[^>]+>", "", response.get_data(as_text=True))


# -- ranking ------------------------------------------------------------------------------------


def test_an_exact_subject_comes_first_then_subjects_then_bodies(app, world):
    found = _subjects(search(app, "sampling rate"))
    assert found == [
        "Sampling rate",
        "Sampling rate for mobile recordings",
        *sorted(["Replay costs too much", "Rollout percentage ignored"], key=found.index),
    ]
    assert set(found[2:]) == {"Replay costs too much", "Rollout percentage ignored"}
    # Case and closing punctuation do not matter for "exact".
    assert _subjects(search(app, "SAMPLING RATE?"))[0] == "Sampling rate"


def test_words_match_their_other_forms_and_stop_words_are_ignored(app, world):
    assert "Sampling rate for mobile recordings" in _subjects(search(app, "how do I record"))
    assert _subjects(search(app, "the sampled rates"))[:2] == [
        "Sampling rate",
        "Sampling rate for mobile recordings",
    ]


def test_an_accepted_answer_lifts_a_question(app, make, world):
    plain = make.question(world.asker, subject="Heatmaps are blank", body="Blank heatmaps.")
    answered = make.question(world.asker, subject="Heatmaps are blank", body="Blank heatmaps.")
    # The same reply (without the words searched for) on both; only one is accepted.
    for question in (plain, answered):
        make.reply(question, world.helper, body="Reload the toolbar.")
    newest_first = _subjects(search(app, "blank heatmaps"))
    assert newest_first.count("Heatmaps are blank") == 2
    assert [hit.question.id for hit in search(app, "blank heatmaps").hits] == [answered, plain]
    accepted = make.reply(plain, world.helper, body="Clear the cache.")
    make.accept(accepted, world.asker)
    assert [hit.question.id for hit in search(app, "blank heatmaps").hits] == [plain, answered]


def test_all_words_are_needed_unless_or_and_minus_leaves_out(app, world):
    assert _subjects(search(app, "sampling mobile")) == ["Sampling rate for mobile recordings"]
    assert set(_subjects(search(app, "mobile or rollout"))) == {
        "Sampling rate for mobile recordings",
        "Rollout percentage ignored",
    }
    assert "Sampling rate for mobile recordings" not in _subjects(
        search(app, "sampling rate -mobile")
    )
    assert _subjects(search(app, '"rate sampling"')) == []
    assert _subjects(search(app, '"sampling rate" mobile')) == [
        "Sampling rate for mobile recordings"
    ]


def test_a_hyphen_inside_a_word_joins_it_and_only_a_leading_one_leaves_out(app, make, world):
    make.question(world.asker, subject="Is there a Helm chart for self-hosting?", body="K8s.")
    make.question(world.asker, subject="Helm values for self hosting", body="Values.")
    assert set(_subjects(search(app, "helm self-hosting"))) == {
        "Is there a Helm chart for self-hosting?",
        "Helm values for self hosting",
    }
    assert _subjects(search(app, "Is there a Helm chart for self-hosting?"))[0] == (
        "Is there a Helm chart for self-hosting?"
    )
    assert _subjects(search(app, "helm -hosting")) == []
    assert _subjects(search(app, "helm -chart")) == ["Helm values for self hosting"]


def test_replies_are_searched_too(app, make, world):
    reply = make.reply(world.flags, world.asker, body="Use the kubernetes operator instead.")
    assert _subjects(search(app, "kubernetes")) == ["Rollout percentage ignored"]
    make.update(Reply, reply, hidden_at=datetime.now(UTC))
    assert _subjects(search(app, "kubernetes")) == []


# -- filters and pages -------------------------------------------------------------------------


def test_filters_topic_team_state_and_page(app, make, world):
    with app.app_context():
        replay = db.session.get(Topic, world.replay_topic)
        flags_team = db.session.get(Team, db.session.get(Topic, world.flags_topic).team_id)
        db.session.expunge_all()
    assert set(_subjects(search(app, "sampling", topic=replay))) == {
        "Sampling rate",
        "Sampling rate for mobile recordings",
        "Replay costs too much",
    }
    assert _subjects(search(app, "sampling", team=flags_team)) == ["Rollout percentage ignored"]
    answer = make.reply(world.exact, world.helper, body="Ten percent.")
    make.accept(answer, world.asker)
    from community.questions.models import QuestionStatus

    assert _subjects(search(app, "sampling", status=QuestionStatus.RESOLVED)) == ["Sampling rate"]
    assert "Sampling rate" not in _subjects(
        search(app, "sampling", status=QuestionStatus.UNANSWERED)
    )
    flags_pages = search(app, "sampling", page_prefix="https://docs.example.com/docs/feature")
    assert _subjects(flags_pages) == ["Rollout percentage ignored"]
    # The prefix is text, not a pattern.
    assert _subjects(search(app, "sampling", page_prefix="https://docs.example.com/%")) == []
    assert _subjects(search(app, "sampling", page_prefix="https://docs_example.com/")) == []


def test_results_come_in_pages(app, make, world):
    ids = [
        make.question(world.helper, subject=f"Cohort export {n}", body="Export a cohort.")
        for n in range(7)
    ]
    with app.app_context():
        first = queries.search("cohort export", limit=3)
        second = queries.search("cohort export", offset=3, limit=3)
        third = queries.search("cohort export", offset=6, limit=3)
        pages = [[hit.question.id for hit in page.hits] for page in (first, second, third)]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(ident for page in pages for ident in page) == sorted(ids)
    assert (first.has_next, second.has_next, third.has_next) == (True, True, False)
    assert first.next_cursor.offset == 3 and third.next_cursor is None


# -- who sees what ------------------------------------------------------------------------------

SECRETS = ("Hidden sampling", "Deleted sampling", "Held sampling", "Reviewed sampling")


@pytest.mark.parametrize("viewer", ["anonymous", "author", "moderator"])
def test_hidden_deleted_and_held_questions_are_never_found(app, auth, client, world, viewer):
    """Public posts only, for everyone: the author and moderators find theirs elsewhere (the
    thread, the moderation queues)."""
    if viewer != "anonymous":
        auth.login_as(world.asker if viewer == "author" else world.moderator)
    pages = [
        client.get("/questions", query_string={"q": "sampling rate secret"}),
        client.get("/questions", query_string={"q": "secret"}),
        client.get("/api/v1/search", query_string={"q": "secret"}),
    ]
    for response in pages:
        assert response.status_code == 200, response.request.url
        text = response.get_data(as_text=True)
        for secret in SECRETS:
            assert secret not in text, (response.request.url, secret)
    assert "Nothing matches" in pages[1].get_data(as_text=True)
    assert _subjects(search(app, "secret")) == []


def test_replies_that_are_not_public_are_not_searched(app, make, world):
    reply = make.reply(world.flags, world.asker, body="Try the zeppelin workaround.")
    assert _subjects(search(app, "zeppelin")) == ["Rollout percentage ignored"]
    for change in ({"deleted_at": datetime.now(UTC)}, {"published_at": None}):
        make.update(Reply, reply, **change)
        assert _subjects(search(app, "zeppelin")) == [], change
        make.update(Reply, reply, deleted_at=None, published_at=datetime.now(UTC))
        assert _subjects(search(app, "zeppelin")) == ["Rollout percentage ignored"], change
    # A public reply on a question that is not public finds nothing either.
    held_reply = make.reply(world.exact, world.helper, body="Quokka numbers.")
    assert _subjects(search(app, "quokka")) == ["Sampling rate"]
    make.update(Question, world.exact, hidden_at=datetime.now(UTC))
    assert _subjects(search(app, "quokka")) == []
    make.update(Question, world.exact, hidden_at=None)
    assert _subjects(search(app, "quokka")) == ["Sampling rate"]
    assert held_reply


def test_a_ban_hides_and_its_lifting_restores_what_is_found(app, make, world):
    from community.moderation import bans

    with app.app_context():
        moderator = db.session.get(User, world.moderator)
        helper = db.session.get(User, world.helper)
        bans.ban(moderator, helper, reason="spam")
        db.session.commit()
    assert "Sampling rate for mobile recordings" not in _subjects(search(app, "sampling"))
    with app.app_context():
        bans.unban(db.session.get(User, world.moderator), db.session.get(User, world.helper))
        db.session.commit()
    assert "Sampling rate for mobile recordings" in _subjects(search(app, "sampling"))


# -- found at once ----------------------------------------------------------------------------


def test_a_new_question_is_found_as_soon_as_it_is_posted(app, auth, client, world):
    auth.login_as(world.asker)
    response = client.post(
        "/ask",
        data={
            "subject": "Toolbar flickers on hover",
            "body": "The toolbar flickers.",
            "topic_id": "0",
        },
    )
    assert response.status_code == 302
    page = client.get("/questions", query_string={"q": "toolbar flickers"})
    assert "Toolbar flickers on hover" in text_of(page)


def test_an_edit_is_found_by_its_new_words_only(app, auth, client, make, world):
    auth.login_as(world.asker)
    response = client.post(
        f"/questions/{world.exact}/edit",
        data={"subject": "Retention period for events", "body": "How long are events kept?"},
    )
    assert response.status_code == 302
    assert _subjects(search(app, "retention period")) == ["Retention period for events"]
    assert "Retention period for events" not in _subjects(search(app, "sampling"))
    reply = make.reply(world.covering, world.helper, body="Set the quantile slider.")
    with app.app_context():
        from community.questions import services

        services.edit_reply(
            db.session.get(User, world.helper), db.session.get(Reply, reply), "Use the knob."
        )
        db.session.commit()
    assert _subjects(search(app, "quantile")) == []
    assert _subjects(search(app, "knob")) == ["Sampling rate for mobile recordings"]


def test_a_held_question_is_found_once_published(app, make, world):
    assert _subjects(search(app, "held")) == []
    with app.app_context():
        from community.questions import services

        user = db.session.get(User, db.session.get(Question, world.held).author_id)
        user.email_verified_at = datetime.now(UTC)
        services.publish_held_posts(user)
        db.session.commit()
    assert _subjects(search(app, "held")) == ["Held sampling rate secret"]


def test_the_index_stays_consistent(app, make, world, dialect):
    """After posting, editing, accepting, hiding and deleting, the index holds exactly what the
    questions and replies say (FTS5's own integrity check; the stored tsvector recomputed)."""
    reply = make.reply(world.covering, world.asker, body="One more detail.")
    answer = make.reply(world.covering, world.helper, body="The answer.")
    make.accept(answer, world.helper)
    make.update(Reply, reply, hidden_at=datetime.now(UTC))
    make.update(Question, world.body_only, subject="Replay costs a lot")
    moved = make.reply(world.covering, world.helper, body="Moved elsewhere.")
    make.update(Reply, moved, question_id=world.body_only)  # no route moves replies; still fine
    make.update(Question, world.flags, deleted_at=datetime.now(UTC))
    with app.app_context():
        if dialect == "sqlite":
            db.session.execute(
                sa.text(
                    "INSERT INTO questions_search(questions_search, rank) "
                    "VALUES ('integrity-check', 1)"
                )
            )
        else:
            stale = db.session.scalar(
                sa.text(
                    "SELECT count(*) FROM questions q WHERE search_vector IS DISTINCT FROM "
                    "questions_search_document(q.id, q.subject, q.body_source, "
                    "q.accepted_reply_id, q.published_at IS NOT NULL AND q.hidden_at IS NULL "
                    "AND q.deleted_at IS NULL)"
                )
            )
            assert stale == 0
            assert db.session.scalar(
                sa.text("SELECT count(*) FROM questions WHERE search_vector IS NOT NULL")
            ) == db.session.scalar(
                sa.select(sa.func.count()).where(
                    Question.published_at.is_not(None),
                    Question.hidden_at.is_(None),
                    Question.deleted_at.is_(None),
                )
            )


# -- whatever is typed ------------------------------------------------------------------------

HOSTILE = [
    "' OR 1=1 --",
    "'; DROP TABLE questions; --",
    '"',
    '"unterminated',
    '"" AND ""',
    "\\",
    "%",
    "_",
    "%" * 1000,
    "sampling%",
    "NEAR(",
    "NEAR(sampling rate, 2)",
    "sampling AND",
    "AND OR NOT",
    "OR",
    "subject:secret",
    "{subject}: sampling",
    "title:x",
    "*",
    "sampl*",
    "^sampling",
    "-",
    "-sampling",
    "--sampling",
    "sampling & rate | ! <-> :*",
    "sampling:* & !rate",
    "((sampling",
    "sampling))",
    "(((((((((((((((((((((((((((((((((((((((((((",
    "<script>alert(1)</script>",
    "Ünïcödé sämpling",
    "サンプリング レート",
    "😀 sampling 🎉",
    "😀😀😀",
    "\u202e\u200bsampling\ufeff",
    "a\tb\nc\rd",
    "",
    "   ",
    "x" * 10_000,
    "sampling " * 2_000,
    "the and of to",
    "\x02sampling\x03 \x03rate\x02",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_any_search_gets_results_or_a_clear_message(app, client, world, text):
    site = client.get("/questions", query_string={"q": text})
    assert site.status_code == 200
    page = text_of(site)
    assert not any(secret in page for secret in SECRETS)
    assert re.search(r"(syntax|sqlite|psycopg|operational|tsquery|fts5)", page, re.I) is None
    api = client.get("/api/v1/search", query_string={"q": text})
    assert api.status_code in {200, 400}, api.get_data(as_text=True)
    if api.status_code == 400:
        assert api.mimetype == "application/problem+json"
        assert api.get_json()["errors"][0]["parameter"] == "q"
    results = search(app, text)
    found = {hit.question.subject.split()[0] for hit in results.hits}
    assert found <= {"Sampling", "Replay", "Rollout"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("😀", "Type a word or two"),
        ("the and of", "Type a word or two"),
        ("-sampling", "Type a word or two"),
        ("x" * 10_000, "only its first 300 characters count"),
        (" ".join(f"w{n}" for n in range(40)), "Only the first 12 words"),
    ],
)
def test_searches_that_cannot_run_as_typed_say_why(client, world, text, message):
    response = client.get("/questions", query_string={"q": text})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_a_nul_character_is_refused_clearly(client, world):
    for path, args in (
        ("/questions", {"q": "a\x00b"}),
        ("/api/v1/search", {"q": "a\x00b"}),
    ):
        assert client.get(path, query_string=args).status_code == 400, path


def test_the_query_is_parsed_into_quoted_words_only():
    query = terms.parse('sampling "rate NEAR(" -mobile OR title:x*')
    assert query.fts5() == (
        '(("sampling") AND ("rate near") AND ("title") AND ("x")) NOT ("mobile")'
    )
    assert query.websearch() == 'sampling "rate near" title x -mobile'
    assert terms.parse('a" OR "b').fts5() == '("b")'
    assert terms.parse("mobile OR web -beta").websearch() == "mobile or web -beta"
    assert terms.parse("self-hosting -how-to -set-up").websearch() == ('"self hosting" -"set up"')
    assert terms.parse("--sampling x-").fts5() == '("sampling") AND ("x")'


# -- highlighting ------------------------------------------------------------------------------


def test_matches_are_marked_and_everything_else_escaped(app, client, make, world):
    make.question(
        world.asker,
        subject='<script>alert("x")</script> Sessions <b>vanish</b> & "reappear"',
        body="When sessions <img src=x onerror=alert(1)> vanish, **nothing** helps.",
    )
    response = client.get("/questions", query_string={"q": "vanish"})
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>vanish" not in page
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Sessions &lt;b&gt;<mark>vanish</mark>"
        "&lt;/b&gt; &amp; &#34;reappear&#34;"
    ) in page
    # The excerpt (PostgreSQL ends it at the last word, SQLite keeps the full stop).
    assert "&lt;img src=x onerror=alert(1)&gt; <mark>vanish</mark>, nothing helps" in page
    api = client.get("/api/v1/search", query_string={"q": "vanish"}).get_json()
    (result,) = api["results"]
    assert result["subject_html"].count("<mark>") == 1
    assert "<script>" not in result["subject_html"] and "<img" not in result["excerpt_html"]


def test_marker_characters_in_posts_cannot_forge_marks(app, make, world):
    make.question(
        world.asker,
        subject="\x02<i>\x03 Quasar \x03 drift\x02",
        body="\x03</mark><script>\x02 quasar",
    )
    (hit,) = search(app, "quasar").hits
    assert str(hit.subject_html) == "&lt;i&gt; <mark>Quasar</mark>  drift"
    excerpt = str(hit.excerpt_html)
    assert "<script>" not in excerpt and "</mark><" not in excerpt
    assert excerpt.count("<mark>") == excerpt.count("</mark>") <= 1


def test_the_highlighter_keeps_marks_balanced():
    start, stop = highlight.START, highlight.STOP
    assert highlight.marked_html(f"a {start}<b>{stop} c") == "a <mark>&lt;b&gt;</mark> c"
    assert highlight.marked_html(f"{stop}x{start}{start}y") == "x<mark>y</mark>"
    assert highlight.marked_html(f"{start}{stop}plain") == "plain"
    assert highlight.excerpt_html("```py\n**bold** `code`\n# Title") == "py bold code Title"


# -- the API -------------------------------------------------------------------------------------


@pytest.fixture
def api(client, app) -> ApiClient:
    response = app.test_client().get("/api/v1/openapi.json")
    return ApiClient(client, Document(response.get_json()))


def test_the_api_searches_with_filters_and_cursor(api, make, world):
    response = api.get("/search", query_string={"q": "sampling rate"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == "sampling rate" and body["notices"] == []
    assert [item["question"]["subject"] for item in body["results"]][:2] == [
        "Sampling rate",
        "Sampling rate for mobile recordings",
    ]
    assert body["results"][0]["subject_html"] == "<mark>Sampling</mark> <mark>rate</mark>"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert (
        api.get("/search", query_string={"q": "sampling", "state": "answered"}).get_json()[
            "results"
        ]
        == []
    )
    with make.app.app_context():
        slug = db.session.get(Topic, world.flags_topic).slug
        team = db.session.get(Team, db.session.get(Topic, world.flags_topic).team_id).slug
    for args in ({"topic": slug}, {"team": team}, {"page_prefix": OTHER_DOC[:40]}):
        found = api.get("/search", query_string={"q": "sampling", **args}).get_json()["results"]
        assert [item["question"]["subject"] for item in found] == ["Rollout percentage ignored"]
    for args in ({"topic": "nope"}, {"team": "nope"}):
        assert api.get("/search", query_string={"q": "sampling", **args}).get_json() == {
            "query": "sampling",
            "notices": [],
            "results": [],
            "next_cursor": None,
        }
    first = api.get("/search", query_string={"q": "sampling", "limit": 2}).get_json()
    second = api.get(
        "/search", query_string={"q": "sampling", "limit": 2, "cursor": first["next_cursor"]}
    ).get_json()
    ids = [item["question"]["id"] for item in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 4
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "the"},
        {"q": "-sampling"},
        {"q": "sampling", "state": "nope"},
        {"q": "sampling", "cursor": "nope"},
        {"q": "sampling", "cursor": "b2Zmc2V0OjEwMDAw"},  # offset:10000, past the end
        {"q": "sampling", "limit": "0"},
    ],
)
def test_bad_searches_are_bad_requests(api, world, args):
    response = api.get("/search", query_string=args)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_the_api_never_shows_what_is_not_public(api, world):
    for text in ("secret", "hidden text", "held text", "deleted text"):
        body = api.get("/search", query_string={"q": text}).get_json()
        assert body["results"] == [], text


# -- speed: a fixed number of queries ----------------------------------------------------------


def _queries_for(client, count_queries, path: str, **args) -> int:
    with count_queries() as statements:
        response = client.get(path, query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(statements)


def test_search_query_counts_are_fixed(app, client, make, count_queries, world):
    """Site: the topics (for the filters), the ranked page, its questions with highlights. API:
    the ranked page and its questions (plus a look-up per topic or team filter)."""
    with app.app_context():
        slug = db.session.get(Topic, world.replay_topic).slug

    def counts() -> dict[str, int]:
        return {
            "site": _queries_for(client, count_queries, "/questions", q="sampling"),
            "site, filtered": _queries_for(
                client, count_queries, "/questions", q="sampling", topic=slug, state="unanswered"
            ),
            "site, nothing found": _queries_for(client, count_queries, "/questions", q="zebra"),
            "api": _queries_for(client, count_queries, "/api/v1/search", q="sampling"),
            "api, by topic": _queries_for(
                client, count_queries, "/api/v1/search", q="sampling", topic=slug
            ),
        }

    few = counts()
    assert few == {
        "site": 3,
        "site, filtered": 3,
        "site, nothing found": 2,
        "api": 2,
        "api, by topic": 3,
    }
    for n in range(25):
        question = make.question(world.helper, subject=f"Sampling question {n}", page_url=DOC)
        make.reply(question, world.asker, body="More sampling detail.")
        make.reply(question, world.helper, body="Sampling answer.")
    assert counts() == few


# -- rate limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_searching_is_rate_limited_per_address_across_site_and_api(client, world):
    from community.search import limits

    per_minute = int(limits.SEARCH_PER_IP.split("/")[0])
    for n in range(per_minute):
        path = "/questions" if n % 2 else "/api/v1/search"
        assert client.get(path, query_string={"q": f"sampling {n}"}).status_code == 200, n
    for path in ("/questions", "/api/v1/search"):
        refused = client.get(path, query_string={"q": "sampling"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
    # Browsing the list is not searching; another address has its own budget.
    assert client.get("/questions").status_code == 200
    other = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/questions?q=sampling", environ_base=other).status_code == 200


# -- similar questions ---------------------------------------------------------------------------


def similar(app: Flask, subject: str, page_url: str | None = None) -> list[str]:
    with app.app_context():
        return [item.subject for item in queries.similar(subject, page_url=page_url)]


@pytest.fixture
def lookalikes(make, world) -> dict[str, int]:
    """Four questions alike in words: on DOC or elsewhere, resolved or not."""
    made = {}
    for name, page in (
        ("elsewhere", OTHER_DOC),
        ("elsewhere resolved", OTHER_DOC),
        ("here", DOC),
        ("here resolved", DOC),
    ):
        made[name] = make.question(
            world.asker, subject="Webhook retries duplicate events", body="Twice.", page_url=page
        )
        if "resolved" in name:
            answer = make.reply(made[name], world.helper, body="Deduplicate by id.")
            make.accept(answer, world.asker)
    return made


def test_similar_questions_prefer_the_same_page_then_resolved(app, lookalikes):
    with app.app_context():
        found = queries.similar("webhook retries create duplicates", page_url=DOC)
        assert [item.id for item in found] == [
            lookalikes["here resolved"],
            lookalikes["here"],
            lookalikes["elsewhere resolved"],
            lookalikes["elsewhere"],
        ]
        assert [item.same_page for item in found] == [True, True, False, False]
        anywhere = queries.similar("webhook retries create duplicates")
        assert [item.id for item in anywhere][:2] == sorted(
            [lookalikes["here resolved"], lookalikes["elsewhere resolved"]], reverse=True
        )


def test_similar_questions_need_two_shared_words_and_stop_at_five(app, make, world):
    for n in range(7):
        make.question(world.helper, subject=f"Cohort export fails {n}", body="It fails.")
    assert len(similar(app, "cohort export")) == 5
    assert similar(app, "cohort") != []  # one significant word: that word is enough
    assert similar(app, "cohort import sampling") == []  # no question has two of these
    assert similar(app, "how do I") == []  # nothing significant typed yet
    assert similar(app, "") == []


def test_the_similar_lookup_is_json_for_a_get(app, client, lookalikes):
    response = client.get(
        "/questions/similar", query_string={"subject": "Webhook retries", "url": DOC}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "private, max-age=60"
    first, *rest = response.get_json()["questions"]
    assert first == {
        "id": lookalikes["here resolved"],
        "subject": "Webhook retries duplicate events",
        "url": f"/questions/{lookalikes['here resolved']}-webhook-retries-duplicate-events",
        "status": "resolved",
        "resolved": True,
        "same_page": True,
        "reply_count": 1,
    }
    assert len(rest) == 3
    # A bad page address only loses the preference; no error.
    odd = client.get("/questions/similar", query_string={"subject": "Webhook retries", "url": "x"})
    assert odd.status_code == 200 and len(odd.get_json()["questions"]) == 4


def test_the_embeds_lookup_lives_under_embed_with_its_framing(app, client, lookalikes):
    app.config["EMBED_ALLOWED_ORIGINS"] = ["https://docs.example.com"]
    response = client.get(
        "/embed/similar",
        query_string={"url": DOC, "origin": "https://docs.example.com", "subject": "webhook retry"},
    )
    assert response.status_code == 200
    assert (
        "frame-ancestors 'self' https://docs.example.com"
        in response.headers["Content-Security-Policy"]
    )
    assert response.get_json()["questions"][0]["same_page"] is True
    assert client.get("/embed/similar", query_string={"subject": "webhook"}).status_code == 400


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_lookups_need_no_csrf_token(client, lookalikes):
    assert client.get("/questions/similar?subject=webhook+retries").status_code == 200
    assert client.get(f"/embed/similar?url={DOC}&subject=webhook+retries").status_code == 200


# -- without JavaScript: "Did you mean one of these?" ---------------------------------------------

TYPED = {
    "subject": "Webhook retries send <b>duplicates</b>",
    "body": "Each event arrives twice & I'm lost.",
    "topic_id": "0",
}


def _hidden_value(page: str, name: str) -> str | None:
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    value = re.search(r'value="([^"]*)"', field.group(0)) if field else None
    return value.group(1) if value else None


def test_asking_without_script_shows_similar_questions_once(auth, client, make, world, lookalikes):
    auth.login_as(world.helper)
    before = make.count(Question)
    first = client.post("/ask", data={**TYPED, "page_url": DOC})
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "Did you mean one of these?" in page
    assert page.count("Webhook retries duplicate events") == 4
    assert f'href="/questions/{lookalikes["here resolved"]}-webhook' in page
    assert 'target="_blank"' in page  # the form, and the text in it, stay put
    assert "Post anyway" in page
    # Nothing typed is lost: the subject, the details and the page come back in the form.
    assert 'value="Webhook retries send &lt;b&gt;duplicates&lt;/b&gt;"' in page
    assert "Each event arrives twice &amp; I&#39;m lost." in page
    assert _hidden_value(page, "page_url") == "https://docs.example.com/docs/session-replay/setup"
    assert _hidden_value(page, "similar_seen") == "1"
    assert make.count(Question) == before
    # "Post anyway" sends the same form again, now marked as seen: it posts.
    again = client.post(
        "/ask",
        data={
            **TYPED,
            "page_url": DOC,
            "similar_seen": "1",
            "submission_key": _hidden_value(page, "submission_key"),
        },
    )
    assert again.status_code == 302
    assert make.count(Question) == before + 1


def test_asking_something_new_posts_at_once(app, auth, client, make, world, lookalikes):
    auth.login_as(world.helper)
    response = client.post(
        "/ask", data={"subject": "Dashboards load slowly", "body": "Ten seconds.", "topic_id": "0"}
    )
    assert response.status_code == 302


def test_a_visitor_sees_similar_questions_before_signing_in(app, client, make, lookalikes):
    response = client.post("/ask", data=TYPED)
    assert response.status_code == 200 and "Did you mean one of these?" in response.get_data(
        as_text=True
    )
    saved = client.post("/ask", data={**TYPED, "similar_seen": "1"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/login"


def test_the_embed_asks_did_you_mean_too(app, auth, client, make, world, lookalikes):
    auth.login_as(world.helper)
    before = make.count(Question)
    query = {"url": DOC, "title": "Setup"}
    first = client.post("/embed/ask", query_string=query, data=TYPED)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "Post anyway" in page
    (section,) = re.findall(r'<section class="[^"]*did-you-mean".*?</section>', page, re.S)
    assert "Did you mean one of these?" in section
    assert section.count('target="_blank" rel="noopener">Webhook retries duplicate events') == 4
    assert "Each event arrives twice &amp; I&#39;m lost." in page
    assert make.count(Question) == before
    again = client.post("/embed/ask", query_string=query, data={**TYPED, "similar_seen": "1"})
    assert again.status_code == 302
    assert make.count(Question) == before + 1


def test_the_forms_carry_the_lookup_for_the_script(client, world):
    for path in ("/ask", f"/pages?url={DOC}", f"/embed?url={DOC}"):
        page = client.get(path).get_data(as_text=True)
        assert "data-similar-url=" in page, path
        assert "data-similar-list" in page, path
        assert _hidden_value(page, "similar_seen") in {None, ""}, path
    assert 'data-similar-url="/questions/similar"' in client.get("/ask").get_data(as_text=True)


def test_similar_questions_never_show_what_is_not_public(app, client, world):
    for response in (
        client.get("/questions/similar", query_string={"subject": "sampling rate secret"}),
        client.get("/embed/similar", query_string={"url": DOC, "subject": "sampling rate secret"}),
    ):
        assert response.status_code == 200
        for secret in SECRETS:
            assert secret not in response.get_data(as_text=True), secret
    assert similar(app, "sampling rate secret") == similar(app, "sampling rate")


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_any_subject_gets_suggestions_or_none(app, client, world, text):
    for path, args in (
        ("/questions/similar", {"subject": text}),
        ("/embed/similar", {"subject": text, "url": DOC}),
    ):
        answer = client.get(path, query_string=args)
        assert answer.status_code == 200, (path, answer.get_data(as_text=True))
        assert isinstance(answer.get_json()["questions"], list)
    assert not any(secret in subject for subject in similar(app, text) for secret in SECRETS)


def test_a_nul_character_in_a_subject_is_refused_clearly(client, world):
    assert client.get("/questions/similar", query_string={"subject": "a\x00b"}).status_code == 400


def test_the_significant_words_of_a_subject():
    assert terms.similar_terms("How do I set the sampling rate, sampling?").words == [
        "set",
        "sampling",
        "rate",
    ]
    assert terms.similar_terms("a b c").words == []
    wanted = terms.similar_terms("one two three four five six seven eight")
    assert wanted.tiers() == [8, 3, 2]
    wanted.rarest = ["six", "two", "eight", "one", "five", "three", "four", "seven"]
    assert wanted.pool == ["six", "two", "eight", "one"]
    assert wanted.combinations(2)[:2] == [("six", "two"), ("six", "eight")]
    assert wanted.fts5(8).count('"') == 16 and " OR " not in wanted.fts5(8)
    assert terms.similar_terms("alpha beta gamma").tiers() == [3, 2]


def test_the_loose_tiers_combine_the_rarest_words(app, make, world, dialect):
    """PostgreSQL knows from the subject index's statistics which words are rare; SQLite keeps
    the order typed."""
    for n in range(30):
        make.question(world.helper, subject=f"Common widget question {n}")
    make.question(world.helper, subject="Rare quokka question")
    with app.app_context():
        if dialect == "postgresql":
            db.session.execute(sa.text("ANALYZE questions"))
        queries._SUBJECT_STATISTICS.clear()
        order = queries._backend().rarest_first(["widget", "quokka", "common"])
        queries._SUBJECT_STATISTICS.clear()
    if dialect == "postgresql":
        assert order[0] == "quokka" and set(order) == {"widget", "quokka", "common"}
    else:
        assert order == ["widget", "quokka", "common"]


def test_a_lookup_costs_one_query_per_tier_it_asks(client, make, count_queries, world, lookalikes):
    """The tiers are asked in turn until five are found: a subject with close matches costs one
    query, one with none a query per tier (at most three), however many questions there are."""
    make.question(world.helper, subject="Webhook retries duplicate events", page_url=DOC)
    client.get("/questions/similar?subject=warm+up")  # PostgreSQL reads its word statistics
    close = {"subject": "webhook retries duplicate events", "url": DOC}
    unknown = {"subject": "zebra quokka narwhal", "url": DOC}
    counts = (
        _queries_for(client, count_queries, "/questions/similar", **close),
        _queries_for(client, count_queries, "/questions/similar", **unknown),
    )
    assert counts == (1, 2)
    for n in range(10):
        make.question(world.helper, subject=f"Webhook sampling {n}", page_url=DOC)
    assert (
        _queries_for(client, count_queries, "/questions/similar", **close),
        _queries_for(client, count_queries, "/questions/similar", **unknown),
    ) == counts


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_the_similar_lookups_are_rate_limited(client, world):
    from community.search import limits

    per_minute = int(limits.SIMILAR_PER_IP.split("/")[0])
    for n in range(per_minute):
        path = "/questions/similar" if n % 2 else "/embed/similar"
        response = client.get(path, query_string={"subject": f"sampling {n}", "url": DOC})
        assert response.status_code == 200, n
    assert client.get("/questions/similar?subject=sampling").status_code == 429


# -- in a browser: suggestions while typing ------------------------------------------------------


def _similar_requests(page) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda request: "/similar?" in request.url and requests.append(request.url))
    return requests


def test_suggestions_appear_after_a_pause_while_typing(live_server, page, lookalikes):
    from urllib.parse import quote

    from playwright.sync_api import expect

    asked = _similar_requests(page)
    page.goto(f"{live_server}/pages?url={quote(DOC)}")
    subject = page.get_by_label("Subject")
    subject.press_sequentially("Webhook retries duplicate", delay=40)
    assert subject.input_value() == "Webhook retries duplicate"  # every key got through
    suggestions = page.locator("[data-similar-list] a")
    suggestions.first.wait_for()
    assert suggestions.count() == 4
    assert suggestions.first.get_attribute("href") == (
        f"/questions/{lookalikes['here resolved']}-webhook-retries-duplicate-events"
    )
    assert suggestions.first.get_attribute("target") == "_blank"
    assert "Resolved" in page.locator("[data-similar-list] li").first.inner_text()
    # One lookup after the pause, not one per key.
    assert len(asked) == 1 and "subject=Webhook+retries+duplicate" in asked[0]
    assert "url=https" in asked[0]
    assert page.locator("input[name=similar_seen]").input_value() == "1"
    # Typing on clears "seen" until the new subject has been looked up.
    subject.press_sequentially(" events zzz", delay=20)
    assert page.locator("input[name=similar_seen]").input_value() == ""
    expect(page.locator("input[name=similar_seen]")).to_have_value("1")
    assert len(asked) == 2
    # The suggestions were seen, so posting goes straight on (to sign in: a visitor).
    page.get_by_label("Details").fill("Every event arrives twice.")
    page.get_by_role("button", name="Post your question").click()
    page.wait_for_url("**/login")
    assert page.dialogs == []


def test_the_embed_suggests_while_typing_and_opens_threads_in_a_new_tab(
    live_server, page, lookalikes
):
    from urllib.parse import quote

    page.goto(f"{live_server}/embed?url={quote(DOC)}")
    page.get_by_label("Subject").press_sequentially("webhook retries", delay=30)
    links = page.locator("[data-similar-list] a")
    links.first.wait_for()
    assert links.count() == 4
    assert {links.nth(n).get_attribute("target") for n in range(4)} == {"_blank"}
    with page.context.expect_page() as opened:
        links.first.click()
    assert "/questions/" in opened.value.url
    assert page.url.startswith(f"{live_server}/embed")  # the embed and its form stay
    assert page.get_by_label("Subject").input_value() == "webhook retries"
