"""How often one address may search: the site, the API and the ask forms' lookups share their
counters across routes, so a second entrance never doubles the budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import request

from community.extensions import limiter

SEARCH_PER_IP = "60/minute;600/hour"
# A visitor typing a subject asks after every pause: more often than anyone searches.
SIMILAR_PER_IP = "120/minute;1200/hour"

View = TypeVar("View", bound=Callable)


def _not_searching() -> bool:
    return not request.args.get("q", "").strip()


def search_limit(view: View) -> View:
    """For routes that list without ``q`` and search with it: only searching counts."""
    return limiter.shared_limit(SEARCH_PER_IP, "search", exempt_when=_not_searching)(view)


def similar_limit(view: View) -> View:
    return limiter.shared_limit(SIMILAR_PER_IP, "similar-questions")(view)
