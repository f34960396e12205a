"""Answering well: the composer's greeting and saved replies, the "feature request" action,
and follow-ups (due at the top of the hero's queue, with one email)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from community import signals
from community.accounts.models import User
from community.db import utcnow
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.hero import services
from community.hero.handlers import load_question, reachable_hero
from community.hero.models import FeatureRequest, FollowUp, SavedReply
from community.jobs.registry import periodic
from community.moderation import audit
from community.notifications.emails import Email, builder, queue_email
from community.questions import permissions
from community.questions import services as question_services
from community.questions.models import Page, Question, Reply, Team
from community.web import external_url

MAX_TITLE = 120
MAX_BODY = 10_000
FEATURE_REQUEST_TAG = "feature_request"
GITHUB_ISSUE = re.compile(
    r"^https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})"
    r"/issues/([1-9][0-9]{0,9})/?$"
)
PLACEHOLDERS = ("{first_name}", "{name}", "{page_title}", "{page_url}", "{page}")


# -- the composer ---------------------------------------------------------------------------------


def greeting(asker: User) -> str:
    return f"Hey {asker.first_name}, "


def fill_in(text: str, asker: User, page: Page | None) -> str:
    """A saved reply for this asker and page: ``{first_name}``, ``{name}``, ``{page}`` (a
    markdown link to the doc page), ``{page_title}`` and ``{page_url}``; other braces stay."""
    values = {
        "{first_name}": asker.first_name,
        "{name}": asker.display_name,
        "{page_title}": page.display_title if page is not None else "the docs",
        "{page_url}": page.url if page is not None else "",
        "{page}": f"[{page.display_title}]({page.url})" if page is not None else "the docs",
    }
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, values[placeholder])
    return text


def on_reply_composing(
    _sender: Any, viewer: Any, question: Question, args: Mapping[str, str], **_extra: Any
) -> str | None:
    """Team members start a reply to someone else with "Hey {first name}, ", followed by the
    saved reply they picked (``?saved=<id>``). A saved reply that names the asker itself gets
    no greeting."""
    if not services.is_hero(viewer) or viewer.id == question.author_id:
        return None
    asker = question.author
    if asker.deleted_at is not None:
        return None
    saved_id = args.get("saved", "")
    saved = (
        visible_saved_reply(viewer, int(saved_id))
        if saved_id.isdigit() and 0 < int(saved_id) < 2**31
        else None
    )
    if saved is None:
        return greeting(asker)
    page = db.session.get(Page, question.origin_page_id) if question.origin_page_id else None
    body = fill_in(saved.body, asker, page)
    if "{first_name}" in saved.body or "{name}" in saved.body:
        return body
    return greeting(asker) + body


# -- saved replies --------------------------------------------------------------------------------


def _visible(viewer: User) -> sa.ColumnElement[bool]:
    personal = SavedReply.owner_id == viewer.id
    if permissions.is_staff(viewer):
        return sa.or_(personal, SavedReply.team_id.is_not(None))
    if viewer.team_id is None:
        return personal
    return sa.or_(personal, SavedReply.team_id == viewer.team_id)


def saved_replies(viewer: User) -> list[SavedReply]:
    """Those a team member may use: their own and their team's (moderators: every team's)."""
    return list(
        db.session.scalars(
            sa.select(SavedReply)
            .where(_visible(viewer))
            .order_by(SavedReply.owner_id.is_(None), SavedReply.title, SavedReply.id)
        )
    )


def visible_saved_reply(viewer: User, saved_id: int) -> SavedReply | None:
    return db.session.scalar(
        sa.select(SavedReply).where(SavedReply.id == saved_id, _visible(viewer))
    )


def can_manage_team_replies(actor: User, team_id: int) -> bool:
    return permissions.is_staff(actor) or (actor.is_staff and actor.team_id == team_id)


def add_saved_reply(actor: User, title: str, body: str, team: Team | None) -> SavedReply:
    """A personal saved reply, or the team's (its members and moderators; audited)."""
    if not actor.is_staff:
        raise NotAllowed("Only team members keep saved replies.")
    title, body = " ".join(title.split())[:MAX_TITLE], body.replace("\r\n", "\n").strip()
    if not title or not body:
        raise DomainError("Give the saved reply a title and a text.")
    if len(body) > MAX_BODY:
        raise DomainError(f"Keep it under {MAX_BODY:,} characters.")
    if team is not None and not can_manage_team_replies(actor, team.id):
        raise NotAllowed("Only the team's members and moderators add its saved replies.")
    saved = SavedReply(
        title=title,
        body=body,
        team_id=team.id if team is not None else None,
        owner_id=None if team is not None else actor.id,
    )
    db.session.add(saved)
    db.session.flush()
    if team is not None:
        audit.record(
            "saved_reply.add",
            actor_id=actor.id,
            target_type="team",
            target_id=team.id,
            saved_reply_id=saved.id,
            title=title,
        )
    return saved


def delete_saved_reply(actor: User, saved: SavedReply) -> bool:
    if saved.owner_id is not None:
        if saved.owner_id != actor.id:
            raise NotFound("There is no such saved reply.")
    elif not can_manage_team_replies(actor, saved.team_id):
        raise NotAllowed("Only the team's members and moderators remove its saved replies.")
    if saved.team_id is not None:
        audit.record(
            "saved_reply.delete",
            actor_id=actor.id,
            target_type="team",
            target_id=saved.team_id,
            saved_reply_id=saved.id,
            title=saved.title,
        )
    db.session.delete(saved)
    db.session.flush()
    return True


# -- feature requests -----------------------------------------------------------------------------


def normalise_issue_url(url: str) -> str:
    """``https://github.com/<owner>/<repo>/issues/<number>``, exactly, or DomainError."""
    match = GITHUB_ISSUE.match((url or "").strip())
    if match is None:
        raise DomainError(
            "Paste the address of a GitHub issue: https://github.com/OWNER/REPO/issues/NUMBER"
        )
    owner, repo, number = match.groups()
    return f"https://github.com/{owner}/{repo}/issues/{number}"


def feature_request_text(asker: User, issue_url: str) -> str:
    return (
        f"{greeting(asker)}thanks for the suggestion! We track it as a feature request on "
        f"GitHub: {issue_url}\n\nYou can follow progress there."
    )


def link_feature_request(actor: User, question: Question, issue_url: str) -> Reply:
    """Reply with the issue's link, tag the question (and its Zendesk ticket)
    ``feature_request`` and keep the link. Team members; the same issue twice is refused."""
    if not permissions.is_team(actor):
        raise NotAllowed("Only team members can do that.")
    if not question.is_public:
        raise DomainError("Only a public question can be linked to an issue.")
    issue_url = normalise_issue_url(issue_url)
    linked = db.session.scalar(
        sa.select(FeatureRequest.id).where(
            FeatureRequest.question_id == question.id, FeatureRequest.issue_url == issue_url
        )
    )
    if linked is not None:
        raise DomainError("This question is linked to that issue already.")
    asker = db.session.get(User, question.author_id)
    reply = question_services.post_reply(actor, question, feature_request_text(asker, issue_url))
    db.session.add(
        FeatureRequest(question_id=question.id, issue_url=issue_url, created_by_id=actor.id)
    )
    services.set_tag(question, FEATURE_REQUEST_TAG, True, actor)
    signals.question_tagged.send(
        current_app._get_current_object(),
        question=question,
        tag=FEATURE_REQUEST_TAG,
        actor=actor,
        note=f"Feature request: {issue_url}",
    )
    audit.record(
        "question.feature_request",
        actor_id=actor.id,
        target_type="question",
        target_id=question.id,
        issue_url=issue_url,
        reply_id=reply.id,
    )
    return reply


def links_of(question_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(FeatureRequest.issue_url)
            .where(FeatureRequest.question_id == question_id)
            .order_by(FeatureRequest.id)
        )
    )


# -- follow-ups -----------------------------------------------------------------------------------

FOLLOW_UP_EMAIL = "hero_follow_up"
DEFAULT_START = time(9)


def follow_up_due_at(actor: User, day: Any) -> datetime:
    """The start of ``day``'s working hours in the actor's team's zone (09:00 UTC without a
    team): when a follow-up set for that day falls due."""
    team = db.session.get(Team, actor.team_id) if actor.team_id is not None else None
    if team is None:
        return datetime.combine(day, DEFAULT_START, tzinfo=UTC)
    hours = services.working_hours_of(team)
    return datetime.combine(day, hours.start, tzinfo=hours.tz).astimezone(UTC)


def set_follow_up(actor: User, question: Question, day: Any, note: str = "") -> FollowUp:
    """Promise to get back to the asker on ``day`` (one follow-up per person and thread; a new
    date replaces the old one and will be reminded about again)."""
    if not permissions.is_team(actor):
        raise NotAllowed("Only team members can do that.")
    due_at = follow_up_due_at(actor, day)
    if due_at.date() < (utcnow() - timedelta(days=1)).date():
        raise DomainError("Choose a day from today on.")
    note = " ".join((note or "").split())[:200]
    follow_up = db.session.scalar(
        sa.select(FollowUp).where(FollowUp.question_id == question.id, FollowUp.user_id == actor.id)
    )
    if follow_up is None:
        follow_up = FollowUp(question_id=question.id, user_id=actor.id, due_at=due_at, note=note)
        db.session.add(follow_up)
    else:
        follow_up.due_at, follow_up.note = due_at, note
        follow_up.reminded_at = follow_up.done_at = None
    db.session.flush()
    return follow_up


def finish_follow_up(actor: User, question: Question) -> bool:
    follow_up = db.session.scalar(
        sa.select(FollowUp).where(
            FollowUp.question_id == question.id,
            FollowUp.user_id == actor.id,
            FollowUp.done_at.is_(None),
        )
    )
    if follow_up is None:
        return False
    follow_up.done_at = utcnow()
    db.session.flush()
    return True


def follow_up_of(user_id: int, question_id: int) -> FollowUp | None:
    return db.session.scalar(
        sa.select(FollowUp).where(
            FollowUp.question_id == question_id,
            FollowUp.user_id == user_id,
            FollowUp.done_at.is_(None),
        )
    )


def due_follow_ups(user_id: int, now: datetime | None = None) -> list[FollowUp]:
    """The person's follow-ups that are due, oldest first, with their questions (one query)."""
    return list(
        db.session.scalars(
            sa.select(FollowUp)
            .where(
                FollowUp.user_id == user_id,
                FollowUp.done_at.is_(None),
                FollowUp.due_at <= (now or utcnow()),
            )
            .options(joinedload(FollowUp.question))
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(50)
        )
    )


def on_reply_published(_sender: Any, reply: Reply, **_extra: Any) -> None:
    """Replying on the thread once the follow-up is due keeps the promise."""
    db.session.execute(
        sa.update(FollowUp)
        .where(
            FollowUp.question_id == reply.question_id,
            FollowUp.user_id == reply.author_id,
            FollowUp.done_at.is_(None),
            FollowUp.due_at <= utcnow(),
        )
        .values(done_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@periodic("hero.follow_ups", every=timedelta(minutes=1))
def sweep_follow_ups(now: datetime) -> int:
    """One email per follow-up when it falls due."""
    due = db.session.scalars(
        sa.select(FollowUp)
        .where(FollowUp.done_at.is_(None), FollowUp.reminded_at.is_(None), FollowUp.due_at <= now)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(500)
    ).all()
    for follow_up in due:
        follow_up.reminded_at = now
        queue_email(
            FOLLOW_UP_EMAIL,
            {"follow_up_id": follow_up.id},
            dedupe_key=f"email:hero-follow-up:{follow_up.id}:{follow_up.due_at.isoformat()}",
        )
    db.session.flush()
    return len(due)


@builder(FOLLOW_UP_EMAIL)
def follow_up_email(params: dict[str, Any]) -> Email | None:
    follow_up = db.session.get(FollowUp, params["follow_up_id"])
    if follow_up is None or follow_up.done_at is not None:
        return None
    hero = reachable_hero(follow_up.user_id)
    question = load_question(follow_up.question_id)
    if hero is None or question is None or question.deleted_at is not None:
        return None
    return Email(
        to_address=hero.email,
        to_name=hero.name,
        template=FOLLOW_UP_EMAIL,
        context={
            "user": hero,
            "question": question,
            "follow_up": follow_up,
            "question_url": external_url(
                "questions.show", question_id=question.id, slug=question.slug
            ),
        },
    )
