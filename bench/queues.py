"""The moderation queues with a million questions: how long one queue page takes.

    .venv/bin/python -m bench.queues --reuse

It reuses ``bench.read_path``'s database and bulk seed (1,000,000 questions on 100,000 pages,
1.8 M replies; ``--reuse`` keeps it between runs), then sets the response state a community in
service would have: most questions answered by the team long ago, a small share still waiting
for a first response (``--open-per-mille``), a smaller share waiting on the team again, some
held, flagged and hidden. A moderator then loads every queue's first page, a deep page and the
filtered variants, in process through the app (Flask test client: routing, login, the queries,
templates), ``--requests`` times each; the summary gives the median and p95 per page, the
number of SQL statements, and PostgreSQL's plan of the busiest queue's query. Exit status 1 when
a p95 is over ``--target-ms``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import read_path

TARGET_MS = 100.0
PASSWORD = "bench-moderator-password"  # noqa: S105 - a throwaway account in a throwaway database


def set_response_state(database: read_path.Database, open_per_mille: int) -> float:
    """As a community in service: answered long ago, a few open; returns seconds taken."""
    started = time.perf_counter()
    with database.connect() as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute(
            """
            UPDATE questions SET
                first_response_at = CASE WHEN id %% 1000 < %(open)s THEN NULL
                                         ELSE created_at + interval '25 minutes' END,
                waiting_since = CASE WHEN id %% 1000 BETWEEN %(open)s AND %(open)s + 4
                                     THEN created_at + interval '2 hours' END,
                published_at = CASE WHEN id %% 5000 = 7 THEN NULL ELSE published_at END,
                hidden_at = CASE WHEN id %% 5000 = 11 THEN created_at + interval '1 hour'
                                 ELSE hidden_at END
            """,
            {"open": open_per_mille},
        )
        connection.execute("DELETE FROM flags")
        connection.execute(
            """
            INSERT INTO flags (reporter_id, post_type, post_id, reason, note, created_at)
            SELECT (SELECT min(id) FROM users) + (q.id % 50), 'question', q.id, 'spam', '',
                   q.created_at + interval '3 hours'
            FROM questions AS q WHERE q.id % 2000 = 3
            """
        )
        connection.execute("VACUUM (ANALYZE) questions")
        connection.execute("VACUUM (ANALYZE) flags")
    return time.perf_counter() - started


def pages_to_load(app: Any) -> list[tuple[str, str]]:
    """(name, URL) of every queue's first page, a deep page and the filters."""
    from community.extensions import db
    from community.moderation.queries import Queue, filter_choices

    with app.app_context():
        teams, topics = filter_choices()
        db.session.remove()
    team, topic = teams[0].slug, topics[0].slug
    pages = [(q.title, f"/moderation?queue={q.value}") for q in Queue]
    pages += [
        ("Needs first response, page 20", "/moderation?queue=first-response&p=20"),
        ("Needs first response, one team", f"/moderation?queue=first-response&team={team}"),
        ("Needs first response, one topic", f"/moderation?queue=first-response&topic={topic}"),
        (
            "Needs first response, a page prefix",
            "/moderation?queue=first-response&page=https%3A%2F%2Fdocs.example.com%2Fdocs%2F1",
        ),
        ("Waiting on us, claimed by me", "/moderation?queue=waiting&mine=1"),
    ]
    return pages


@contextmanager
def counting(app: Any) -> Iterator[list[str]]:
    import sqlalchemy as sa

    from community.extensions import db

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def signed_in_moderator(app: Any) -> Any:
    import sqlalchemy as sa

    from community.accounts import services
    from community.accounts.models import Role, User
    from community.extensions import db

    with app.app_context():
        email = "bench-moderator@example.com"
        if db.session.scalar(sa.select(User).where(User.email == email)) is None:
            services.create_user(
                email, "Bench Moderator", PASSWORD, role=Role.MODERATOR, verified=True
            )
            db.session.commit()
        db.session.remove()
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"the bench moderator could not sign in: {response.status_code}")
    return client


def measure(app: Any, client: Any, url: str, requests: int) -> tuple[list[float], int, int]:
    """Milliseconds per request, SQL statements per request, rows shown."""
    client.get(url)  # warm: templates compiled, statements prepared
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    with counting(app) as statements:
        body = client.get(url).get_data(as_text=True)
    rows = body.count('class="question-row')
    return times, len(statements), rows


def explain_first_response(app: Any) -> list[str]:
    """PostgreSQL's plan of the first-response queue's query, as the app sends it."""
    from community.extensions import db
    from community.moderation import queries

    with app.app_context():
        query = queries.queue_select(queries.Queue.FIRST_RESPONSE, queries.QueueFilters(), 1)
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(
            db.text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")
        ).scalars()
        lines = list(plan)
        db.session.remove()
    return lines


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="reuse bench.read_path's database")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--open-per-mille", type=int, default=20, help="questions still open")
    parser.add_argument("--target-ms", type=float, default=TARGET_MS, help="p95 per page")
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--hot-pages", type=int, default=10)
    parser.add_argument("--hot-share", type=float, default=0.01)
    parser.add_argument(
        "--pg-admin-url", default=f"postgresql://postgres@{read_path.LOOPBACK}:5432/postgres"
    )
    parser.add_argument("--pg-database", default="bench_read_path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = read_path.Database(args.pg_admin_url, args.pg_database)
    size = read_path.SeedSize(
        args.questions, args.pages, args.users, args.hot_pages, args.hot_share
    )
    env = read_path.app_env(database, {})
    print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)
    seeded = read_path.ensure_database(database, size, args.reuse, env)
    print(f"database {database.name}: {seeded}", flush=True)
    state_seconds = set_response_state(database, args.open_per_mille)
    print(f"response state set in {state_seconds:.1f} s", flush=True)

    os.environ.update({k: v for k, v in env.items() if k.startswith("COMMUNITY_")})
    from community import create_app

    app = create_app(
        {"RATELIMIT_ENABLED": False, "REQUIRE_MODERATOR_2FA": False, "WTF_CSRF_ENABLED": False}
    )
    client = signed_in_moderator(app)
    lines = [
        f"## Moderation queues, {args.questions:,} questions "
        f"({args.open_per_mille}‰ awaiting a first response)",
        "",
        f"load average at the start: {os.getloadavg()[0]:.1f}; {args.requests} requests per "
        "page, in process (Flask test client, signed in as a moderator)",
        "",
        "| page | rows | SQL statements | median ms | p95 ms |",
        "|---|---|---|---|---|",
    ]
    missed = []
    for name, url in pages_to_load(app):
        times, statements, rows = measure(app, client, url, args.requests)
        p95 = percentile(times, 0.95)
        lines.append(
            f"| {name} | {rows} | {statements} | {statistics.median(times):.1f} | {p95:.1f} |"
        )
        print(lines[-1], flush=True)
        if p95 > args.target_ms:
            missed.append(name)
    lines += ["", "Plan of the first-response queue's query:", "", "```"]
    lines += explain_first_response(app)
    lines += ["```", "", f"load average at the end: {os.getloadavg()[0]:.1f}"]
    if missed:
        lines.append(f"**Over the {args.target_ms:.0f} ms p95 target:** {', '.join(missed)}")
    else:
        lines.append(f"Every page's p95 is under {args.target_ms:.0f} ms.")
    print("\n".join(lines))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
