"""Matched words, marked safely: the database marks them with two control characters that no
indexed text contains (they are removed before highlighting), then everything is escaped and
only those markers become ``<mark>`` elements.

The text marked is the plain text people wrote (subject, Markdown source), never HTML, so no
mark can land inside a tag or an attribute.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

START = "\x02"
STOP = "\x03"
_MARKERS = re.compile(f"([{START}{STOP}])")
# Markdown punctuation that reads as noise in a one-line excerpt.
_MARKDOWN_NOISE = re.compile(r"```+|\*\*+|__+|`|^#+\s|^>\s", re.MULTILINE)
_CONTROL = re.compile(r"[\x00\x01\x04-\x1f\x7f]+")


def marked_html(text: str | None) -> Markup:
    """``text`` escaped, with the parts between START and STOP in ``<mark>``.

    Unbalanced markers never produce unbalanced tags: a stray STOP is dropped and an open mark
    is closed at the end.
    """
    parts: list[str] = []
    marking = False
    for piece in _MARKERS.split(text or ""):
        if piece == START:
            if not marking:
                parts.append("<mark>")
                marking = True
        elif piece == STOP:
            if marking:
                parts.append("</mark>")
                marking = False
        elif piece:
            parts.append(str(escape(_CONTROL.sub(" ", piece))))
    if marking:
        parts.append("</mark>")
    # Safe: every piece of text was escaped above; the only markup added is <mark> and </mark>.
    return Markup("".join(parts).replace("<mark></mark>", ""))  # noqa: S704


def excerpt_html(text: str | None) -> Markup:
    """An excerpt of a Markdown body, as one line: Markdown punctuation and line breaks go."""
    flat = " ".join(_MARKDOWN_NOISE.sub("", text or "").split())
    return marked_html(flat)


def plain(text: str | None) -> str:
    """The text without markers (for JSON fields that are plain text)."""
    return _MARKERS.sub("", text or "")
