from __future__ import annotations

import logging

import click
from flask import Blueprint, current_app

from community.errors import DomainError
from community.extensions import db
from community.jobs import services
from community.jobs.worker import Worker

bp = Blueprint("jobs_cli", __name__, cli_group="jobs")


@bp.cli.command("run")
@click.option("--until-empty", is_flag=True, help="Stop when no job is due (for scripts, tests).")
@click.option("--poll-interval", type=float, default=None, help="Seconds between polls when idle.")
def run(until_empty: bool, poll_interval: float | None) -> None:
    """Deliver queued jobs. Runs until SIGTERM/SIGINT, which finish the current job first."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("community").setLevel(logging.INFO)
    worker = Worker(current_app._get_current_object())
    click.echo(f"worker {worker.name}: started")
    count = worker.run(until_empty=until_empty, poll_interval=poll_interval)
    click.echo(f"worker {worker.name}: ran {count} job(s), stopped")


@bp.cli.command("list")
@click.option("--failed", is_flag=True, help="Only dead jobs.")
@click.option("--limit", type=int, default=100, show_default=True)
def list_(failed: bool, limit: int) -> None:
    """Jobs not yet done (or, with --failed, the dead ones), newest first."""
    jobs = services.list_jobs(dead_only=failed, limit=limit)
    if not jobs:
        click.echo("No dead jobs." if failed else "No jobs waiting.")
        return
    for job in jobs:
        error = f"  last error: {job.last_error.splitlines()[0]}" if job.last_error else ""
        click.echo(
            f"{job.id:>8}  {job.status:<8} {job.kind:<28} attempts {job.attempts}/"
            f"{job.max_attempts}  next {job.run_after:%Y-%m-%d %H:%M:%S}{error}"
        )


@bp.cli.command("retry")
@click.argument("job_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Every dead job.")
def retry(job_id: int | None, all_failed: bool) -> None:
    """Queue a dead job (or all of them) again with a fresh set of attempts."""
    if (job_id is None) == (not all_failed):
        raise click.UsageError("Give a job id or --all-failed (not both).")
    if all_failed:
        count = services.retry_all_dead()
        db.session.commit()
        click.echo(f"Queued {count} dead job(s) again.")
        return
    try:
        job = services.retry(job_id)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Queued job {job.id} ({job.kind}) again.")
