"""Asking, replying, editing, deleting and accepting answers: the rules of a thread.

Services take the acting user, enforce the rules, ``flush`` and never commit: the caller owns the
transaction. Every published post announces itself through ``community.signals``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from community import settings as runtime_settings
from community import signals
from community.accounts.models import STAFF_ROLES, User
from community.content import render_markdown
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed, NotFound
from community.extensions import db
from community.questions import permissions
from community.questions.models import (
    Page,
    PostRevision,
    Question,
    QuestionStatus,
    Reply,
    Topic,
    TopicPageRule,
)
from community.questions.pages import InvalidPageURL, normalise_page_url, page_origin, page_path

MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 20_000
MAX_TITLE_LENGTH = 300

Post = TypeVar("Post", Question, Reply)


class InvalidPage(DomainError):
    pass


@lru_cache(maxsize=8)
def _allowed_origins(origins: tuple[str, ...]) -> frozenset[str]:
    """The configured docs origins, normalised (once: every doc page's read asks)."""
    return frozenset(normalise_page_url(origin).rstrip("/") for origin in origins)


def canonical_page_url(url: str, host_aliases: Mapping[str, str] | None = None) -> str:
    """Normalise with the configured host aliases; raises InvalidPage with a message for people."""
    aliases = current_app.config["PAGE_HOST_ALIASES"] if host_aliases is None else host_aliases
    try:
        canonical = normalise_page_url(url, aliases)
        allowed = _allowed_origins(tuple(current_app.config["PAGE_ALLOWED_ORIGINS"]))
    except InvalidPageURL as error:
        raise InvalidPage(str(error)) from error
    if allowed and page_origin(canonical) not in allowed:
        raise InvalidPage("Questions can only be asked about pages of our documentation.")
    return canonical


def resolve_page(url: str, title: str | None = None) -> Page:
    """The page for this URL, created on first use; its title follows the latest one seen."""
    canonical = canonical_page_url(url)
    title = (title or "").strip()[:MAX_TITLE_LENGTH]
    page = db.session.scalar(sa.select(Page).where(Page.url == canonical))
    if page is None:
        page = Page(url=canonical, title=title, topic_id=_topic_id_for_path(page_path(canonical)))
        try:
            with db.session.begin_nested():
                db.session.add(page)
        except IntegrityError:  # created by a concurrent request in the meantime
            page = db.session.scalars(sa.select(Page).where(Page.url == canonical)).one()
    if title and page.title != title:
        page.title = title
    return page


def _topic_id_for_path(path: str) -> int | None:
    """The topic of the longest path-prefix rule that covers ``path`` at a segment boundary."""
    segments = [s for s in path.split("/") if s]
    candidates = ["/" + "/".join(segments[:n]) for n in range(len(segments), -1, -1)]
    return db.session.scalar(
        sa.select(TopicPageRule.topic_id)
        .where(TopicPageRule.path_prefix.in_(candidates))
        .order_by(sa.func.length(TopicPageRule.path_prefix).desc())
        .limit(1)
    )


def ask_question(
    author: User,
    subject: str,
    body: str,
    *,
    page: Page | None = None,
    topic: Topic | None = None,
    submission_key: str | None = None,
) -> Question:
    """Post a question (on a page, if given). A repeated ``submission_key`` returns the first.

    An author whose address is not verified yet gets a held question: visible to them, published
    the moment they verify (see :func:`publish_held_posts`).
    """
    existing = _already_submitted(Question, author, submission_key)
    if existing is not None:
        return existing
    _check_may_post(author)
    subject, body = _clean_subject(subject), _clean_body(body)
    now = utcnow()
    question = Question(
        author_id=author.id,
        subject=subject,
        body_source=body,
        body_html=render_markdown(body),
        topic_id=topic.id if topic is not None else (page.topic_id if page is not None else None),
        origin_page_id=page.id if page is not None else None,
        status=QuestionStatus.UNANSWERED.value,
        created_at=now,
        last_activity_at=now,
        submission_key=submission_key,
    )
    if page is not None:
        question.pages = [page]
    saved = _insert_once(question, author, submission_key)
    if saved is question and _needs_review(author):
        question.held_for_review = True
        db.session.flush()
    elif saved is question and author.is_verified:
        _publish_question(question)
    return saved


def post_reply(
    author: User, question: Question, body: str, *, submission_key: str | None = None
) -> Reply:
    """Reply to a question. A repeated ``submission_key`` returns the first reply. Like
    questions, replies of unverified authors are held until they verify."""
    existing = _already_submitted(Reply, author, submission_key)
    if existing is not None:
        return existing
    _check_may_post(author)
    if not permissions.can_view(author, question) or question.deleted_at is not None:
        raise NotFound("This question is no longer available.")
    if not permissions.can_reply(author, question):
        raise NotAllowed("This thread is locked: it takes no more replies.")
    body = _clean_body(body)
    reply = Reply(
        question_id=question.id,
        author_id=author.id,
        body_source=body,
        body_html=render_markdown(body),
        created_at=utcnow(),
        submission_key=submission_key,
    )
    saved = _insert_once(reply, author, submission_key)
    if saved is reply and _needs_review(author):
        reply.held_for_review = True
        db.session.flush()
    elif saved is reply and author.is_verified and question.published_at is not None:
        _publish_reply(reply, question)
    return saved


def _needs_review(author: User) -> bool:
    """Pre-moderation: a new account's posts wait for a moderator until one is published."""
    if author.is_staff or not runtime_settings.get(runtime_settings.PREMODERATE_NEW_ACCOUNTS):
        return False
    published = sa.union_all(
        sa.select(Question.id).where(
            Question.author_id == author.id, Question.published_at.is_not(None)
        ),
        sa.select(Reply.id).where(Reply.author_id == author.id, Reply.published_at.is_not(None)),
    )
    return not db.session.scalar(sa.select(sa.exists(published.subquery().select())))


def publish_reviewed(post: Question | Reply) -> bool:
    """A moderator approved ``post``: public now if its author's address is confirmed (else
    when it is). Returns whether it went public."""
    post.held_for_review = False
    db.session.flush()
    author = db.session.get(User, post.author_id)
    if not author.is_verified or post.published_at is not None:
        return False
    if isinstance(post, Question):
        _publish_question(post)
        return True
    question = db.session.get(Question, post.question_id)
    if question.published_at is None or question.deleted_at is not None:
        return False
    _publish_reply(post, question)
    return True


def publish_held_posts(author: User) -> int:
    """Publish what ``author`` wrote while unverified, oldest first; returns how many. Posts
    held for review wait for the moderator."""
    held_questions = db.session.scalars(
        sa.select(Question)
        .where(
            Question.author_id == author.id,
            Question.held_for_review.is_(False),
            Question.published_at.is_(None),
            Question.hidden_at.is_(None),
            Question.deleted_at.is_(None),
        )
        .order_by(Question.id)
    ).all()
    for question in held_questions:
        _publish_question(question)
    held_replies = db.session.scalars(
        sa.select(Reply)
        .join(Question, Question.id == Reply.question_id)
        .where(
            Reply.author_id == author.id,
            Reply.held_for_review.is_(False),
            Reply.published_at.is_(None),
            Reply.hidden_at.is_(None),
            Reply.deleted_at.is_(None),
            Question.published_at.is_not(None),
            Question.deleted_at.is_(None),
        )
        .order_by(Reply.id)
    ).all()
    for reply in held_replies:
        _publish_reply(reply, db.session.get(Question, reply.question_id))
    return len(held_questions) + len(held_replies)


def publish_own_held_post(actor: User, post: Question | Reply) -> None:
    """A verified author publishes a post still held from before their address was confirmed
    (held posts are not published automatically after a password reset: see accounts)."""
    if not permissions.is_author(actor, post) or not actor.is_verified or not actor.is_active:
        raise NotAllowed("Only its author, with a confirmed address, can publish this.")
    if post.published_at is not None or post.hidden_at is not None or post.deleted_at is not None:
        raise Conflict("This is not waiting to be published.")
    if post.held_for_review:
        raise Conflict("This is waiting for a moderator's review.")
    if isinstance(post, Question):
        _publish_question(post)
        return
    question = db.session.get(Question, post.question_id)
    if question.published_at is None or question.deleted_at is not None:
        raise Conflict("Its question is not public.")
    _publish_reply(post, question)


def _publish_question(question: Question) -> None:
    now = utcnow()
    question.published_at = now
    question.last_activity_at = now
    db.session.flush()
    signals.question_published.send(current_app._get_current_object(), question=question)


def _publish_reply(reply: Reply, question: Question) -> None:
    now = utcnow()
    reply.published_at = now
    question.reply_count = Question.reply_count + 1
    question.last_activity_at = now
    if reply.author_id != question.author_id and question.status == QuestionStatus.UNANSWERED:
        question.status = QuestionStatus.ANSWERED.value
    if db.session.get(User, reply.author_id).is_staff:
        question.first_response_at = question.first_response_at or now
        question.waiting_since = None
    elif question.first_response_at is not None and question.waiting_since is None:
        question.waiting_since = now
    db.session.flush()
    signals.reply_published.send(current_app._get_current_object(), reply=reply)


def _check_may_post(author: User) -> None:
    if not author.is_active:
        raise NotAllowed("Your account is suspended: it cannot post.")


def edit_question(actor: User, question: Question, subject: str, body: str) -> Question:
    if not permissions.can_edit(actor, question):
        raise NotAllowed("You can only edit your own questions.")
    subject, body = _clean_subject(subject), _clean_body(body)
    if subject != question.subject or body != question.body_source:
        revision = _keep_revision(actor, question)
        question.subject = subject
        _set_body(question, body)
        db.session.flush()
        signals.post_edited.send(
            current_app._get_current_object(), post=question, actor=actor, revision=revision
        )
    db.session.flush()
    return question


def edit_reply(actor: User, reply: Reply, body: str) -> Reply:
    if not permissions.can_edit(actor, reply):
        raise NotAllowed("You can only edit your own replies.")
    body = _clean_body(body)
    if body != reply.body_source:
        revision = _keep_revision(actor, reply)
        _set_body(reply, body)
        db.session.flush()
        signals.post_edited.send(
            current_app._get_current_object(), post=reply, actor=actor, revision=revision
        )
    db.session.flush()
    return reply


def _keep_revision(editor: User, post: Question | Reply) -> PostRevision:
    revision = PostRevision(
        post_type="question" if isinstance(post, Question) else "reply",
        post_id=post.id,
        editor_id=editor.id,
        subject=post.subject if isinstance(post, Question) else None,
        body_source=post.body_source,
        body_html=post.body_html,
    )
    db.session.add(revision)
    return revision


def revisions(post: Question | Reply) -> list[PostRevision]:
    """Earlier versions of ``post``, newest first, with their editors."""
    return list(
        db.session.scalars(
            sa.select(PostRevision)
            .where(
                PostRevision.post_type == ("question" if isinstance(post, Question) else "reply"),
                PostRevision.post_id == post.id,
            )
            .options(joinedload(PostRevision.editor))
            .order_by(PostRevision.id.desc())
        )
    )


def delete_question(actor: User, question: Question) -> None:
    """Soft-delete: the question disappears from every list; moderators can still see it."""
    if not permissions.can_delete(actor, question):
        raise NotAllowed("You can only delete your own questions.")
    question.deleted_at = utcnow()
    db.session.flush()
    signals.question_deleted.send(current_app._get_current_object(), question=question, actor=actor)


def hide_question(actor: User, question: Question, reason: str) -> None:
    """Hide a question from everyone but moderators (``reason`` "spam" for spam). For the
    moderation feature; announced with ``question_hidden``."""
    if not permissions.is_staff(actor):
        raise NotAllowed("Only moderators can hide questions.")
    if question.hidden_at is not None or question.deleted_at is not None:
        return
    question.hidden_at = utcnow()
    question.hidden_reason = reason[:500]
    db.session.flush()
    signals.question_hidden.send(
        current_app._get_current_object(), question=question, actor=actor, reason=reason
    )


def delete_reply(actor: User, reply: Reply) -> None:
    if not permissions.can_delete(actor, reply):
        raise NotAllowed("You can only delete your own replies.")
    question = db.session.get(Question, reply.question_id, with_for_update=_locking())
    reply.deleted_at = utcnow()
    if reply.published_at is not None and reply.hidden_at is None:
        question.reply_count = Question.reply_count - 1
    withdrawn = question.accepted_reply_id == reply.id
    if withdrawn:
        question.accepted_reply_id = None
    db.session.flush()
    _refresh_status(question)
    refresh_response_times(question)
    if withdrawn:
        signals.answer_withdrawn.send(
            current_app._get_current_object(), question=question, reply=reply, actor=actor
        )


def accept_answer(actor: User, question: Question, reply: Reply) -> None:
    """Mark ``reply`` as the answer (replacing any earlier one)."""
    if not permissions.can_accept(actor, question):
        raise NotAllowed("Only the person who asked can accept an answer.")
    if reply.question_id != question.id or not reply.is_public:
        raise NotFound("That reply is not part of this question.")
    _lock(question)
    if question.accepted_reply_id == reply.id:
        return
    question.accepted_reply_id = reply.id
    question.status = QuestionStatus.RESOLVED.value
    question.last_activity_at = utcnow()
    db.session.flush()
    signals.answer_accepted.send(
        current_app._get_current_object(), question=question, reply=reply, actor=actor
    )


def withdraw_answer(actor: User, question: Question) -> None:
    if not permissions.can_accept(actor, question):
        raise NotAllowed("Only the person who asked can withdraw an accepted answer.")
    _lock(question)
    if question.accepted_reply_id is None:
        raise Conflict("This question has no accepted answer.")
    reply = db.session.get(Reply, question.accepted_reply_id)
    question.accepted_reply_id = None
    db.session.flush()
    _refresh_status(question)
    signals.answer_withdrawn.send(
        current_app._get_current_object(), question=question, reply=reply, actor=actor
    )


def refresh_response_times(question: Question) -> None:
    """Settle ``first_response_at`` and ``waiting_since`` from the public replies (after a reply
    disappears or comes back): one aggregate query."""
    staff = User.role.in_([role.value for role in STAFF_ROLES])
    public = sa.and_(
        Reply.question_id == question.id,
        Reply.published_at.is_not(None),
        Reply.hidden_at.is_(None),
        Reply.deleted_at.is_(None),
    )
    first_staff, last_staff = db.session.execute(
        sa.select(sa.func.min(Reply.published_at), sa.func.max(Reply.published_at))
        .join(User, User.id == Reply.author_id)
        .where(public, staff)
    ).one()
    waiting = None
    if last_staff is not None:
        waiting = db.session.scalar(
            sa.select(sa.func.min(Reply.published_at))
            .join(User, User.id == Reply.author_id)
            .where(public, sa.not_(staff), Reply.published_at > last_staff)
        )
    question.first_response_at = _aware(first_staff)
    question.waiting_since = _aware(waiting)
    db.session.flush()


def _aware(moment: Any) -> datetime | None:
    """min()/max() bypass the column type on SQLite: make the value an aware UTC datetime."""
    if moment is None or (isinstance(moment, datetime) and moment.tzinfo is not None):
        return moment
    parsed = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return parsed.replace(tzinfo=UTC)


def _refresh_status(question: Question) -> None:
    if question.accepted_reply_id is not None:
        question.status = QuestionStatus.RESOLVED.value
        return
    answered = db.session.scalar(
        sa.select(
            sa.exists().where(
                Reply.question_id == question.id,
                Reply.author_id != question.author_id,
                Reply.published_at.is_not(None),
                Reply.hidden_at.is_(None),
                Reply.deleted_at.is_(None),
            )
        )
    )
    question.status = (QuestionStatus.ANSWERED if answered else QuestionStatus.UNANSWERED).value
    db.session.flush()


def _set_body(post: Question | Reply, body: str) -> None:
    post.body_source = body
    post.body_html = render_markdown(body)
    post.edited_at = utcnow()


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise DomainError("Write a subject for your question.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise DomainError(f"Keep the subject under {MAX_SUBJECT_LENGTH} characters.")
    return subject


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise DomainError("Write something first.")
    if len(body) > MAX_BODY_LENGTH:
        raise DomainError(f"Keep it under {MAX_BODY_LENGTH:,} characters.")
    return body


def question_submitted_with(author: User, key: str | None) -> Question | None:
    """The question ``author`` already posted from this form (a double submit), if any."""
    return _already_submitted(Question, author, key)


def _already_submitted(model: type[Post], author: User, key: str | None) -> Post | None:
    if not key:
        return None
    return db.session.scalar(
        sa.select(model).where(model.submission_key == key, model.author_id == author.id)
    )


def _insert_once(post: Post, author: User, key: str | None) -> Post:
    """Insert ``post``; if a concurrent request won with the same submission key, return its post.

    The unique constraint, not the look-up before it, is what keeps a double submit single.
    """
    try:
        with db.session.begin_nested():
            db.session.add(post)
    except IntegrityError:
        first = _already_submitted(type(post), author, key) if key else None
        if first is not None:
            return first
        if not key:
            raise
        # The key is someone else's (a form served from a shared cache, or a forged one): it
        # cannot make this post idempotent, so the post goes in without it.
        post.submission_key = None
        return _insert_once(post, author, None)
    return post


def _lock(question: Question) -> None:
    """Re-read the question under a row lock, so concurrent accepts apply one after the other."""
    db.session.flush()
    if db.engine.dialect.name != "sqlite":
        db.session.refresh(question, with_for_update=True)


def _locking() -> bool | None:
    """``FOR UPDATE`` where the database has row locks (SQLite serialises writers anyway)."""
    return None if db.engine.dialect.name == "sqlite" else True
