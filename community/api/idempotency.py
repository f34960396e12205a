"""``Idempotency-Key`` on the API's POSTs, carried by the posts' own ``submission_key``.

The stored key is two hashes: of (account, kind of post, target, the client's key), then of the
request's fields. So a retry with the same key and body finds the first post (the services and
their unique constraint already make a repeated submission key one post), keys of different
accounts never meet, and the same key with a different body is refused with 422, as the IETF
draft (draft-ietf-httpapi-idempotency-key-header) asks, instead of quietly making a second post.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import request

from community.accounts.models import User
from community.api.http import ApiProblem
from community.extensions import db
from community.questions.models import Question, Reply

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_IDENTITY_CHARS = 40  # + 24 for the request's fields: the column holds 64
Post = TypeVar("Post", Question, Reply)


def key_from_request() -> str | None:
    """The client's key: 1 to 255 visible ASCII characters (a UUID is typical), else 400."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise ApiProblem(
            400,
            "Invalid Idempotency-Key",
            f"Use 1 to {MAX_KEY_LENGTH} visible ASCII characters, such as a UUID.",
        )
    return key


def submission_key(author: User, kind: str, target: str, key: str, fields: dict[str, Any]) -> str:
    identity = _digest(f"api\x00{author.id}\x00{kind}\x00{target}\x00{key}")
    request_digest = _digest(json.dumps(fields, sort_keys=True, ensure_ascii=True))
    return identity[:_IDENTITY_CHARS] + request_digest[: 64 - _IDENTITY_CHARS]


def earlier_post(model: type[Post], author: User, submission: str) -> Post | None:
    """The post an earlier request with this key made, or None; 422 when that request had other
    fields."""
    found = db.session.scalar(
        sa.select(model).where(
            model.author_id == author.id,
            model.submission_key.startswith(submission[:_IDENTITY_CHARS], autoescape=True),
        )
    )
    if found is not None and found.submission_key != submission:
        raise ApiProblem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was already used for a request with a different body.",
        )
    return found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
