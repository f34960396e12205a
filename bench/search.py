"""Search benchmark (issue 9): median and p95 latency of search and of similar-question lookups
over a large community, on PostgreSQL. The target is a p95 under 50 ms for both.

Run it from the project root, with PostgreSQL on 127.0.0.1:5432 (user postgres, no password):

    .venv/bin/python -m bench.search --questions 100000     # ~3 minutes on 2 cores
    .venv/bin/python -m bench.search                        # 1,000,000 questions

``--help`` lists the options. It creates and at the end drops a PostgreSQL database
(``bench_search``), migrates it with ``flask --app community db upgrade``, touches nothing else
and connects only to 127.0.0.1. It prints a summary in Markdown; the exit status is 1 when a p95
misses the target or a check fails.

Seeding is bulk SQL, not the app's services: ``INSERT … SELECT`` over ``generate_series`` writes
``--questions`` questions (subjects of 4 to 8 words, bodies of 25 to 64, drawn with a skew from a
vocabulary of a docs site: a few words are very common, most are rare; half of each text comes
from its page's topic), with replies (30 % answered, 30 % resolved with an accepted answer) and
about 1 % hidden or deleted. The search triggers are bypassed while seeding
(``session_replication_role = replica``) and each question's document is computed by migration
0013's own function, ``questions_search_document``; the GIN index is built afterwards. A sample is
then checked against the function, and a question posted through the service must be found at
once (the triggers at work).

Then, through the app's own service (``community.search.queries``, the code the site and the API
run; no HTTP, no templates), it times ``--searches`` searches (one to three words, phrases,
``or``, exact subjects) and ``--lookups`` similar-question lookups (subjects being typed, with
their page), after ``--warmup`` untimed ones of each.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from community.search.schema import SEARCH_INDEXES

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
TARGET_P95_MS = 50.0

# Words of a product's docs: each topic has its own, and all share the general ones.
TOPIC_WORDS = {
    "session-replay": "replay recording recordings session sessions player console network "
    "masking mask privacy canvas iframe mobile rrweb snapshot playback timeline inactivity "
    "minimum duration sampling throttle dom mutation",
    "feature-flags": "flag flags rollout percentage variant multivariate payload override "
    "release condition targeting bootstrap local evaluation decide cohort toggle kill switch "
    "stale dependency persistence group",
    "experiments": "experiment experiments significance variant control exposure goal metric "
    "secondary holdout bayesian probability credible interval sample size lift conversion "
    "funnel winner test",
    "product-analytics": "insight insights trend trends funnel funnels retention paths "
    "stickiness lifecycle breakdown formula dashboard dashboards filter property cohort "
    "aggregation interval chart",
    "data-pipelines": "pipeline destination source transformation webhook batch export warehouse "
    "bigquery snowflake redshift s3 schema sync backfill connector historical import "
    "ingestion lag",
    "sdks": "javascript python node ruby go android ios flutter react nextjs sdk library init "
    "capture identify alias reset autocapture initialization bundle version",
    "surveys": "survey surveys question questions response responses popover widget targeting "
    "nps rating open text multiple choice schedule appearance branding",
    "self-hosting": "docker kubernetes helm upgrade migration clickhouse postgres kafka redis "
    "plugin server memory cpu disk backup restore tls proxy domain",
}
_GENERAL = (
    "how why when what error errors fails failing failed broken missing empty slow wrong "
    "duplicate duplicates data event events user users person persons id ids api key token "
    "project organization team setting settings config configuration install installation "
    "setup update delete create change limit limits quota billing usage cost price plan "
    "browser chrome safari firefox page pages url domain cookie cookies storage local time "
    "timezone date timestamp utc count counts number numbers value values null undefined "
    "property properties name names list export import csv json query queries sql filter "
    "filters group groups role roles access permission permissions login password email "
    "notification alert alerts ingestion delay documentation example examples help issue "
    "support request requests response status code header headers cors proxy server client"
)
GENERAL_WORDS = _GENERAL.split()


# -- the database -------------------------------------------------------------------------------


@contextmanager
def postgresql_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A fresh database called ``name`` (dropped first if a crashed run left it), dropped after
    unless ``keep``."""
    import sqlalchemy as sa

    if not name.replace("_", "").isalnum():
        raise SystemExit(f"--pg-database must be letters, digits and underscores, not {name!r}")
    admin = sa.create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
    url = admin.url.set(database=name)
    if url.host not in {LOOPBACK, "localhost", "::1"}:
        raise SystemExit(f"--pg-admin-url must point at this machine (127.0.0.1), not {url.host}")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def existing_database(admin_url: str, name: str) -> Iterator[str]:
    """A database an earlier run kept (``--keep``), used as it is and kept again."""
    import sqlalchemy as sa

    url = sa.make_url(_psycopg(admin_url)).set(database=name)
    if url.host not in {LOOPBACK, "localhost", "::1"}:
        raise SystemExit(f"--pg-admin-url must point at this machine (127.0.0.1), not {url.host}")
    yield url.render_as_string(hide_password=False)


def _psycopg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def settings(url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench-" + secrets.token_hex(21),
        "BASE_URL": "http://127.0.0.1:5000",
        "MAIL_SERVER": None,
        "SLACK_WEBHOOK_URL": None,
        "ZENDESK_SUBDOMAIN": None,
        "ZENDESK_EMAIL": None,
        "ZENDESK_TOKEN": None,
    }


def migrate(url: str) -> None:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNITY_")}
    for key, value in settings(url).items():
        env[f"COMMUNITY_{key}"] = value if isinstance(value, str) else json.dumps(value)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "community", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


# -- seeding ------------------------------------------------------------------------------------

USERS = 2_000
PAGES_PER_TOPIC = 250

# Words are drawn with power(random(), SKEW): the first words of a list come up far more often.
SKEW = 2.5
WORD = (
    "CASE WHEN random() < 0.5 + 0 * w THEN (CAST(:topic_words AS text[]))"
    "[t.first_word + floor(power(random(), :skew) * t.word_count)::int] "
    "ELSE (CAST(:general_words AS text[]))"
    "[1 + floor(power(random(), :skew) * :general_count)::int] END"
)


def _text(words: str) -> str:
    """``words`` (an SQL expression) words, drawn per row. The ``g`` reference makes PostgreSQL
    run the subquery for every row instead of once, and the ``w`` one (in WORD) makes
    string_agg the subquery's aggregate, not the outer query's."""
    # Our own constant SQL; only numbers and word lists come from outside, as bound parameters.
    return f"(SELECT string_agg({WORD}, ' ') FROM generate_series(1, {words} + 0 * g) w)"  # noqa: S608


SEED_SQL = [
    # Topics, teams and the page rules that file pages under them.
    """
    INSERT INTO teams (name, slug, created_at)
    SELECT initcap(replace(slug, '-', ' ')), slug, now() FROM unnest(CAST(:topics AS text[])) slug
    """,
    """
    INSERT INTO topics (team_id, name, slug, description, created_at)
    SELECT id, name, slug, '', now() FROM teams
    """,
    """
    INSERT INTO topic_page_rules (topic_id, path_prefix, created_at)
    SELECT id, '/docs/' || slug, now() FROM topics
    """,
    """
    INSERT INTO pages (url, title, topic_id, created_at, updated_at)
    SELECT 'https://docs.example.com/docs/' || t.slug || '/page-' || n, t.name || ' ' || n,
           t.id, now(), now()
    FROM topics t, generate_series(1, :pages_per_topic) n
    """,
    """
    INSERT INTO users (email, name, role, email_verified_at, session_version,
                       email_notifications, created_at)
    SELECT 'user' || n || '@example.com', 'User ' || n,
           CASE WHEN n % 50 = 0 THEN 'team' ELSE 'member' END, now(), 1, false, now()
    FROM generate_series(1, :users) n
    """,
    # One row per question with its texts, drawn once: questions and replies are made from it.
    """
    CREATE TEMPORARY TABLE seed AS
    SELECT g,
           p.id AS page_id, p.topic_id,
           1 + (g::bigint * 7919) % :users AS author_id,
           CASE WHEN g % 10 < 4 THEN 'unanswered' WHEN g % 10 < 7 THEN 'answered'
                ELSE 'resolved' END AS status,
           g % 97 = 0 AS hidden, g % 89 = 0 AS deleted,
           now() - make_interval(secs => (:questions - g) * 60) AS created_at,
           {subject} AS subject, {body} AS body, {answer} AS answer
    FROM generate_series(1, :questions) g
    JOIN pages p ON p.id = 1 + (g::bigint * 104729) % :page_count
    JOIN (
        SELECT topics.id, (row_number() OVER (ORDER BY topics.id) - 1) * :words_per_topic + 1
               AS first_word, :words_per_topic AS word_count
        FROM topics
    ) t ON t.id = p.topic_id
    """,
    "SET session_replication_role = replica",  # no triggers, no foreign key checks
    """
    INSERT INTO replies (id, question_id, author_id, body_source, body_html, created_at,
                         published_at, held_for_review, hidden_by_ban)
    SELECT g, g, 1 + (g * 31) % :users, answer, '<p>' || answer || '</p>',
           created_at + interval '1 hour', created_at + interval '1 hour', false, false
    FROM seed WHERE status <> 'unanswered'
    """,
    """
    INSERT INTO questions (id, author_id, topic_id, origin_page_id, subject, body_source,
                           body_html, status, accepted_reply_id, reply_count, pinned, locked,
                           last_activity_at, created_at, published_at, held_for_review,
                           hidden_by_ban, hidden_at, deleted_at, search_vector)
    SELECT g, author_id, topic_id, page_id, initcap(left(subject, 1)) || substr(subject, 2),
           body, '<p>' || body || '</p>', status,
           CASE WHEN status = 'resolved' THEN g END,
           CASE WHEN status = 'unanswered' THEN 0 ELSE 1 END, false, false,
           created_at + CASE WHEN status = 'unanswered' THEN interval '0' ELSE interval '1 hour'
           END,
           created_at, created_at, false, false,
           CASE WHEN hidden THEN now() END, CASE WHEN deleted THEN now() END,
           questions_search_document(g, initcap(left(subject, 1)) || substr(subject, 2), body,
                                     CASE WHEN status = 'resolved' THEN g END,
                                     NOT hidden AND NOT deleted)
    FROM seed
    """,
    "INSERT INTO question_pages (page_id, question_id) SELECT page_id, g FROM seed",
    "SET session_replication_role = origin",
    "SELECT setval('questions_id_seq', :questions)",
    "SELECT setval('replies_id_seq', :questions)",
]


def seed(url: str, questions: int, random_seed: float) -> list[tuple[str, float]]:
    """Fill the database; returns how long each step took."""
    import sqlalchemy as sa

    engine = sa.create_engine(_psycopg(url))
    topics = list(TOPIC_WORDS)
    per_topic = min(len(TOPIC_WORDS[slug].split()) for slug in topics)
    topic_words = [word for slug in topics for word in TOPIC_WORDS[slug].split()[:per_topic]]
    params = {
        "topics": topics,
        "topic_words": topic_words,
        "general_words": GENERAL_WORDS,
        "general_count": len(GENERAL_WORDS),
        "words_per_topic": per_topic,
        "skew": SKEW,
        "users": USERS,
        "pages_per_topic": PAGES_PER_TOPIC,
        "page_count": PAGES_PER_TOPIC * len(topics),
        "questions": questions,
    }
    texts = {
        "subject": _text("4 + g % 5"),
        "body": _text("25 + g % 40"),
        "answer": _text("12 + g % 20"),
    }
    timings = []
    with engine.connect() as connection:
        # The search indexes are built once at the end, as a bulk load should; from the
        # migration's own definitions.
        indexes = {
            name: connection.exec_driver_sql(
                f"SELECT pg_get_indexdef('{name}'::regclass)"
            ).scalar_one()
            for name in sorted(SEARCH_INDEXES)
        }
        for name in indexes:
            connection.exec_driver_sql(f"DROP INDEX {name}")
        connection.execute(sa.text("SELECT setseed(:seed)"), {"seed": random_seed})
        for statement in SEED_SQL:
            started = time.perf_counter()
            sql = statement.format(**texts)
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            connection.execute(sa.text(sql), used)
            label = " ".join(sql.split())[:60]
            timings.append((label, time.perf_counter() - started))
        connection.commit()
        connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        for name, definition in indexes.items():
            started = time.perf_counter()
            connection.exec_driver_sql(definition)
            connection.commit()
            method = "GIN" if "USING gin" in definition else "btree"
            timings.append((f"CREATE INDEX {name} ({method})", time.perf_counter() - started))
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    timings.append(("VACUUM ANALYZE", time.perf_counter() - started))
    engine.dispose()
    return timings


# -- what is searched -----------------------------------------------------------------------------


def _draw(rng: random.Random, words: list[str]) -> str:
    return words[int(rng.random() ** SKEW * len(words))]


@dataclass(frozen=True)
class Search:
    text: str
    exact: bool = False  # a pasted subject: the top result should have that very subject


@dataclass(frozen=True)
class Lookup:
    subject: str
    page_url: str
    source: int  # the question whose subject was typed (changed a little)


def search_workload(rng: random.Random, count: int, subjects: list[Sampled]) -> list[Search]:
    """Searches as people type them: mostly one to three words, some phrases and alternatives,
    some pasted subjects."""
    every = [word for words in TOPIC_WORDS.values() for word in words.split()]
    searches = []
    for n in range(count):
        topic = TOPIC_WORDS[rng.choice(list(TOPIC_WORDS))].split()
        pick = n % 10
        if pick < 3:
            searches.append(Search(_draw(rng, topic)))
        elif pick < 6:
            searches.append(Search(f"{_draw(rng, topic)} {_draw(rng, GENERAL_WORDS)}"))
        elif pick < 8:
            words = (_draw(rng, GENERAL_WORDS), _draw(rng, topic), _draw(rng, every))
            searches.append(Search(" ".join(words)))
        elif pick == 8:
            words = (_draw(rng, topic), _draw(rng, topic), _draw(rng, topic))
            searches.append(Search('"{} {}" or {}'.format(*words)))
        else:
            searches.append(Search(rng.choice(subjects).subject, exact=True))
    return searches


def similar_workload(rng: random.Random, count: int, subjects: list[Sampled]) -> list[Lookup]:
    """Subjects being typed: a real subject, cut short or with a word changed, and its page."""
    lookups = []
    for _ in range(count):
        source = rng.choice(subjects)
        words = source.subject.split()
        if rng.random() < 0.5:
            words = words[: max(2, len(words) - rng.randint(0, 2))]
        else:
            words[rng.randrange(len(words))] = _draw(rng, GENERAL_WORDS)
        lookups.append(Lookup(" ".join(words), source.page_url, source.id))
    return lookups


@dataclass(frozen=True)
class Sampled:
    id: int
    subject: str
    page_url: str


def sample_subjects(app, count: int, rng: random.Random) -> list[Sampled]:
    """Public questions picked at random, to search for and to type again."""
    import sqlalchemy as sa

    from community.extensions import db
    from community.questions.models import Page, Question

    with app.app_context():
        highest = db.session.scalar(sa.select(sa.func.max(Question.id)))
        ids = [rng.randint(1, highest) for _ in range(count)]
        rows = db.session.execute(
            sa.select(Question.id, Question.subject, Page.url)
            .join(Page, Page.id == Question.origin_page_id)
            .where(
                Question.id.in_(ids),
                Question.hidden_at.is_(None),
                Question.deleted_at.is_(None),
            )
            .order_by(Question.id)
        ).all()
    return [Sampled(row.id, row.subject, row.url) for row in rows]


# -- timing ---------------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    milliseconds: list[float] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    checked: int = 0  # calls whose answer could be checked
    right: int = 0  # ... and was as expected

    def p(self, share: float) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def median(self) -> float:
        return statistics.median(self.milliseconds)

    def passed(self, target: float) -> bool:
        return self.p(0.95) < target


def run_timed(
    app, name: str, calls: list[tuple[str, Callable[[], tuple[int, bool | None]]]], warmup: int
) -> Timing:
    """Each call returns (how many results, whether they were right or None if not checked)."""
    from community.extensions import db

    timing = Timing(name)
    with app.app_context():
        for index, (label, call) in enumerate(calls):
            started = time.perf_counter()
            found, right = call()
            elapsed = (time.perf_counter() - started) * 1000
            db.session.rollback()
            if index < warmup:
                continue
            timing.milliseconds.append(elapsed)
            timing.found.append(found)
            timing.slowest.append((elapsed, label))
            if right is not None:
                timing.checked += 1
                timing.right += right
    timing.slowest = sorted(timing.slowest, reverse=True)[:5]
    return timing


def time_searches(app, searches: list[Search], warmup: int) -> Timing:
    from community.search import queries

    def call(search: Search) -> tuple[int, bool | None]:
        hits = queries.search(search.text).hits
        if not search.exact:
            return len(hits), None
        return len(hits), bool(hits) and hits[0].question.subject.lower() == search.text.lower()

    return run_timed(app, "Search", [(s.text, lambda s=s: call(s)) for s in searches], warmup)


def time_lookups(app, lookups: list[Lookup], warmup: int) -> Timing:
    from community.search import queries

    def call(lookup: Lookup) -> tuple[int, bool | None]:
        found = queries.similar(lookup.subject, page_url=lookup.page_url)
        return len(found), lookup.source in {item.id for item in found}

    return run_timed(
        app, "Similar questions", [(x.subject, lambda x=x: call(x)) for x in lookups], warmup
    )


def check_documents(app, sample: int, rng: random.Random) -> int:
    """How many of ``sample`` random questions have a document other than what migration 0013's
    function computes (0: the seeder's shortcut gives what the triggers would)."""
    import sqlalchemy as sa

    from community.extensions import db

    with app.app_context():
        highest = db.session.scalar(sa.text("SELECT max(id) FROM questions"))
        ids = [rng.randint(1, highest) for _ in range(sample)]
        return db.session.scalar(
            sa.text(
                "SELECT count(*) FROM questions q WHERE q.id = ANY(:ids) AND search_vector "
                "IS DISTINCT FROM questions_search_document(q.id, q.subject, q.body_source, "
                "q.accepted_reply_id, q.published_at IS NOT NULL AND q.hidden_at IS NULL "
                "AND q.deleted_at IS NULL)"
            ),
            {"ids": ids},
        )


def post_and_find(app) -> tuple[float, bool]:
    """Post a question through the service, commit, and search for it: (ms to post, found)."""
    import sqlalchemy as sa

    from community.accounts.models import User
    from community.extensions import db
    from community.questions import services
    from community.search import queries

    with app.app_context():
        author = db.session.scalar(sa.select(User).order_by(User.id).limit(1))
        started = time.perf_counter()
        token = "probe" + secrets.token_hex(4)  # a word no other question has
        question = services.ask_question(
            author, f"Zeppelin {token} benchmark", "Found at once, or the triggers failed."
        )
        db.session.commit()
        posted = (time.perf_counter() - started) * 1000
        found = queries.search(f"zeppelin {token}")
        return posted, [hit.question.id for hit in found.hits] == [question.id]


def explain(app, text: str) -> str:
    """PostgreSQL's plan for the ranking query of one search (run, then rolled back)."""
    from community.extensions import db
    from community.search import queries, terms

    with app.app_context():
        statement = queries._PostgreSQL.ranked(terms.parse(text), [queries._public()]).limit(21)
        compiled = statement.compile(dialect=db.engine.dialect)
        cursor = db.session.connection().connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        db.session.rollback()
        return plan


# -- the report -----------------------------------------------------------------------------------


CHECKS = {
    "Search": "pasted subjects found first",
    "Similar questions": "typed-again subjects suggest their question",
}


def summary(
    questions: int, timings: list[Timing], target: float, load_before: str, load_after: str
) -> str:
    lines = [
        f"### {questions:,} questions",
        "",
        f"Load before the timed runs: {load_before}; after: {load_after}.",
        "",
        "| what | calls | median (ms) | p95 (ms) | max (ms) | results, median | "
        f"p95 under {target:g} ms | ranking check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for timing in timings:
        lines.append(
            f"| {timing.name} | {len(timing.milliseconds)} | {timing.median:.1f} | "
            f"{timing.p(0.95):.1f} | {max(timing.milliseconds):.1f} | "
            f"{statistics.median(timing.found):g} | "
            f"{'yes' if timing.passed(target) else '**no**'} | "
            f"{timing.right}/{timing.checked} {CHECKS[timing.name]} |"
        )
    for timing in timings:
        slowest = ", ".join(f"`{label}` {ms:.0f} ms" for ms, label in timing.slowest)
        lines.append(f"\nSlowest {timing.name.lower()}: {slowest}.")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--questions", type=int, default=1_000_000, help="questions to seed")
    parser.add_argument("--searches", type=int, default=500, help="timed searches")
    parser.add_argument("--lookups", type=int, default=500, help="timed similar-question lookups")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls of each kind first")
    parser.add_argument("--target-ms", type=float, default=TARGET_P95_MS, help="p95 target")
    parser.add_argument("--seed", type=float, default=0.42, help="random seed, from -1 to 1")
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument("--pg-database", default="bench_search", help="created, then dropped")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time again on a database an earlier --keep run left (no seeding; kept)",
    )
    parser.add_argument("--explain", action="store_true", help="print the plans of a few searches")
    args = parser.parse_args(argv)
    if args.questions < 1000 or min(args.searches, args.lookups) < 20 or args.warmup < 0:
        parser.error("at least 1000 questions, 20 searches and 20 lookups")
    if not -1 <= args.seed <= 1:
        parser.error("--seed is from -1 to 1 (PostgreSQL's setseed)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import sqlalchemy as sa

    print(report.machine(), flush=True)
    print(f"community at {report.revision()}", flush=True)
    started = time.perf_counter()
    rng = random.Random(args.seed)  # noqa: S311 -- a repeatable workload, not a secret
    problems = []
    if args.reuse:
        database = existing_database(args.pg_admin_url, args.pg_database)
    else:
        database = postgresql_database(args.pg_admin_url, args.pg_database, args.keep)
    with database as url:
        if not args.reuse:
            migrate(url)
            print(f"migrated in {time.perf_counter() - started:.0f} s; seeding…", flush=True)
            for label, seconds in seed(url, args.questions, args.seed):
                print(f"  {seconds:7.1f} s  {label}", flush=True)
        from community import create_app

        app = create_app(settings(url))
        with app.app_context():
            from community.extensions import db

            version = db.session.scalar(sa.text("SHOW server_version"))
            questions = db.session.scalar(sa.text("SELECT count(*) FROM questions"))
            size = db.session.scalar(
                sa.text("SELECT pg_size_pretty(pg_total_relation_size('questions'))")
            )
            index_sizes = ", ".join(
                f"{name} "
                + db.session.scalar(
                    sa.text("SELECT pg_size_pretty(pg_relation_size(CAST(:name AS regclass)))"),
                    {"name": name},
                )
                for name in sorted(SEARCH_INDEXES)
            )
        print(
            f"PostgreSQL {version}; {questions:,} questions, {size} in all; {index_sizes}",
            flush=True,
        )
        stale = check_documents(app, 2000, rng)
        if stale:
            problems.append(f"{stale} of 2000 sampled documents differ from the function")
        subjects = sample_subjects(app, args.searches + args.lookups, rng)
        searches = search_workload(rng, args.warmup + args.searches, subjects)
        lookups = similar_workload(rng, args.warmup + args.lookups, subjects)
        if args.explain:
            for search in [*searches[:3], Search("replay")]:
                print(f"\nEXPLAIN {search.text!r}:\n{explain(app, search.text)}", flush=True)
        load_before = report.load()
        timings = [
            time_searches(app, searches, args.warmup),
            time_lookups(app, lookups, args.warmup),
        ]
        load_after = report.load()
        posted_ms, found = post_and_find(app)
        if not found:
            problems.append("a question posted through the service was not found at once")
        print(f"posting a question took {posted_ms:.0f} ms; found at once: {found}")
    print()
    print(summary(questions, timings, args.target_ms, load_before, load_after))
    missed = [t.name for t in timings if not t.passed(args.target_ms)]
    for problem in problems:
        print(f"\nPROBLEM: {problem}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {report.load()}")
    return 1 if missed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
