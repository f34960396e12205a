"""Template filters and globals: how times, counts and people read on every page."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app

from community.db import utcnow

_UNITS = (
    ("year", 365 * 24 * 3600),
    ("month", 30 * 24 * 3600),
    ("week", 7 * 24 * 3600),
    ("day", 24 * 3600),
    ("hour", 3600),
    ("minute", 60),
)


def init_app(app: Flask) -> None:
    # Block tags leave no blank lines or indentation behind: about a tenth less HTML per page
    # (the embed's first view stays well under its 50 KB budget).
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(time_ago)
    app.add_template_filter(exact_time)
    app.add_template_filter(iso_time)
    app.add_template_filter(plural)
    app.jinja_env.globals["site_name"] = lambda: current_app.config["SITE_NAME"]


def time_ago(moment: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or utcnow()) - moment).total_seconds())
    if seconds < 45:
        return "just now"
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "1 minute ago"


def exact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"
