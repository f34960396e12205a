"""Runtime settings: switches moderators flip while the app runs, stored in the database.

Deploy-time configuration lives in ``config.py`` (environment); these are the few choices that
belong to the people running the community, changed on a settings page and audited there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import Mapped, mapped_column

from community.db import utcnow
from community.extensions import db


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    label: str
    # Whole numbers only: the inclusive range a value must lie in.
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any) -> Any:
        """``value`` if it fits this setting (type and range), else ValueError."""
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{self.key} is a yes/no setting")
            return value
        if isinstance(self.default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.key} is a whole number")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ValueError(f"{self.key} must be between {self.minimum} and {self.maximum}")
        return value


PREMODERATE_NEW_ACCOUNTS = Setting(
    "premoderate_new_accounts",
    False,
    "Hold the first post of new accounts until a moderator approves it",
)
# The support handbook's response-time targets (minutes of counted time; see hero.clock).
RESPONSE_GREAT_MINUTES = Setting(
    "response_great_minutes", 15, "Great: first response within (minutes)", 1, 10_080
)
RESPONSE_OKAY_MINUTES = Setting(
    "response_okay_minutes", 60, "Okay: first response within (minutes)", 2, 20_160
)
RESPONSE_LATE_MINUTES = Setting(
    "response_late_minutes",
    1440,
    "Late: first response within (minutes); later is too late",
    3,
    43_200,
)
# The one-hour reminder goes out when a question has waited this long (under "okay").
RESPONSE_REMINDER_MINUTES = Setting(
    "response_reminder_minutes",
    45,
    "Remind the team when a question has waited (minutes)",
    1,
    20_159,
)
RESPONSE_CLOCK_WORKING_HOURS = Setting(
    "response_clock_working_hours",
    False,
    "Count only each team's working hours on the response clock",
)
KNOWN = {
    setting.key: setting
    for setting in (
        PREMODERATE_NEW_ACCOUNTS,
        RESPONSE_GREAT_MINUTES,
        RESPONSE_OKAY_MINUTES,
        RESPONSE_LATE_MINUTES,
        RESPONSE_REMINDER_MINUTES,
        RESPONSE_CLOCK_WORKING_HOURS,
    )
}


class RuntimeSetting(db.Model):
    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


def get(setting: Setting) -> Any:
    row = db.session.get(RuntimeSetting, setting.key)
    return setting.default if row is None else row.value


def current() -> dict[str, Any]:
    """Every setting's value, read in one query and kept for the rest of the app context (a
    page that shows many clocks reads them once)."""
    cached = g.get("_runtime_settings")
    if cached is None:
        stored = dict(
            db.session.execute(
                sa.select(RuntimeSetting.key, RuntimeSetting.value).where(
                    RuntimeSetting.key.in_(list(KNOWN))
                )
            ).all()
        )
        cached = {key: stored.get(key, setting.default) for key, setting in KNOWN.items()}
        g._runtime_settings = cached
    return cached


def put(setting: Setting, value: Any, *, actor_id: int | None) -> bool:
    """Store ``value``; returns whether it changed. The caller audits and commits."""
    value = setting.check(value)
    g.pop("_runtime_settings", None)
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
