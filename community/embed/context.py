"""What an embed was opened with: the doc page, its title, a topic, a theme, and the docs site
that frames it. Every embed URL carries these, so each step (ask, reply, sign in) comes back to
the same embed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Request, current_app
from werkzeug.datastructures import MultiDict

from community.questions import services

THEMES = ("auto", "light", "dark")
MAX_TITLE = 300


class InvalidEmbed(ValueError):
    """The embed was opened with a page, or from a site, that it cannot serve."""


@dataclass(frozen=True)
class EmbedContext:
    page_url: str  # canonical
    title: str = ""
    topic: str = ""
    theme: str = "auto"
    # The docs site's origin (from the loader), used as postMessage's target: only the exact
    # parent gets our messages. Empty when opened directly (the preview, a plain link).
    origin: str = ""

    @classmethod
    def from_request(cls, request: Request) -> EmbedContext:
        args: MultiDict[str, str] = request.args
        try:
            page_url = services.canonical_page_url(args.get("url", ""))
        except services.InvalidPage as error:
            raise InvalidEmbed(str(error)) from error
        theme = args.get("theme", "auto")
        origin = args.get("origin", "").rstrip("/")
        own = request.host_url.rstrip("/")
        if origin and origin != own and origin not in framing_origins():
            raise InvalidEmbed(
                f"{origin} is not among the sites allowed to show these questions "
                "(EMBED_ALLOWED_ORIGINS)."
            )
        return cls(
            page_url=page_url,
            title=" ".join(args.get("title", "").split())[:MAX_TITLE],
            topic=args.get("topic", "")[:80],
            theme=theme if theme in THEMES else "auto",
            origin=origin,
        )

    def params(self, **extra: Any) -> dict[str, Any]:
        """Query parameters that reopen this embed (for url_for)."""
        values = {
            "url": self.page_url,
            "title": self.title or None,
            "topic": self.topic or None,
            "theme": self.theme if self.theme != "auto" else None,
            "origin": self.origin or None,
        }
        values.update(extra)
        return {key: value for key, value in values.items() if value is not None}


def framing_origins() -> list[str]:
    """The docs sites that may frame the embed (the app itself may too: the admin preview)."""
    return [str(origin).rstrip("/") for origin in current_app.config["EMBED_ALLOWED_ORIGINS"]]
