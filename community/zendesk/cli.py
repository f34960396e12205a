from __future__ import annotations

import click
from flask import Blueprint

from community.errors import DomainError
from community.extensions import db
from community.questions.models import Question
from community.zendesk import services

bp = Blueprint("zendesk_cli", __name__, cli_group="zendesk")

BATCH = 200  # questions queued per transaction


@bp.cli.command("backfill")
def backfill() -> None:
    """Queue a ticket for every public question that has none (the worker creates them)."""
    if not services.enabled():
        raise click.ClickException("Zendesk is not configured (ZENDESK_SUBDOMAIN, _EMAIL, _TOKEN).")
    candidates = services.backfill_candidates()
    queued = 0
    with click.progressbar(candidates, label="Queueing tickets", show_pos=True) as bar:
        for n, question_id in enumerate(bar, start=1):
            queued += services.backfill(question_id)
            if n % BATCH == 0:
                db.session.commit()
    db.session.commit()
    click.echo(f"Queued {queued} ticket(s); `flask jobs run` creates them.")


@bp.cli.command("resync")
@click.argument("question_id", type=int)
def resync(question_id: int) -> None:
    """Make the question's ticket match the thread again (creating it if it is missing)."""
    question = db.session.get(Question, question_id)
    if question is None:
        raise click.ClickException(f"There is no question {question_id}.")
    try:
        services.request_resync(question)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Queued a resync of question {question_id} with Zendesk.")
