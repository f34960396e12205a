"""Stored public renderings of a doc page's questions: the read path that every docs page hits.

The embed and ``GET /api/v1/pages/questions`` show every anonymous visitor of a page the same
thing. Rendering it costs a few queries and milliseconds of templates or JSON; answering from a
stored rendering costs one indexed query. Correctness rests on two numbers compared in that query:

- ``pages.content_version``, which database triggers (migration 0020) raise in the same
  transaction as any write that changes what the page shows, bulk UPDATEs included, so no code
  path can forget to invalidate;
- the *build*: a fingerprint of the running code, templates and ``BASE_URL``, so a deploy that
  changes how a page renders never serves renderings made by the code before it.

A reader that finds the stored rendering out of date renders afresh and stores it (a read-through
cache; concurrent readers may both render, and the newer version wins). The version also makes
the ETag, so a conditional request is answered 304 after that one query, before any rendering.
The table is a cache: deleting its rows loses nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata

import sqlalchemy as sa
from flask import Flask, current_app, request
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.wrappers import Response

from community import ROOT, database
from community.db import utcnow
from community.extensions import db
from community.questions import page_cache
from community.questions.models import Page, PageSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    page_id: int | None  # None: no such page (nobody asked about it yet)
    version: int
    body: bytes | None  # the stored rendering (gzip), when it is current

    def etag(self, gzipped: bool) -> str | None:
        """Strong, so one per content coding; made from the version, so known before any
        rendering."""
        if self.page_id is None:
            return None
        return f"{self.page_id}.{self.version}.{build()[:10]}{'.gz' if gzipped else ''}"


_pages = Page.__table__
_snapshots = PageSnapshot.__table__
# Built once (a Core statement: no ORM on the path every docs page takes), with parameters.
_LOOKUP = (
    sa.select(_pages.c.id, _pages.c.content_version, _snapshots.c.version, _snapshots.c.body)
    .select_from(
        _pages.outerjoin(
            _snapshots,
            sa.and_(
                _snapshots.c.page_id == _pages.c.id,
                _snapshots.c.kind == sa.bindparam("kind"),
                _snapshots.c.build == sa.bindparam("build"),
            ),
        )
    )
    .where(_pages.c.url == sa.bindparam("url"))
)


def lookup(canonical_url: str, kind: str) -> Lookup:
    """The page's content version and, if current, its stored rendering: one query."""
    row = (
        database.connection()
        .execute(_LOOKUP, {"url": canonical_url, "kind": kind, "build": build()})
        .first()
    )
    if row is None:
        return Lookup(None, 0, None)
    page_id, version, stored_version, body = row
    return Lookup(page_id, version, body if stored_version == version else None)


# How many ways of opening one page (an embed's title, topic, theme, origin) are stored; the
# others are rendered for each reader, so made-up query strings cannot fill the table.
MAX_VARIANTS = 4


def _room_for(found: Lookup, kind: str, family: str) -> bool:
    others = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PageSnapshot)
        .where(
            PageSnapshot.page_id == found.page_id,
            PageSnapshot.kind.startswith(family, autoescape=True),
            PageSnapshot.kind != kind,
        )
    )
    return (others or 0) < MAX_VARIANTS


def store(found: Lookup, kind: str, body: bytes) -> None:
    """Keep ``body`` (gzip) as the page's rendering at ``found.version``, unless a newer one
    is kept.

    The caller rendered after reading the version, so the body is at least that new. A failure
    (the database busy, the page gone) costs only the next reader a rendering: logged, not
    raised.
    """
    if found.page_id is None:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "page_id": found.page_id,
        "kind": kind,
        "version": found.version,
        "build": build(),
        "body": body,
        "built_at": utcnow(),
    }
    statement = insert(PageSnapshot).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[PageSnapshot.page_id, PageSnapshot.kind],
        set_={key: statement.excluded[key] for key in ("version", "build", "body", "built_at")},
        where=sa.or_(
            PageSnapshot.version < statement.excluded.version,
            PageSnapshot.build != statement.excluded.build,
        ),
    )
    try:
        db.session.execute(statement)
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        log.warning("page %s: could not store its %s rendering: %s", found.page_id, kind, error)


def serve(
    canonical_url: str,
    kind: str,
    render: Callable[[Lookup], str],
    *,
    mimetype: str,
    cache_control: str,
    shareable: Callable[[], bool] = lambda: True,
    family: str | None = None,
) -> Response:
    """Answer a public read of a page from its stored rendering, rendering it when out of date.

    ``render`` must produce what any anonymous visitor would get: nothing about the requester.
    It is given the lookup, whose ``page_id`` is None when there is no such page yet. A
    rendering is stored only if ``shareable()`` still says so afterwards (the embed checks that
    rendering put nothing in the reader's session, such as a CSRF token). Kinds that share a
    ``family`` prefix are variants of one page: at most ``MAX_VARIANTS`` of them are stored.
    """
    found = lookup(canonical_url, kind)
    gzipped = request.accept_encodings["gzip"] > 0  # "gzip;q=0" refuses it
    etag = found.etag(gzipped)
    if etag is not None and request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        body = found.body
        if body is None:
            body = gzip.compress(render(found).encode(), compresslevel=6, mtime=0)
            if not shareable():
                log.error("page %s: its %s rendering was not for everyone", found.page_id, kind)
            else:
                page_cache.mark(found.page_id)
                if found.page_id is not None and (family is None or _room_for(found, kind, family)):
                    store(found, kind, body)
        else:
            page_cache.mark(found.page_id)
        if gzipped:  # what browsers ask for: sent as stored
            response = Response(body, mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(gzip.decompress(body), mimetype=mimetype)
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    if etag is None:  # an unknown page: no version to name, so the body is its own validator
        response.add_etag()
        return response.make_conditional(request)
    response.set_etag(etag)
    return response


def build() -> str:
    """This app's rendering build (see ``compute_build``), fixed when the app was created."""
    found = current_app.extensions.get("page_snapshot_build")
    if found is None:
        found = current_app.extensions["page_snapshot_build"] = compute_build(current_app)
    return found


# Libraries whose upgrade can change what a stored page holds (markup of forms, escaping, JSON).
_RENDERING_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "wtforms", "flask-wtf")


def compute_build(app: Flask) -> str:
    """A digest of what a stored rendering depends on besides the data: the app's modules and
    templates, the versions of the libraries that render, and the settings that show (the site's
    name, its base URL). Taken once, when the app is created: a worker of the old code never
    labels its renderings with the new code's build during a deploy."""
    digest = hashlib.sha256(_source_fingerprint().encode())
    for package in _RENDERING_PACKAGES:
        digest.update(f"{package}={metadata.version(package)};".encode())
    for setting in ("BASE_URL", "SITE_NAME"):
        digest.update(f"{setting}={app.config.get(setting)};".encode())
    return digest.hexdigest()[:16]


@cache
def _source_fingerprint() -> str:
    """A digest of every Python module and template of the app, read once per process."""
    digest = hashlib.sha256()
    for folder, pattern in ((ROOT / "community", "*.py"), (ROOT / "templates", "*.html")):
        for path in sorted(folder.rglob(pattern)):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
