"""Read-path benchmark (issue 6, "Speed"): a doc page's questions under load, against bare Flask.

Run it from the project root, with PostgreSQL on 127.0.0.1:5432 (user postgres, no password),
gunicorn installed (``pip install -e '.[bench]'``) and wrk (``apt-get install -y wrk``):

    .venv/bin/python -m bench.read_path --reuse       # seeds once (~1 min), then ~2 min a run
    .venv/bin/python -m bench.read_path --reuse --duration 10 --warmup 3    # a quick look

``--help`` lists the options. It creates a PostgreSQL database (``bench_read_path``), migrates it
with ``flask --app community db upgrade`` and seeds it in bulk with plain SQL (see
``bench/seed_sql.py``): 1,000,000 questions on 100,000 pages by 10,000 users, with replies.
Without ``--reuse`` the database is dropped at the end; with it, it is kept and the next
``--reuse`` run skips the seed. Every connection (PostgreSQL, HTTP) goes to 127.0.0.1.

Two gunicorn servers run side by side with the same settings: the app (``wsgi:app``, configured
through ``COMMUNITY_*`` variables as in production) and a bare Flask app with one JSON route
(``bench/bare_app.py``). wrk drives each route in turn with 32 connections for random seeded
pages (``bench/read_path.lua``), after a warm-up; ``--rounds`` repeats the sequence and the
median round counts. The summary gives requests/s, p50/p90/p99, the ratio to bare Flask, and CPU
milliseconds per request spent by gunicorn, PostgreSQL and wrk. The exit status is 1 when a
route misses its target (a ratio or p99 under 50 ms) or any request failed.

The app runs as configured in production, page cache included (``questions/page_cache.py``,
one per worker, sized by ``--page-cache-mb``). Before the load, the store of renderings is
filled for every visited page, and then each worker's page cache is warmed: the visited pages
are read at random until every worker has most likely read each of them and the throughput has
stopped rising. ``--page-cache off`` measures the app answering from its stored renderings
alone, ``--store empty`` the app rendering every request, and ``--writes N`` changes N
questions a second on the visited pages during the load (each one renders its pages again).

``--profile`` samples the app's workers with py-spy under load and sorts the time into SQL,
ORM, templates, forms, session and so on; ``--breakdown`` times requests one at a time in
process (SQL time per request, statements per request); ``--explain`` prints PostgreSQL's plans
for one typical page and for the page with the most questions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import report, seed_sql

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
LUA_SCRIPT = Path(__file__).with_name("read_path.lua")
BARE_PATH = "/hello"
P99_TARGET_MS = 50.0
DOCS_ORIGIN = "https://docs.example.com"
SEED_VERSION = 2


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # "{url}" is replaced by the page's URL, percent-encoded
    target_ratio: float | None  # of bare Flask's requests/s; None: measured, no target
    note: str = ""
    cached: bool = False  # answered by the page cache (questions/page_cache.py) when warm


# The routes the issue sets targets for, and the HTML page that stands in for the embed until
# the embed exists. ``--routes auto`` takes the ones the app has.
ROUTES = {
    "api": Route("api", "/api/v1/pages/questions?url={url}", 0.50, cached=True),
    # As embed.js opens it: the page, its title and the docs site's origin.
    "embed": Route(
        "embed",
        f"/embed?url={{url}}&title=Guide&origin={quote(DOCS_ORIGIN, safe='')}",
        0.35,
        cached=True,
    ),
    "pages": Route("pages", "/pages?url={url}", 0.35, "stand-in for /embed: the site's HTML page"),
    # Only with --wsgi "bench.experiments:build('lean', 'hello')": one Core query and JSON (a
    # floor for a page's questions), and bare Flask's route inside the app (its fixed cost).
    "lean": Route("lean", "/lean/pages/questions?url={url}", None, "experiment: one Core query"),
    "hello": Route("hello", "/bench/hello?url={url}", None, "experiment: no query"),
}


# -- the database -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSize:
    questions: int
    pages: int
    users: int
    hot_pages: int
    hot_share: float  # of questions, asked on the hot pages

    def params(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "pages": self.pages,
            "users": self.users,
            "team_users": max(1, self.users // 100),
            "moderators": max(1, self.users // 1000),
            "hot_pages": self.hot_pages,
            "hot_share_per_10000": round(self.hot_share * 10_000),
            "topics": len(seed_sql.TOPIC_NAMES),
            "topic_names": list(seed_sql.TOPIC_NAMES),
        }

    def marker(self) -> dict[str, Any]:
        # Bump SEED_VERSION when bench/seed_sql.py changes what it writes: --reuse then reseeds.
        return {"bench.read_path": SEED_VERSION, **vars(self)}


def _psycopg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """The benchmark's own database on the local server, reached as the admin URL's user."""

    def __init__(self, admin_url: str, name: str) -> None:
        import sqlalchemy as sa

        if not name.replace("_", "").isalnum():
            raise SystemExit(f"--pg-database must be letters, digits and underscores, not {name!r}")
        self.name = name
        self.admin = sa.create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
        if self.admin.url.host not in {LOOPBACK, "localhost", "::1"}:
            raise SystemExit(f"--pg-admin-url must point at 127.0.0.1, not {self.admin.url.host}")
        self.url = self.admin.url.set(database=name).render_as_string(hide_password=False)

    def _admin(self, sql: str, **params: Any) -> Any:
        import sqlalchemy as sa

        with self.admin.connect() as connection:
            result = connection.execute(sa.text(sql), params)
            return result.scalar() if result.returns_rows else None

    def marker(self) -> dict[str, Any] | None:
        """What ``--reuse`` compares: the seed's size, stored as the database's comment."""
        comment = self._admin(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n",
            n=self.name,
        )
        with suppress(TypeError, ValueError):
            return json.loads(comment)
        return None

    def exists(self) -> bool:
        return bool(self._admin("SELECT 1 FROM pg_database WHERE datname = :n", n=self.name))

    def create(self) -> None:
        self.drop()
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def mark(self, size: SeedSize) -> None:
        comment = json.dumps(size.marker()).replace("'", "''")
        self._admin(f"COMMENT ON DATABASE \"{self.name}\" IS '{comment}'")

    def revision(self) -> str | None:
        """The migration the database is at (alembic_version)."""
        with self.connect() as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    def connect(self):  # -> psycopg.Connection, autocommit
        import psycopg

        return psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True)


def flask_command(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(  # noqa: S603 -- our own interpreter, fixed arguments
        [sys.executable, "-m", "flask", "--app", "community", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _schema(connection, tables: tuple[str, ...]) -> tuple[list[tuple], list[tuple]]:
    """(table, name, kind, definition) of every constraint and of every index that backs none."""
    constraints = connection.execute(
        """SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
           FROM pg_constraint
           WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY(%s)
           ORDER BY 1, 2""",
        [list(tables)],
    ).fetchall()
    indexes = connection.execute(
        """SELECT i.tablename, i.indexname, 'i', i.indexdef
           FROM pg_indexes AS i
           WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c
                             WHERE c.conindid = (quote_ident(i.indexname))::regclass
                               AND c.contype IN ('p', 'u'))
           ORDER BY 1, 2""",
        [list(tables)],
    ).fetchall()
    return constraints, indexes


def seed(database: Database, size: SeedSize) -> dict[str, float]:
    """Fill the migrated, empty database; returns seconds per step."""
    timings: dict[str, float] = {}
    params = size.params()
    with database.connect() as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute("SET work_mem = '64MB'")
        connection.execute(seed_sql.HASH_FUNCTION)
        constraints, indexes = _schema(connection, seed_sql.BULK_TABLES)
        foreign = [c for c in constraints if c[2] == "f"]
        unique = [c for c in constraints if c[2] == "u"]

        def step(name: str, sql: str, params: dict[str, Any] | None = None) -> None:
            started = time.perf_counter()
            connection.execute(sql, params)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
            print(f"  {name}: {timings[name]:.1f} s", flush=True)

        started = time.perf_counter()
        with connection.transaction():
            for table, name, *_ in foreign + unique:
                connection.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            for _table, name, *_ in indexes:
                connection.execute(f'DROP INDEX "{name}"')
            # The app's triggers would update a question (search) and a page (content version)
            # per reply, each a scan without the indexes just dropped. Off while seeding: a fresh
            # seed's pages have version 1, and this benchmark does not search (bench/search.py
            # seeds its own documents).
            app_triggers = connection.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            ).fetchall()
            for table, name in app_triggers:
                connection.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
        timings["drop indexes"] = time.perf_counter() - started
        step("teams and topics", seed_sql.TEAMS)
        step("teams and topics", seed_sql.TOPICS, params)
        step("users", seed_sql.USERS, params)
        step("pages", seed_sql.PAGES, params)
        step("questions", seed_sql.QUESTIONS, params)
        step("question_pages", seed_sql.QUESTION_PAGES, params)
        step("replies", seed_sql.REPLIES, params)
        started = time.perf_counter()
        for *_, definition in indexes:
            connection.execute(definition)
        for table, name, _kind, definition in unique + foreign:
            connection.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        for table, name in app_triggers:
            connection.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{name}"')
        timings["indexes and constraints"] = time.perf_counter() - started
        print(f"  indexes and constraints: {timings['indexes and constraints']:.1f} s", flush=True)
        for table in seed_sql.SEQUENCES:
            connection.execute(  # table names from seed_sql, not from input
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        if _schema(connection, seed_sql.BULK_TABLES) != (constraints, indexes):
            raise RuntimeError("the seed left the schema different from the migrations' one")
        # Autovacuum may be off (it is on the benchmark machine): set the visibility map and hint
        # bits now, as a database in service would have them, and give the planner statistics.
        step("vacuum analyze", "VACUUM (ANALYZE)")
    return timings


def ensure_database(database: Database, size: SeedSize, reuse: bool, env: dict[str, str]) -> str:
    """A migrated, seeded database; returns what was done, for the summary."""
    if reuse and database.exists() and database.marker() == size.marker():
        before = database.revision()
        flask_command(env, "db", "upgrade")
        after = database.revision()
        if before == after:
            return "reused (seeded by an earlier run)"
        # A migration that landed since the seed may have rewritten big tables (a backfill
        # leaves a dead copy of every row, and autovacuum is off here) and its new columns hold
        # their defaults: start again from a fresh seed, as on a clean machine.
        print(f"migrations ran since the seed ({before} -> {after}): seeding again", flush=True)
    print(f"creating and seeding {database.name}: {_describe_size(size)}", flush=True)
    database.create()
    started = time.perf_counter()
    flask_command(env, "db", "upgrade")
    migrated = time.perf_counter() - started
    timings = seed(database, size)
    database.mark(size)
    total = time.perf_counter() - started
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    return f"seeded in {total:.0f} s ({total / 60:.1f} min: migrations {migrated:.0f} s, {steps})"


def _describe_size(size: SeedSize) -> str:
    return (
        f"{size.questions:,} questions on {size.pages:,} pages by {size.users:,} users "
        f"({size.hot_pages} pages share {size.hot_share:.0%} of the questions)"
    )


def data_summary(database: Database) -> dict[str, Any]:
    with database.connect() as connection:
        counts = {
            table: connection.execute(  # table names from this list, not from input
                f"SELECT count(*) FROM {table}"  # noqa: S608
            ).fetchone()[0]
            for table in ("users", "pages", "questions", "question_pages", "replies")
        }
        per_page = connection.execute(
            """SELECT percentile_disc(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY n), max(n)
               FROM (SELECT count(*) AS n FROM question_pages GROUP BY page_id) AS s"""
        ).fetchone()
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {
        "counts": counts,
        "questions_per_page": {
            "median": per_page[0][0],
            "p99": per_page[0][1],
            "max": per_page[1],
        },
        "size_mb": size / 2**20,
    }


def page_urls(database: Database) -> tuple[list[str], str]:
    """Every page's URL, and the URL of the page with the most questions."""
    with database.connect() as connection:
        urls = [row[0] for row in connection.execute("SELECT url FROM pages ORDER BY id")]
        hottest = connection.execute(
            """SELECT p.url FROM pages AS p JOIN question_pages AS qp ON qp.page_id = p.id
               GROUP BY p.id ORDER BY count(*) DESC LIMIT 1"""
        ).fetchone()[0]
    return urls, hottest


# -- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn's worker model: ``sync:4`` (4 sync workers) or ``gthread:2x4`` (2 workers with
    4 threads each)."""

    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> ServerSettings:
        kind, _, count = text.partition(":")
        if kind not in {"sync", "gthread"} or not count:
            raise ValueError(f"expected sync:N or gthread:NxT, not {text!r}")
        workers, _, threads = count.partition("x")
        return cls(kind, int(workers), int(threads or 1))

    def __str__(self) -> str:
        if self.worker_class == "gthread":
            return f"gthread:{self.workers}x{self.threads}"
        return f"sync:{self.workers}"

    def arguments(self) -> list[str]:
        return [
            "--worker-class",
            self.worker_class,
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid)

    def get(self, path: str) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(
                f"http://{LOOPBACK}:{self.port}{path}", timeout=30
            ) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        return status, body, time.perf_counter() - started


@contextmanager
def gunicorn(
    name: str, app: str, settings: ServerSettings, env: dict[str, str], workdir: Path
) -> Iterator[Server]:
    port = free_port()
    log = workdir / f"gunicorn-{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{LOOPBACK}:{port}",
        *settings.arguments(),
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
        app,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter, fixed arguments
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(name, port, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn ({name}) exited:\n{_tail(log)}")
            with suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
                if len(server.worker_pids()) >= settings.workers:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({name}) did not start:\n{_tail(log)}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: workers finish their request
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _tail(path: Path, lines: int = 20) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def app_env(database: Database, extra: dict[str, str]) -> dict[str, str]:
    """The app's settings as production passes them: ``COMMUNITY_*`` variables only.

    Rate-limit storage stays at its default, memory (per worker): the read routes have no
    limits, so nothing is throttled, but Flask-Limiter's per-request check runs as it does in
    production. A production deployment with Redis would add nothing to these routes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNITY_")}
    env.update(
        {
            "COMMUNITY_SECRET_KEY": secrets.token_hex(32),
            "COMMUNITY_SQLALCHEMY_DATABASE_URI": database.url,
            "COMMUNITY_BASE_URL": f"http://{LOOPBACK}:8000",
            "COMMUNITY_PAGE_ALLOWED_ORIGINS": json.dumps([DOCS_ORIGIN]),
            "COMMUNITY_EMBED_ALLOWED_ORIGINS": json.dumps([DOCS_ORIGIN]),
            "COMMUNITY_RATELIMIT_STORAGE_URI": "memory://",
            # Nothing may point elsewhere, whatever instance/config.py says.
            "COMMUNITY_MAIL_SERVER": "null",
            "COMMUNITY_SLACK_WEBHOOK_URL": "null",
            "COMMUNITY_ZENDESK_SUBDOMAIN": "null",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


# -- load ---------------------------------------------------------------------------------------


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed. On Debian or Ubuntu: sudo apt-get install -y wrk "
            "(it is a single small package)."
        )
    return found


@dataclass
class CPU:
    """CPU seconds of process groups, from /proc."""

    ticks = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def of(pids: list[int]) -> float:
        total = 0
        for pid in pids:
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CPU.ticks

    @staticmethod
    def machine() -> tuple[float, float]:
        """(busy, total) CPU seconds of the whole machine since boot."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return (sum(fields) - idle) / CPU.ticks, sum(fields) / CPU.ticks


@dataclass
class Measurement:
    route: str
    settings: str
    round: int
    requests: int
    seconds: float
    bytes: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    cpu_ms: dict[str, float]  # per request: app, postgres, wrk, other
    machine_busy: float  # share of both CPUs busy, everything included
    load: str
    writes: int = 0  # questions changed on visited pages during the measured run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def ms(self, key: str) -> float:
        return self.latency_us[key] / 1000


def pg_backend_pids(database: Database) -> list[int]:
    with database.connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                # Client backends only: an autovacuum worker tidying up after the store was
                # filled is not a cost of the requests measured.
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ]


def run_wrk(
    server: Server,
    paths_file: Path,
    args: argparse.Namespace,
    duration: float,
    database: Database | None,
) -> tuple[dict[str, Any], dict[str, float], float]:
    command = [
        wrk_binary(),
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        *(["-H", f"Accept-Encoding: {args.accept_encoding}"] if args.accept_encoding else []),
        "-s",
        str(LUA_SCRIPT),
        f"http://{LOOPBACK}:{server.port}",
        "--",
        str(paths_file),
    ]
    workers = server.worker_pids()
    backends = pg_backend_pids(database) if database is not None else []
    _children_cpu_delta()  # from here on, what our waited-for children use is wrk's
    before = (CPU.of(workers), CPU.of(backends), *CPU.machine())
    process = subprocess.Popen(  # noqa: S603 -- wrk, fixed arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = process.communicate(timeout=duration + 60)
    # wrk has exited: its CPU time is in our children's rusage, not in /proc any more.
    wrk_cpu = _children_cpu_delta()
    # Connections opened during the run belong to backends that may have appeared meanwhile.
    backends_after = pg_backend_pids(database) if database is not None else []
    new_backends = [pid for pid in backends_after if pid not in backends]
    after = (CPU.of(workers), CPU.of(backends) + CPU.of(new_backends), *CPU.machine())
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{stderr}\n{stdout}")
    line = next((x for x in stdout.splitlines() if x.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    result = json.loads(line)
    requests = max(1, result["requests"])
    busy = after[2] - before[2]
    total = after[3] - before[3]
    app_cpu, pg_cpu = after[0] - before[0], after[1] - before[1]
    cpu = {
        "app": app_cpu * 1000 / requests,
        "postgres": pg_cpu * 1000 / requests,
        "wrk": wrk_cpu * 1000 / requests,
        "other": max(0.0, busy - app_cpu - pg_cpu - wrk_cpu) * 1000 / requests,
    }
    return result, cpu, busy / total if total else float("nan")


_last_children_cpu = 0.0


def _children_cpu_delta() -> float:
    import resource

    global _last_children_cpu
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    now = usage.ru_utime + usage.ru_stime
    delta, _last_children_cpu = now - _last_children_cpu, now
    return delta


def measure(
    route: str,
    server: Server,
    paths_file: Path,
    args: argparse.Namespace,
    settings: ServerSettings,
    round_number: int,
    database: Database | None,
) -> Measurement:
    writes = args.writes if database is not None else 0  # the app's routes only
    with writing(database, args.write_ids, writes):
        if args.warmup > 0:
            run_wrk(server, paths_file, args, args.warmup, database)
    load = report.load()
    with writing(database, args.write_ids, writes) as written:
        result, cpu, busy = run_wrk(server, paths_file, args, args.duration, database)
    measurement = Measurement(
        route=route,
        settings=str(settings),
        round=round_number,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        bytes=result["bytes"],
        errors={k: v for k, v in result["errors"].items() if v},
        latency_us=result["latency_us"],
        cpu_ms=cpu,
        machine_busy=busy,
        load=load,
        writes=written["writes"],
    )
    print(
        f"  {route} ({settings}, round {round_number}): {measurement.rps:,.0f} req/s, "
        f"p50 {measurement.ms('p50'):.1f} ms, p99 {measurement.ms('p99'):.1f} ms, "
        f"{measurement.bytes / max(1, measurement.requests) / 1024:.1f} KiB/response; CPU ms/req "
        + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        + f"; machine {busy:.0%} busy; {load}"
        + (f"; {measurement.writes / measurement.seconds:.1f} writes/s" if writes else "")
        + (f"; FAILED: {measurement.errors}" if measurement.errors else ""),
        flush=True,
    )
    return measurement


@contextmanager
def writing(database: Database | None, question_ids: list[int], per_second: float):
    """While the load runs, change random questions of the visited pages ``per_second`` times
    a second, as people replying would: each change raises its pages' content versions, so
    their stored renderings go out of date and every worker's page cache drops them."""
    done = {"writes": 0}
    if not per_second or database is None or not question_ids:
        yield done
        return
    stop = threading.Event()

    def loop() -> None:
        choose = random.Random(WRITES_SEED).choice  # noqa: S311 (a sample)
        with database.connect() as connection:
            due = time.monotonic()
            while not stop.is_set():
                connection.execute(
                    "UPDATE questions SET last_activity_at = last_activity_at WHERE id = %s",
                    (choose(question_ids),),
                )
                done["writes"] += 1
                due += 1 / per_second
                stop.wait(max(0.0, due - time.monotonic()))

    thread = threading.Thread(target=loop, name="writes", daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join()


WRITES_SEED = 20261127


def questions_on(database: Database, urls: list[str]) -> list[int]:
    with database.connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT qp.question_id FROM question_pages qp JOIN pages p ON p.id = qp.page_id"
                " WHERE p.url = ANY(%s)",
                (urls,),
            )
        ]


def write_paths(workdir: Path, name: str, template: str, urls: list[str]) -> Path:
    path = workdir / f"paths-{name}.txt"
    path.write_text("".join(template.format(url=quote(url, safe="")) + "\n" for url in urls))
    return path


def choose_visited(urls: list[str], visited: int) -> list[str]:
    """The pages the load visits: all of them, or a fixed random sample of ``visited`` (most
    docs sites' traffic goes to a minority of their pages)."""
    if not visited or visited >= len(urls):
        return urls
    return sorted(random.Random(VISITED_SEED).sample(urls, visited))  # noqa: S311 (a sample)


VISITED_SEED = 20261126


def prepare_store(
    mode: str, server: Server, routes: list[Route], urls: list[str], database: Database
) -> dict[str, str]:
    """Put the store of page renderings (``page_snapshots``) in the state to measure: as the
    last run left it, empty (every request renders), or filled for every visited page (each
    requested once, 8 at a time, as the first visitors after a deploy would)."""
    notes: dict[str, str] = {}
    if mode == "as-is":
        return notes
    with database.connect() as connection:
        connection.execute("DELETE FROM page_snapshots")
    if mode == "empty":
        return notes
    for route in routes:
        paths = [route.template.format(url=quote(url, safe="")) for url in urls]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = Counter(status for status, _body, _seconds in pool.map(server.get, paths))
        seconds = time.perf_counter() - started
        if set(statuses) != {200}:
            raise RuntimeError(f"{route.name}: filling the store answered {dict(statuses)}")
        notes[route.name] = f"{len(paths):,} pages in {seconds:.0f} s"
        print(f"  store filled for {route.name}: {notes[route.name]}", flush=True)
    return notes


WARM_CHUNK_SECONDS = 5
WARM_MAX_SECONDS = 180
# Reads per (worker, page) before the caches count as warm: a request goes to whichever worker
# accepts it, so after k reads per pair about 1 - e^-k of the pairs have been read (99.3 % at 5).
WARM_READS_PER_SLOT = 5


def warm_page_caches(
    name: str,
    server: Server,
    paths_file: Path,
    args: argparse.Namespace,
    database: Database,
    workers: int,
    pages: int,
) -> str:
    """Each gunicorn worker keeps its own page cache, filled by the requests it happens to
    accept: read the visited pages at random, as the load does, until every worker has most
    likely read every page (``WARM_READS_PER_SLOT``) and the throughput has stopped rising."""
    rates: list[float] = []
    postgres: list[float] = []
    sent = 0
    target = WARM_READS_PER_SLOT * workers * pages
    while len(rates) * WARM_CHUNK_SECONDS < WARM_MAX_SECONDS:
        result, cpu, _busy = run_wrk(server, paths_file, args, WARM_CHUNK_SECONDS, database)
        sent += result["requests"]
        rates.append(result["requests"] / (result["duration_us"] / 1e6))
        postgres.append(cpu["postgres"])
        if sent >= target and abs(rates[-1] - rates[-2]) <= 0.03 * rates[-2]:
            break
    note = (
        f"{sent:,} reads in {len(rates) * WARM_CHUNK_SECONDS} s, req/s {rates[0]:,.0f} → "
        f"{rates[-1]:,.0f}, PostgreSQL CPU {postgres[0]:.3f} → {postgres[-1]:.3f} ms/req"
    )
    print(f"  page caches warmed for {name}: {note}", flush=True)
    return note


def check_routes(
    server: Server, routes: list[Route], urls: list[str], hottest: str
) -> dict[str, str]:
    """Each route answers 200 for a few pages; one cold request for the biggest page, timed."""
    notes = {}
    for route in routes:
        for url in urls[:: max(1, len(urls) // 5)][:5]:
            status, body, _ = server.get(route.template.format(url=quote(url, safe="")))
            if status != 200:
                raise RuntimeError(
                    f"{route.name}: {status} for {url}\n{body[:2000].decode(errors='replace')}"
                )
        status, body, seconds = server.get(route.template.format(url=quote(hottest, safe="")))
        if status != 200:
            raise RuntimeError(f"{route.name}: {status} for the hottest page {hottest}")
        notes[route.name] = f"{len(body) / 1024:.0f} KiB in {seconds * 1000:.0f} ms"
    return notes


# -- profiles -----------------------------------------------------------------------------------

# Where a sample's time goes. A sample inside psycopg's ``Connection.wait`` is a round trip to
# PostgreSQL (sending, waiting, receiving), named after what started it. Otherwise the innermost
# frame whose file matches decides, so ORM work done from inside a template counts as ORM.
ROUND_TRIPS = [
    ("do_ping", "PostgreSQL: pool pre-ping (SELECT 1)"),
    ("do_rollback", "PostgreSQL: ROLLBACK at the end of the request"),
    ("_start_query", "PostgreSQL: BEGIN"),
    ("do_execute", "PostgreSQL: the queries"),
]
CATEGORIES = [
    ("SQLAlchemy and psycopg (CPU)", ("sqlalchemy/", "psycopg/", "psycopg_binary/", "<sqlalchemy")),
    ("WTForms and the CSRF token", ("wtforms/", "flask_wtf/")),
    ("signed session cookie", ("itsdangerous/", "flask/sessions.py", "community/accounts/cookies")),
    ("Flask-Login", ("flask_login/",)),
    ("Flask-Limiter", ("flask_limiter/", "limits/")),
    ("JSON serialisation", ("json/", "flask/json/")),
    (
        "Jinja2 templates and filters",
        ("jinja2/", "markupsafe/", "community/templating.py", ".html"),
    ),
    ("app code (community/)", ("community/",)),
    ("Flask and Werkzeug", ("flask/", "werkzeug/", "blinker/")),
    ("gunicorn: HTTP and sockets", ("gunicorn/",)),
]
IDLE = ("SyncWorker.wait", "ThreadWorker.wait_for_and_dispatch_events", "PollSelector.select")


def _frame(text: str) -> tuple[str, str]:
    """py-spy's "Qual.name (path/to/file.py:123)" as (name, path)."""
    name, _, where = text.rpartition(" (")
    return name, where.rsplit(":", 1)[0]


def classify(stack: list[str]) -> str:
    """``stack`` is root first, as py-spy writes it."""
    frames = [_frame(f) for f in stack]
    if not frames or any(name in IDLE for name, _ in frames[-3:]):
        return "idle (waiting for a request)"
    names = [name for name, _ in frames]
    if "Connection.wait" in names:
        for needle, category in ROUND_TRIPS:
            if any(needle in name for name in names):
                return category
        return "PostgreSQL: other round trips"
    for _name, path in reversed(frames):
        for category, prefixes in CATEGORIES:
            if path.startswith(prefixes) or (".html" in prefixes and path.endswith(".html")):
                return category
    return "other (Python itself)"


def profile_under_load(
    server: Server, paths_file: Path, args: argparse.Namespace, workdir: Path, name: str
) -> dict[str, Counter[str]]:
    """py-spy samples every worker while wrk keeps them busy, with ``--idle`` so that waiting
    for PostgreSQL counts. (Without it, a worker that waits for a CPU is still sampled as busy
    on a loaded machine, so a CPU-only view is not much different; CPU per request comes from
    /proc instead, in the summary and in --breakdown.)"""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    # Requests of the route measured before may still be queued (wrk gave up on them, the
    # workers have not): let this route's own load push them through before sampling.
    run_wrk(server, paths_file, args, max(args.warmup, 3), None)
    views = {}
    for view, extra in (("wall", ["--idle"]),):
        outputs, samplers = [], []
        for pid in server.worker_pids():
            output = workdir / f"profile-{name}-{view}-{pid}.txt"
            outputs.append(output)
            command = [py_spy, "record", "--pid", str(pid), *extra, "--nonblocking"]
            command += ["--rate", "250", "--duration", str(int(args.profile_seconds))]
            command += ["--format", "raw", "--output", str(output)]
            samplers.append(
                subprocess.Popen(  # noqa: S603 -- py-spy, fixed arguments
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        time.sleep(1)
        run_wrk(server, paths_file, args, args.profile_seconds + 1, None)
        for sampler in samplers:
            sampler.wait(60)
        samples: Counter[str] = Counter()
        for output in outputs:
            with suppress(OSError):
                for line in output.read_text(errors="replace").splitlines():
                    stack, _, count = line.rpartition(" ")
                    if stack and count.isdigit():
                        samples[classify(stack.split(";"))] += int(count)
        views[view] = samples
    return views


def load_wsgi(spec: str, env: dict[str, str]):  # -> Flask
    """The app gunicorn would serve for ``module:name`` or ``module:factory('literal', ...)``,
    built in this process with the server's ``COMMUNITY_*`` settings."""
    import ast
    import importlib

    module_name, _, target = spec.partition(":")
    name, _, call = target.partition("(")
    saved = os.environ.copy()
    os.environ.update({k: v for k, v in env.items() if k.startswith("COMMUNITY_")})
    try:
        if (module_name, name) == ("wsgi", "app"):  # importing wsgi would build it with our env
            from community import create_app

            return create_app()
        attribute = getattr(importlib.import_module(module_name), name)
        if not call:
            return attribute
        arguments = ast.literal_eval("(" + call.rstrip(")") + ",)") if call.strip(")") else ()
        return attribute(*arguments)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def breakdown(
    env: dict[str, str],
    wsgi: str,
    routes: list[Route],
    urls: list[str],
    count: int,
    database: Database,
) -> list[str]:
    """Requests one at a time in this process (Flask's test client, no server, no load): wall
    time, this process's CPU time, the PostgreSQL backend's CPU time, the time inside
    cursor.execute and the statements, per request, for each route and for bare Flask. CPU per
    request barely depends on what else the machine runs, so it says what throughput a quiet
    machine allows: two cores divided by the CPU a request needs."""
    import random

    import sqlalchemy as sa

    from bench.bare_app import app as bare_app
    from community.extensions import db

    app = load_wsgi(wsgi, env)
    timings: list[float] = []

    def before(conn, *_args) -> None:
        conn.info["started"] = time.perf_counter()

    def after(conn, *_args) -> None:
        timings.append(time.perf_counter() - conn.info.pop("started"))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    rng = random.Random(6)  # noqa: S311 -- the same sample of pages every run
    cases = [("bare", bare_app, [BARE_PATH] * count)]
    for route in routes:
        sample = rng.sample(urls, min(count, len(urls)))
        paths = [route.template.format(url=quote(url, safe="")) for url in sample]
        cases.append((route.name, app, paths))
    lines, bare_cpu = [], None
    for name, flask_app, paths in cases:
        client = flask_app.test_client(use_cookies=False)  # as wrk: a new visitor each time
        for path in paths[:20]:  # warm up: compiled templates, statement caches, the pool
            client.get(path)
        backends = pg_backend_pids(database)
        pg_before, cpu_before = CPU.of(backends), time.process_time()
        walls, sqls, statements = [], [], []
        for path in paths:
            timings.clear()
            started = time.perf_counter()
            response = client.get(path)
            walls.append(time.perf_counter() - started)
            sqls.append(sum(timings))
            statements.append(len(timings))
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} for {path}")
        cpu = (time.process_time() - cpu_before) / len(paths)
        pg = (CPU.of(backends) - pg_before) / len(paths)
        bare_cpu = cpu if name == "bare" else bare_cpu
        wall, sql = statistics.median(walls), statistics.median(sqls)
        lines.append(
            f"| {name} | {len(paths)} | {wall * 1000:.2f} | {cpu * 1000:.2f} | {pg * 1000:.2f} | "
            f"{sql * 1000:.2f} | {statistics.median(statements):.0f} | "
            + ("-" if name == "bare" else f"{bare_cpu / (cpu + pg):.1%}")
            + " |"
        )
    with app.app_context():
        db.engine.dispose()
    return lines


def explain(env: dict[str, str], route: Route, urls: dict[str, str]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement the route makes for these pages."""
    import sqlalchemy as sa

    saved = os.environ.copy()
    os.environ.update({k: v for k, v in env.items() if k.startswith("COMMUNITY_")})
    try:
        from community import create_app
        from community.extensions import db

        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    captured: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, *_args) -> None:
        captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    client = app.test_client()
    out = []
    for label, url in urls.items():
        client.get(route.template.format(url=quote(url, safe="")))  # warm the caches
        captured.clear()
        sa.event.listen(engine, "before_cursor_execute", capture)
        client.get(route.template.format(url=quote(url, safe="")))
        sa.event.remove(engine, "before_cursor_execute", capture)
        out.append(f"### {route.name}, {label} ({url})")
        with engine.connect() as connection:
            for statement, parameters in list(captured):
                plan = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                ).all()
                out += ["", "```sql", statement.strip(), "```", "```"]
                out += [row[0] for row in plan] + ["```"]
            connection.rollback()
    with app.app_context():
        db.engine.dispose()
    return "\n".join(out)


# -- the summary --------------------------------------------------------------------------------


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def summarise(
    measurements: list[Measurement], routes: list[Route], settings: list[ServerSettings]
) -> Outcome:
    outcome = Outcome()
    outcome.lines += [
        "| server | route | req/s | ratio to bare | target | p50 (ms) | p90 (ms) | p99 (ms) "
        "| KiB/resp | CPU ms/req: app | postgres | wrk | other | machine busy | load (1 min) "
        "| failed | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for setting in settings:
        by_route: dict[str, Measurement] = {}
        for name in ["bare", *(r.name for r in routes)]:
            runs = [m for m in measurements if m.route == name and m.settings == str(setting)]
            if runs:
                by_route[name] = sorted(runs, key=lambda m: m.rps)[len(runs) // 2]  # median
        bare = by_route.get("bare")
        for name, m in by_route.items():
            route = next((r for r in routes if r.name == name), None)
            ratio = m.rps / bare.rps if bare else float("nan")
            problems = []
            if route is not None and route.target_ratio is not None and ratio < route.target_ratio:
                problems.append(f"ratio {ratio:.0%} < {route.target_ratio:.0%}")
            if route is not None and m.ms("p99") >= P99_TARGET_MS:
                problems.append(f"p99 {m.ms('p99'):.0f} ms >= {P99_TARGET_MS:.0f} ms")
            if m.failed:
                problems.append(f"{m.failed} failed requests")
            verdict = "; ".join(problems) if problems else "ok"
            label = name if route is None or not route.note else f"{name} ({route.note})"
            target = f"{route.target_ratio:.0%}" if route and route.target_ratio else "-"
            outcome.lines.append(
                f"| {setting} | {label} | {m.rps:,.0f} | "
                f"{'-' if name == 'bare' else f'{ratio:.0%}'} | {target} | "
                f"{m.ms('p50'):.1f} | {m.ms('p90'):.1f} | {m.ms('p99'):.1f} | "
                f"{m.bytes / max(1, m.requests) / 1024:.1f} | {m.cpu_ms['app']:.2f} | "
                f"{m.cpu_ms['postgres']:.2f} | {m.cpu_ms['wrk']:.2f} | {m.cpu_ms['other']:.2f} | "
                f"{m.machine_busy:.0%} | {m.load.split()[2]} | {m.failed} | {verdict} |"
            )
            outcome.missed += [f"{setting} {name}: {p}" for p in problems]
    return outcome


# -- the whole run ------------------------------------------------------------------------------


def app_routes(env: dict[str, str]) -> set[str]:
    """The paths the app serves (for ``--routes auto``), asked of the app itself."""
    code = (
        "from community import create_app; "
        "print('\\n'.join(r.rule for r in create_app().url_map.iter_rules()))"
    )
    result = subprocess.run(  # noqa: S603 -- our own interpreter, fixed arguments
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def choose_routes(spec: str, env: dict[str, str]) -> list[Route]:
    if spec == "auto":
        served = app_routes(env)
        chosen = [r for r in ROUTES.values() if r.template.split("?")[0] in served]
        # The HTML page only stands in while the embed does not exist.
        if "embed" in {r.name for r in chosen}:
            chosen = [r for r in chosen if r.name != "pages"]
        return chosen
    routes = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" in item:  # name=/path?url={url}: measured, no target
            name, _, template = item.partition("=")
            routes.append(Route(name, template, None))
        elif item in ROUTES:
            routes.append(ROUTES[item])
        else:
            raise SystemExit(
                f"unknown route {item!r}: use {', '.join(ROUTES)} or name=/path?url={{url}}"
            )
    return routes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read_path", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--routes",
        default="auto",
        help="comma-separated: api, embed, pages (the HTML page standing in for the embed) or "
        "name=/path?url={url}; 'auto' (the default) takes api and embed where the app has them, "
        "else pages",
    )
    parser.add_argument(
        "--wsgi",
        default="wsgi:app",
        help="the app gunicorn serves; bench/experiments.py has what-if variants",
    )
    parser.add_argument(
        "--servers",
        default="sync:4",
        help="gunicorn worker models to compare, comma-separated: sync:N or gthread:NxT",
    )
    parser.add_argument(
        "--visited",
        type=int,
        default=10_000,
        help="how many of the pages the load visits (a fixed random sample; 0: all)",
    )
    parser.add_argument(
        "--store",
        choices=("filled", "empty", "as-is"),
        default="filled",
        help="the stored page renderings before the load: filled for every visited page (the "
        "steady state), empty (every request renders), or as the last run left them",
    )
    parser.add_argument(
        "--page-cache",
        choices=("on", "off"),
        default="on",
        help="the app's in-process page cache (PAGE_CACHE_MB, on by default in the app); "
        "--store empty turns it off, since every request is then to render",
    )
    parser.add_argument(
        "--writes",
        type=float,
        default=0,
        help="questions changed per second on the visited pages while the app's routes are "
        "loaded (each one renders its pages again and empties them from the page caches)",
    )
    parser.add_argument(
        "--page-cache-mb",
        type=int,
        default=128,
        help="PAGE_CACHE_MB for the app: enough per worker for every route's visited pages "
        "(10,000 pages take about 45 MB as JSON and 60 MB as embeds)",
    )
    parser.add_argument(
        "--accept-encoding",
        default="gzip, deflate, br, zstd",
        help="the Accept-Encoding wrk sends, as browsers do ('' for none, as curl does)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per route")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=1, help="repeat; the median round counts")
    parser.add_argument("--reuse", action="store_true", help="keep the database, reuse it next")
    parser.add_argument("--drop", action="store_true", help="drop the database and exit")
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--hot-pages", type=int, default=10, help="pages with very many questions")
    parser.add_argument(
        "--hot-share", type=float, default=0.01, help="share of questions on the hot pages"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra setting for the app's server, e.g. "
        "COMMUNITY_SQLALCHEMY_ENGINE_OPTIONS='{\"pool_pre_ping\": false}' (repeatable)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the app's workers under load"
    )
    parser.add_argument("--profile-seconds", type=float, default=15)
    parser.add_argument(
        "--breakdown",
        type=int,
        default=0,
        metavar="N",
        help="time N requests per route in process: SQL time and statements per request",
    )
    parser.add_argument("--explain", action="store_true", help="print the routes' query plans")
    parser.add_argument(
        "--no-load", action="store_true", help="no servers and no wrk: --breakdown/--explain only"
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument("--pg-database", default="bench_read_path")
    parser.add_argument("--keep-logs", action="store_true", help="keep gunicorn's logs")
    args = parser.parse_args(argv)
    try:
        args.servers = [ServerSettings.parse(s) for s in args.servers.split(",") if s.strip()]
    except ValueError as error:
        parser.error(str(error))
    if min(args.questions, args.pages, args.users, args.connections, args.rounds) < 1:
        parser.error("sizes, --connections and --rounds must be at least 1")
    if not 0 < args.hot_pages < args.pages or not 0 <= args.hot_share < 1:
        parser.error("--hot-pages must be below --pages, --hot-share below 1")
    if args.users < 20:
        parser.error("--users must be at least 20")
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env takes KEY=VALUE, not {item!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = Database(args.pg_admin_url, args.pg_database)
    if args.drop:
        database.drop()
        print(f"dropped {database.name}")
        return 0
    wrk_binary()
    if importlib.util.find_spec("gunicorn") is None:
        raise SystemExit("gunicorn is not installed: .venv/bin/pip install -e '.[bench]'")

    print(report.machine(), flush=True)
    print(f"community at {report.revision()}", flush=True)
    size = SeedSize(args.questions, args.pages, args.users, args.hot_pages, args.hot_share)
    extra = dict(item.split("=", 1) for item in args.env)
    if args.store == "empty" and args.page_cache == "on":
        args.page_cache = "off"
        print("--store empty: the page cache is off too (every request renders)", flush=True)
    extra.setdefault(
        "COMMUNITY_PAGE_CACHE_MB", str(args.page_cache_mb if args.page_cache == "on" else 0)
    )
    env = app_env(database, extra)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-read-path-"))
    measurements: list[Measurement] = []
    failed, crashed = True, True  # until the summary says otherwise
    try:
        seeded = ensure_database(database, size, args.reuse, env)
        print(f"database {database.name}: {seeded}", flush=True)
        data = data_summary(database)
        urls, hottest = page_urls(database)
        routes = choose_routes(args.routes, env)
        if not routes:
            raise SystemExit("no route to measure")
        print(f"routes: {', '.join(f'{r.name} {r.template}' for r in routes)}", flush=True)
        bare_paths = workdir / "paths-bare.txt"
        bare_paths.write_text(BARE_PATH + "\n")
        visited = choose_visited(urls, args.visited)
        print(
            f"visited pages: {len(visited):,} of {len(urls):,}; store of renderings: {args.store}",
            flush=True,
        )
        paths = {r.name: write_paths(workdir, r.name, r.template, visited) for r in routes}
        args.write_ids = questions_on(database, visited) if args.writes else []
        hot_notes: dict[str, str] = {}
        warm_notes: dict[str, str] = {}
        for setting in [] if args.no_load else args.servers:
            print(f"\n== gunicorn {setting}", flush=True)
            with (
                gunicorn("bare", "bench.bare_app:app", setting, env, workdir) as bare,
                gunicorn("app", args.wsgi, setting, env, workdir) as app_server,
            ):
                hot_notes = check_routes(app_server, routes, urls, hottest)
                prepare_store(args.store, app_server, routes, visited, database)
                if args.store != "empty" and args.page_cache == "on":
                    for route in (r for r in routes if r.cached):
                        warm_notes[route.name] = warm_page_caches(
                            route.name,
                            app_server,
                            paths[route.name],
                            args,
                            database,
                            setting.workers,
                            len(visited),
                        )
                for round_number in range(1, args.rounds + 1):
                    measurements.append(
                        measure("bare", bare, bare_paths, args, setting, round_number, None)
                    )
                    for route in routes:
                        measurements.append(
                            measure(
                                route.name,
                                app_server,
                                paths[route.name],
                                args,
                                setting,
                                round_number,
                                database,
                            )
                        )
                if args.profile:
                    for route in routes:
                        samples = profile_under_load(
                            app_server, paths[route.name], args, workdir, route.name
                        )
                        _print_profile(route, setting, samples)
        outcome = summarise(measurements, routes, args.servers)
        failed = bool(outcome.missed)
        breakdown_lines = (
            breakdown(env, args.wsgi, routes, urls, args.breakdown, database)
            if args.breakdown
            else []
        )
        plans = (
            [
                explain(
                    env, r, {"a typical page": urls[len(urls) // 2], "the hottest page": hottest}
                )
                for r in routes
            ]
            if args.explain
            else []
        )
        crashed = any(m.failed for m in measurements)  # failed requests: keep their tracebacks
    finally:
        if not args.reuse:
            database.drop()
        if crashed or args.keep_logs:  # gunicorn's logs say why a route failed
            print(f"\nlogs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    counts = data["counts"]
    per_page = data["questions_per_page"]
    print(
        f"\nData: {counts['questions']:,} questions, {counts['replies']:,} replies, "
        f"{counts['pages']:,} pages, {counts['users']:,} users; questions per page: median "
        f"{per_page['median']}, p99 {per_page['p99']}, max {per_page['max']}; database "
        f"{data['size_mb']:,.0f} MB. {seeded}."
    )
    print(
        f"wrk: {args.connections} connections, {args.wrk_threads} threads, {args.warmup:g} s "
        f"warm-up then {args.duration:g} s per route, {args.rounds} round(s); random pages "
        f"from {min(args.visited or len(urls), len(urls)):,} of the {len(urls):,}; "
        f"Accept-Encoding: {args.accept_encoding or '(none)'}; stored renderings: {args.store}; "
        f"writes: {args.writes:g}/s; page cache: {args.page_cache}"
        + (f" ({args.page_cache_mb} MB per worker)." if args.page_cache == "on" else ".")
    )
    if warm_notes:
        print(
            "Page caches warmed (each worker keeps its own): "
            + "; ".join(f"{name} {note}" for name, note in warm_notes.items())
        )
    print(
        "The page with the most questions, one request after the warm-up: "
        + "; ".join(f"{name} {note}" for name, note in hot_notes.items())
    )
    if extra:
        print("Extra settings: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
    print()
    print("\n".join(outcome.lines))
    if breakdown_lines:
        print(
            "\nOne request at a time, in process (Flask test client, no server); wall and SQL "
            "are medians, CPU is the mean:\n\n"
            "| route | requests | wall (ms) | app CPU (ms) | PostgreSQL CPU (ms) "
            "| in cursor.execute (ms) | statements | bare's CPU / this CPU |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        print("\n".join(breakdown_lines))
    for plan in plans:
        print("\n" + plan)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {report.load()}")
    if outcome.missed:
        print("MISSED: " + "; ".join(outcome.missed))
    return 1 if failed else 0


def _print_profile(route: Route, setting: ServerSettings, views: dict[str, Counter[str]]) -> None:
    samples = views["wall"]
    busy = {k: v for k, v in samples.items() if not k.startswith("idle")}
    total = sum(busy.values()) or 1
    print(
        f"\n  where {route.name}'s time goes ({setting}, py-spy on every worker, {total} samples "
        f"in requests, {samples.total() - total} idle left out):\n\n"
        "  | part | share of the workers' time in requests |\n  |---|---|"
    )
    for category, count in sorted(busy.items(), key=lambda item: -item[1]):
        print(f"  | {category} | {count / total:.0%} |")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
