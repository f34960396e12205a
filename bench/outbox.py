"""Outbox benchmark (issue 4, "Speed"): how fast the worker drains reply emails into SMTP, and
whether posting a reply gets slower when the SMTP server is slow or down.

Run it from the project root, with PostgreSQL on 127.0.0.1:5432 (user postgres, no password):

    .venv/bin/python -m bench.outbox            # ~5 minutes on 2 cores; see bench/README.md
    .venv/bin/python -m bench.outbox --jobs 2000 --sqlite-jobs 1000    # ~2 minutes

``--help`` lists the options. It creates and at the end drops a PostgreSQL database
(``bench_outbox``) and a temporary SQLite file, touches nothing else, and connects only to
127.0.0.1. The exit status is 1 when a check failed or a request failed.

Part 1 (drain): ``--jobs`` verified users (inserted in bulk) follow a question; a reply is posted
through the app's service; the worker's real ``notify.reply`` job (run by ``Worker`` in a process
of its own) fans it out into one ``email.send`` job per follower, while replies are posted to
another question to see whether the fan-out holds them up; then ``flask --app community jobs run
--until-empty`` subprocesses (1, then 2) deliver the jobs into a local aiosmtpd server running in
its own process. Every job must end done and the server must have received exactly one message
per job: the Message-IDs are compared one by one, and so are the recipients.

Part 2 (latency): a signed-in user posts ``--requests`` replies through the Flask test client
while a ``flask jobs run`` worker delivers their notifications to an SMTP server that is healthy,
answers each RCPT after ``--smtp-delay`` seconds, or is not listening at all; with no worker
running as a baseline.

Part 3 (claim cost): one run of the worker's own claim statement with ``--claim-sizes`` jobs due,
next to a pending-only SELECT in index order.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

from bench import report

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
PASSWORD = "benchmark password, not a secret"  # noqa: S105 -- a throwaway local account
EMAIL_JOB = "email.send"
MODES = {  # what the worker faces while replies are posted
    "no-worker": "no worker running",
    "healthy": "SMTP healthy",
    "slow": "SMTP slow ({delay:g} s per RCPT)",
    "down": "SMTP down (nothing listening)",
}

# -- the SMTP server: aiosmtpd in a child process, so it never competes with the measured code for
# -- this process's GIL. It counts messages and keeps only their Message-ID and recipient.


class _SinkHandler:
    def __init__(self, rcpt_delay: float) -> None:
        self.rcpt_delay = rcpt_delay
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, _server, _session, envelope, address, _options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server, _session, envelope):
        headers = BytesHeaderParser(policy=compat32).parsebytes(envelope.content)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((str(headers.get("Message-ID", "")), rcpt))
        return "250 Message accepted"


def _sink_main(port: int, rcpt_delay: float, commands: Connection) -> None:
    from aiosmtpd.controller import Controller

    handler = _SinkHandler(rcpt_delay)
    controller = Controller(handler, hostname=LOOPBACK, port=port)
    controller.start()
    commands.send("ready")
    try:
        while True:
            command = commands.recv()
            if command == "received":
                with handler.lock:
                    commands.send(list(handler.received))
            elif command == "reset":
                with handler.lock:
                    handler.received.clear()
                commands.send("ok")
            else:  # "stop"
                break
    finally:
        controller.stop()
        commands.send("stopped")


class SMTPSink:
    """A local SMTP server in a child process; ``rcpt_delay`` seconds before each RCPT answer."""

    def __init__(self, port: int, rcpt_delay: float = 0.0) -> None:
        self.port = port
        self.rcpt_delay = rcpt_delay
        context = multiprocessing.get_context("spawn")
        self._commands, child_end = context.Pipe()
        self._process = context.Process(
            target=_sink_main, args=(port, rcpt_delay, child_end), daemon=True
        )

    def __enter__(self) -> SMTPSink:
        self._process.start()
        if not self._commands.poll(30) or self._commands.recv() != "ready":
            raise RuntimeError("the SMTP server did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        with suppress(OSError, EOFError):
            self._commands.send("stop")
            if self._commands.poll(10):
                self._commands.recv()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def received(self) -> list[tuple[str, str]]:
        """(Message-ID, recipient) for every message accepted so far."""
        self._commands.send("received")
        return self._commands.recv()

    def reset(self) -> None:
        self._commands.send("reset")
        self._commands.recv()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# -- databases ----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # "postgresql" or "sqlite"
    url: str


@contextmanager
def postgresql_database(admin_url: str, name: str) -> Iterator[Target]:
    """A fresh database called ``name`` (dropped first if a crashed run left it), dropped after."""
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
        yield Target("postgresql", url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def sqlite_database(directory: Path) -> Iterator[Target]:
    yield Target("sqlite", f"sqlite:///{directory / 'bench_outbox.db'}")


def _psycopg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# -- the app under test -------------------------------------------------------------------------


@dataclass
class Setup:
    target: Target
    smtp_port: int
    workdir: Path
    secret: str = field(default_factory=lambda: "bench-" + secrets.token_hex(21))  # 48 chars

    def settings(self) -> dict[str, Any]:
        """The same settings for the in-process app and the worker subprocesses. Everything that
        could point elsewhere (TLS, credentials, Slack) is pinned, whatever instance/config.py
        says."""
        return {
            "SQLALCHEMY_DATABASE_URI": self.target.url,
            "SECRET_KEY": self.secret,
            "BASE_URL": "http://127.0.0.1:5000",
            "MAIL_SERVER": LOOPBACK,
            "MAIL_PORT": self.smtp_port,
            "MAIL_USERNAME": None,
            "MAIL_PASSWORD": None,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_TIMEOUT": 30,
            "SLACK_WEBHOOK_URL": None,
        }

    def env(self) -> dict[str, str]:
        import json

        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNITY_")}
        for key, value in self.settings().items():
            env[f"COMMUNITY_{key}"] = value if isinstance(value, str) else json.dumps(value)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def flask(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "community", *args]

    def app(self):  # -> Flask
        from community import create_app

        return create_app(
            {
                **self.settings(),
                "WTF_CSRF_ENABLED": False,
                # A failing request raises in the test client, so it is counted with its cause.
                "PROPAGATE_EXCEPTIONS": True,
                # Only the one account that signs in has a password; keep its hash cheap.
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )


def migrate(setup: Setup) -> None:
    result = subprocess.run(  # noqa: S603 -- our own interpreter, fixed arguments
        setup.flask("db", "upgrade"),
        env=setup.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class People:
    asker_id: int
    replier_id: int
    poster_email: str
    follower_ids: list[int]


def seed(app, followers: int) -> People:
    """Staff accounts (email switched off, so only followers get mail) and ``followers``
    verified users, inserted in bulk: no password hashing, no per-row round trips."""
    import sqlalchemy as sa

    from community.accounts import services as accounts
    from community.accounts.models import User
    from community.db import utcnow
    from community.extensions import db

    with app.app_context():
        asker = accounts.create_user("asker@example.com", "Asker", None, verified=True)
        replier = accounts.create_user("replier@example.com", "Replier", None, verified=True)
        poster = accounts.create_user("poster@example.com", "Poster", PASSWORD, verified=True)
        for user in (asker, replier, poster):
            user.email_notifications = False
        db.session.flush()
        now = utcnow()
        for start in range(0, followers, 2000):
            db.session.execute(
                sa.insert(User),
                [
                    {
                        "email": f"follower{i}@example.com",
                        "name": f"Follower {i}",
                        "password_hash": None,
                        "email_verified_at": now,
                    }
                    for i in range(start, min(start + 2000, followers))
                ],
            )
        ids = list(
            db.session.scalars(
                sa.select(User.id).where(User.email.like("follower%")).order_by(User.id)
            )
        )
        db.session.commit()
        return People(asker.id, replier.id, poster.email, ids)


def ask(app, author_id: int, subject: str, follower_ids: list[int]) -> int:
    """A question through the service (so its signals run), followed by ``follower_ids``."""
    import sqlalchemy as sa

    from community.accounts.models import User
    from community.extensions import db
    from community.notifications.models import Subscription
    from community.questions import services as questions

    with app.app_context():
        author = db.session.get(User, author_id)
        question = questions.ask_question(author, subject, "How does the outbox keep up?")
        for start in range(0, len(follower_ids), 5000):
            db.session.execute(
                sa.insert(Subscription),
                [
                    {"user_id": user_id, "question_id": question.id}
                    for user_id in follower_ids[start : start + 5000]
                ],
            )
        db.session.commit()
        return question.id


def post_reply(app, author_id: int, question_id: int, body: str) -> int:
    from community.accounts.models import User
    from community.extensions import db
    from community.questions import services as questions
    from community.questions.models import Question

    with app.app_context():
        author = db.session.get(User, author_id)
        question = db.session.get(Question, question_id)
        reply = questions.post_reply(author, question, body)
        db.session.commit()
        return reply.id


def fan_out_in_process(
    setup: Setup, probe: Probe | None, timeout: float
) -> tuple[int, float, Probed | None]:
    """Run the due jobs (the reply's fan-out) with the real Worker in a process of its own, so
    that replies can be posted meanwhile without sharing a GIL with it. Returns how many other
    jobs ran, the seconds taken, and how the replies posted meanwhile fared."""
    context = multiprocessing.get_context("spawn")
    results, child_end = context.Pipe(duplex=False)
    process = context.Process(target=_fan_out_main, args=(setup, child_end), daemon=True)
    process.start()
    probed = probe.post_while(process.is_alive) if probe is not None else None
    process.join(timeout)
    if not results.poll(1):
        raise RuntimeError("the fan-out process failed (see the traceback above)")
    ran, seconds = results.recv()
    return ran, seconds, probed


def fan_out_failure(app, reply_id: int) -> str | None:
    """None if the reply's notify.reply job is done; else its error, after making it due now."""
    import sqlalchemy as sa

    from community.db import utcnow
    from community.extensions import db
    from community.jobs.models import Job, JobStatus

    with app.app_context():
        job = db.session.scalar(sa.select(Job).where(Job.dedupe_key == f"notify:reply:{reply_id}"))
        if job is None or job.status == JobStatus.DONE:
            return None
        error = (job.last_error or job.status).splitlines()[0][:160]
        job.run_after = utcnow()
        db.session.commit()
        return error


def _fan_out_main(setup: Setup, results: Connection) -> None:
    app = setup.app()
    ran, seconds = run_pending_in_process(app)
    results.send((ran - 1, seconds))


def run_pending_in_process(app) -> tuple[int, float]:
    """Run the jobs due now (the Slack announcement, the reply fan-out) with the real Worker in
    this process; returns how many ran and how long they took. Call only when no email job is
    pending, or it would start sending them."""
    import sqlalchemy as sa

    from community.extensions import db
    from community.jobs.models import Job, JobStatus
    from community.jobs.worker import Worker

    with app.app_context():
        due = db.session.scalar(
            sa.select(sa.func.count()).select_from(Job).where(Job.status == JobStatus.PENDING)
        )
        kinds = set(db.session.scalars(sa.select(Job.kind).where(Job.status == JobStatus.PENDING)))
    if EMAIL_JOB in kinds:
        raise RuntimeError("email jobs are pending; the in-process worker would send them")
    worker = Worker(app, name="bench-fan-out")
    started = time.perf_counter()
    for _ in range(due or 0):
        worker.run_one()
    return due or 0, time.perf_counter() - started


@dataclass
class JobCounts:
    by_status: Counter[str]
    message_ids: set[str]
    recipients: set[str]
    extra_attempts: int
    last_errors: Counter[str]
    finished: list[Any]

    def rate(self, first: bool, share: float = 0.1) -> float:
        """Jobs per second over the first (or last) ``share`` of the finishes."""
        count = max(2, int(len(self.finished) * share))
        if len(self.finished) < count:
            return float("nan")
        part = self.finished[:count] if first else self.finished[-count:]
        seconds = (part[-1] - part[0]).total_seconds()
        return (count - 1) / seconds if seconds > 0 else float("nan")


def email_jobs(app, reply_id: int) -> JobCounts:
    """The reply's email jobs: their states, Message-IDs and recipients (from the user ids)."""
    import sqlalchemy as sa

    from community.accounts.models import User
    from community.extensions import db
    from community.jobs.models import Job

    prefix = f"email:reply:{reply_id}:user:"
    with app.app_context():
        rows = db.session.execute(
            sa.select(Job.status, Job.payload, Job.attempts, Job.last_error, Job.finished_at).where(
                Job.kind == EMAIL_JOB, Job.dedupe_key.like(prefix + "%")
            )
        ).all()
        emails = {row.id: row.email for row in db.session.execute(sa.select(User.id, User.email))}
    finished = sorted(row.finished_at for row in rows if row.finished_at is not None)
    return JobCounts(
        finished=finished,
        by_status=Counter(row.status for row in rows),
        message_ids={row.payload["message_id"] for row in rows},
        recipients={emails[row.payload["params"]["user_id"]] for row in rows},
        extra_attempts=sum(max(0, row.attempts - 1) for row in rows),
        last_errors=Counter(row.last_error.splitlines()[0] for row in rows if row.last_error),
    )


def delete_finished_jobs(app) -> None:
    """Every drain starts from the same table: only the jobs it is about to run."""
    import sqlalchemy as sa

    from community.extensions import db
    from community.jobs.models import Job, JobStatus

    with app.app_context():
        db.session.execute(sa.delete(Job).where(Job.status == JobStatus.DONE))
        db.session.commit()


def _claim_statement(app) -> Any:
    """The worker's own claim statement (the UPDATE … RETURNING that takes a job), captured from
    ``Worker._claim`` without running it; any other statement the claim makes first (a sweep of
    expired leases, say) is skipped too."""
    from community.extensions import db
    from community.jobs.worker import Worker

    captured: list[Any] = []

    def capture(statement: Any, *_args: Any, **_kwargs: Any) -> Any:
        if getattr(statement, "_returning", None):
            captured.append(statement)
            raise _Captured
        return mock.MagicMock()

    with (
        app.app_context(),
        mock.patch.object(db.session, "execute", side_effect=capture),
        suppress(_Captured),
    ):
        Worker(app, name="bench-claim")._claim()
    if not captured:
        raise RuntimeError("Worker._claim made no UPDATE … RETURNING: update bench/outbox.py")
    return captured[0]


def explain_claim(app) -> str:
    """PostgreSQL's plan for the worker's claim statement on the table as it is now (rolled
    back, so nothing is claimed)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from community.extensions import db

    sql = _claim_statement(app).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with app.app_context():
        text = "\n".join(db.session.scalars(sa.text(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}")))
        db.session.rollback()
    return text


def claim_scaling(app, sizes: list[int]) -> list[tuple[int, float, float]]:
    """How long one claim takes with ``size`` due jobs queued: the worker's statement (run and
    rolled back) next to a pending-only SELECT that an index on (status, run_after, id) can
    answer in order. Empties the jobs table first and last. Returns (size, claim ms, select ms).
    """
    import sqlalchemy as sa

    from community.db import utcnow
    from community.extensions import db
    from community.jobs.models import Job, JobStatus

    results = []
    with app.app_context():
        db.session.execute(sa.delete(Job))
        db.session.commit()
        queued = 0
        for size in sorted(sizes):
            now = utcnow()
            while queued < size:
                batch = min(5000, size - queued)
                row = {"kind": EMAIL_JOB, "payload": {}, "status": "pending", "run_after": now}
                db.session.execute(sa.insert(Job), [row] * batch)
                queued += batch
            db.session.commit()
            claim = _claim_statement(app)
            pending_only = (
                sa.select(Job.id)
                .where(Job.status == JobStatus.PENDING, Job.run_after <= sa.bindparam("now"))
                .order_by(Job.run_after, Job.id)
                .limit(1)
            )
            if db.engine.dialect.name == "postgresql":
                pending_only = pending_only.with_for_update(skip_locked=True)
            timings = []
            for statement, params in ((claim, {}), (pending_only, {"now": utcnow()})):
                samples = []
                for _ in range(15):
                    started = time.perf_counter()
                    db.session.execute(statement, params).scalar()
                    samples.append(time.perf_counter() - started)
                    db.session.rollback()
                timings.append(statistics.median(samples) * 1000)
            results.append((size, timings[0], timings[1]))
        db.session.execute(sa.delete(Job))
        db.session.commit()
    return results


class _Captured(Exception):
    pass


# -- posting replies while something else happens ---------------------------------------------


def signed_in_client(app, people: People):  # -> FlaskClient
    client = app.test_client()
    signed_in = client.post("/login", data={"email": people.poster_email, "password": PASSWORD})
    if signed_in.status_code != 302:
        raise RuntimeError(f"signing in answered {signed_in.status_code}")
    return client


def _post(client, url: str, data: dict[str, str]) -> tuple[float, str | None]:
    """POST through the test client: (seconds taken, None or what went wrong)."""
    started = time.perf_counter()
    try:
        response = client.post(url, data=data)
    except Exception as error:  # PROPAGATE_EXCEPTIONS: the view raised
        return time.perf_counter() - started, _describe(error)
    elapsed = time.perf_counter() - started
    return elapsed, None if response.status_code == 302 else f"HTTP {response.status_code}"


def _describe(error: BaseException) -> str:
    """The exception's type and first line, with SQLite's precise error name when there is one
    (SQLITE_BUSY_SNAPSHOT and SQLITE_BUSY both read "database is locked")."""
    name = getattr(getattr(error, "orig", None), "sqlite_errorname", None)
    text = str(getattr(error, "orig", None) or error).splitlines()[0][:100]
    return f"{type(error).__name__} {name}: {text}" if name else f"{type(error).__name__}: {text}"


@dataclass
class Probed:
    samples: list[float]
    errors: Counter[str]

    def describe(self) -> str:
        if not self.samples:
            return f"none succeeded; {dict(self.errors)}"
        text = (
            f"{len(self.samples)} took median {statistics.median(self.samples) * 1000:.0f} ms, "
            f"max {max(self.samples) * 1000:.0f} ms"
        )
        if self.errors:
            text += "; FAILED: " + "; ".join(f"{n}x {e}" for e, n in self.errors.items())
        return text


@dataclass
class Probe:
    """Replies posted now and then to a question nobody follows (so they queue no email)."""

    client: Any
    question_id: int
    interval: float = 0.25

    def post_while(self, running: Any) -> Probed:
        probed = Probed([], Counter())
        time.sleep(self.interval)
        while running():
            elapsed, error = _post(
                self.client,
                f"/questions/{self.question_id}/replies",
                {"body": "A reply posted while a big fan-out runs."},
            )
            if error is None:
                probed.samples.append(elapsed)
            else:
                probed.errors[error] += 1
            time.sleep(self.interval)
        return probed


# -- part 1: drain ------------------------------------------------------------------------------


@dataclass
class DrainResult:
    database: str
    workers: int
    jobs: int
    fan_out_seconds: float
    wall_seconds: float
    start_rate: float  # jobs/s over the first 10 % of the drain (queue full)
    end_rate: float  # and over the last 10 % (queue nearly empty)
    per_worker: list[int]
    problems: list[str]
    probe: Probed | None
    worker_cpu_seconds: float  # user + system time of the worker processes
    machine_busy: float  # share of all CPUs' time that was busy during the drain (any process)

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.wall_seconds


def drain(
    setup: Setup,
    app,
    sink: SMTPSink,
    people: People,
    question_id: int,
    workers: int,
    run: int,
    timeout: float,
    explain: bool,
    probe: Probe | None,
) -> DrainResult:
    delete_finished_jobs(app)
    reply_id = post_reply(
        app, people.replier_id, question_id, f"Benchmark reply {run} with {workers} worker(s)."
    )
    problems = []
    ran, fan_out, probed = fan_out_in_process(setup, probe, timeout)
    if probed is not None:
        print(f"  meanwhile, replies to another question: {probed.describe()}", flush=True)
    failed = fan_out_failure(app, reply_id)
    if failed is not None:
        # The job was rolled back and waits for its backoff; the benchmark makes it due now and
        # runs it again (without replies alongside) so the drain can go ahead.
        problems.append(f"the fan-out job failed ({failed}) and had to be run again")
        print(f"  THE FAN-OUT JOB FAILED: {failed}; running it again", flush=True)
        ran, fan_out, _ = fan_out_in_process(setup, None, timeout)
    queued = email_jobs(app, reply_id)
    jobs = sum(queued.by_status.values())
    print(
        f"  queued {jobs} email jobs (the worker's notify.reply job, run with {ran} other due "
        f"job(s) in a separate process, took {fan_out:.1f} s)",
        flush=True,
    )
    if jobs == 0:
        raise RuntimeError("no email job was queued")
    if explain and setup.target.name == "postgresql":
        print("  claim plan with the queue full:")
        print("    " + explain_claim(app).replace("\n", "\n    "), flush=True)
    sink.reset()
    logs = [setup.workdir / f"{setup.target.name}-drain{run}-worker{n}.log" for n in range(workers)]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = _machine_cpu()
    started = time.perf_counter()
    processes = []
    for log in logs:
        with log.open("w") as out:
            processes.append(
                subprocess.Popen(  # noqa: S603 -- our own interpreter, fixed arguments
                    setup.flask("jobs", "run", "--until-empty"),
                    env=setup.env(),
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    for process in processes:
        remaining = max(0.1, timeout - (time.perf_counter() - started))
        try:
            process.wait(remaining)
        except subprocess.TimeoutExpired:
            problems.append(f"worker {process.pid} still running after {timeout:.0f} s; killed")
            process.kill()
            process.wait()
        if process.returncode not in (0, None) and not problems:
            problems.append(f"worker {process.pid} exited with {process.returncode}")
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    machine_after = _machine_cpu()
    busy = (
        (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
        if machine_before and machine_after and machine_after[1] > machine_before[1]
        else float("nan")
    )

    per_worker = [_ran_count(log) for log in logs]
    done = email_jobs(app, reply_id)
    received = sink.received()
    received_ids = Counter(message_id for message_id, _ in received)
    if set(done.by_status) != {"done"}:
        problems.append(f"jobs not done: {dict(done.by_status)}")
    if len(received) != jobs:
        problems.append(f"{len(received)} messages received for {jobs} jobs")
    duplicates = sum(1 for count in received_ids.values() if count > 1)
    if duplicates:
        problems.append(f"{duplicates} Message-IDs received more than once")
    if set(received_ids) != done.message_ids:
        problems.append(
            f"{len(done.message_ids - set(received_ids))} jobs' Message-IDs never arrived, "
            f"{len(set(received_ids) - done.message_ids)} unexpected ones did"
        )
    if {rcpt for _, rcpt in received} != done.recipients:
        problems.append("the recipients differ from the followers")
    if done.extra_attempts:
        problems.append(f"{done.extra_attempts} retries: {dict(done.last_errors)}")
    for log in logs:
        if problems:
            print(f"  --- tail of {log.name}:\n" + _tail(log), flush=True)
    return DrainResult(
        database=setup.target.name,
        workers=workers,
        jobs=jobs,
        fan_out_seconds=fan_out,
        wall_seconds=wall,
        start_rate=done.rate(first=True),
        end_rate=done.rate(first=False),
        per_worker=per_worker,
        problems=problems,
        probe=probed,
        worker_cpu_seconds=worker_cpu,
        machine_busy=busy,
    )


def _machine_cpu() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat (Linux only)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _ran_count(log: Path) -> int:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if " ran " in line and "job(s)" in line:
            return int(line.split(" ran ")[1].split()[0])
    return -1


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- part 2: latency of posting a reply ---------------------------------------------------------


@dataclass
class LatencyResult:
    database: str
    smtp: str
    smtp_delay: float
    samples: list[float]
    errors: Counter[str]
    sent: int
    pending: int
    retrying: int
    failures: Counter[str]
    duplicates: int
    sent_but_requeued: int

    @property
    def label(self) -> str:
        return MODES[self.smtp].format(delay=self.smtp_delay)

    def percentile(self, p: int) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=100, method="inclusive")[p - 1]


@contextmanager
def background_worker(setup: Setup, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``flask jobs run`` (until stopped) beside the requests; SIGTERM lets it finish its job."""
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter, fixed arguments
            setup.flask("jobs", "run", "--poll-interval", "0.1"),
            env=setup.env(),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "started" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start:\n" + _tail(log))
            time.sleep(0.05)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def reply_latency(
    setup: Setup,
    app,
    client: Any,
    question_id: int,
    smtp: str,
    requests: int,
    smtp_delay: float,
    pause: float,
    settle: float,
) -> LatencyResult:
    import sqlalchemy as sa

    from community.extensions import db
    from community.jobs.models import Job, JobStatus

    with app.app_context():
        db.session.execute(sa.delete(Job))  # start with an empty outbox
        db.session.commit()
    sink = (
        SMTPSink(setup.smtp_port, rcpt_delay=smtp_delay if smtp == "slow" else 0.0)
        if smtp in {"healthy", "slow"}
        else None
    )
    samples: list[float] = []
    errors: Counter[str] = Counter()
    log = setup.workdir / f"{setup.target.name}-latency-{smtp}.log"
    with sink or nullcontext():
        with background_worker(setup, log) if smtp != "no-worker" else nullcontext():
            for i in range(requests + 3):  # the first three warm up and are not counted
                elapsed, error = _post(
                    client,
                    f"/questions/{question_id}/replies",
                    {"body": f"Reply {i} while the SMTP server is {smtp}."},
                )
                if error is not None:
                    errors[error] += 1
                elif i >= 3:
                    samples.append(elapsed)
                time.sleep(max(0.0, pause - elapsed))
            if smtp != "no-worker":
                time.sleep(settle)  # let the worker get some way through the notifications
        # The worker has stopped (after finishing its current job): count what arrived.
        received = sink.received() if sink is not None else []
    with app.app_context():
        rows = db.session.execute(
            sa.select(Job.kind, Job.status, Job.attempts, Job.last_error, Job.payload)
        ).all()
    failures = Counter(
        f"{row.kind}: {row.last_error.splitlines()[0][:120]}" for row in rows if row.last_error
    )
    ids = Counter(message_id for message_id, _ in received)
    # A job the SMTP server already accepted but that is queued again will be sent twice.
    resend = sum(
        1
        for row in rows
        if row.kind == EMAIL_JOB
        and row.status != JobStatus.DONE
        and row.payload["message_id"] in ids
    )
    return LatencyResult(
        database=setup.target.name,
        smtp=smtp,
        smtp_delay=smtp_delay,
        samples=samples,
        errors=errors,
        sent=len(received),
        pending=sum(1 for row in rows if row.status == JobStatus.PENDING),
        retrying=sum(1 for row in rows if row.status == JobStatus.PENDING and row.attempts),
        failures=failures,
        duplicates=sum(count - 1 for count in ids.values() if count > 1),
        sent_but_requeued=resend,
    )


# -- the whole run ------------------------------------------------------------------------------


def benchmark_database(
    target: Target, args: argparse.Namespace, workdir: Path, jobs: int, worker_counts: list[int]
) -> tuple[list[DrainResult], list[LatencyResult], list[tuple[str, int, float, float]]]:
    from community.extensions import db

    setup = Setup(target, smtp_port=free_port(), workdir=workdir)
    print(f"\n== {target.name}", flush=True)
    started = time.perf_counter()
    migrate(setup)
    app = setup.app()
    people = seed(app, max(jobs, args.followers))
    drain_question = ask(app, people.asker_id, "Outbox drain", people.follower_ids[:jobs])
    latency_question = ask(
        app, people.asker_id, "Reply latency", people.follower_ids[: args.followers]
    )
    probe_question = ask(app, people.asker_id, "Nobody follows this", [])
    client = signed_in_client(app, people)
    print(f"  schema and {len(people.follower_ids)} users in {time.perf_counter() - started:.1f} s")
    drains = []
    with SMTPSink(setup.smtp_port) as sink:
        for run, workers in enumerate(worker_counts, start=1):
            result = drain(
                setup,
                app,
                sink,
                people,
                drain_question,
                workers,
                run,
                args.timeout,
                explain=args.explain,
                probe=Probe(client, probe_question) if run == 1 else None,
            )
            drains.append(result)
            print(
                f"  {workers} worker(s): {result.jobs} jobs in {result.wall_seconds:.1f} s = "
                f"{result.jobs_per_second:.0f} jobs/s (first 10 %: {result.start_rate:.0f}/s, "
                f"last 10 %: {result.end_rate:.0f}/s; jobs per worker {result.per_worker}; "
                f"workers' CPU {result.worker_cpu_seconds * 1000 / result.jobs:.1f} ms per job; "
                f"all CPUs {result.machine_busy:.0%} busy)"
                + (f"\n  PROBLEMS: {'; '.join(result.problems)}" if result.problems else ""),
                flush=True,
            )
    latencies = []
    for smtp in args.smtp_modes:
        result = reply_latency(
            setup,
            app,
            client,
            latency_question,
            smtp,
            args.requests,
            args.smtp_delay,
            args.pause,
            args.settle,
        )
        latencies.append(result)
        print(f"  {_latency_line(result)}", flush=True)
    scaling = claim_scaling(app, args.claim_sizes) if args.claim_sizes else []
    for size, claim_ms, select_ms in scaling:
        print(
            f"  one claim with {size} jobs due: {claim_ms:.2f} ms (the worker's statement); "
            f"{select_ms:.2f} ms (pending-only, index order)",
            flush=True,
        )
    with app.app_context():
        db.engine.dispose()
    return drains, latencies, [(target.name, *row) for row in scaling]


def _latency_line(result: LatencyResult) -> str:
    if result.samples:
        line = (
            f"reply POST, {result.label}: median {result.percentile(50) * 1000:.1f} ms, "
            f"p95 {result.percentile(95) * 1000:.1f} ms, max {max(result.samples) * 1000:.1f} ms "
            f"over {len(result.samples)}"
        )
    else:
        line = f"reply POST, {result.label}: no successful request"
    line += (
        f"; meanwhile {result.sent} emails sent, {result.pending} jobs pending "
        f"({result.retrying} retrying)"
    )
    if result.errors:
        line += "; FAILED REQUESTS: " + "; ".join(f"{n}x {e}" for e, n in result.errors.items())
    if result.duplicates:
        line += f"; {result.duplicates} DUPLICATE emails"
    if result.sent_but_requeued:
        line += f"; {result.sent_but_requeued} emails already delivered are QUEUED TO BE SENT AGAIN"
    if result.failures:
        line += "; job errors: " + "; ".join(f"{n}x {e}" for e, n in result.failures.items())
    return line


def summary(
    drains: list[DrainResult],
    latencies: list[LatencyResult],
    scaling: list[tuple[str, int, float, float]],
) -> str:
    lines = [
        "",
        "| database | workers | jobs | fan-out (s) | reply POST during fan-out, median / max (ms) "
        "| drain (s) | jobs/s | jobs/s, first 10 % | jobs/s, last 10 % "
        "| worker CPU per job (ms) | CPUs busy | checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in drains:
        checks = "all done, one message each" if not d.problems else "; ".join(d.problems)
        probe = "-"
        if d.probe is not None and d.probe.samples:
            probe = (
                f"{statistics.median(d.probe.samples) * 1000:.0f} / "
                f"{max(d.probe.samples) * 1000:.0f}"
            )
        if d.probe is not None and d.probe.errors:
            probe += f" ({sum(d.probe.errors.values())} failed)"
        lines.append(
            f"| {d.database} | {d.workers} | {d.jobs} | {d.fan_out_seconds:.1f} | {probe} | "
            f"{d.wall_seconds:.1f} | {d.jobs_per_second:.0f} | {d.start_rate:.0f} | "
            f"{d.end_rate:.0f} | {d.worker_cpu_seconds * 1000 / d.jobs:.1f} | "
            f"{d.machine_busy:.0%} | {checks} |"
        )
    lines += [
        "",
        "| database | worker and SMTP server | requests | median (ms) | p95 (ms) | max (ms) "
        "| failed requests | emails sent meanwhile | delivered, then requeued |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in latencies:
        if r.samples:
            numbers = (
                f"{r.percentile(50) * 1000:.1f} | {r.percentile(95) * 1000:.1f} | "
                f"{max(r.samples) * 1000:.1f}"
            )
        else:
            numbers = "- | - | -"
        lines.append(
            f"| {r.database} | {r.label} | {len(r.samples)} | {numbers} | "
            f"{sum(r.errors.values())} | {r.sent} | {r.sent_but_requeued} |"
        )
    if scaling:
        lines += [
            "",
            "| database | jobs due | one claim, the worker's statement (ms) "
            "| pending-only SELECT in index order (ms) |",
            "|---|---|---|---|",
        ]
        lines += [f"| {db} | {n} | {claim:.2f} | {alt:.2f} |" for db, n, claim, alt in scaling]
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbox", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="email jobs per drain")
    parser.add_argument(
        "--sqlite-jobs", type=int, default=2_000, help="email jobs per drain on SQLite"
    )
    parser.add_argument(
        "--workers", type=_counts, default=[1, 2], help="PostgreSQL drains, e.g. 1,2"
    )
    parser.add_argument(
        "--sqlite-workers",
        type=_counts,
        default=[1],
        help="SQLite drains (one worker is what SQLite supports)",
    )
    parser.add_argument(
        "--databases", default="postgresql,sqlite", help="postgresql, sqlite or both"
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument("--pg-database", default="bench_outbox", help="created, then dropped")
    parser.add_argument("--requests", type=int, default=50, help="timed reply POSTs per case")
    parser.add_argument(
        "--followers", type=int, default=20, help="followers of the latency test's question"
    )
    parser.add_argument("--smtp-delay", type=float, default=2.0, help="seconds per RCPT, 'slow'")
    parser.add_argument(
        "--smtp-modes",
        type=lambda text: [m for m in text.split(",") if m],
        default=["no-worker", "healthy", "slow", "down"],
        help="no-worker (a baseline), healthy, slow (--smtp-delay), down (nothing listening)",
    )
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds from one reply POST to the next"
    )
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds the worker keeps going after the POSTs"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds a drain may take")
    parser.add_argument(
        "--explain", action="store_true", help="print PostgreSQL's plan of the claim statement"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs")
    parser.add_argument(
        "--claim-sizes",
        type=_counts,
        default=[1000, 10_000, 100_000],
        help="queue lengths at which to time one claim ('' to skip)",
    )
    args = parser.parse_args(argv)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(args.databases) <= {"postgresql", "sqlite"}:
        parser.error("--databases takes postgresql and/or sqlite")
    if not set(args.smtp_modes) <= set(MODES):
        parser.error(f"--smtp-modes takes {', '.join(MODES)}")
    if min(args.jobs, args.sqlite_jobs, args.requests, args.followers) < 1:
        parser.error("--jobs, --sqlite-jobs, --requests and --followers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    print(report.machine(), flush=True)
    print(f"community at {report.revision()}", flush=True)
    started = time.perf_counter()
    drains: list[DrainResult] = []
    latencies: list[LatencyResult] = []
    scaling: list[tuple[str, int, float, float]] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    try:
        for name in args.databases:
            if name == "postgresql":
                database = postgresql_database(args.pg_admin_url, args.pg_database)
                jobs, counts = args.jobs, args.workers
            else:
                database = sqlite_database(workdir)
                jobs, counts = args.sqlite_jobs, args.sqlite_workers
            with database as target:
                d, lat, claims = benchmark_database(target, args, workdir, jobs, counts)
            drains += d
            latencies += lat
            scaling += claims
    finally:
        failed = any(d.problems for d in drains) or any(r.errors for r in latencies)
        if failed or args.keep_logs:
            print(f"\nworker logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary(drains, latencies, scaling))
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; {report.load()}; largest process "
        f"{peak / 1024:.0f} MB"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
