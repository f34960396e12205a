"""What the mirror writes into Zendesk: the ticket for a question and the notes that follow it.

Plain text (Zendesk's ``body``): the markdown people wrote reads well as it is, links are made
clickable by Zendesk, and nothing here is interpreted as HTML.
"""

from __future__ import annotations

from community.accounts.models import User
from community.questions.models import Question, Reply
from community.web import external_url

EXTERNAL_ID_PREFIX = "community-question-"
BASE_TAG = "community"
DELETED_TAG = "community_deleted"
SPAM_TAG = "community_spam"
HIDDEN_TAG = "community_hidden"
# Tags staff put on a question on the site that its ticket carries too.
MIRRORED_SITE_TAGS = ("feature_request",)


def external_id(question_id: int) -> str:
    """Stable and URL-safe: zenpy puts it in a query string without encoding it."""
    return f"{EXTERNAL_ID_PREFIX}{question_id}"


def question_id_from_external_id(value: str) -> int | None:
    if not value.startswith(EXTERNAL_ID_PREFIX):
        return None
    rest = value[len(EXTERNAL_ID_PREFIX) :]
    return int(rest) if rest.isdigit() else None


def thread_url(question: Question) -> str:
    return external_url("questions.show", question_id=question.id, slug=question.slug)


def reply_url(question: Question, reply_id: int) -> str:
    return external_url(
        "questions.show", question_id=question.id, slug=question.slug, _anchor=f"reply-{reply_id}"
    )


def marker(sequence: int) -> str:
    """The last line of every note: how a retry recognises a note that already arrived."""
    return f"(community update {sequence})"


def tags(question: Question) -> list[str]:
    found = [BASE_TAG]
    if question.topic is not None:
        found += [question.topic.slug, question.topic.team.slug]
    return found


def description(question: Question) -> str:
    lines = [
        f"{question.author.display_name} asked on the community:",
        "",
        question.body_source,
        "",
        f"Thread (answer there, not here): {thread_url(question)}",
    ]
    if question.origin_page is not None:
        lines.append(
            f"Asked on the doc page: {question.origin_page.display_title} "
            f"({question.origin_page.url})"
        )
    return "\n".join(lines)


def _role(author: User, question: Question) -> str:
    if author.id == question.author_id:
        return "the asker"
    if author.is_moderator:
        return "moderator"
    if author.is_staff:
        return f"{author.team.name} team" if author.team is not None else "team member"
    return "community member"


def reply_note(question: Question, reply: Reply, sequence: int) -> str:
    return "\n".join(
        [
            f"Reply from {reply.author.display_name} ({_role(reply.author, question)}):",
            "",
            reply.body_source,
            "",
            reply_url(question, reply.id),
            marker(sequence),
        ]
    )


def accepted_note(question: Question, reply: Reply, sequence: int) -> str:
    return "\n".join(
        [
            f"Answer accepted on the community: the reply from {reply.author.display_name}.",
            reply_url(question, reply.id),
            marker(sequence),
        ]
    )


def withdrawn_note(question: Question, sequence: int) -> str:
    return "\n".join(
        [
            "The accepted answer was withdrawn on the community; the question is open again.",
            thread_url(question),
            marker(sequence),
        ]
    )


def removed_note(question: Question, tag: str, sequence: int) -> str:
    what = {
        DELETED_TAG: "deleted",
        SPAM_TAG: "hidden as spam",
    }.get(tag, "hidden by a moderator")
    return "\n".join(
        [f"The question was {what} on the community.", thread_url(question), marker(sequence)]
    )


def restored_note(question: Question, sequence: int) -> str:
    return "\n".join(
        [
            "A moderator restored the question on the community.",
            thread_url(question),
            marker(sequence),
        ]
    )


def marked_note(question: Question, resolved: bool, sequence: int) -> str:
    what = "resolved" if resolved else "unresolved: it needs an answer again"
    return "\n".join(
        [f"A moderator marked the question {what}.", thread_url(question), marker(sequence)]
    )


def tagged_note(question: Question, what: str, sequence: int) -> str:
    return "\n".join([what or "Tagged on the community.", thread_url(question), marker(sequence)])


def followup_body(previous_ticket_id: int, question: Question, note: str | None) -> str:
    head = f"Follow-up of ticket #{previous_ticket_id}, which Zendesk has closed."
    return "\n\n".join([head, note or description(question)])
