"""Hero metrics benchmark (issue 8): how long /moderation/metrics takes to compute with a
million questions, on PostgreSQL and SQLite.

Run it from the project root, with PostgreSQL on 127.0.0.1:5432 (user postgres, no password):

    .venv/bin/python -m bench.hero_metrics                       # 1,000,000 questions
    .venv/bin/python -m bench.hero_metrics --questions 100000    # quicker

It creates and at the end drops a PostgreSQL database (``bench_hero_metrics``) and a temporary
SQLite file, migrates both with the app's migrations, fills them with SQL (10 teams, 20 topics,
1,000 askers; questions spread over two years, 90% answered after a few minutes to a few days,
70% resolved, 2% tagged urgent, 5% with a Zendesk priority), and times the metrics page's
aggregate queries (the weekly numbers and the backlog) a few times each, printing a Markdown
table. It connects only to 127.0.0.1. ``--explain`` prints PostgreSQL's plans.
"""

# ruff: noqa: S608 -- the SQL here is ours: numbers and a timestamp, never outside input
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_DATABASE = "bench_hero_metrics"
SPAN_DAYS = 730


def _app(url: str):
    from community import create_app

    return create_app(
        {
            "SECRET_KEY": "bench-secret-key-not-for-production-use",
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
        }
    )


def _migrate(app) -> None:
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade()


def _fill(app, questions: int, now: datetime) -> float:
    """Insert the data set with plain SQL (set-based on both databases); returns seconds."""
    from community.extensions import db

    started = time.perf_counter()
    with app.app_context():
        dialect = db.engine.dialect.name
        with db.engine.begin() as connection:

            def run(sql: str) -> None:
                # psycopg reads "%" as a placeholder even without parameters.
                connection.exec_driver_sql(sql.replace("%", "%%") if dialect != "sqlite" else sql)

            stamp = now.strftime("%Y-%m-%d %H:%M:%S")
            for n in range(1, 11):
                run(
                    "INSERT INTO teams (id, name, slug, timezone, working_days, work_starts_at,"
                    f" work_ends_at, created_at) VALUES ({n}, 'Team {n}', 'team-{n}', 'UTC',"
                    f" '12345', '09:00:00', '17:00:00', '{stamp}')"
                )
            for n in range(1, 21):
                run(
                    "INSERT INTO topics (id, team_id, name, slug, description, created_at) VALUES"
                    f" ({n}, {(n - 1) % 10 + 1}, 'Topic {n}', 'topic-{n}', '', '{stamp}')"
                )
            run(
                "INSERT INTO zendesk_topic_priorities (topic_id, priority) VALUES (3, 'low'),"
                " (7, 'high')"
            )
            if dialect == "postgresql":
                _fill_postgresql(run, questions, now)
            else:
                _fill_sqlite(run, questions, now)
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _fill_postgresql(run, questions: int, now: datetime) -> None:
    run(
        "INSERT INTO users (id, email, name, role, session_version, email_notifications,"
        " created_at) SELECT g, 'asker' || g || '@example.com', 'Asker ' || g, 'member', 1,"
        " true, now() FROM generate_series(1, 1000) g"
    )
    run(
        f"""
        INSERT INTO questions (id, author_id, topic_id, subject, body_source, body_html, status,
            reply_count, pinned, locked, last_activity_at, created_at, published_at,
            first_response_at, held_for_review, hidden_by_ban)
        SELECT g, 1 + g % 1000, CASE WHEN g % 50 = 0 THEN NULL ELSE 1 + g % 20 END,
            'Question ' || g, 'Body', '<p>Body</p>',
            CASE WHEN g % 10 < 7 THEN 'resolved' WHEN g % 10 = 9 THEN 'unanswered'
                 ELSE 'answered' END,
            0, false, false, p, p, p,
            CASE WHEN g % 10 = 9 THEN NULL
                 ELSE p + make_interval(secs => (60 + (g::bigint * 7919) % 200000)) END,
            false, false
        FROM (SELECT g, timestamptz '{now.isoformat()}'
                 - make_interval(secs => ((g::bigint * 104729) % ({SPAN_DAYS} * 86400))) AS p
              FROM generate_series(1, {questions}) g) s
        """
    )
    run("SELECT setval('questions_id_seq', (SELECT max(id) FROM questions))")
    run(
        "INSERT INTO question_tags (question_id, tag, created_at) SELECT id, 'urgent', now()"
        " FROM questions WHERE id % 50 = 7"
    )
    run(
        "INSERT INTO zendesk_tickets (question_id, ticket_id, sequence, applied_sequence,"
        " desired_status, priority, created_at, updated_at) SELECT id, id, 0, 0, 'open',"
        " CASE WHEN id % 3 = 0 THEN 'high' ELSE 'normal' END, now(), now()"
        " FROM questions WHERE id % 20 = 3"
    )


def _fill_sqlite(run, questions: int, now: datetime) -> None:
    base = now.strftime("%Y-%m-%d %H:%M:%S")
    run(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000)"
        " INSERT INTO users (id, email, name, role, session_version, email_notifications,"
        " created_at) SELECT n, 'asker' || n || '@example.com', 'Asker ' || n, 'member', 1, 1,"
        f" '{base}' FROM g"
    )
    run(
        f"""
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {questions}),
        s AS (SELECT n, datetime('{base}', '-' || ((n * 104729) % ({SPAN_DAYS} * 86400))
                                 || ' seconds') AS p FROM g)
        INSERT INTO questions (id, author_id, topic_id, subject, body_source, body_html, status,
            reply_count, pinned, locked, last_activity_at, created_at, published_at,
            first_response_at, held_for_review, hidden_by_ban)
        SELECT n, 1 + n % 1000, CASE WHEN n % 50 = 0 THEN NULL ELSE 1 + n % 20 END,
            'Question ' || n, 'Body', '<p>Body</p>',
            CASE WHEN n % 10 < 7 THEN 'resolved' WHEN n % 10 = 9 THEN 'unanswered'
                 ELSE 'answered' END,
            0, 0, 0, p, p, p,
            CASE WHEN n % 10 = 9 THEN NULL
                 ELSE datetime(p, '+' || (60 + (n * 7919) % 200000) || ' seconds') END,
            0, 0
        FROM s
        """
    )
    run(
        f"INSERT INTO question_tags (question_id, tag, created_at) SELECT id, 'urgent', '{base}'"
        " FROM questions WHERE id % 50 = 7"
    )
    run(
        "INSERT INTO zendesk_tickets (question_id, ticket_id, sequence, applied_sequence,"
        " desired_status, priority, created_at, updated_at) SELECT id, id, 0, 0, 'open',"
        f" CASE WHEN id % 3 = 0 THEN 'high' ELSE 'normal' END, '{base}', '{base}'"
        " FROM questions WHERE id % 20 = 3"
    )


def _time(function, repeat: int) -> tuple[float, float]:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), max(durations)


def _measure(app, now: datetime, repeat: int, explain: bool) -> list[tuple[str, float, float]]:
    from community.extensions import db
    from community.hero import metrics, services

    results = []
    with app.app_context():
        targets = services.targets()
        for weeks in (8, 52):
            first = metrics.week_start(now.date()) - timedelta(days=7 * (weeks - 1))
            median, worst = _time(lambda f=first: metrics.weekly(f, now, targets), repeat)
            results.append((f"weekly numbers, {weeks} weeks, all teams", median, worst))
        first = metrics.week_start(now.date()) - timedelta(days=7 * 7)
        median, worst = _time(lambda: metrics.weekly(first, now, targets, 3), repeat)
        results.append(("weekly numbers, 8 weeks, one team", median, worst))
        median, worst = _time(metrics.backlog, repeat)
        results.append(("open backlog by priority, all teams", median, worst))
        median, worst = _time(lambda: metrics.report(now, 8), repeat)
        results.append(("the whole page's report (8 weeks)", median, worst))
        if explain and db.engine.dialect.name == "postgresql":
            _explain(db, now, targets)
    return results


def _explain(db, now: datetime, targets) -> None:
    from community.hero import metrics

    captured: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        metrics.weekly(metrics.week_start(now.date()) - timedelta(days=49), now, targets)
        metrics.backlog()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as connection:
        for statement, parameters in captured:
            if statement.lstrip().upper().startswith("SELECT"):
                plan = connection.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)
                print("\n```\n" + "\n".join(row[0] for row in plan) + "\n```")


def run(args: argparse.Namespace) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[tuple[str, str, float, float]] = []
    fills = {}
    for database in args.databases.split(","):
        if database == "postgresql":
            admin = sa.create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
            if admin.url.host not in ("127.0.0.1", "localhost"):
                raise SystemExit("--pg-admin-url must point at this machine (127.0.0.1)")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}"')
                connection.exec_driver_sql(f'CREATE DATABASE "{PG_DATABASE}"')
            url = admin.url.set(database=PG_DATABASE).render_as_string(hide_password=False)
            app = _app(url)
            try:
                _migrate(app)
                fills[database] = _fill(app, args.questions, now)
                for name, median, worst in _measure(app, now, args.repeat, args.explain):
                    rows.append((database, name, median, worst))
            finally:
                with app.app_context():
                    from community.extensions import db

                    db.session.remove()
                    db.engine.dispose()
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}"')
                admin.dispose()
        elif database == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                app = _app(f"sqlite:///{folder}/bench.db")
                _migrate(app)
                fills[database] = _fill(app, args.questions, now)
                for name, median, worst in _measure(app, now, args.repeat, False):
                    rows.append((database, name, median, worst))
                with app.app_context():
                    from community.extensions import db

                    db.engine.dispose()
        else:
            raise SystemExit(f"unknown database {database!r}")
    print(
        f"\n## Hero metrics with {args.questions:,} questions\n\n"
        f"{platform.python_version()} on {os.cpu_count()} CPUs; median and slowest of "
        f"{args.repeat} runs.\n"
    )
    for database, seconds in fills.items():
        print(f"- filling {database}: {seconds:.1f} s")
    print("\n| database | query | median | slowest |\n|---|---|---|---|")
    for database, name, median, worst in rows:
        print(f"| {database} | {name} | {median * 1000:.0f} ms | {worst * 1000:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument(
        "--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print PostgreSQL's plans")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
