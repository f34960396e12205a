"""The mirror's rules: which site changes reach Zendesk and in what order, the admins' routing
settings, and what the inbound webhook may change.

Like every service these flush and never commit. The signal receivers (``handlers.py``) call
them inside the request's transaction, so a change and the job that mirrors it are committed
together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from community.accounts.models import User
from community.db import utcnow
from community.errors import Conflict, NotFound
from community.extensions import db
from community.jobs import services as jobs
from community.jobs.errors import PermanentError
from community.jobs.models import Job, JobStatus
from community.moderation import audit
from community.questions.models import Question, Reply, Team, Topic
from community.zendesk import tickets
from community.zendesk.models import (
    STATUSES,
    Priority,
    ZendeskTeamGroup,
    ZendeskTicket,
    ZendeskTopicPriority,
    ZendeskWebhookDelivery,
)

CREATE_JOB = "zendesk.create_ticket"
UPDATE_JOB = "zendesk.update_ticket"
JOB_KINDS = (CREATE_JOB, UPDATE_JOB)

# The changes a job can carry, besides "resync" (make the ticket match the thread again).
REPLY, ACCEPTED, WITHDRAWN, DELETED, HIDDEN, RESYNC = (
    "reply",
    "accepted",
    "withdrawn",
    "deleted",
    "hidden",
    "resync",
)
# A moderator restored the question; a moderator marked it resolved or unresolved; staff
# tagged it (a feature request).
RESTORED, MARKED, TAGGED = "restored", "marked", "tagged"

# Webhook timestamps further than this from our clock are refused (Zendesk signs on sending).
WEBHOOK_TOLERANCE = timedelta(minutes=5)


# -- configuration -------------------------------------------------------------------------------


def enabled(config: Mapping[str, Any] | None = None) -> bool:
    """The mirror runs when the subdomain, the agent's email and the API token are all set."""
    config = current_app.config if config is None else config
    return all(config.get(key) for key in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_TOKEN"))


def client() -> Any:
    """A fresh adapter for one job (never shared between threads)."""
    if not enabled():
        raise PermanentError("Zendesk is not configured (ZENDESK_SUBDOMAIN, _EMAIL, _TOKEN)")
    from community.zendesk.client import ZendeskClient

    config = current_app.config
    return ZendeskClient(
        subdomain=config["ZENDESK_SUBDOMAIN"],
        email=config["ZENDESK_EMAIL"],
        token=config["ZENDESK_TOKEN"],
        timeout=float(config["ZENDESK_TIMEOUT"]),
    )


# -- recording changes (request side) ------------------------------------------------------------


def create_key(question_id: int) -> str:
    return f"zendesk:create:{question_id}"


def update_key(question_id: int, sequence: int) -> str:
    return f"zendesk:update:{question_id}:{sequence}"


def start_mirroring(question: Question) -> ZendeskTicket | None:
    """The mirror row of a public question, made (with its ticket job) on first need."""
    mirror = db.session.scalar(
        sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question.id)
    )
    if mirror is not None or not question.is_public:
        return mirror
    status, tag = current_status(question)
    mirror = ZendeskTicket(question_id=question.id, desired_status=status, desired_tag=tag)
    try:
        with db.session.begin_nested():
            db.session.add(mirror)
    except IntegrityError:  # a concurrent request started it first
        return db.session.scalars(
            sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question.id)
        ).one()
    jobs.enqueue(CREATE_JOB, {"question_id": question.id}, dedupe_key=create_key(question.id))
    return mirror


def record_change(
    question: Question,
    event: str,
    *,
    status: str | None = None,
    tag: str | None = None,
    reply_id: int | None = None,
    add_tags: list[str] | None = None,
    note: str | None = None,
) -> int | None:
    """Number this change of the thread and queue the job that mirrors it; returns the number
    (None when the question has never been mirrored and is not public now)."""
    mirror = start_mirroring(question)
    if mirror is None:
        return None
    db.session.flush()
    values: dict[str, Any] = {"sequence": ZendeskTicket.sequence + 1, "updated_at": utcnow()}
    if status is not None:
        values["desired_status"] = status
    if tag is not None:
        values["desired_tag"] = tag
    # One UPDATE ... RETURNING: concurrent changes to one question get distinct numbers.
    sequence = db.session.execute(
        sa.update(ZendeskTicket)
        .where(ZendeskTicket.question_id == question.id)
        .values(**values)
        .returning(ZendeskTicket.sequence)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    db.session.expire(mirror)
    payload: dict[str, Any] = {"question_id": question.id, "sequence": sequence, "event": event}
    for key, value in (
        ("status", status),
        ("tag", tag),
        ("reply_id", reply_id),
        ("add_tags", add_tags),
        ("note", note),
    ):
        if value is not None:
            payload[key] = value
    jobs.enqueue(UPDATE_JOB, payload, dedupe_key=update_key(question.id, sequence))
    return sequence


def status_after_reply(question: Question, author: User) -> str | None:
    """As an agent would set it: the asker's reply reopens, a team member's or moderator's
    waits on the asker; other people's replies (and staff replies once an answer is accepted)
    leave the status alone."""
    if author.id == question.author_id:
        return "open"
    if author.is_staff and question.accepted_reply_id is None:
        return "pending"
    return None


def removal_tag(question: Question, reason: str | None = None) -> str:
    if question.deleted_at is not None:
        return tickets.DELETED_TAG
    reason = reason if reason is not None else (question.hidden_reason or "")
    return tickets.SPAM_TAG if reason.strip().lower() == "spam" else tickets.HIDDEN_TAG


def current_status(question: Question) -> tuple[str, str | None]:
    """The status (and removal tag) the thread calls for now, for a question mirrored late."""
    if question.deleted_at is not None or question.hidden_at is not None:
        return "solved", removal_tag(question)
    if question.accepted_reply_id is not None:
        return "solved", None
    last = db.session.execute(
        sa.select(Reply.author_id, User.role)
        .join(User, User.id == Reply.author_id)
        .where(
            Reply.question_id == question.id,
            Reply.published_at.is_not(None),
            Reply.hidden_at.is_(None),
            Reply.deleted_at.is_(None),
            sa.or_(Reply.author_id == question.author_id, User.role != "member"),
        )
        .order_by(Reply.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return "new", None
    return ("open" if last.author_id == question.author_id else "pending"), None


def request_resync(question: Question, actor: User | None = None) -> int:
    """Queue a job that makes the ticket match the thread (creating it if it is missing)."""
    if not enabled():
        raise Conflict("Zendesk is not configured.")
    sequence = record_change(question, RESYNC)
    if sequence is None:
        raise NotFound("This question was never mirrored to Zendesk and is not public.")
    if actor is not None:
        audit.record(
            "zendesk.resync", actor_id=actor.id, target_type="question", target_id=question.id
        )
    return sequence


def backfill_candidates() -> list[int]:
    """Public questions with no ticket and no mirror job waiting, oldest first."""
    has_ticket = sa.select(ZendeskTicket.question_id).where(ZendeskTicket.ticket_id.is_not(None))
    return list(
        db.session.scalars(
            sa.select(Question.id)
            .where(
                Question.published_at.is_not(None),
                Question.hidden_at.is_(None),
                Question.deleted_at.is_(None),
                Question.id.not_in(has_ticket),
            )
            .order_by(Question.id)
        )
    )


def backfill(question_id: int) -> bool:
    """Queue the ticket of one question unless a job for it is already waiting."""
    question = db.session.get(Question, question_id)
    if question is None or not question.is_public:
        return False
    mirror = db.session.scalar(
        sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question_id)
    )
    if mirror is None:
        start_mirroring(question)  # queues the create job
        return True
    if mirror.ticket_id is not None or _job_waiting(question_id):
        return False
    record_change(question, RESYNC)
    return True


def _job_waiting(question_id: int) -> bool:
    keys = [create_key(question_id), f"zendesk:update:{question_id}:%"]
    return (
        db.session.scalar(
            sa.select(Job.id)
            .where(
                Job.kind.in_(JOB_KINDS),
                Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]),
                sa.or_(Job.dedupe_key == keys[0], Job.dedupe_key.like(keys[1])),
            )
            .limit(1)
        )
        is not None
    )


# -- what the thread page shows to staff ----------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    mirror: ZendeskTicket | None
    credentials_rejected: int  # dead jobs Zendesk refused for bad credentials


def panel_for(viewer: Any, question_id: int) -> Panel | None:
    """None unless the mirror is on and the viewer is a team member, moderator or admin."""
    if not enabled() or not getattr(viewer, "is_authenticated", False) or not viewer.is_staff:
        return None
    mirror = db.session.scalar(
        sa.select(ZendeskTicket).where(ZendeskTicket.question_id == question_id)
    )
    rejected = credentials_rejected() if viewer.is_moderator else 0
    return Panel(mirror=mirror, credentials_rejected=rejected)


def credentials_rejected() -> int:
    """How many Zendesk jobs died on 401/403. Retrying them (after fixing the token) clears it."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Job)
        .where(
            Job.status == JobStatus.DEAD,
            Job.kind.in_(JOB_KINDS),
            Job.last_error.like("CredentialsRejected:%"),
        )
    )


def job_counts() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Job.status, sa.func.count())
        .where(Job.kind.in_(JOB_KINDS), Job.status != JobStatus.DONE)
        .group_by(Job.status)
    ).all()
    return dict(rows)


# -- routing settings (admins) -------------------------------------------------------------------


def group_for_team(team_id: int | None) -> int | None:
    if team_id is None:
        return None
    return db.session.scalar(
        sa.select(ZendeskTeamGroup.group_id).where(ZendeskTeamGroup.team_id == team_id)
    )


def priority_for_topic(topic_id: int | None) -> str:
    found = None
    if topic_id is not None:
        found = db.session.scalar(
            sa.select(ZendeskTopicPriority.priority).where(
                ZendeskTopicPriority.topic_id == topic_id
            )
        )
    return found or Priority.NORMAL.value


def routing() -> tuple[list[Team], dict[int, int], list[Topic], dict[int, str]]:
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name, Team.id)))
    topics = list(db.session.scalars(sa.select(Topic).order_by(Topic.name, Topic.id)))
    groups = dict(
        db.session.execute(sa.select(ZendeskTeamGroup.team_id, ZendeskTeamGroup.group_id)).all()
    )
    priorities = dict(
        db.session.execute(
            sa.select(ZendeskTopicPriority.topic_id, ZendeskTopicPriority.priority)
        ).all()
    )
    return teams, groups, topics, priorities


def set_team_group(actor: User, team: Team, group_id: int | None) -> bool:
    """Route the team's new tickets to a Zendesk group (None: no group). True if it changed."""
    row = db.session.get(ZendeskTeamGroup, team.id)
    before = row.group_id if row is not None else None
    if before == group_id:
        return False
    if group_id is None:
        db.session.delete(row)
    elif row is None:
        db.session.add(ZendeskTeamGroup(team_id=team.id, group_id=group_id))
    else:
        row.group_id = group_id
    audit.record(
        "zendesk.team_group",
        actor_id=actor.id,
        target_type="team",
        target_id=team.id,
        before=before,
        after=group_id,
    )
    db.session.flush()
    return True


def set_topic_priority(actor: User, topic: Topic, priority: str | None) -> bool:
    """The priority of the topic's new tickets (None: the default, normal)."""
    if priority is not None:
        priority = Priority(priority).value
    row = db.session.get(ZendeskTopicPriority, topic.id)
    before = row.priority if row is not None else None
    if before == priority:
        return False
    if priority is None:
        db.session.delete(row)
    elif row is None:
        db.session.add(ZendeskTopicPriority(topic_id=topic.id, priority=priority))
    else:
        row.priority = priority
    audit.record(
        "zendesk.topic_priority",
        actor_id=actor.id,
        target_type="topic",
        target_id=topic.id,
        before=before,
        after=priority,
    )
    db.session.flush()
    return True


# -- inbound webhook -------------------------------------------------------------------------------


def remember_delivery(digest: str, signed_at: datetime) -> bool:
    """Record a signed request; False if it was seen before (a replay)."""
    now = utcnow()
    db.session.execute(
        sa.delete(ZendeskWebhookDelivery).where(
            ZendeskWebhookDelivery.signed_at < now - 2 * WEBHOOK_TOLERANCE
        )
    )
    try:
        with db.session.begin_nested():
            db.session.add(ZendeskWebhookDelivery(digest=digest, signed_at=signed_at))
    except IntegrityError:
        return False
    return True


_PRIORITIES = {p.value for p in Priority}


def apply_ticket_event(data: Mapping[str, Any], signed_at: datetime) -> str:
    """Store what the webhook says about one of our tickets: status, priority, assignee, group.

    Only shown (and used to order the moderators' queue): a ticket solved in Zendesk does not
    resolve the question. Returns "updated", or "ignored" (not our ticket) or "stale" (a newer
    delivery was applied already).
    """
    ticket_id = _as_id(data.get("ticket_id"))
    if ticket_id is None:
        raise ValueError("ticket_id is missing or not a number")
    mirror = db.session.scalar(sa.select(ZendeskTicket).where(ZendeskTicket.ticket_id == ticket_id))
    if mirror is None:
        return "ignored"
    if mirror.remote_updated_at is not None and signed_at < mirror.remote_updated_at:
        return "stale"
    if "status" in data:
        status = str(data["status"] or "").strip().lower()
        if status in STATUSES:
            mirror.status = status
    if "priority" in data:
        priority = str(data["priority"] or "").strip().lower()
        mirror.priority = priority if priority in _PRIORITIES else None
    if "assignee_id" in data:
        mirror.assignee_id = _as_id(data.get("assignee_id"))
        name = str(data.get("assignee_name") or "").strip()[:200]
        mirror.assignee_name = name if mirror.assignee_id is not None and name else None
    if "group_id" in data:
        mirror.group_id = _as_id(data.get("group_id"))
    mirror.remote_updated_at = signed_at
    db.session.flush()
    return "updated"


def _as_id(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and 0 < len(text) <= 18 else None
