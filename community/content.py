"""The one place that turns user markdown into HTML that is safe to show.

markdown-it-py renders CommonMark (raw HTML disabled, so it shows as text), then bleach cleans the
result against an explicit allowlist and linkifies bare URLs inside the same pass, so nothing
touches the HTML after it was sanitised. Posts are rendered once, on write, and both the source
and this output are stored.
"""

from __future__ import annotations

import re
from functools import partial

import bleach
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
        "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if tag == "a":
        return name in {"href", "title"}
    if tag == "img":
        return name in {"src", "alt", "title"}
    if tag == "code":
        return name == "class" and bool(_LANGUAGE_CLASS.fullmatch(value))
    if tag == "ol":
        return name == "start" and value.isdigit()
    if tag == "abbr":
        return name == "title"
    return False


def _link_attributes(attrs: dict, new: bool = False) -> dict:
    """Mark every link (written or linkified) as user-generated, never followed by crawlers."""
    attrs[(None, "rel")] = LINK_REL
    return attrs


_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable("table")
    .enable("strikethrough")
)

_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allowed_attribute,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_link_attributes], skip_tags={"pre", "code"})],
)


def render_markdown(source: str) -> str:
    """Render user markdown to sanitised HTML (idempotent under a second clean)."""
    return _cleaner.clean(_markdown.render(source)).strip()


def sanitise_html(html: str) -> str:
    """Clean HTML that did not come from :func:`render_markdown` with the same allowlist."""
    return _cleaner.clean(html).strip()
