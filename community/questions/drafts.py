"""Write first, sign in after: what a visitor wrote before signing in waits here, then is posted.

The draft is stored in the database (not the cookie, which is too small for a long post) and the
session only holds its random token. When the visitor signs in or signs up, the
``user_signed_in`` receiver posts it; if that fails (the thread was locked meanwhile, say), the
draft stays and the visitor is taken to a page where the text is ready to edit and send.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, flash, session, url_for

from community.accounts.models import User
from community.db import utcnow
from community.errors import DomainError
from community.extensions import db
from community.questions import services
from community.questions.models import Draft, DraftKind, Question, Reply, Topic

SESSION_KEY = "draft_token"


def save_draft(kind: DraftKind, data: dict[str, Any], question_id: int | None = None) -> Draft:
    """Keep the visitor's text and remember it in their session (replacing an older draft)."""
    discard_draft()
    draft = Draft(
        token=secrets.token_urlsafe(32), kind=kind.value, question_id=question_id, data=data
    )
    db.session.add(draft)
    db.session.flush()
    session[SESSION_KEY] = draft.token
    return draft


def pending_draft() -> Draft | None:
    token = session.get(SESSION_KEY)
    if not token:
        return None
    oldest = utcnow() - timedelta(days=current_app.config["DRAFT_MAX_AGE_DAYS"])
    draft = db.session.scalar(
        sa.select(Draft).where(Draft.token == token, Draft.created_at >= oldest)
    )
    if draft is None:
        session.pop(SESSION_KEY, None)
    return draft


def discard_draft() -> None:
    token = session.pop(SESSION_KEY, None)
    if token:
        db.session.execute(sa.delete(Draft).where(Draft.token == token))


def forget_if_posted(submission_key: str | None) -> None:
    """The saved draft was sent from its own form (see ``/draft``): it is not needed any more."""
    if submission_key and session.get(SESSION_KEY) == submission_key:
        discard_draft()


def post_pending_draft(
    _sender: Flask, user: User, draft_token: str | None = None, **_extra: Any
) -> str | None:
    """``user_signed_in`` receiver: post the visitor's draft as ``user``; return where to go.

    The draft is the one in this browser's session or, after following the verification link
    (perhaps on another device), the one that link names."""
    if draft_token and not session.get(SESSION_KEY):
        session[SESSION_KEY] = draft_token
    draft = pending_draft()
    if draft is None:
        return None
    try:
        url = _post(draft, user)
    except DomainError as error:
        flash(f"We kept what you wrote, but could not post it: {error}", "error")
        return url_for("questions.draft")
    db.session.delete(draft)
    session.pop(SESSION_KEY, None)
    return url


def posted_message(what: str, post: Question | Reply) -> str:
    """The flash after posting: held posts say so, so nobody thinks theirs went out."""
    if post.held_for_review:
        return f"Thanks! Your {what} is saved: a moderator will publish it shortly."
    if post.published_at is None:
        return f"Your {what} is saved: it is published once you confirm your email address."
    return f"Your {what} is posted."


def _post(draft: Draft, user: User) -> str:
    data = draft.data
    # The draft's token doubles as the submission key: posting the same draft twice (a replayed
    # sign-in, two tabs) finds the first post instead of making a second.
    if draft.kind == DraftKind.REPLY:
        question = db.session.get(Question, draft.question_id) if draft.question_id else None
        if question is None:
            raise DomainError("the question is no longer available.")
        reply = services.post_reply(user, question, data["body"], submission_key=draft.token)
        flash(posted_message("reply", reply), "success")
        return url_for("questions.show", question_id=question.id, slug=question.slug) + (
            f"#reply-{reply.id}"
        )
    page = (
        services.resolve_page(data["page_url"], data.get("page_title"))
        if data.get("page_url")
        else None
    )
    topic = db.session.get(Topic, data["topic_id"]) if data.get("topic_id") else None
    question = services.ask_question(
        user, data["subject"], data["body"], page=page, topic=topic, submission_key=draft.token
    )
    flash(posted_message("question", question), "success")
    return url_for("questions.show", question_id=question.id, slug=question.slug)
