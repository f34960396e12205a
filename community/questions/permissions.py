"""Who may do what with a question or reply. Services enforce these; templates mirror them."""

from __future__ import annotations

from typing import Protocol

from community.accounts.access import needs_two_factor_enrolment
from community.questions.models import Question, Reply


class Viewer(Protocol):
    is_authenticated: bool
    id: int
    is_moderator: bool


def is_staff(viewer: Viewer) -> bool:
    """Moderator powers; with REQUIRE_MODERATOR_2FA, only once two-factor is set up."""
    return bool(
        viewer.is_authenticated and viewer.is_moderator and not needs_two_factor_enrolment(viewer)
    )


def is_author(viewer: Viewer, post: Question | Reply) -> bool:
    return bool(viewer.is_authenticated and viewer.id == post.author_id)


def can_view(viewer: Viewer, post: Question | Reply) -> bool:
    if post.is_public or is_staff(viewer):
        return True
    # Authors keep seeing their own held posts ("check your inbox to publish"), not deleted ones.
    return is_author(viewer, post) and post.deleted_at is None and post.hidden_at is None


def can_edit(viewer: Viewer, post: Question | Reply) -> bool:
    return post.deleted_at is None and (is_author(viewer, post) or is_staff(viewer))


can_delete = can_edit


def can_reply(viewer: Viewer, question: Question) -> bool:
    """Anyone may start a reply (visitors sign in on submit), unless the thread is locked."""
    return question.deleted_at is None and (not question.locked or is_staff(viewer))


def can_accept(viewer: Viewer, question: Question) -> bool:
    return question.deleted_at is None and (is_author(viewer, question) or is_staff(viewer))


def can_flag(viewer: Viewer, post: Question | Reply) -> bool:
    """Members report others' public posts to the moderators."""
    return bool(viewer.is_authenticated and post.is_public and viewer.id != post.author_id)


def is_team(viewer: Viewer) -> bool:
    """Team members, moderators and admins: they answer, see the queues and claim questions."""
    return bool(viewer.is_authenticated and getattr(viewer, "is_staff", False))


def can_claim(viewer: Viewer, question: Question) -> bool:
    return is_team(viewer) and question.deleted_at is None
