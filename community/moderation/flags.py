"""Members flag posts that need a moderator; moderators see the flags grouped by post and act on
the post (hiding or deleting it settles its flags) or dismiss them."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from community.accounts.models import User
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed, NotFound
from community.extensions import db
from community.moderation import audit
from community.moderation.models import Flag, FlagReason
from community.questions import permissions
from community.questions.models import Question, Reply

MAX_NOTE_LENGTH = 500
PER_PAGE = 25
MAX_PAGE = 40


def post_type(post: Question | Reply) -> str:
    return "question" if isinstance(post, Question) else "reply"


def flag(reporter: User, post: Question | Reply, reason: str, note: str = "") -> Flag:
    """Report ``post`` to the moderators, once per person and post."""
    if not reporter.is_authenticated or not reporter.is_active:
        raise NotAllowed("Sign in to flag a post.")
    if not post.is_public:
        raise NotFound("That post is not available.")
    if post.author_id == reporter.id:
        raise DomainError("You can't flag your own post.")
    try:
        chosen = FlagReason(reason)
    except ValueError:
        raise DomainError("Choose what is wrong with this post.") from None
    note = " ".join((note or "").split())[:MAX_NOTE_LENGTH]
    if chosen is FlagReason.OTHER and not note:
        raise DomainError("Tell the moderators what is wrong.")
    kind = post_type(post)
    already = db.session.scalar(
        sa.select(Flag.id).where(
            Flag.reporter_id == reporter.id, Flag.post_type == kind, Flag.post_id == post.id
        )
    )
    if already is not None:
        raise Conflict("You have already flagged this post. A moderator will look at it.")
    new = Flag(
        reporter_id=reporter.id, post_type=kind, post_id=post.id, reason=chosen.value, note=note
    )
    try:
        with db.session.begin_nested():
            db.session.add(new)
    except IntegrityError:  # the same person, twice at once
        raise Conflict("You have already flagged this post. A moderator will look at it.") from None
    return new


def settle(actor: User, post: Question | Reply, resolution: str) -> int:
    """Close the post's open flags (``actioned`` when the post was hidden or deleted)."""
    result = db.session.execute(
        sa.update(Flag)
        .where(
            Flag.post_type == post_type(post),
            Flag.post_id == post.id,
            Flag.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow(), resolved_by_id=actor.id, resolution=resolution)
    )
    return result.rowcount or 0


def dismiss(actor: User, post: Question | Reply) -> int:
    """The post is fine: close its flags without touching it."""
    if not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can do that.")
    closed = settle(actor, post, "dismissed")
    if closed:
        audit.record(
            "flags.dismiss",
            actor_id=actor.id,
            target_type=post_type(post),
            target_id=post.id,
            flags=closed,
        )
    return closed


# -- the flagged queue ------------------------------------------------------------------------


@dataclass
class FlaggedPost:
    post: Question | Reply
    question: Question  # the thread it belongs to
    flags: list[Flag]
    reporters: dict[int, User]

    @property
    def kind(self) -> str:
        return post_type(self.post)

    @property
    def reasons(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for item in self.flags:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


@dataclass
class FlaggedPage:
    posts: list[FlaggedPost]
    page: int
    has_next: bool


def flagged_page(page: int = 1) -> FlaggedPage:
    """Posts with open flags, longest-waiting first, with their flags and reporters: five
    queries, however many posts and flags."""
    page = min(max(page, 1), MAX_PAGE)
    first_flagged = sa.func.min(Flag.created_at)
    groups = db.session.execute(
        sa.select(Flag.post_type, Flag.post_id)
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.post_type, Flag.post_id)
        .order_by(first_flagged, Flag.post_type, Flag.post_id)
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    has_next = len(groups) > PER_PAGE and page < MAX_PAGE
    groups = groups[:PER_PAGE]
    if not groups:
        return FlaggedPage([], page, False)
    keys = {(kind, ident) for kind, ident in groups}
    flags = list(
        db.session.scalars(
            sa.select(Flag)
            .where(
                Flag.resolved_at.is_(None),
                sa.tuple_(Flag.post_type, Flag.post_id).in_(list(keys)),
            )
            .order_by(Flag.created_at, Flag.id)
        )
    )
    reporter_ids = {item.reporter_id for item in flags}
    reporters = {
        user.id: user
        for user in db.session.scalars(sa.select(User).where(User.id.in_(reporter_ids)))
    }
    reply_ids = [ident for kind, ident in groups if kind == "reply"]
    replies = {
        reply.id: reply
        for reply in db.session.scalars(
            sa.select(Reply).where(Reply.id.in_(reply_ids)).options(joinedload(Reply.author))
        )
    }
    question_ids = {ident for kind, ident in groups if kind == "question"}
    question_ids |= {reply.question_id for reply in replies.values()}
    questions = {
        question.id: question
        for question in db.session.scalars(
            sa.select(Question)
            .where(Question.id.in_(question_ids))
            .options(joinedload(Question.author))
        )
    }
    posts = []
    for kind, ident in groups:
        post = questions.get(ident) if kind == "question" else replies.get(ident)
        if post is None:
            continue
        thread = post if isinstance(post, Question) else questions[post.question_id]
        own = [item for item in flags if (item.post_type, item.post_id) == (kind, ident)]
        posts.append(FlaggedPost(post, thread, own, reporters))
    return FlaggedPage(posts, page, has_next)


def open_flag_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Flag).where(Flag.resolved_at.is_(None))
        )
        or 0
    )
