from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.db import CreatedAtMixin
from community.extensions import db


class EmbedSignIn(CreatedAtMixin, db.Model):
    """A sign-in finished in a popup on the app's own origin, waiting for the embed that asked.

    The embed's session holds the random ``request`` (only its hash is stored here); the popup
    records who signed in against it, with a one-time ``code`` that it hands back to the embed
    by ``postMessage``. The embed redeems it once, with the request still in its own session,
    so a code or request seen elsewhere opens nothing.
    """

    __tablename__ = "embed_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # The account's session version when the popup signed in: a password change in between
    # (which ends every session) voids the hand-over too.
    session_version: Mapped[int]
    used_at: Mapped[datetime | None]
