"""How questions, replies and accounts look in JSON: one shape everywhere in the API.

Only public facts: no email address, nothing hidden or deleted (the queries leave those out for
the public viewer). Timestamps are ISO 8601 in UTC with a ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from community.accounts.models import ApiToken, User
from community.questions.models import Page, Question, Reply, Topic
from community.questions.queries import PageThreads, QuestionList, Thread
from community.search.queries import SearchResults
from community.web import external_url


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def author(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.display_name}


def page(found: Page | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"url": found.url, "title": found.title}


def topic(found: Topic | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"slug": found.slug, "name": found.name}


def question(found: Question, replies: list[Reply] | None = None) -> dict[str, Any]:
    """A question; with ``replies`` (in order, the accepted one included), the thread."""
    data = {
        "id": found.id,
        "subject": found.subject,
        "body_markdown": found.body_source,
        "body_html": found.body_html,
        "author": author(found.author),
        "created_at": timestamp(found.created_at),
        "edited_at": timestamp(found.edited_at),
        "last_activity_at": timestamp(found.last_activity_at),
        "published": found.published_at is not None,
        "status": found.status,
        "accepted_reply_id": found.accepted_reply_id,
        "reply_count": found.reply_count,
        "pinned": found.pinned,
        "locked": found.locked,
        "topic": topic(found.topic),
        "page": page(found.origin_page),
        "html_url": external_url("questions.show", question_id=found.id, slug=found.slug),
    }
    if replies is not None:
        data["replies"] = [reply(item, found) for item in replies]
    return data


def reply(found: Reply, parent: Question) -> dict[str, Any]:
    return {
        "id": found.id,
        "question_id": found.question_id,
        "body_markdown": found.body_source,
        "body_html": found.body_html,
        "author": author(found.author),
        "created_at": timestamp(found.created_at),
        "edited_at": timestamp(found.edited_at),
        "published": found.published_at is not None,
        "accepted": found.id == parent.accepted_reply_id,
        "html_url": external_url(
            "questions.show", f"reply-{found.id}", question_id=parent.id, slug=parent.slug
        ),
    }


def thread(found: Thread) -> dict[str, Any]:
    replies = list(found.replies)
    if found.accepted is not None:  # the site shows it first; here every reply is in order
        replies.append(found.accepted)
        replies.sort(key=lambda item: (item.created_at, item.id))
    return question(found.question, replies)


def question_list(listing: QuestionList) -> dict[str, Any]:
    return {
        "questions": [question(item) for item in listing.questions],
        "next_cursor": listing.older.encode() if listing.older else None,
    }


def page_threads(threads: PageThreads) -> dict[str, Any]:
    return {
        "page": page(threads.page) if threads.page else {"url": threads.url, "title": ""},
        "questions": [
            question(item, threads.replies.get(item.id, [])) for item in threads.questions
        ],
        "next_cursor": threads.next_cursor.encode() if threads.next_cursor else None,
    }


def search_results(results: SearchResults) -> dict[str, Any]:
    cursor = results.next_cursor
    return {
        "query": results.query.text,
        "notices": list(results.notices),
        "results": [
            {
                "question": question(hit.question),
                "subject_html": str(hit.subject_html),
                "excerpt_html": str(hit.excerpt_html),
            }
            for hit in results.hits
        ],
        "next_cursor": cursor.encode() if cursor else None,
    }


def me(token: ApiToken) -> dict[str, Any]:
    user = token.user
    return {
        "id": user.id,
        "name": user.display_name,
        "role": user.role,
        "verified": user.is_verified,
        "token": {
            "id": token.id,
            "name": token.name,
            "prefix": token.display_prefix,
            "created_at": timestamp(token.created_at),
            "last_used_at": timestamp(token.last_used_at),
        },
    }
