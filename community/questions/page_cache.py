"""The page reads every docs page makes, answered in front of the app from memory.

``GET /api/v1/pages/questions`` and a first-time visitor's ``/embed`` are the same for everyone
and stored as whole renderings (see ``snapshots``); answering one from the store still costs a
database round trip and a trip through Flask. This WSGI layer keeps, in each worker process, the
responses the app marked as shareable, and answers a repeated request for them without entering
Flask or the database at all.

What may be answered from here: a GET with no Cookie, no Authorization and no condition but
If-None-Match, for one of the cached routes, whose exact URL (scheme, host, mount point, path,
query string) and choice of gzip were answered 200 before with a response the app marked
(``mark``). Everything else goes to the app. A cached response carries the headers the app sent
(less ``Date``, which the server adds to each); a matching If-None-Match gets the 304 the app
would have sent.

Current, because the database says when a page changes:

- on PostgreSQL, a trigger (migration 0021) announces each page whose content version changes
  with ``NOTIFY community_pages`` when its transaction commits; a thread in each worker
  ``LISTEN``s and drops that page's responses. Page inserts and URL changes announce ``new``,
  which drops the responses for pages that did not exist. While the listener is not connected
  (starting, or the connection lost and not yet taken again), nothing is answered from here,
  and everything is dropped when it reconnects: notifications missed meanwhile cannot leave
  anything stale. Every ``HEARTBEAT_SECONDS`` the listener notifies itself and waits to hear
  it back: a connection that stops delivering (a dead network, or a pooler in transaction mode
  that ran the LISTEN on a connection it has since handed to someone else) turns the cache off
  within a few seconds. The listener needs a direct or session-mode connection.
- on SQLite, ``PRAGMA data_version`` on a connection of the cache's own tells, for the price of
  a function call, whether any other connection (any process) committed since it last asked; if
  so, everything is dropped. Writes are rare next to reads on a docs site.

A request that began before an invalidation never stores what it read (the epochs below), so a
slow rendering of the old content cannot outlive the change. Freshness across workers is as
fast as a notification: a reader may see a page as it was for the milliseconds between a
write's commit and its notification's arrival. The JSON read already says ``max-age=30``; the
embed is what a reader would have got a moment earlier.

The memory is bounded (``PAGE_CACHE_MB`` per worker, least recently used first out); 0 turns
the cache off. Its counters are in ``stats()``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from flask import Flask, request
from werkzeug.datastructures import ETags
from werkzeug.http import parse_accept_header, parse_etags, unquote_etag

from community.extensions import db

log = logging.getLogger(__name__)

CHANNEL = "community_pages"
# What a notification or a mark names: a page's id, or this for the pages that do not exist.
ABSENT = "absent"
ENVIRON_KEY = "community.page_cache.tag"
# The routes whose views mark responses (the endpoints whose paths are cached).
ENDPOINTS = ("api.page_questions", "embed.page")
HEARTBEAT_SECONDS = 2.0
LISTENER_NAME = "community page cache"
# Headers a 304 does not repeat (as Werkzeug strips them from its own 304s).
_ENTITY_HEADERS = frozenset(
    {
        "allow",
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-range",
        "content-type",
        "last-modified",
    }
)
# What a cached entry costs besides its body: the key, the headers, the bookkeeping.
_ENTRY_OVERHEAD = 512
# How many tags' last invalidation is remembered before the memory is reset (see _invalidated).
_MAX_REMEMBERED = 50_000
# Entries per page (its ways of opening the embed and the JSON, each in two codings; made-up
# spellings of its URL beyond these push out its oldest), and for pages that do not exist.
_MAX_PER_PAGE = 16
_MAX_ABSENT = 1024
# Request headers that ask for something else than the stored answer or its 304.
_OTHER_CONDITIONS = (
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
)
# Headers the server sets on each response: never replayed.
_PER_RESPONSE = frozenset({"date"})

Tag = int | str
Key = tuple[str, str, str, str, str, bool]


def mark(page_id: int | None) -> None:
    """Say that the current response is the page's public rendering: the same for every
    anonymous reader of this URL until the page changes. Called by ``snapshots.serve``."""
    request.environ[ENVIRON_KEY] = ABSENT if page_id is None else page_id


@dataclass(frozen=True, slots=True)
class Entry:
    status: str
    headers: list[tuple[str, str]]
    not_modified: list[tuple[str, str]]  # the 304's headers
    body: bytes
    etag: str | None
    tag: Tag
    size: int


class Watcher(Protocol):
    """Tells the cache when the database changed (see the module's docstring)."""

    def ready(self) -> bool: ...
    def settle(self, timeout: float = 5.0) -> None: ...
    def stop(self) -> None: ...


class PageCache:
    """The WSGI layer. ``watcher`` calls ``invalidate`` and ``invalidate_all``."""

    def __init__(self, app: Callable, paths: Iterable[str], max_bytes: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.max_bytes = max_bytes
        self.watcher: Watcher | None = None
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._keys_of: dict[Tag, dict[Key, None]] = {}  # in the order stored
        self._bytes = 0
        self._lock = threading.Lock()
        # Every invalidation takes a new epoch. A request remembers the epoch it began in and
        # may store only if nothing it could have read was invalidated since: not its tag
        # (``_invalidated``), not everything (``_floor``).
        self._epoch = 0
        self._floor = 0
        self._invalidated: dict[Tag, int] = {}
        self._gzip_choices: dict[str, bool] = {}
        self.counts = {"hits": 0, "not_modified": 0, "misses": 0, "stored": 0, "dropped": 0}

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if (
            environ["REQUEST_METHOD"] != "GET"
            or environ.get("PATH_INFO") not in self.paths
            or "HTTP_COOKIE" in environ
            or "HTTP_AUTHORIZATION" in environ
            or any(name in environ for name in _OTHER_CONDITIONS)
            or self.watcher is None
            or not self.watcher.ready()
        ):
            return self.app(environ, start_response)
        key = (
            environ["wsgi.url_scheme"],
            environ.get("HTTP_HOST", ""),
            environ.get("SCRIPT_NAME", ""),  # links are built under it: never shared across
            environ["PATH_INFO"],
            environ.get("QUERY_STRING", ""),
            self._takes_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")),
        )
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            began = self._epoch
        if entry is not None:
            return self._counted(entry, environ, start_response)
        return self._fill(key, began, environ, start_response)

    def _answer(
        self, entry: Entry, condition: str | None, start_response: Callable
    ) -> Iterable[bytes]:
        if condition and entry.etag is not None and _matches(parse_etags(condition), entry):
            start_response("304 NOT MODIFIED", list(entry.not_modified))
            return []
        start_response(entry.status, list(entry.headers))
        return [entry.body]

    def _counted(
        self, entry: Entry, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        condition = environ.get("HTTP_IF_NONE_MATCH")
        answer = self._answer(entry, condition, start_response)
        self.counts["not_modified" if answer == [] else "hits"] += 1
        return answer

    def _fill(
        self, key: Key, began: int, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        """Ask the app, keep what it marked, and answer the reader. A reader revalidating
        (If-None-Match) is asked for without the condition, so that the whole answer (from the
        store of renderings: cheap) can be kept, and the condition is answered from it: browsers
        revalidate the embed on every visit, and would otherwise never fill the cache."""
        self.counts["misses"] += 1
        condition = environ.pop("HTTP_IF_NONE_MATCH", None)
        sent: dict[str, Any] = {}

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is not None and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            sent["status"], sent["headers"] = status, headers
            return _no_write

        answer = self.app(environ, remember)
        status, sent_headers = sent["status"], sent["headers"]
        tag = environ.get(ENVIRON_KEY)
        if (
            tag is None
            or not status.startswith("200 ")
            or any(name.lower() == "set-cookie" for name, _ in sent_headers)
        ):  # not for everyone (a mark with a cookie would name a reader): as the app said
            start_response(status, sent_headers)
            return answer
        # A copy (a server may add to the list it was given), less what is per response.
        headers = [(n, v) for n, v in sent_headers if n.lower() not in _PER_RESPONSE]
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        etag = next((value for name, value in headers if name.lower() == "etag"), None)
        entry = Entry(
            status=status,
            headers=headers,
            not_modified=[(n, v) for n, v in headers if n.lower() not in _ENTITY_HEADERS],
            body=body,
            etag=etag,
            tag=tag,
            size=len(body)
            + _ENTRY_OVERHEAD
            + sum(len(part) for part in key[:5])
            + 2 * sum(len(n) + len(v) for n, v in headers),
        )
        self._store(key, began, entry)
        return self._answer(entry, condition, start_response)

    def _takes_gzip(self, accept_encoding: str) -> bool:
        """As the app decides it (``gzip;q=0`` refuses), remembered per header value: browsers
        send a handful of them."""
        choice = self._gzip_choices.get(accept_encoding)
        if choice is None:
            choice = parse_accept_header(accept_encoding)["gzip"] > 0
            if len(self._gzip_choices) > 256:
                self._gzip_choices.clear()
            self._gzip_choices[accept_encoding] = choice
        return choice

    # -- the entries --------------------------------------------------------------------------

    def _store(self, key: Key, began: int, entry: Entry) -> None:
        if entry.size > self.max_bytes // 8:
            return  # one huge page may not push out hundreds of others
        # Asked first and outside the lock: a watcher that finds a change invalidates (which
        # takes the lock) and so raises the floor above ``began``.
        if self.watcher is None or not self.watcher.ready():
            return
        with self._lock:
            if began < self._floor or self._invalidated.get(entry.tag, -1) > began:
                return  # the page changed while this response was made: it may be stale
            self._drop(key)
            self._entries[key] = entry
            keys = self._keys_of.setdefault(entry.tag, {})
            keys[key] = None
            self._bytes += entry.size
            self.counts["stored"] += 1
            while len(keys) > (_MAX_ABSENT if entry.tag == ABSENT else _MAX_PER_PAGE):
                self._drop(next(iter(keys)))
            while self._bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.size
        keys = self._keys_of.get(entry.tag)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._keys_of[entry.tag]
        self.counts["dropped"] += 1

    def invalidate(self, tag: Tag) -> None:
        """The page ``tag`` (or, for ``ABSENT``, the set of pages) changed."""
        with self._lock:
            self._epoch += 1
            if len(self._invalidated) >= _MAX_REMEMBERED:
                self._invalidated.clear()
                self._floor = self._epoch  # forgetting tags must not let a stale store in
            self._invalidated[tag] = self._epoch
            for key in list(self._keys_of.get(tag, ())):
                self._drop(key)

    def invalidate_all(self) -> None:
        with self._lock:
            self._epoch += 1
            self._floor = self._epoch
            self._invalidated.clear()
            self.counts["dropped"] += len(self._entries)
            self._entries.clear()
            self._keys_of.clear()
            self._bytes = 0

    def stats(self) -> dict[str, Any]:
        ready = self.watcher is not None and self.watcher.ready()  # may invalidate: not locked
        with self._lock:
            return {
                **self.counts,
                "entries": len(self._entries),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "ready": ready,
            }


def _no_write(_data: bytes) -> None:
    raise RuntimeError("the page cache does not support WSGI's write(): return the body")


def _matches(condition: ETags, entry: Entry) -> bool:
    """As the app compares: a page's version tag strongly (``snapshots.serve``), the body hash
    of a page that does not exist weakly (Werkzeug's ``make_conditional``)."""
    etag, _weak = unquote_etag(entry.etag)
    if entry.tag == ABSENT:
        return condition.contains_weak(etag)
    return condition.contains(etag)


# -- knowing when the database changed ---------------------------------------------------------


class SqliteWatcher:
    """``PRAGMA data_version`` on a read-only connection of its own: it changes whenever another
    connection, in any process, commits."""

    def __init__(self, cache: PageCache, path: str) -> None:
        self.cache = cache
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._version: int | None = None

    def ready(self) -> bool:
        with self._lock:
            try:
                version = self._read()
            except sqlite3.Error as error:
                log.warning("page cache: cannot read the database's version: %s", error)
                if self._connection is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._connection.close()
                self._connection = None
                return False
        if version != self._version:
            self.cache.invalidate_all()
            self._version = version
        return True

    def _read(self) -> int:
        if self._connection is None or self._pid != os.getpid():  # a fork gets its own
            self._connection = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
            self._pid = os.getpid()
            self._version = None
        return self._connection.execute("PRAGMA data_version").fetchone()[0]

    def settle(self, timeout: float = 5.0) -> None:
        """Nothing to wait for: every lookup asks the database first."""

    def stop(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class PostgresWatcher:
    """A thread per worker process that ``LISTEN``s on ``CHANNEL`` (see the module's docstring).

    It starts with the first request of each process (a fork does not inherit threads)."""

    def __init__(self, cache: PageCache, connect: Callable[[], Any]) -> None:
        self.cache = cache
        self.connect = connect
        self._pid = 0
        self._listening = False
        self._confirmed_at = 0.0
        self._stopping = threading.Event()
        self._start_lock = threading.Lock()
        self._settled: dict[str, threading.Event] = {}
        self._beat = ""  # the payload of the last heartbeat sent, until it is heard
        self.heartbeat = HEARTBEAT_SECONDS

    def ready(self) -> bool:
        if self._pid != os.getpid():
            self._start()
            return False
        return self._listening and time.monotonic() - self._confirmed_at < 2 * self.heartbeat + 1

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._listening = False
            self._stopping.clear()
            threading.Thread(target=self._listen, name="page-cache-listener", daemon=True).start()

    def _listen(self) -> None:
        pause = 0.5
        while not self._stopping.is_set():
            try:
                with self.connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # Whatever changed before this point was not heard: start from nothing.
                    self.cache.invalidate_all()
                    self._confirmed_at = time.monotonic()
                    self._listening = True
                    pause = 0.5
                    log.info("page cache: listening for page changes")
                    while not self._stopping.is_set():
                        # A beat heard back proves that the notifications before it were
                        # heard too (one connection delivers in order).
                        self._beat = f"beat:{uuid.uuid4().hex}"
                        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._beat))
                        for notice in connection.notifies(timeout=self.heartbeat):
                            self._heard(notice.payload)
            except Exception as error:
                if self._stopping.is_set():
                    break
                log.warning("page cache: lost the database's notifications (%s); retrying", error)
            finally:
                self._listening = False
                self.cache.invalidate_all()
            self._stopping.wait(pause)
            pause = min(pause * 2, 10.0)

    def _heard(self, payload: str) -> None:
        if payload.isdigit():
            self.cache.invalidate(int(payload))
        elif payload == "new":
            self.cache.invalidate(ABSENT)
        elif payload == self._beat:
            now = time.monotonic()
            if now - self._confirmed_at >= 2 * self.heartbeat + 1:
                # Heard again after the cache stood aside: what was missed meanwhile is unknown.
                self.cache.invalidate_all()
            self._confirmed_at = now
        elif payload == "all":  # a TRUNCATE
            self.cache.invalidate_all()
        elif payload.startswith("settle:"):
            event = self._settled.get(payload)
            if event is not None:
                event.set()

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every notification committed before this call has been heard: one sent
        now arrives after them (PostgreSQL delivers in commit order). For tests and tools."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the page cache is not listening")
            time.sleep(0.01)
        payload = f"settle:{uuid.uuid4().hex}"
        event = self._settled[payload] = threading.Event()
        try:
            with self.connect() as connection:
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            if not event.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("the page cache did not hear its own notification")
        finally:
            del self._settled[payload]

    def stop(self) -> None:
        self._stopping.set()


# -- setting it up -------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Put the cache in front of ``app.wsgi_app`` when ``PAGE_CACHE_MB`` is above 0 and the
    database can say when pages change (PostgreSQL, or an SQLite file)."""
    megabytes = app.config["PAGE_CACHE_MB"]
    if not megabytes:
        return
    paths = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint in ENDPOINTS]
    cache = PageCache(app.wsgi_app, paths, int(megabytes * 1024 * 1024))
    with app.app_context():
        engine = db.engine
    url = engine.url
    if engine.dialect.name == "postgresql":
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
        cache.watcher = PostgresWatcher(
            cache, _postgres_connector(engine, options.get("connect_args") or {})
        )
    elif engine.dialect.name == "sqlite" and url.database and url.database != ":memory:":
        cache.watcher = SqliteWatcher(cache, url.database)
    else:
        log.info("page cache: off (this database cannot say when pages change)")
        return
    app.wsgi_app = cache  # type: ignore[method-assign]
    app.extensions["page_cache"] = cache


def _postgres_connector(engine: sa.Engine, connect_args: dict[str, Any]) -> Callable[[], Any]:
    """Connections as the app's engine makes them (its URL and ``connect_args``: TLS and the
    like), in autocommit, giving up on a dead peer in seconds rather than minutes."""
    import psycopg

    args, params = engine.dialect.create_connect_args(engine.url)
    params = {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,  # ms: unacknowledged data (the heartbeat) on a dead link
        **params,
        "application_name": LISTENER_NAME,  # as pg_stat_activity shows it
        **connect_args,
    }

    def connect() -> Any:
        return psycopg.connect(*args, autocommit=True, **params)

    return connect


def of(app: Flask) -> PageCache | None:
    """The app's page cache, if it has one."""
    return app.extensions.get("page_cache")
