"""The one function that says which documentation page a URL is.

Every write and every read goes through :func:`normalise_page_url`, so ``/docs/x/``,
``/docs/x/index.html`` and ``/docs/x?utm_source=y#setup`` all mean the same page.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
INDEX_FILES = ("index.html", "index.htm")
MAX_URL_LENGTH = 2000
# Characters left as they are in a path segment: RFC 3986 sub-delims, ":" and "@" (``quote``
# never escapes the unreserved ones).
_SEGMENT_SAFE = ":@!$&'()*+,;="
# A host name once IDNA-encoded: dot-separated labels of letters, digits, "-" and "_".
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class InvalidPageURL(ValueError):
    """The text is not an absolute http(s) URL of a page."""


def normalise_page_url(url: str, host_aliases: Mapping[str, str] | None = None) -> str:
    """Return the canonical form of a documentation page URL.

    Scheme and host are lower-cased (or replaced by the configured origin when the host has an
    alias), default ports dropped, query and fragment dropped, dot segments resolved, repeated and
    trailing slashes and a final ``index.html`` removed, and percent-encoding made uniform
    (unreserved characters decoded, everything else encoded as upper-case UTF-8 escapes).
    """
    text = (url or "").strip()
    if not text:
        raise InvalidPageURL("Enter the address of a page.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidPageURL("That address is too long.")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise InvalidPageURL("That address contains control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidPageURL("That is not a valid page address.") from error
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        raise InvalidPageURL("Use the full address of the page, starting with https://.")
    if port == 0:
        raise InvalidPageURL("That is not a valid page address.")
    if parts.username is not None or parts.password is not None:
        raise InvalidPageURL("Page addresses cannot contain a user name or password.")
    try:
        if parts.netloc.startswith("["):  # an IPv6 literal keeps its brackets
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        else:
            host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except ValueError as error:  # UnicodeError and AddressValueError are ValueErrors
        raise InvalidPageURL("That host name is not valid.") from error
    if not host.startswith("[") and not _HOST_NAME.fullmatch(host):
        raise InvalidPageURL("That host name is not valid.")

    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    for alias_host, origin in (host_aliases or {}).items():
        if netloc == alias_host.lower().rstrip("."):
            # The origin is normalised like any page URL (case, IDNA, default port).
            scheme, netloc = urlsplit(normalise_page_url(origin))[:2]
            break

    path = _normalise_path(parts.path)
    return urlunsplit((scheme, netloc, path, "", ""))


def page_origin(url: str) -> str:
    """``scheme://host[:port]`` of an already normalised page URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_path(url: str) -> str:
    """The path of an already normalised page URL (``/`` for the site's root)."""
    return urlsplit(url).path or "/"


def _normalise_path(raw_path: str) -> str:
    segments = [_normalise_segment(s) for s in raw_path.split("/")]
    resolved: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(segment)
    if resolved and resolved[-1].lower() in INDEX_FILES:
        resolved.pop()
    return "/" + "/".join(resolved)


def _normalise_segment(segment: str) -> str:
    # Decode every escape, then encode once with upper-case hex: "%7e", "~" and "%7E" all become
    # "~", "é" and "%c3%a9" become "%C3%A9", and an escaped "/" stays escaped inside its segment.
    return quote(unquote_to_bytes(segment), safe=_SEGMENT_SAFE)
