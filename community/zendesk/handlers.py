"""The mirror's job handlers and signal receivers.

Receivers run in the request's transaction and only record (``services.record_change``).
Handlers run in the worker: they take ids, reload the current state and talk to Zendesk through
the adapter. Each is safe to run again after a timeout or a crash:

- a ticket is looked up by ``external_id`` before one is created, and the create carries an
  ``Idempotency-Key`` derived from the question and what is sent, so a retry finds or replays
  the first ticket instead of making a second;
- a note that may have reached Zendesk on an earlier attempt is looked for (by its marker line)
  before it is sent again;
- a job sets the ticket's status only if no newer change has set it already
  (``applied_sequence``), so a late retry never undoes a newer state.

On PostgreSQL the jobs of one question also run one at a time (a transaction-scoped advisory
lock), so two workers never create its ticket side by side; with SQLite run one worker.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.extensions import db
from community.jobs.models import Job
from community.jobs.registry import handler
from community.questions.models import Question, QuestionStatus, QuestionTag, Reply, Topic
from community.zendesk import services, tickets
from community.zendesk.client import NewTicket, RemoteTicket, TicketClosed, TicketGone
from community.zendesk.models import ZendeskTicket
from community.zendesk.services import (
    ACCEPTED,
    CREATE_JOB,
    DELETED,
    HIDDEN,
    MARKED,
    REPLY,
    RESTORED,
    RESYNC,
    TAGGED,
    UPDATE_JOB,
    WITHDRAWN,
)

ADVISORY_LOCK_NAMESPACE = 0x5A44  # "ZD": the first key of pg_advisory_xact_lock(int, int)
# Changes that close the ticket: on a ticket Zendesk has closed already there is nothing to do.
CLOSING_EVENTS = {ACCEPTED, DELETED, HIDDEN}


# -- jobs ------------------------------------------------------------------------------------------


@handler(CREATE_JOB)
def create_ticket(payload: dict[str, Any]) -> None:
    question_id = payload["question_id"]
    client = services.client()
    _one_job_per_question(question_id)
    mirror = _mirror(question_id)
    if mirror is None or mirror.ticket_id is not None:
        return  # made already (by an update that needed it, or an earlier attempt)
    question = _question(question_id)
    if question is None or not question.is_public:
        return  # deleted or hidden before it was mirrored: nothing to tell the support team
    _ensure_ticket(client, mirror, question)


@handler(UPDATE_JOB)
def update_ticket(payload: dict[str, Any]) -> None:
    question_id, sequence, event = payload["question_id"], payload["sequence"], payload["event"]
    client = services.client()
    _one_job_per_question(question_id)
    mirror = _mirror(question_id)
    question = _question(question_id)
    if mirror is None or question is None:
        return
    if mirror.ticket_id is None:
        if not question.is_public:
            return  # never reached Zendesk, and now removed: nothing to close
        _ensure_ticket(client, mirror, question)
        if event == RESYNC:
            return  # created with the current status
    note, status, tags = _change(payload, question, mirror)
    if status is not None and event != RESYNC and sequence <= mirror.applied_sequence:
        status = None  # a newer change set the status already
    if note is not None and _retried(question_id, sequence) and _arrived(client, mirror, sequence):
        note = None
    if note is None and status is None and not tags:
        return
    try:
        remote = client.update_ticket(mirror.ticket_id, status=status, note=note, add_tags=tags)
    except TicketClosed:
        _closed(client, mirror, question, event, note, status, sequence)
        return
    except TicketGone:
        if event != RESYNC:
            raise
        # A moderator asked for the ticket to match the thread: find or make another.
        mirror.ticket_id = mirror.ticket_url = None
        _ensure_ticket(client, mirror, question, sequence=sequence)
        return
    mirror.status = remote.status
    if status is not None:
        mirror.applied_sequence = max(mirror.applied_sequence, sequence)


def _change(
    payload: dict[str, Any], question: Question, mirror: ZendeskTicket
) -> tuple[str | None, str | None, list[str]]:
    """The note, status and tags one change asks for (nothing for a vanished reply). The status
    was decided when the change happened and travels in the payload."""
    event, sequence, status = payload["event"], payload["sequence"], payload.get("status")
    if event == RESYNC:
        status = mirror.desired_status if mirror.desired_status != "new" else None
        tags = [mirror.desired_tag] if mirror.desired_tag else []
        return None, status, tags + _site_tags(question.id)
    if event in (REPLY, ACCEPTED):
        reply = _reply(payload["reply_id"])
        if reply is None or not reply.is_public:
            return None, None, []
        if event == REPLY:
            return tickets.reply_note(question, reply, sequence), status, []
        return tickets.accepted_note(question, reply, sequence), status, []
    if event == WITHDRAWN:
        return tickets.withdrawn_note(question, sequence), status, []
    if event in (DELETED, HIDDEN):
        tag = payload.get("tag") or services.removal_tag(question)
        return tickets.removed_note(question, tag, sequence), status, [tag]
    if event == RESTORED:
        return tickets.restored_note(question, sequence), status, []
    if event == MARKED:
        return tickets.marked_note(question, status == "solved", sequence), status, []
    if event == TAGGED:
        note = tickets.tagged_note(question, payload.get("note") or "", sequence)
        return note, status, list(payload.get("add_tags") or [])
    raise ValueError(f"unknown Zendesk change {event!r}")


# -- creating tickets ------------------------------------------------------------------------------


def _ensure_ticket(
    client: Any, mirror: ZendeskTicket, question: Question, *, sequence: int | None = None
) -> None:
    """Find the question's ticket by external_id, or create it with the current status."""
    covered = max(mirror.sequence, sequence or 0)
    external_id = tickets.external_id(question.id)
    found = client.tickets_with_external_id(external_id)
    # The oldest ticket still open to changes; else the newest (a closed one: the next change
    # then continues in a follow-up).
    live = [t for t in found if t.status != "closed"]
    ticket = (live or found[-1:] or [None])[0]
    status = mirror.desired_status if mirror.desired_status != "new" else None
    if ticket is None:
        new = _new_ticket(question, mirror, status=status)
        ticket = client.create_ticket(new, _idempotency_key(new))
    elif status is not None and ticket.status not in (status, "closed"):
        ticket = client.update_ticket(ticket.id, status=status)
    _store(client, mirror, ticket)
    mirror.applied_sequence = max(mirror.applied_sequence, covered)


def _new_ticket(
    question: Question,
    mirror: ZendeskTicket,
    *,
    status: str | None,
    body: str | None = None,
    followup_source_id: int | None = None,
) -> NewTicket:
    asker = question.author
    extra = [mirror.desired_tag] if mirror.desired_tag else []
    return NewTicket(
        subject=question.subject,
        body=body or tickets.description(question),
        external_id=tickets.external_id(question.id),
        tags=tickets.tags(question) + extra + _site_tags(question.id),
        priority=services.priority_for_topic(question.topic_id),
        requester_name=asker.name if asker.is_verified else None,
        requester_email=asker.email if asker.is_verified else None,
        group_id=services.group_for_team(question.topic.team_id if question.topic else None),
        status=status,
        followup_source_id=followup_source_id,
    )


def _idempotency_key(ticket: NewTicket) -> str:
    """The same for every attempt that sends the same ticket, whichever job sends it; a
    different body gets a different key (Zendesk answers 400 to a reused key with a new body)."""
    body = json.dumps(ticket.payload(), sort_keys=True).encode()
    return f"{ticket.external_id}-{hashlib.sha256(body).hexdigest()[:32]}"


def _store(client: Any, mirror: ZendeskTicket, ticket: RemoteTicket) -> None:
    mirror.ticket_id = ticket.id
    mirror.ticket_url = client.agent_url(ticket.id)
    mirror.status = ticket.status
    mirror.priority = ticket.priority or mirror.priority
    mirror.group_id = ticket.group_id or mirror.group_id


def _closed(
    client: Any,
    mirror: ZendeskTicket,
    question: Question,
    event: str,
    note: str | None,
    status: str | None,
    sequence: int,
) -> None:
    """Zendesk closed the ticket. Closing changes are done already; anything else continues
    in a follow-up ticket, linked to the closed one."""
    closing = event in CLOSING_EVENTS or (event in (RESYNC, MARKED) and status in (None, "solved"))
    if closing:
        mirror.status = "closed"
        return
    previous = mirror.ticket_id
    found = [
        t
        for t in client.tickets_with_external_id(tickets.external_id(question.id))
        if t.id > previous and t.status != "closed"
    ]
    if found:  # an earlier attempt made it (its first comment is this note)
        ticket = found[0]
    else:
        new = _new_ticket(
            question,
            mirror,
            status=status,
            body=tickets.followup_body(previous, question, note),
            followup_source_id=previous,
        )
        ticket = client.create_ticket(new, _idempotency_key(new))
    mirror.followup_source_id = previous
    _store(client, mirror, ticket)
    if status is not None:
        mirror.applied_sequence = max(mirror.applied_sequence, sequence)


# -- loading and checking --------------------------------------------------------------------------


def _one_job_per_question(question_id: int) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, question_id))
        )


def _mirror(question_id: int) -> ZendeskTicket | None:
    return db.session.scalar(
        sa.select(ZendeskTicket)
        .where(ZendeskTicket.question_id == question_id)
        .execution_options(populate_existing=True)
    )


def _question(question_id: int) -> Question | None:
    return db.session.scalar(
        sa.select(Question)
        .where(Question.id == question_id)
        .options(
            joinedload(Question.author),
            joinedload(Question.topic).joinedload(Topic.team),
            joinedload(Question.origin_page),
        )
        .execution_options(populate_existing=True)
    )


def _reply(reply_id: int) -> Reply | None:
    return db.session.scalar(
        sa.select(Reply)
        .where(Reply.id == reply_id)
        .options(joinedload(Reply.author).joinedload(User.team))
    )


def _site_tags(question_id: int) -> list[str]:
    """The question's tags that Zendesk should carry too (``feature_request``)."""
    return sorted(
        db.session.scalars(
            sa.select(QuestionTag.tag).where(
                QuestionTag.question_id == question_id,
                QuestionTag.tag.in_(tickets.MIRRORED_SITE_TAGS),
            )
        )
    )


def _retried(question_id: int, sequence: int) -> bool:
    attempts = db.session.scalar(
        sa.select(Job.attempts).where(Job.dedupe_key == services.update_key(question_id, sequence))
    )
    return (attempts or 0) > 1


def _arrived(client: Any, mirror: ZendeskTicket, sequence: int) -> bool:
    """Did an earlier attempt's note reach the ticket (its answer lost to a timeout or crash)?"""
    mark = tickets.marker(sequence)
    return any(body.rstrip().endswith(mark) for body in client.comment_bodies(mirror.ticket_id))


# -- signal receivers (the request's transaction) --------------------------------------------------


def on_question_published(_sender: Any, question: Question, **_extra: Any) -> None:
    if services.enabled():
        services.start_mirroring(question)


def on_reply_published(_sender: Any, reply: Reply, **_extra: Any) -> None:
    if not services.enabled():
        return
    question = db.session.get(Question, reply.question_id)
    author = db.session.get(User, reply.author_id)
    status = services.status_after_reply(question, author)
    services.record_change(question, REPLY, status=status, reply_id=reply.id)


def on_answer_accepted(_sender: Any, question: Question, reply: Reply, **_extra: Any) -> None:
    if services.enabled():
        services.record_change(question, ACCEPTED, status="solved", reply_id=reply.id)


def on_answer_withdrawn(_sender: Any, question: Question, **_extra: Any) -> None:
    if services.enabled():
        services.record_change(question, WITHDRAWN, status="open")


def on_question_deleted(_sender: Any, question: Question, **_extra: Any) -> None:
    if services.enabled():
        services.record_change(
            question, DELETED, status="solved", tag=services.removal_tag(question)
        )


def on_question_hidden(
    _sender: Any, question: Question, reason: str | None = None, **_extra: Any
) -> None:
    if services.enabled():
        services.record_change(
            question, HIDDEN, status="solved", tag=services.removal_tag(question, reason)
        )


def on_question_restored(_sender: Any, question: Question, **_extra: Any) -> None:
    if services.enabled():
        status = "solved" if question.status == QuestionStatus.RESOLVED else "open"
        # The removal tag stops being wanted (a resync will not put it back).
        services.record_change(question, RESTORED, status=status, tag="")


def on_question_tagged(
    _sender: Any, question: Question, tag: str, note: str = "", **_extra: Any
) -> None:
    if services.enabled() and tag in tickets.MIRRORED_SITE_TAGS:
        services.record_change(question, TAGGED, add_tags=[tag], note=note)


def on_question_resolution_changed(
    _sender: Any, question: Question, resolved: bool, **_extra: Any
) -> None:
    if services.enabled():
        services.record_change(question, MARKED, status="solved" if resolved else "open")
