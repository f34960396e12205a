"""The outbox and its worker: jobs commit with the change, are claimed once, retried with
backoff, die without being lost, and survive a worker that is killed or stopped.

Every test runs the real worker (in this process, through ``flask jobs ...``, or as
``flask --app community jobs run`` subprocesses) against real servers on 127.0.0.1: aiosmtpd and
a fake Slack webhook.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from community.accounts.models import User
from community.db import utcnow
from community.extensions import db
from community.jobs import services
from community.jobs.models import Job, JobStatus
from community.jobs.worker import backoff
from community.notifications.emails import queue_email
from community.questions import services as question_services
from community.questions.models import Question, Reply
from tests.conftest import mail_settings

ROOT = Path(__file__).resolve().parent.parent
BACKOFF_BASE = 2
BACKOFF_MAX = 600
SUBPROCESS_LEASE = 2


@pytest.fixture
def app_config(request, smtp_server):
    config = {
        **mail_settings(smtp_server),
        "JOBS_BACKOFF_BASE_SECONDS": BACKOFF_BASE,
        "JOBS_BACKOFF_MAX_SECONDS": BACKOFF_MAX,
    }
    # Only the Slack tests start the webhook server (it takes half a second to stop); the
    # others log their announcements instead.
    if "slack_server" in request.fixturenames:
        config["SLACK_WEBHOOK_URL"] = request.getfixturevalue("slack_server").url()
    return config


# -- helpers ------------------------------------------------------------------------------------


@dataclass
class Conversation:
    """A question with one reply whose notification has already been delivered."""

    asker_id: int
    asker_email: str
    question_id: int
    replier_id: int
    reply_id: int


@pytest.fixture
def conversation(make, run_jobs, smtp_server) -> Conversation:
    asker = make.user()
    question = make.question(asker)
    replier = make.user()
    reply = make.reply(question, replier)
    assert run_jobs() == 3  # the Slack announcement (logged), notify.reply, the asker's email
    asker_email = make.get(User, asker).email
    assert [r.recipients for r in smtp_server.received] == [[asker_email]]
    smtp_server.received.clear()
    return Conversation(asker, asker_email, question, replier, reply)


def _queue_emails(app, conversation: Conversation, count: int = 1) -> list[int]:
    """Queue ``count`` reply emails to the asker (each its own job and Message-ID)."""
    with app.app_context():
        last = db.session.scalar(sa.select(sa.func.max(Job.id))) or 0
        for _ in range(count):
            queue_email(
                "reply", {"reply_id": conversation.reply_id, "user_id": conversation.asker_id}
            )
        db.session.commit()
        return list(
            db.session.scalars(
                sa.select(Job.id).where(Job.id > last, Job.kind == "email.send").order_by(Job.id)
            )
        )


def _jobs(app, *where: Any) -> list[Job]:
    with app.app_context():
        jobs = list(db.session.scalars(sa.select(Job).where(*where).order_by(Job.id)))
        db.session.expunge_all()
        return jobs


def _message_id(make, job_id: int) -> str:
    return make.get(Job, job_id).payload["message_id"]


def _received_ids(smtp_server) -> list[str]:
    return [r.message["Message-ID"] for r in smtp_server.received]


def _make_due(make, job_id: int) -> None:
    make.update(Job, job_id, run_after=utcnow() - timedelta(seconds=1))


def _assert_retry_scheduled(job: Job, before: datetime, after: datetime, step: float) -> None:
    """Back to pending, one attempt used, the error kept, due again within the jittered step."""
    assert job.status == JobStatus.PENDING
    assert job.attempts == 1
    assert job.last_error
    assert job.locked_by is None and job.locked_until is None and job.finished_at is None
    earliest = before + timedelta(seconds=0.5 * step)
    latest = after + timedelta(seconds=1.5 * step)
    assert earliest <= job.run_after <= latest, (before, job.run_after, after)


def _wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


# -- worker subprocesses ------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ran(self) -> int:
        found = re.search(r"ran (\d+) job\(s\), stopped", self.output)
        assert found, self.output
        return int(found.group(1))

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not stop in {timeout} s:\n{self.output}") from None


@pytest.fixture
def start_worker(
    app, database_url, smtp_server, tmp_path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``flask --app community jobs run ARGS`` against the test database and SMTP server.
    Every process started is killed (if still running) before the tables are emptied."""
    started: list[WorkerProcess] = []
    env = {
        **os.environ,
        "COMMUNITY_SQLALCHEMY_DATABASE_URI": database_url,
        "COMMUNITY_SECRET_KEY": secrets.token_hex(24),
        "COMMUNITY_MAIL_SERVER": smtp_server.host,
        "COMMUNITY_MAIL_PORT": str(smtp_server.port),
        "COMMUNITY_MAIL_TIMEOUT": "10",
        "COMMUNITY_JOBS_LEASE_SECONDS": str(SUBPROCESS_LEASE),
        "COMMUNITY_BASE_URL": "http://localhost",
    }

    def start(*args: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as sink:  # a file, not a pipe: a chatty worker can never block
            process = subprocess.Popen(  # noqa: S603 -- our own fixed command line
                [sys.executable, "-m", "flask", "--app", "community", "jobs", "run", *args],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=10)


# -- 1. enqueue in the same transaction as the change -------------------------------------------


def test_a_job_commits_or_rolls_back_with_the_change_that_caused_it(app, make):
    asker = make.user()
    question = make.question(asker)
    replier = make.user()
    jobs_before = make.count(Job)

    with app.app_context():
        question_services.post_reply(
            db.session.get(User, replier), db.session.get(Question, question), "Rolled back."
        )
        mine = sa.select(sa.func.count()).select_from(Job).where(Job.kind == "notify.reply")
        assert db.session.scalar(mine) == 1  # recorded in this transaction...
        with db.engine.connect() as other:
            assert other.scalar(mine) == 0  # ...and invisible to any worker until it commits
        db.session.rollback()
    assert make.count(Reply) == 0
    assert make.count(Job) == jobs_before

    reply = make.reply(question, replier, "Committed.")
    jobs = _jobs(app, Job.kind == "notify.reply")
    assert [(job.payload, job.status) for job in jobs] == [({"reply_id": reply}, "pending")]


def test_a_dedupe_key_makes_a_second_enqueue_a_no_op(app, make):
    with app.app_context():
        first = services.enqueue("notify.reply", {"reply_id": 1}, dedupe_key="notify:reply:1")
        assert first is not None
        assert (
            services.enqueue("notify.reply", {"reply_id": 2}, dedupe_key="notify:reply:1") is None
        )
        db.session.commit()
        first_id = first.id
    # Also in a later transaction, once the job has run.
    make.update(Job, first_id, status=JobStatus.DONE.value, finished_at=utcnow())
    with app.app_context():
        assert (
            services.enqueue("notify.reply", {"reply_id": 3}, dedupe_key="notify:reply:1") is None
        )
        assert services.enqueue("notify.reply", {"reply_id": 4}, dedupe_key="other") is not None
        db.session.commit()
    jobs = _jobs(app)
    assert [(job.dedupe_key, job.payload) for job in jobs] == [
        ("notify:reply:1", {"reply_id": 1}),
        ("other", {"reply_id": 4}),
    ]


def test_enqueue_refuses_a_kind_without_a_handler(app):
    with app.app_context(), pytest.raises(ValueError, match="no handler for job kind"):
        services.enqueue("no.such.kind", {})


# -- 2. worker basics ---------------------------------------------------------------------------


def test_worker_runs_due_jobs_oldest_first_and_stops_when_none_is_due(
    app, make, runner, smtp_server, conversation
):
    a, b, c, later = _queue_emails(app, conversation, 4)
    now = utcnow()
    make.update(Job, a, run_after=now - timedelta(minutes=1))
    make.update(Job, b, run_after=now - timedelta(minutes=3))
    make.update(Job, c, run_after=now - timedelta(minutes=2))
    make.update(Job, later, run_after=now + timedelta(hours=1))

    result = runner.invoke(args=["jobs", "run", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "ran 3 job(s), stopped" in result.output
    assert _received_ids(smtp_server) == [_message_id(make, j) for j in (b, c, a)]

    for job_id in (a, b, c):
        job = make.get(Job, job_id)
        assert job.status == JobStatus.DONE and job.attempts == 1
        assert job.finished_at is not None and job.finished_at >= now
        assert job.locked_by is None and job.locked_until is None and job.last_error is None
    waiting = make.get(Job, later)
    assert (waiting.status, waiting.attempts, waiting.finished_at) == ("pending", 0, None)


def test_a_job_of_an_unknown_kind_is_dead_with_a_clear_error(app, make, run_jobs):
    with app.app_context():
        # A kind whose handler was removed in a later release, say.
        job = Job(kind="retired.kind", payload={"x": 1})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    assert run_jobs() == 1
    job = make.get(Job, job_id)
    assert job.status == JobStatus.DEAD and job.attempts == 1
    assert job.last_error == "PermanentError: no handler for job kind 'retired.kind'"
    assert job.finished_at is not None and job.locked_by is None
    assert run_jobs() == 0


# -- 3. retries: SMTP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("421 4.3.2 Service not available, closing channel", "TransientError: SMTP 421"),
        ("451 4.3.0 Local error in processing", "TransientError: SMTP 451"),
        ("refused", "TransientError: SMTP connection to 127.0.0.1"),
    ],
)
def test_smtp_transient_failures_are_retried_later_and_delivered_once(
    app, make, run_jobs, smtp_server, conversation, failure, error
):
    (job_id,) = _queue_emails(app, conversation)
    if failure == "refused":
        smtp_server.stop()
    else:
        smtp_server.data_answers.append(failure)

    before = utcnow()
    assert run_jobs() == 1
    after = utcnow()
    job = make.get(Job, job_id)
    _assert_retry_scheduled(job, before, after, step=BACKOFF_BASE)
    assert job.last_error.startswith(error), job.last_error
    assert run_jobs() == 0  # not due yet: no hot loop
    assert smtp_server.received == []

    if failure == "refused":
        smtp_server.start()
    _make_due(make, job_id)
    assert run_jobs() == 1
    job = make.get(Job, job_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 2, None)
    assert _received_ids(smtp_server) == [job.payload["message_id"]]
    assert smtp_server.received[0].recipients == [conversation.asker_email]
    assert run_jobs() == 0


def test_smtp_550_kills_that_recipients_email_only(app, make, run_jobs, smtp_server):
    asker = make.user()
    question = make.question(asker)
    follower = make.user()
    make.reply(question, follower)
    assert run_jobs() == 3
    smtp_server.received.clear()
    asker_email, follower_email = make.get(User, asker).email, make.get(User, follower).email

    smtp_server.rcpt_answers[follower_email] = "550 5.1.1 No such user"
    make.reply(question, make.user())
    assert run_jobs() == 3  # notify.reply, then one email each to the asker and the follower

    emails = {job.payload["params"]["user_id"]: job for job in _jobs(app, Job.kind == "email.send")}
    dead = emails[follower]
    assert dead.status == JobStatus.DEAD and dead.attempts == 1
    assert dead.last_error.startswith("PermanentError: recipient refused:")
    assert f"{follower_email}: SMTP 550 5.1.1 No such user" in dead.last_error
    assert emails[asker].status == JobStatus.DONE
    assert [r.recipients for r in smtp_server.received] == [[asker_email]]
    assert _received_ids(smtp_server) == [emails[asker].payload["message_id"]]
    assert run_jobs() == 0  # the dead one is not retried by itself


def test_a_job_that_runs_out_of_attempts_is_dead_and_kept(
    app, make, run_jobs, smtp_server, conversation
):
    (job_id,) = _queue_emails(app, conversation)
    make.update(Job, job_id, max_attempts=2)
    smtp_server.data_answers.extend(["451 4.3.0 Try again", "452 4.3.1 Still full"])
    assert run_jobs() == 1
    assert make.get(Job, job_id).status == JobStatus.PENDING

    _make_due(make, job_id)
    assert run_jobs() == 1
    job = make.get(Job, job_id)
    assert (job.status, job.attempts) == ("dead", 2)
    assert job.last_error == "TransientError: SMTP 452: 4.3.1 Still full"
    assert job.finished_at is not None
    assert run_jobs() == 0
    assert make.count(Job, Job.id == job_id) == 1  # never deleted
    assert smtp_server.received == [] and not smtp_server.data_answers


# -- 3. retries: Slack --------------------------------------------------------------------------


def _slack_job(app) -> Job:
    (job,) = _jobs(app, Job.kind == "slack.question")
    return job


def test_slack_500_is_retried_then_delivered(app, make, run_jobs, slack_server):
    slack_server.answers.append((500, {}))
    question = make.question(make.user(), subject="Where are my recordings?")
    before = utcnow()
    assert run_jobs() == 1
    after = utcnow()
    job = _slack_job(app)
    _assert_retry_scheduled(job, before, after, step=BACKOFF_BASE)
    assert job.last_error == "TransientError: Slack answered 500: error"
    assert slack_server.requests == []

    _make_due(make, job.id)
    assert run_jobs() == 1
    job = _slack_job(app)
    assert (job.status, job.attempts, job.last_error) == ("done", 2, None)
    assert len(slack_server.requests) == 1
    assert f"/questions/{question}" in slack_server.requests[0].body["text"]
    assert "Where are my recordings?" in slack_server.requests[0].body["text"]


def test_slack_429_waits_at_least_retry_after(app, make, run_jobs, slack_server):
    slack_server.answers.append((429, {"Retry-After": "30"}))
    make.question(make.user())
    before = utcnow()
    assert run_jobs() == 1
    after = utcnow()
    job = _slack_job(app)
    assert job.status == JobStatus.PENDING and job.attempts == 1
    assert job.last_error.startswith("TransientError: Slack answered 429")
    # The backoff step is 2 s here: only Retry-After can push the next try 30 s ahead.
    assert before + timedelta(seconds=30) <= job.run_after <= after + timedelta(seconds=30)
    assert run_jobs() == 0


@pytest.mark.parametrize("status", [403, 404])
def test_slack_403_and_404_are_dead_at_once(app, make, run_jobs, slack_server, status):
    slack_server.answers.append((status, {}))
    make.question(make.user())
    assert run_jobs() == 1
    job = _slack_job(app)
    assert (job.status, job.attempts) == ("dead", 1)
    assert job.last_error == f"PermanentError: Slack answered {status}: error"
    assert run_jobs() == 0
    assert slack_server.requests == []


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempts in range(1, 8):
        step = 10 * 2 ** (attempts - 1)
        delays = [backoff(attempts, 10, 10_000) for _ in range(200)]
        assert all(0.5 * step <= delay <= 1.5 * step for delay in delays), (attempts, delays)
        assert max(delays) - min(delays) > 0.2 * step  # jittered, not a fixed delay
    assert 5 <= backoff(0, 10, 10_000) <= 15  # a first try that failed before counting
    # Capped: never more than the maximum, and still jittered below it.
    capped = [backoff(30, 10, 600) for _ in range(200)]
    assert all(300 <= delay <= 600 for delay in capped)
    assert all(300 <= backoff(10_000, 0.5, 600) <= 600 for _ in range(20))
    # Retry-After is a floor, even above the cap (the server said so).
    assert all(backoff(1, 10, 600, retry_after=30) >= 30 for _ in range(50))
    assert backoff(1, 10, 600, retry_after=900) == 900
    assert all(5 <= backoff(1, 10, 600, retry_after=1) <= 15 for _ in range(50))


# -- 4. the CLI ---------------------------------------------------------------------------------


def test_cli_lists_jobs_and_failures_and_retries_them(app, make, runner, smtp_server, conversation):
    result = runner.invoke(args=["jobs", "list"])
    assert (result.exit_code, result.output) == (0, "No jobs waiting.\n")

    first, second = _queue_emails(app, conversation, 2)
    smtp_server.rcpt_answers[conversation.asker_email] = "550 5.7.1 Mailbox disabled"
    assert "ran 2 job(s)" in runner.invoke(args=["jobs", "run", "--until-empty"]).output
    (waiting,) = _queue_emails(app, conversation)
    make.update(Job, waiting, run_after=utcnow() + timedelta(hours=1))

    listing = runner.invoke(args=["jobs", "list"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert [line.split()[:3] for line in lines] == [
        [str(waiting), "pending", "email.send"],
        [str(second), "dead", "email.send"],
        [str(first), "dead", "email.send"],
    ]
    assert "attempts 1/8" in lines[1] and "attempts 0/8" in lines[0]

    failed = runner.invoke(args=["jobs", "list", "--failed"])
    assert failed.exit_code == 0, failed.output
    lines = failed.output.splitlines()
    assert [line.split()[:2] for line in lines] == [[str(second), "dead"], [str(first), "dead"]]
    error = f"last error: PermanentError: recipient refused: {conversation.asker_email}: SMTP 550"
    assert all(error in line for line in lines), lines

    del smtp_server.rcpt_answers[conversation.asker_email]
    result = runner.invoke(args=["jobs", "retry", str(first)])
    assert (result.exit_code, result.output) == (0, f"Queued job {first} (email.send) again.\n")
    job = make.get(Job, first)
    assert (job.status, job.attempts, job.finished_at, job.locked_by) == ("pending", 0, None, None)
    assert "ran 1 job(s)" in runner.invoke(args=["jobs", "run", "--until-empty"]).output
    assert _received_ids(smtp_server) == [_message_id(make, first)]
    assert make.get(Job, first).status == JobStatus.DONE
    assert make.get(Job, second).status == JobStatus.DEAD

    result = runner.invoke(args=["jobs", "retry", "--all-failed"])
    assert (result.exit_code, result.output) == (0, "Queued 1 dead job(s) again.\n")
    job = make.get(Job, second)
    assert (job.status, job.attempts) == ("pending", 0)
    assert "ran 1 job(s)" in runner.invoke(args=["jobs", "run", "--until-empty"]).output
    assert _received_ids(smtp_server) == [_message_id(make, j) for j in (first, second)]
    assert make.get(Job, second).status == JobStatus.DONE
    assert runner.invoke(args=["jobs", "list", "--failed"]).output == "No dead jobs.\n"
    assert make.get(Job, waiting).status == JobStatus.PENDING  # retry touched only dead jobs


@pytest.mark.parametrize("args", [[], ["7", "--all-failed"]])
def test_cli_retry_needs_exactly_one_of_an_id_or_all_failed(runner, args):
    result = runner.invoke(args=["jobs", "retry", *args])
    assert result.exit_code == 2, result.output
    assert "Give a job id or --all-failed (not both)." in result.output


def test_cli_retry_of_an_unknown_job_is_a_clean_error(runner):
    result = runner.invoke(args=["jobs", "retry", "999999"])
    assert result.exit_code == 1
    assert result.output == "Error: There is no job 999999.\n"
    assert isinstance(result.exception, SystemExit)  # click's error, not a crash


# -- 5. /health ---------------------------------------------------------------------------------


def test_health_reports_the_oldest_due_job_and_dead_jobs(app, make, client, run_jobs, conversation):
    def jobs_health() -> dict[str, Any]:
        response = client.get("/health")
        assert response.status_code == 200
        body = response.get_json()
        assert (body["status"], body["database"]) == ("ok", "ok")
        return body["jobs"]

    assert jobs_health() == {"oldest_pending_age_seconds": 0, "dead": 0}

    later, due = _queue_emails(app, conversation, 2)
    make.update(Job, later, run_after=utcnow() + timedelta(hours=1))
    make.update(Job, due, run_after=utcnow() - timedelta(seconds=90))
    first = jobs_health()["oldest_pending_age_seconds"]
    assert 90 <= first < 120
    time.sleep(0.3)
    assert jobs_health()["oldest_pending_age_seconds"] > first + 0.1  # it keeps growing

    with app.app_context():
        db.session.add(Job(kind="retired.kind", payload={}))
        db.session.commit()
    assert run_jobs() == 2
    # Nothing due any more (the later job does not count until it is due); one dead job.
    assert jobs_health() == {"oldest_pending_age_seconds": 0, "dead": 1}


# -- 6. a worker killed or stopped mid-job ------------------------------------------------------


def test_a_job_of_a_killed_worker_is_reclaimed_after_its_lease_and_delivered_once(
    app, make, smtp_server, conversation, start_worker
):
    (job_id,) = _queue_emails(app, conversation)
    smtp_server.rcpt_delay = 3  # the worker will be in the middle of the SMTP conversation
    first = start_worker("--poll-interval", "0.1")
    running = _wait_until(
        lambda: (job := make.get(Job, job_id)).status == JobStatus.RUNNING and job,
        what="the first worker to claim the job",
    )
    first.process.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL

    stuck = make.get(Job, job_id)
    assert stuck.status == JobStatus.RUNNING and stuck.attempts == 1
    assert stuck.locked_by == running.locked_by and stuck.locked_by.endswith(
        f":{first.process.pid}"
    )
    assert stuck.locked_until == running.locked_until is not None
    assert smtp_server.received == []

    smtp_server.rcpt_delay = 0
    second = start_worker("--poll-interval", "0.1")
    done = _wait_until(
        lambda: (job := make.get(Job, job_id)).status == JobStatus.DONE and job,
        what="the second worker to finish the job",
    )
    assert done.attempts == 2 and done.last_error is None
    assert done.finished_at >= stuck.locked_until  # not taken before the lease ran out
    assert _received_ids(smtp_server) == [done.payload["message_id"]]

    second.process.send_signal(signal.SIGTERM)
    assert second.wait(10) == 0, second.output
    assert second.ran() == 1
    assert len(smtp_server.received) == 1


def test_sigterm_lets_a_busy_worker_finish_its_job_then_exit_0(
    app, make, smtp_server, conversation, start_worker
):
    (job_id,) = _queue_emails(app, conversation)
    smtp_server.rcpt_delay = 1
    worker = start_worker("--poll-interval", "0.1")
    _wait_until(lambda: make.get(Job, job_id).status == JobStatus.RUNNING, what="the claim")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output
    assert worker.ran() == 1
    job = make.get(Job, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("done", 1, None)
    assert _received_ids(smtp_server) == [job.payload["message_id"]]


def test_sigterm_stops_an_idle_worker_with_exit_0(
    app, make, smtp_server, conversation, start_worker
):
    (job_id,) = _queue_emails(app, conversation)
    worker = start_worker("--poll-interval", "0.1")
    # Once it has run a job it is in its loop (signal handlers set), then idle.
    _wait_until(lambda: make.get(Job, job_id).status == JobStatus.DONE, what="the first job")
    # A job that is not due yet, queued in one step (queue-then-postpone would race the worker).
    payload = {**make.get(Job, job_id).payload, "message_id": "<later@localhost>"}
    with app.app_context():
        later = services.enqueue("email.send", payload, run_after=utcnow() + timedelta(hours=1)).id
        db.session.commit()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0, worker.output
    assert worker.ran() == 1
    assert make.get(Job, later).status == JobStatus.PENDING
    assert len(smtp_server.received) == 1


# -- 7. two workers at once ---------------------------------------------------------------------


def test_two_workers_never_deliver_the_same_job_twice(
    app, make, smtp_server, conversation, start_worker, dialect
):
    """Meant for PostgreSQL (SKIP LOCKED); on SQLite the writers queue up, and it must hold too."""
    count = 200
    job_ids = _queue_emails(app, conversation, count)
    expected = {job.payload["message_id"] for job in _jobs(app, Job.id.in_(job_ids))}
    assert len(expected) == count
    smtp_server.rcpt_delay = 0.01  # enough work that both workers are busy at the same time

    workers = [start_worker("--until-empty", "--poll-interval", "0.1") for _ in range(2)]
    for worker in workers:
        assert worker.wait(120) == 0, worker.output

    jobs = _jobs(app, Job.id.in_(job_ids))
    assert Counter(job.status for job in jobs) == {"done": count}, [
        (job.id, job.status, job.last_error) for job in jobs if job.status != "done"
    ]
    assert all(job.attempts == 1 for job in jobs)
    received = Counter(_received_ids(smtp_server))
    assert len(smtp_server.received) == count
    assert set(received) == expected and set(received.values()) == {1}
    ran = [worker.ran() for worker in workers]
    assert sum(ran) == count
    assert all(ran), f"one worker did all the work on {dialect}: {ran}"


# -- 8. the handler's writes and the done mark commit together -----------------------------------


def test_a_worker_that_lost_its_lease_keeps_none_of_its_handlers_writes(app, make, run_jobs):
    """A handler that reads, then writes (and is not marked writes-first): another worker takes
    the job in between. On PostgreSQL the done mark finds the lease gone and rolls back; on
    SQLite the handler's first write is already refused (its snapshot predates the other
    commit). Either way none of its writes are kept."""
    from community.jobs.registry import handler

    @handler("test.read_then_write")
    def read_then_write(payload: dict[str, Any]) -> None:
        db.session.scalar(sa.select(sa.func.count()).select_from(Job))  # the handler reads
        with db.engine.begin() as other:  # another worker takes the job meanwhile
            other.execute(
                sa.update(Job)
                .where(Job.id == payload["job"])
                .values(locked_by="other-worker", locked_until=utcnow() + timedelta(minutes=5))
            )
        services.enqueue("notify.reply", {"reply_id": 0}, dedupe_key="written-by-the-handler")

    with app.app_context():
        job = services.enqueue("test.read_then_write", {})
        job.payload = {"job": job.id}
        db.session.commit()
        job_id = job.id
    run_jobs()
    assert _jobs(app, Job.dedupe_key == "written-by-the-handler") == []
    taken = make.get(Job, job_id)
    assert (taken.locked_by, taken.finished_at) == ("other-worker", None)
    assert taken.status == JobStatus.RUNNING


def test_two_transactions_enqueuing_the_same_key_make_one_job(app, monkeypatch):
    """The unique constraint decides: when a concurrent transaction committed the same key
    after our look-up, the enqueue is a quiet no-op and the rest of the transaction goes on."""
    with app.app_context():
        assert services.enqueue("notify.reply", {"reply_id": 1}, dedupe_key="race:1")
        db.session.commit()
        monkeypatch.setattr(services, "_queued_already", lambda _key: False)  # the race
        assert services.enqueue("notify.reply", {"reply_id": 2}, dedupe_key="race:1") is None
        assert services.enqueue("notify.reply", {"reply_id": 3}, dedupe_key="race:2")
        db.session.commit()
    assert [job.dedupe_key for job in _jobs(app)] == ["race:1", "race:2"]


def test_retry_refuses_delivered_jobs_and_jobs_a_worker_holds(app, make, runner):
    with app.app_context():
        done = services.enqueue("notify.reply", {"reply_id": 1})
        held = services.enqueue("notify.reply", {"reply_id": 2})
        db.session.commit()
        done_id, held_id = done.id, held.id
    make.update(Job, done_id, status=JobStatus.DONE.value, finished_at=utcnow())
    make.update(
        Job,
        held_id,
        status=JobStatus.RUNNING.value,
        locked_by="elsewhere:1",
        locked_until=utcnow() + timedelta(minutes=5),
    )
    for job_id, message in ((done_id, "delivered already"), (held_id, "right now")):
        result = runner.invoke(args=["jobs", "retry", str(job_id)])
        assert result.exit_code == 1 and message in result.output
    assert make.get(Job, done_id).status == JobStatus.DONE
    assert make.get(Job, held_id).status == JobStatus.RUNNING


def test_a_job_whose_worker_keeps_dying_ends_dead(app, make, run_jobs):
    with app.app_context():
        job = services.enqueue("notify.reply", {"reply_id": 1}, max_attempts=3)
        db.session.commit()
        job_id = job.id
    # Three workers claimed it and died (lease expired, attempts used up).
    make.update(
        Job,
        job_id,
        status=JobStatus.RUNNING.value,
        attempts=3,
        locked_by="dead:1",
        locked_until=utcnow() - timedelta(seconds=1),
    )
    run_jobs()
    dead = make.get(Job, job_id)
    assert dead.status == JobStatus.DEAD
    assert "never finished" in dead.last_error
