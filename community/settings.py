"""Runtime settings: switches moderators flip while the app runs, stored in the database.

Deploy-time configuration lives in ``config.py`` (environment); these are the few choices that
belong to the people running the community, changed on a settings page and audited there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.db import utcnow
from community.extensions import db


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    label: str


PREMODERATE_NEW_ACCOUNTS = Setting(
    "premoderate_new_accounts",
    False,
    "Hold the first post of new accounts until a moderator approves it",
)
KNOWN = {setting.key: setting for setting in (PREMODERATE_NEW_ACCOUNTS,)}


class RuntimeSetting(db.Model):
    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


def get(setting: Setting) -> Any:
    row = db.session.get(RuntimeSetting, setting.key)
    return setting.default if row is None else row.value


def put(setting: Setting, value: Any, *, actor_id: int | None) -> bool:
    """Store ``value``; returns whether it changed. The caller audits and commits."""
    row = db.session.get(RuntimeSetting, setting.key)
    if row is None:
        if value == setting.default:
            return False
        db.session.add(RuntimeSetting(key=setting.key, value=value, updated_by_id=actor_id))
    else:
        if row.value == value:
            return False
        row.value, row.updated_by_id = value, actor_id
    db.session.flush()
    return True
