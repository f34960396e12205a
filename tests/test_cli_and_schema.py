"""The demo seed, and the schema that the migrations build."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from community.accounts.models import User
from community.db import render_migration_type
from community.extensions import db
from community.questions.models import Page, Question, Reply, Team, Topic, TopicPageRule
from community.search import schema as search_schema


def _counts(make) -> dict[str, int]:
    models = (Team, Topic, TopicPageRule, User, Page, Question, Reply)
    return {model.__name__: make.count(model) for model in models}


def test_seed_demo_builds_a_living_community_and_is_idempotent(runner, make, client):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = _counts(make)
    assert counts["Team"] == 7 and counts["Question"] >= 4 and counts["Reply"] >= 3
    assert make.count(User, User.role == "moderator") >= 1
    assert make.count(Question, Question.accepted_reply_id.is_not(None)) >= 1
    assert make.count(Question, Question.topic_id.is_(None)) == 0  # every page found its topic

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert _counts(make) == counts

    listing = client.get("/questions").get_data(as_text=True)
    assert "Recordings stop after the user navigates to a new page" in listing
    moderator = client.post(
        "/login",
        data={"email": "moderator@example.com", "password": "community-demo-password"},
    )
    assert moderator.status_code == 302


def test_migrations_match_the_models(app):
    """The same check as ``flask db check``, inside the suite: no drift between the two."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "render_item": render_migration_type,
                "include_object": search_schema.include_object,
            },
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_email_uniqueness_and_lower_case_hold_in_the_database(app):
    with app.app_context():
        db.session.add(User(email="a@example.com", name="A", role="member"))
        db.session.commit()
        for email in ("a@example.com", "B@example.com"):
            db.session.add(User(email=email, name="B", role="member"))
            try:
                db.session.commit()
            except sa.exc.IntegrityError:
                db.session.rollback()
            else:
                raise AssertionError(f"{email} was accepted")
