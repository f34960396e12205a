"""``flask seed-demo``: a living community to click around in, created idempotently.

The teams are those of a real product company's handbook; the pages, people and conversations are
made up. Every demo account shares one password, printed by the command: never seed production.
"""

from __future__ import annotations

from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from community.accounts import services as accounts
from community.accounts.models import Role, User
from community.db import utcnow
from community.extensions import db
from community.questions import services as questions
from community.questions.models import Question, Team, Topic, TopicPageRule

DOCS = "https://posthog.com"
DEMO_PASSWORD = "community-demo-password"  # noqa: S105 -- demo accounts only, printed on purpose

TEAMS = [
    ("Product Analytics", "product-analytics", [("Product analytics", "/docs/product-analytics")]),
    ("Web Analytics", "web-analytics", [("Web analytics", "/docs/web-analytics")]),
    (
        "Feature Success",
        "feature-success",
        [("Feature flags", "/docs/feature-flags"), ("Experiments", "/docs/experiments")],
    ),
    ("Replay", "replay", [("Session replay", "/docs/session-replay")]),
    ("Pipeline", "pipeline", [("Data pipelines", "/docs/cdp")]),
    ("Infrastructure", "infrastructure", [("Self-hosting", "/docs/self-host")]),
    ("Growth", "growth", [("Billing", "/docs/billing")]),
]

PEOPLE = [
    ("moderator@example.com", "Maya Moderator", Role.MODERATOR),
    ("hero@example.com", "Hugo Hero", Role.MODERATOR),
    ("ada@example.com", "Ada Lovelace", Role.MEMBER),
    ("grace@example.com", "Grace Hopper", Role.MEMBER),
    ("linus@example.com", "Linus Pauling", Role.MEMBER),
]

# (asker, subject, body, page path, page title, [(replier, body)], accepted reply index or None)
CONVERSATIONS = [
    (
        "ada@example.com",
        "Recordings stop after the user navigates to a new page",
        "I've installed the snippet on our Next.js app. Session recordings start fine but they "
        "end as soon as the user clicks a link to another route. Is that expected?\n\n"
        "```js\nposthog.init('phc_…', { api_host: 'https://eu.i.posthog.com' })\n```",
        "/docs/session-replay/installation",
        "Session replay installation",
        [
            (
                "hero@example.com",
                "Hey Ada, that happens when the script is loaded again on each route change. "
                "Initialise it once in a provider at the root of your app; see the "
                "[Next.js guide](https://posthog.com/docs/libraries/next-js).",
            ),
            ("ada@example.com", "That was it: moved `init` into the provider. Thanks!"),
        ],
        0,
    ),
    (
        "grace@example.com",
        "How do I roll out a feature flag to 10% of EU users only?",
        "We want a gradual rollout, but only for users whose `country` property is in the EU. "
        "Can one flag do both conditions?",
        "/docs/feature-flags/creating-feature-flags",
        "Creating feature flags",
        [
            (
                "moderator@example.com",
                "Yes: add a release condition group with the property filter and set its "
                "rollout percentage to 10%. Groups are OR-ed; filters inside a group are AND-ed.",
            )
        ],
        None,
    ),
    (
        "linus@example.com",
        "Is there a Helm chart for self-hosting?",
        "The docs mention Docker Compose. We run everything on Kubernetes; is Helm supported?",
        "/docs/self-host",
        "Self-host",
        [],
        None,
    ),
    (
        "ada@example.com",
        "Funnel conversion differs from our SQL numbers",
        "Our warehouse says 12.4% but the funnel insight shows 9.8% for the same week. "
        "| source | rate |\n|---|---|\n| warehouse | 12.4% |\n| funnel | 9.8% |",
        "/docs/product-analytics/funnels",
        "Funnels",
        [],
        None,
    ),
]


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create demo teams, topics, pages, people and threads (safe to run again)."""
    topics = _teams_and_topics()
    people = _people()
    created = _conversations(people)
    db.session.commit()
    click.echo(
        f"Demo data ready: {len(topics)} topics, {len(people)} people, "
        f"{created} new threads. Every demo account's password is {DEMO_PASSWORD!r}; "
        "moderator: moderator@example.com."
    )


def _teams_and_topics() -> list[Topic]:
    topics = []
    for team_name, team_slug, team_topics in TEAMS:
        team = db.session.scalar(sa.select(Team).where(Team.slug == team_slug))
        if team is None:
            team = Team(name=team_name, slug=team_slug)
            db.session.add(team)
            db.session.flush()
        for topic_name, prefix in team_topics:
            slug = prefix.rsplit("/", 1)[-1]
            topic = db.session.scalar(sa.select(Topic).where(Topic.slug == slug))
            if topic is None:
                topic = Topic(
                    team_id=team.id,
                    name=topic_name,
                    slug=slug,
                    description=f"Questions about {topic_name.lower()}.",
                )
                db.session.add(topic)
                db.session.flush()
            if (
                db.session.scalar(
                    sa.select(TopicPageRule).where(TopicPageRule.path_prefix == prefix)
                )
                is None
            ):
                db.session.add(TopicPageRule(topic_id=topic.id, path_prefix=prefix))
            topics.append(topic)
    db.session.flush()
    return topics


def _people() -> dict[str, User]:
    people = {}
    for email, name, role in PEOPLE:
        user = accounts.find_user_by_email(email)
        if user is None:
            user = accounts.create_user(email, name, DEMO_PASSWORD, role=role, verified=True)
        people[email] = user
    return people


def _conversations(people: dict[str, User]) -> int:
    created = 0
    for index, (asker, subject, body, path, title, replies, accepted) in enumerate(CONVERSATIONS):
        key = f"demo-question-{index:04d}-seed"
        if db.session.scalar(sa.select(Question.id).where(Question.submission_key == key)):
            continue
        page = questions.resolve_page(DOCS + path, title)
        question = questions.ask_question(
            people[asker], subject, body, page=page, submission_key=key
        )
        # Spread the demo threads over the last few days so the list reads naturally.
        started = utcnow() - timedelta(days=len(CONVERSATIONS) - index, hours=3)
        question.created_at = question.published_at = question.last_activity_at = started
        posted = []
        for offset, (author, text) in enumerate(replies, start=1):
            reply = questions.post_reply(people[author], question, text)
            reply.created_at = reply.published_at = started + timedelta(minutes=17 * offset)
            posted.append(reply)
        if accepted is not None:
            questions.accept_answer(people[asker], question, posted[accepted])
        question.last_activity_at = posted[-1].created_at if posted else started
        db.session.flush()
        questions.refresh_response_times(question)  # from the back-dated replies
        created += 1
    return created
