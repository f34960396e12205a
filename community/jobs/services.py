"""Recording side effects as outbox rows, and looking after them (list, retry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from community.db import utcnow
from community.errors import Conflict, NotFound
from community.extensions import db
from community.jobs.models import Job, JobStatus
from community.jobs.registry import handler_for


def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 8,
) -> Job | None:
    """Add a job to the current transaction; None if one with ``dedupe_key`` already exists."""
    if handler_for(kind) is None:
        raise ValueError(f"no handler for job kind {kind!r}")
    if dedupe_key is not None and _queued_already(dedupe_key):
        return None
    job = Job(
        kind=kind,
        payload=payload or {},
        dedupe_key=dedupe_key,
        run_after=run_after or utcnow(),
        max_attempts=max_attempts,
        status=JobStatus.PENDING.value,
    )
    try:
        # The unique key, not the look-up above, decides between two concurrent enqueues.
        with db.session.begin_nested():
            db.session.add(job)
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    return job


def _queued_already(dedupe_key: str) -> bool:
    return db.session.scalar(sa.select(Job.id).where(Job.dedupe_key == dedupe_key)) is not None


def retry(job_id: int) -> Job:
    """Put a dead job back in the queue with a fresh set of attempts (or run a waiting one
    now). Done jobs and jobs a worker holds are refused: retrying them would deliver twice."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound(f"There is no job {job_id}.")
    if job.status == JobStatus.DONE:
        raise Conflict(f"Job {job_id} was delivered already; retrying would deliver it twice.")
    if job.status == JobStatus.RUNNING and job.locked_until and job.locked_until > utcnow():
        raise Conflict(f"Job {job_id} is being delivered by {job.locked_by} right now.")
    _requeue(job)
    return job


def retry_all_dead() -> int:
    jobs = db.session.scalars(sa.select(Job).where(Job.status == JobStatus.DEAD)).all()
    for job in jobs:
        _requeue(job)
    return len(jobs)


def _requeue(job: Job) -> None:
    job.status = JobStatus.PENDING.value
    job.attempts = 0
    job.run_after = utcnow()
    job.locked_until = None
    job.locked_by = None
    job.finished_at = None
    db.session.flush()


def list_jobs(*, dead_only: bool = False, limit: int = 100) -> list[Job]:
    query = sa.select(Job).order_by(Job.id.desc()).limit(limit)
    if dead_only:
        query = query.where(Job.status == JobStatus.DEAD)
    else:
        query = query.where(Job.status != JobStatus.DONE)
    return list(db.session.scalars(query))


def queue_health() -> dict[str, Any]:
    """Age of the oldest job waiting to run (seconds) and the number of dead jobs."""
    now = utcnow()
    oldest = db.session.scalar(
        sa.select(sa.func.min(Job.run_after)).where(
            Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]), Job.run_after <= now
        )
    )
    if oldest is not None and oldest.tzinfo is None:  # min() bypasses the column type on SQLite
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=now.tzinfo)
    dead = db.session.scalar(
        sa.select(sa.func.count()).select_from(Job).where(Job.status == JobStatus.DEAD)
    )
    return {
        "oldest_pending_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0,
        "dead": dead or 0,
    }


def counts_by_status() -> dict[str, int]:
    """How many jobs are in each state (one grouped query)."""
    rows = db.session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all()
    counts = {status.value: 0 for status in JobStatus}
    counts.update(dict(rows))
    return counts
