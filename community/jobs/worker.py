"""The worker: claims due jobs, runs their handlers, and records success, retry or death.

Claiming is one UPDATE that takes the oldest due job (on PostgreSQL with ``FOR UPDATE SKIP
LOCKED``, so several workers never take the same row) and leases it until ``locked_until``. A
worker that dies leaves its lease to expire; the job is then due again and another worker takes
it. The handler's own writes and the "done" mark commit together, and only while this worker
still holds the lease.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

import sqlalchemy as sa
from flask import Flask

from community.database import SQLITE_IMMEDIATE
from community.db import utcnow
from community.extensions import db
from community.jobs.errors import PermanentError, TransientError
from community.jobs.models import Job, JobStatus
from community.jobs.registry import handler_for, periodic_tasks, writes_first

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 4000
# How often a worker looks for jobs whose worker died; a lease is minutes long, so seconds do.
LEASE_SWEEP_INTERVAL = timedelta(seconds=5)


@dataclass
class Worker:
    app: Flask
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stopping: bool = False
    _last_sweep: datetime | None = None
    _periodic_ran: dict[str, datetime] = field(default_factory=dict)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.app.config["JOBS_LEASE_SECONDS"])

    def run(self, *, until_empty: bool = False, poll_interval: float | None = None) -> int:
        """Work until stopped (SIGTERM/SIGINT finish the current job first), or, with
        ``until_empty``, until no job is due. Returns how many jobs were run."""
        interval = (
            poll_interval if poll_interval is not None else self.app.config["JOBS_POLL_INTERVAL"]
        )
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        count = 0
        try:
            while not self.stopping:
                self.run_periodic()
                if self.run_one():
                    count += 1
                elif until_empty:
                    break
                else:
                    time.sleep(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return count

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("worker %s: signal %s, stopping after the current job", self.name, signum)
        self.stopping = True

    def run_periodic(self, now: datetime | None = None) -> int:
        """Run each periodic task whose interval has passed since this worker last ran it (all
        of them on the first call). A failing task is logged and tried again next interval; it
        never stops the worker. Returns how many jobs the tasks queued."""
        now = now or utcnow()
        queued = 0
        for task in periodic_tasks():
            last = self._periodic_ran.get(task.name)
            if last is not None and now - last < task.every:
                continue
            self._periodic_ran[task.name] = now
            with self.app.app_context():
                try:
                    queued += task.function(now) or 0
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    log.exception("periodic task %s failed; trying again later", task.name)
        return queued

    def run_one(self) -> bool:
        """Claim and run one due job. False when none is due."""
        with self.app.app_context():
            job_id = self._claim()
            if job_id is None:
                return False
            self._execute(job_id)
            return True

    def _claim(self) -> int | None:
        now = utcnow()
        self._take_back_expired_leases(now)
        # Pending jobs only, so the index (status, run_after, id) answers in order and the claim
        # costs the same with 10 or 100,000 jobs waiting (an OR with expired leases could not).
        candidate = (
            sa.select(Job.id)
            .where(Job.status == JobStatus.PENDING, Job.run_after <= now)
            .order_by(Job.run_after, Job.id)
            .limit(1)
        )
        if db.engine.dialect.name == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        claimed = db.session.execute(
            sa.update(Job)
            .where(Job.id == candidate.scalar_subquery())
            .values(
                status=JobStatus.RUNNING.value,
                locked_until=now + self.lease,
                locked_by=self.name,
                attempts=Job.attempts + 1,
            )
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).scalar()
        db.session.commit()
        return claimed

    def _take_back_expired_leases(self, now: datetime) -> None:
        """Jobs whose worker died (lease expired) become pending again, due at once."""
        if self._last_sweep is not None and now - self._last_sweep < LEASE_SWEEP_INTERVAL:
            return
        self._last_sweep = now
        db.session.execute(
            sa.update(Job)
            .where(Job.status == JobStatus.RUNNING, Job.locked_until < now)
            .values(status=JobStatus.PENDING.value, locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    def _execute(self, job_id: int) -> None:
        job = db.session.get(Job, job_id)
        handler = handler_for(job.kind)
        kind, payload, attempts = job.kind, dict(job.payload), job.attempts
        max_attempts = job.max_attempts
        try:
            if handler is None:
                raise PermanentError(f"no handler for job kind {kind!r}")
            if attempts > max_attempts:
                # Claimed more often than it may run: its worker died each time (a job that
                # crashes the process). Stop here instead of looping forever.
                raise PermanentError(f"claimed {attempts} times; its worker never finished it")
            if writes_first(kind) and db.engine.dialect.name == "sqlite":
                # The handler reads, then writes (a fan-out): on SQLite take the write lock up
                # front, or a commit elsewhere between the two makes its first write fail.
                db.session.rollback()
                db.session.connection(execution_options={SQLITE_IMMEDIATE: True})
            handler(payload)
            db.session.flush()
            if not self._mark_done(job_id):
                db.session.rollback()
                log.warning("job %s: lease lost before it finished; another worker has it", job_id)
                return
            db.session.commit()
            log.info("job %s %s: done", job_id, kind)
        except Exception as error:
            db.session.rollback()
            self._record_failure(job_id, kind, attempts, max_attempts, error)

    def _mark_done(self, job_id: int) -> bool:
        """Mark the job done in the handler's transaction (False if the lease was lost).

        On SQLite (WAL) a transaction that has only read cannot start writing once another
        connection has committed since its first read: SQLITE_BUSY_SNAPSHOT, at once, no waiting.
        With a web request or a second worker writing meanwhile, a delivered email was recorded
        as a failure and sent again. Refused like that, the transaction holds no writes of the
        handler (it would hold the write lock), so the mark is made in a fresh transaction, whose
        first statement is this write and so waits its turn instead.
        """
        try:
            return self._finish(job_id, JobStatus.DONE, finished_at=utcnow(), last_error=None)
        except sa.exc.OperationalError as error:
            if not str(getattr(error.orig, "sqlite_errorname", "")).startswith("SQLITE_BUSY"):
                raise
        db.session.rollback()
        return self._finish(job_id, JobStatus.DONE, finished_at=utcnow(), last_error=None)

    def _record_failure(
        self, job_id: int, kind: str, attempts: int, max_attempts: int, error: Exception
    ) -> None:
        # max_attempts comes from the claimed row: reading it here first would make this
        # transaction's write fail on SQLite whenever another connection committed in between.
        message = _describe(error)
        if isinstance(error, PermanentError) or attempts >= (max_attempts or 1):
            self._finish(job_id, JobStatus.DEAD, finished_at=utcnow(), last_error=message)
            log.error("job %s %s: dead after %s attempt(s): %s", job_id, kind, attempts, message)
        else:
            delay = backoff(
                attempts,
                self.app.config["JOBS_BACKOFF_BASE_SECONDS"],
                self.app.config["JOBS_BACKOFF_MAX_SECONDS"],
                retry_after=getattr(error, "retry_after", None),
            )
            self._finish(
                job_id,
                JobStatus.PENDING,
                run_after=utcnow() + timedelta(seconds=delay),
                last_error=message,
            )
            log.warning(
                "job %s %s: attempt %s failed, retrying in %.0f s: %s",
                job_id,
                kind,
                attempts,
                delay,
                message,
            )
        db.session.commit()

    def _finish(self, job_id: int, status: JobStatus, **values: object) -> bool:
        """Set the outcome, but only while this worker holds the job."""
        result = db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id, Job.locked_by == self.name, Job.status == JobStatus.RUNNING)
            .values(status=status.value, locked_until=None, locked_by=None, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def backoff(attempts: int, base: float, maximum: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter around the step, never shorter than Retry-After."""
    # The exponent stops at 60 (far past any cap) so a float base cannot overflow.
    step = min(maximum, base * 2 ** min(60, max(0, attempts - 1)))
    delay = step * random.uniform(0.5, 1.5)  # noqa: S311 -- jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(maximum, retry_after or 0))


def _describe(error: Exception) -> str:
    if isinstance(error, TransientError | PermanentError):
        text = f"{type(error).__name__}: {error}"
    else:
        text = "".join(traceback.format_exception_only(error)).strip()
    return text[:MAX_ERROR_LENGTH]
