"""Stored renderings of a doc page (``questions.snapshots``): served while current, and never
after any write that changes what the page shows.

Each write below goes through the services (or, for bulk and admin changes, a plain UPDATE, which
the triggers see as well). After it, the stored rendering must be replaced: the response equals a
rendering made from scratch, and differs from the one before.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from community.accounts import services as account_services
from community.accounts.models import Role, User
from community.extensions import db
from community.moderation import bans
from community.moderation import services as moderation
from community.questions import page_cache, snapshots
from community.questions import services as question_services
from community.questions.models import (
    Page,
    PageSnapshot,
    Question,
    Reply,
    Team,
    Topic,
    question_pages,
)

DOC = "https://docs.example.com/docs/session-replay/setup"
OTHER = "https://docs.example.com/docs/session-replay/other"
PAGE_API = "/api/v1/pages/questions"


@dataclass
class Scene:
    asker: int
    replier: int
    moderator: int
    question: int
    reply: int
    topic: int
    other_topic: int


@pytest.fixture
def scene(make) -> Scene:
    topic = make.topic()
    other_topic = make.topic(name="Feature flags", prefix=None)
    asker = make.user(name="Ada Asker")
    replier = make.user(name="Hal Helper")
    moderator = make.moderator()
    question = make.question(asker, "How do I record?", page_url=DOC)
    reply = make.reply(question, replier, "Like this.")
    make.question(make.user(), "Another one on the other page", page_url=OTHER)
    return Scene(asker, replier, moderator, question, reply, topic, other_topic)


def read(client: FlaskClient, url: str = DOC, **headers: str):
    response = client.get(PAGE_API, query_string={"url": url}, headers=headers)
    assert response.status_code in {200, 304}, response.get_data(as_text=True)
    return response


def from_scratch(app: Flask, client: FlaskClient, url: str = DOC) -> Any:
    with app.app_context():
        db.session.execute(sa.delete(PageSnapshot))
        db.session.commit()
    return read(client, url).get_json()


def act(app: Flask, action: Callable[..., Any], *models: tuple[type, int]) -> None:
    """Run ``action`` on freshly loaded rows in one transaction, as a request would."""
    with app.app_context():
        action(*(db.session.get(model, ident) for model, ident in models))
        db.session.commit()


def set_column(app: Flask, model: type, ident: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(sa.update(model).where(model.id == ident).values(**values))
        db.session.commit()


def page_id(app: Flask, url: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Page.id).where(Page.url == url))


WRITES: dict[str, Callable[[Flask, Any, Scene], Any]] = {
    "a question is asked on the page": lambda app, make, s: make.question(
        s.replier, "A second question", page_url=DOC
    ),
    "a reply is posted": lambda app, make, s: make.reply(s.question, s.asker, "Thanks!"),
    "the answer is accepted": lambda app, make, s: make.accept(s.reply, s.asker),
    "the question is edited": lambda app, make, s: act(
        app,
        lambda user, q: question_services.edit_question(user, q, "How do I record?", "Edited."),
        (User, s.asker),
        (Question, s.question),
    ),
    "the reply is edited": lambda app, make, s: act(
        app,
        lambda user, r: question_services.edit_reply(user, r, "Like that."),
        (User, s.replier),
        (Reply, s.reply),
    ),
    "the reply is deleted": lambda app, make, s: act(
        app, question_services.delete_reply, (User, s.replier), (Reply, s.reply)
    ),
    "a moderator hides the question": lambda app, make, s: act(
        app,
        lambda mod, q: moderation.hide(mod, q, "spam"),
        (User, s.moderator),
        (Question, s.question),
    ),
    "a moderator hides the reply": lambda app, make, s: act(
        app,
        lambda mod, r: moderation.hide_reply(mod, r, "abusive"),
        (User, s.moderator),
        (Reply, s.reply),
    ),
    "a moderator deletes the question": lambda app, make, s: act(
        app, moderation.delete, (User, s.moderator), (Question, s.question)
    ),
    "a moderator pins the question": lambda app, make, s: act(
        app,
        lambda mod, q: moderation.set_pinned(mod, q, True),
        (User, s.moderator),
        (Question, s.question),
    ),
    "a moderator locks the question": lambda app, make, s: act(
        app,
        lambda mod, q: moderation.set_locked(mod, q, True),
        (User, s.moderator),
        (Question, s.question),
    ),
    "a moderator moves it to another topic": lambda app, make, s: act(
        app, moderation.move, (User, s.moderator), (Question, s.question), (Topic, s.other_topic)
    ),
    "a moderator moves it to another page": lambda app, make, s: act(
        app,
        moderation.move_to_page,
        (User, s.moderator),
        (Question, s.question),
        (Page, page_id(app, OTHER)),
    ),
    "a moderator bans the replier": lambda app, make, s: act(
        app,
        lambda mod, user: bans.ban(mod, user, "spam"),
        (User, s.moderator),
        (User, s.replier),
    ),
    "the replier deletes their account": lambda app, make, s: act(
        app,
        lambda user: account_services.delete_account(user, "correct horse battery staple"),
        (User, s.replier),
    ),
    "the asker changes their name": lambda app, make, s: set_column(
        app, User, s.asker, name="Ada Lovelace"
    ),
    "an admin renames the topic": lambda app, make, s: set_column(
        app, Topic, s.topic, name="Replays"
    ),
    "the page gets a new title": lambda app, make, s: set_column(
        app, Page, page_id(app, DOC), title="Set up session replay"
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_write_that_changes_the_page_replaces_its_stored_rendering(
    app, client, make, scene, write
):
    before = read(client)
    assert read(client, **{"If-None-Match": before.headers["ETag"]}).status_code == 304
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot)) == 1

    WRITES[write](app, make, scene)

    after = read(client, **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the old ETag no longer matches
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json() != before.get_json()
    assert after.get_json() == from_scratch(app, client)


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE_MB": 4}], ids=["page cache on"])
@pytest.mark.parametrize("write", WRITES)
def test_a_write_that_changes_the_page_reaches_the_page_cache_in_front(
    app, client, make, scene, write, app_config
):
    """The same writes, with the cache in front of the app (``questions.page_cache``): a read
    after the write's commit has been announced is the new page, not the one kept in memory."""
    cache = page_cache.of(app)
    cache.watcher.settle()
    for _ in range(3):  # until kept (on SQLite, storing the rendering empties it once)
        before = read(client)
        if cache.stats()["entries"]:
            break
    assert read(client).get_data() == before.get_data() and cache.counts["hits"] == 1

    WRITES[write](app, make, scene)
    cache.watcher.settle()

    after = read(client)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json() != before.get_json()
    assert after.get_json() == from_scratch(app, client)


def test_the_stored_rendering_is_what_is_served_while_the_page_is_unchanged(
    app, client, scene, count_queries
):
    """Proof that reads come from the store: a doctored stored body is what readers get, in
    one query, until a write to the page makes it out of date."""
    first = read(client)
    with app.app_context():
        db.session.execute(
            sa.update(PageSnapshot).values(body=gzip.compress(b'{"stored": true}\n'))
        )  # not a real rendering: only the store could serve it
        db.session.commit()
    with count_queries() as statements:
        served = read(client)
    assert served.get_json() == {"stored": True}
    assert len(statements) == 1
    assert served.headers["ETag"] == first.headers["ETag"]
    assert served.headers["Cache-Control"] == "public, max-age=30"

    with count_queries() as statements:
        assert read(client, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert len(statements) == 1

    set_column(app, Question, scene.question, subject="A changed subject")
    assert read(client).get_json()["questions"][0]["subject"] == "A changed subject"


def test_browsers_get_the_stored_rendering_compressed_as_it_is_kept(app, client, scene):
    plain = read(client)
    compressed = read(client, **{"Accept-Encoding": "gzip, deflate, br"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(compressed.get_data()) == plain.get_data()
    assert len(compressed.get_data()) < len(plain.get_data())
    for response in plain, compressed:
        assert "Accept-Encoding" in response.headers["Vary"]
    # One validator per coding: each revalidates its own, neither is taken for the other.
    assert compressed.headers["ETag"] != plain.headers["ETag"]
    again = read(client, **{"Accept-Encoding": "gzip", "If-None-Match": compressed.headers["ETag"]})
    assert again.status_code == 304
    assert read(client, **{"If-None-Match": compressed.headers["ETag"]}).status_code == 200
    with app.app_context():
        (stored,) = db.session.scalars(sa.select(PageSnapshot.body)).all()
    assert stored == compressed.get_data()


def test_other_pages_keep_their_stored_renderings(app, client, make, scene):
    read(client, DOC)
    other = read(client, OTHER)
    make.reply(scene.question, scene.asker, "Only the first page changes")
    assert read(client, OTHER, **{"If-None-Match": other.headers["ETag"]}).status_code == 304


def test_a_team_rename_changes_the_version_of_its_members_pages(app, make, scene):
    """The embed shows each reply's team; the API does not, so only the version is checked."""
    with app.app_context():
        team = db.session.scalar(sa.select(Topic.team_id).where(Topic.id == scene.topic))
    set_column(app, User, scene.replier, team_id=team)  # a team member now
    doc, other = page_id(app, DOC), page_id(app, OTHER)
    with app.app_context():
        versions = dict(db.session.execute(sa.select(Page.id, Page.content_version)).all())
    set_column(app, Team, team, name="Replay engineers")
    with app.app_context():
        after = dict(db.session.execute(sa.select(Page.id, Page.content_version)).all())
    assert after[doc] == versions[doc] + 1
    assert after[other] == versions[other]  # nobody of the team wrote there


def test_a_new_build_never_serves_renderings_of_the_old_one(app, client, scene):
    first = read(client)
    with app.app_context():
        db.session.execute(
            sa.update(PageSnapshot).values(body=gzip.compress(b'{"old build": true}\n'))
        )
        db.session.commit()
    app.extensions["page_snapshot_build"] = "another-build-00"  # as after a deploy
    served = read(client, **{"If-None-Match": first.headers["ETag"]})
    assert served.status_code == 200
    assert served.get_json()["questions"][0]["subject"] == "How do I record?"
    with app.app_context():
        (build,) = db.session.scalars(sa.select(PageSnapshot.build)).all()
    assert build == "another-build-00"  # replaced, not added beside


def test_the_build_changes_with_what_shows_in_a_page(app):
    own = snapshots.compute_build(app)
    assert app.extensions["page_snapshot_build"] == own  # taken when the app was made
    for setting, value in (("BASE_URL", "https://elsewhere.example.org"), ("SITE_NAME", "Other")):
        other = Flask("other")
        other.config.update(BASE_URL=app.config["BASE_URL"], SITE_NAME=app.config["SITE_NAME"])
        assert snapshots.compute_build(other) == own
        other.config[setting] = value
        assert snapshots.compute_build(other) != own


def test_a_failure_to_store_still_answers_the_reader(app, client, scene, monkeypatch, caplog):
    """Storing fails for real (the row names a page that does not exist): the reader still gets
    the page, and the failure is logged."""
    real_lookup = snapshots.lookup

    def lookup_gone_page(url: str, kind: str) -> snapshots.Lookup:
        found = real_lookup(url, kind)
        return snapshots.Lookup(10**9, found.version, None)

    monkeypatch.setattr(snapshots, "lookup", lookup_gone_page)
    response = read(client)
    assert response.status_code == 200
    assert response.get_json()["questions"][0]["subject"] == "How do I record?"
    assert "could not store its api.page_questions rendering" in caplog.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot)) == 0


def test_other_screens_and_limits_are_rendered_not_stored(app, client, make, scene):
    for n in range(3):
        make.question(scene.asker, f"More {n}", page_url=DOC)
    first = client.get(PAGE_API, query_string={"url": DOC, "limit": 2}).get_json()
    assert len(first["questions"]) == 2 and first["next_cursor"]
    second = client.get(
        PAGE_API, query_string={"url": DOC, "limit": 2, "cursor": first["next_cursor"]}
    ).get_json()
    assert len(second["questions"]) == 2
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot)) == 0


def test_an_unknown_page_is_answered_without_storing(app, client, count_queries):
    with count_queries() as statements:
        response = read(client, "https://docs.example.com/docs/nobody-asked")
    assert response.get_json()["questions"] == []
    assert len(statements) == 1
    assert (
        read(
            client,
            "https://docs.example.com/docs/nobody-asked",
            **{"If-None-Match": response.headers["ETag"]},
        ).status_code
        == 304
    )


# -- the embed, as a first-time visitor sees it -------------------------------------------------

EMBED_ARGS = {"url": DOC, "title": "Set up replay", "origin": "https://docs.example.com"}


@pytest.fixture
def embed_app(app: Flask) -> Flask:
    app.config.update(
        EMBED_ALLOWED_ORIGINS=["https://docs.example.com"],
        PAGE_ALLOWED_ORIGINS=["https://docs.example.com"],
        WTF_CSRF_ENABLED=True,
    )
    return app


def embed(client: FlaskClient, **args: str):
    response = client.get("/embed", query_string={**EMBED_ARGS, **args})
    assert response.status_code in {200, 304}, response.get_data(as_text=True)
    return response


def test_first_time_visitors_share_one_stored_embed_with_nobodys_tokens(
    embed_app, client, scene, count_queries
):
    first = embed(client)
    page = first.get_data(as_text=True)
    assert "How do I record?" in page and "Like this." in page
    assert 'name="csrf_token" value=""' in page
    assert re.search(r'name="csrf_token"[^>]*value="[^"]', page) is None
    assert re.search(r'name="submission_key"[^>]*value="[^"]', page) is None
    assert not first.headers.getlist("Set-Cookie")  # no session started for a first view
    assert "Cookie" in first.headers["Vary"]
    assert first.headers["Cache-Control"] == "private, no-cache"

    with count_queries() as statements:
        again = embed(client)
    assert len(statements) == 1 and again.get_data(as_text=True) == page
    with count_queries() as statements:
        assert embed(client, **{}).status_code == 200
        revalidated = client.get(
            "/embed",
            query_string=EMBED_ARGS,
            headers={"If-None-Match": first.headers["ETag"]},
        )
    assert revalidated.status_code == 304 and len(statements) == 2
    # The frame's own security headers still apply to a stored page.
    assert (
        "frame-ancestors 'self' https://docs.example.com"
        in (again.headers["Content-Security-Policy"])
    )


def test_a_reply_shows_in_the_stored_embed_at_once(embed_app, client, make, scene):
    before = embed(client)
    make.reply(scene.question, scene.asker, "Found it, thanks!")
    after = embed(client, **{})
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Found it, thanks!" in after.get_data(as_text=True)


def test_each_way_of_opening_the_embed_is_stored_on_its_own(embed_app, client, scene):
    dark = embed(client, theme="dark").get_data(as_text=True)
    plain = embed(client).get_data(as_text=True)
    assert 'data-theme="dark"' in dark and "data-theme" not in plain
    assert embed(client, theme="dark").get_data(as_text=True) == dark
    with embed_app.app_context():
        kinds = set(db.session.scalars(sa.select(PageSnapshot.kind)))
    assert len(kinds) == 2 and all(kind.startswith("embed.") for kind in kinds)


def test_readers_with_a_session_get_their_own_page(embed_app, client, make, scene):
    embed(client)  # stored for everyone
    token_url = "/embed/token?" + urlencode(EMBED_ARGS)
    token = client.get(token_url).get_json()["csrf_token"]
    assert token
    mine = embed(client).get_data(as_text=True)  # the session now holds a token
    assert f'value="{token}"' in mine
    assert re.search(r'name="submission_key"[^>]*value="[A-Za-z0-9_-]{16,}"', mine)
    # After an action the embed opens the thread: rendered for the reader, never stored.
    fresh = FlaskClient(embed_app, embed_app.response_class)
    opened = fresh.get("/embed", query_string={**EMBED_ARGS, "open": str(scene.question)})
    assert opened.status_code == 200
    with embed_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot)) == 1


def test_a_rendering_that_touched_the_session_is_never_stored(
    embed_app, client, scene, monkeypatch, caplog
):
    """The safety net: if the shared page ever asked for a CSRF token (a template calling
    csrf_token() for anonymous readers), it would hold that reader's token: not stored."""
    from community.embed import views as embed_views

    real = embed_views._render_shared

    def leaky(context, found):
        from flask_wtf.csrf import generate_csrf

        return real(context, found) + f"<!-- {generate_csrf()} -->"

    monkeypatch.setattr(embed_views, "_render_shared", leaky)
    assert embed(client).status_code == 200
    with embed_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot)) == 0
    assert "was not for everyone" in caplog.text


def test_a_page_stores_a_few_ways_of_opening_it_and_renders_the_rest(
    embed_app, client, scene, count_queries
):
    """Titles are whatever a docs page says: made-up ones are served, never piled up."""
    for n in range(snapshots.MAX_VARIANTS + 3):
        page = embed(client, title=f"Made-up title {n}").get_data(as_text=True)
        assert "How do I record?" in page
    with embed_app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(PageSnapshot))
    assert stored == snapshots.MAX_VARIANTS
    with count_queries() as statements:
        assert embed(client, title="Made-up title 0").status_code == 200
    assert len(statements) == 1  # a stored one still answers from the store


def test_a_first_post_without_script_keeps_the_text_and_the_next_try_has_a_token(
    embed_app, client, scene
):
    """No script in the frame: the stored page's empty token fails once, with the text kept,
    and starts the reader's session, so the page they go back to carries a token."""
    page = embed(client).get_data(as_text=True)
    assert 'name="csrf_token" value=""' in page
    refused = client.post(
        "/embed/ask?" + urlencode(EMBED_ARGS),
        data={"csrf_token": "", "subject": "Typed before any script ran", "body": "Kept?"},
    )
    assert refused.status_code == 400
    assert "Typed before any script ran" in refused.get_data(as_text=True)
    again = embed(client).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', again)
    assert token, "the page after a refused post still has no token"


def test_a_page_showing_a_question_from_another_page_follows_that_pages_title(app, client, scene):
    """The API names each question's origin page; a question can be listed on more pages than
    the one it was asked on (question_pages)."""
    with app.app_context():
        db.session.execute(
            sa.insert(question_pages).values(
                page_id=page_id(app, OTHER), question_id=scene.question
            )
        )
        db.session.commit()
    before = read(client, OTHER)
    origin_titles = {q["page"]["title"] for q in before.get_json()["questions"]}
    set_column(app, Page, page_id(app, DOC), title="Set up session replay")
    after = read(client, OTHER, **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Set up session replay" in {q["page"]["title"] for q in after.get_json()["questions"]}
    assert "Set up session replay" not in origin_titles
    assert after.get_json() == from_scratch(app, client, OTHER)


def test_the_stored_embed_says_when_and_the_script_says_how_long_ago(embed_app, client, scene):
    """A stored page cannot say "just now" for ever: it carries the exact time."""
    page = embed(client).get_data(as_text=True)
    assert "data-ago" in page and " ago<" not in page and "just now" not in page
    assert re.search(r"<time datetime=\"[^\"]+Z\"[^>]*data-ago>\d{1,2} \w{3} \d{4}, ", page)


def test_a_question_by_a_team_member_shows_their_team_in_the_embed(embed_app, client, make, scene):
    """Staff bylines name the team: loaded with the page's questions (it raised before)."""
    with embed_app.app_context():
        team = db.session.scalar(sa.select(Topic.team_id).where(Topic.id == scene.topic))
        team_name = db.session.get(Team, team).name
    staff = make.user(name="Sam Staff", role=Role.TEAM)
    set_column(embed_app, User, staff, team_id=team)
    make.question(staff, "Announcing the new recorder", page_url=DOC)
    page = embed(client).get_data(as_text=True)
    assert "Announcing the new recorder" in page and f"Team · {team_name}" in page
