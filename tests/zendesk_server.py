"""A fake Zendesk on 127.0.0.1 for the mirror's tests; zenpy reaches it through
``ZENPY_FORCE_NETLOC`` and ``ZENPY_FORCE_SCHEME``.

It records every request (method, path, query, headers, JSON body) and implements what the
mirror uses of the Tickets API: create (honouring ``Idempotency-Key``, follow-ups through
``via_followup_source_id``), update (status, comments, tags; 422 once a ticket is closed), show,
list by ``external_id``, search by ``external_id`` and a ticket's comments. Tests script faults:
``fail(...)`` answers the next matching request with an error (500, 429 with Retry-After, 401,
...), ``hang(...)`` holds it past the client's timeout and then carries it out anyway, and
``reject_credentials`` answers 401 to everything.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

API = "/api/v2"
KEY_MISMATCH = {
    "error": "IdempotentRequestError",
    "description": "Request parameters don't match the given idempotency key",
}
CLOSED_ERROR = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status closed prevents ticket update"}]},
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any

    @property
    def ticket(self) -> dict[str, Any]:
        return self.body["ticket"]


@dataclass
class Fault:
    method: str | None
    path: str | None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    carry_out: bool = False  # after the delay, handle the request as if nothing happened

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, method)) and (self.path in (None, path))


@dataclass
class _Replay:
    body: Any
    done: threading.Event = field(default_factory=threading.Event)
    status: int = 0
    answer: Any = None


class FakeZendesk:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[str, int] = {}  # requester email -> end-user id
        self.faults: deque[Fault] = deque()
        self.reject_credentials = False
        self._replays: dict[str, _Replay] = {}
        self._lock = threading.RLock()
        self._next_id = 101
        self._next_comment = 9001
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner._handle(self, "GET")

            def do_POST(self) -> None:
                owner._handle(self, "POST")

            def do_PUT(self) -> None:
                owner._handle(self, "PUT")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeZendesk:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- scripting ---------------------------------------------------------------------------

    def fail(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int = 500,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (nothing is changed)."""
        if body is None:
            body = {"error": f"Fake{status}", "description": "scripted failure"}
        for _ in range(times):
            self.faults.append(Fault(method, path, status, headers or {}, body))

    def hang(self, method: str, path: str, seconds: float) -> None:
        """Hold the next matching request for ``seconds``, then carry it out anyway."""
        self.faults.append(Fault(method, path, delay=seconds, carry_out=True))

    def close(self, ticket_id: int) -> None:
        with self._lock:
            self.tickets[ticket_id]["status"] = "closed"

    # -- reading what happened -----------------------------------------------------------------

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def clear(self) -> None:
        self.requests.clear()

    def with_external_id(self, external_id: str) -> list[dict[str, Any]]:
        return [t for t in self.tickets.values() if t["external_id"] == external_id]

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every request that arrived has been answered (a hung one, say)."""
        deadline = time.monotonic() + timeout
        while any(not r.done.is_set() for r in self._replays.values()):
            if time.monotonic() > deadline:
                raise AssertionError("the fake Zendesk is still busy")
            time.sleep(0.02)

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        request = Request(
            method=method,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in http.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        with self._lock:
            self.requests.append(request)
        status, answer, headers = self._answer(request)
        payload = json.dumps(answer).encode()
        try:
            http.send_response(status)
            http.send_header("Content-Type", "application/json; charset=utf-8")
            http.send_header("Content-Length", str(len(payload)))
            http.send_header("X-Rate-Limit-Remaining", "399")
            for name, value in headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); what it asked for is done all the same

    def _answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if self.reject_credentials:
            return 401, {"error": "Couldn't authenticate you"}, {}
        key = request.headers.get("idempotency-key")
        creating = request.method == "POST" and request.path == f"{API}/tickets.json"
        replay = None
        if creating and key:
            with self._lock:
                replay = self._replays.get(key)
                if replay is None:
                    self._replays[key] = _Replay(body=request.body)
            if replay is not None:
                if replay.body != request.body:
                    return 400, KEY_MISMATCH, {}
                replay.done.wait(timeout=10)
                return replay.status, replay.answer, {"x-idempotency-lookup": "hit"}
        fault = self._take_fault(request)
        if fault is not None:
            time.sleep(fault.delay)
            if not fault.carry_out:
                if creating and key:
                    with self._lock:
                        self._replays.pop(key).done.set()  # failures are not remembered
                return fault.status, fault.body, fault.headers
        status, answer = self._route(request)
        headers = {}
        if creating and key:
            replay = self._replays[key]
            replay.status, replay.answer = status, answer
            replay.done.set()
            headers["x-idempotency-lookup"] = "miss"
        return status, answer, headers

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(request.method, request.path):
                    self.faults.remove(fault)
                    return fault
        return None

    def _route(self, request: Request) -> tuple[int, Any]:
        path, method = request.path, request.method
        with self._lock:
            if method == "POST" and path == f"{API}/tickets.json":
                return self._create(request.body["ticket"])
            if method == "GET" and path == f"{API}/tickets.json":
                found = self.with_external_id(request.query.get("external_id", ""))
                found.sort(key=lambda t: t["id"])
                return 200, {
                    "tickets": found,
                    "count": len(found),
                    "next_page": None,
                    "previous_page": None,
                }
            if method == "GET" and path == f"{API}/search.json":
                query = request.query.get("query", "")
                wanted = next(
                    (p.split(":", 1)[1] for p in query.split() if p.startswith("external_id:")), ""
                )
                found = [
                    {**t, "result_type": "ticket"} for t in self.with_external_id(wanted.strip('"'))
                ]
                return 200, {
                    "results": found,
                    "count": len(found),
                    "next_page": None,
                    "previous_page": None,
                }
            prefix = f"{API}/tickets/"
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                ticket_id = rest.split("/", 1)[0].removesuffix(".json")
                ticket = self.tickets.get(int(ticket_id)) if ticket_id.isdigit() else None
                if ticket is None:
                    return 404, {"error": "RecordNotFound", "description": "Not found"}
                if method == "GET" and rest.endswith("/comments.json"):
                    comments = self.comments[ticket["id"]]
                    return 200, {
                        "comments": comments,
                        "count": len(comments),
                        "next_page": None,
                        "previous_page": None,
                    }
                if method == "GET":
                    return 200, {"ticket": ticket}
                if method == "PUT":
                    return self._update(ticket, request.body["ticket"])
        return 404, {"error": "InvalidEndpoint", "description": "Not found"}

    def _create(self, fields: dict[str, Any]) -> tuple[int, Any]:
        ticket_id = self._next_id
        self._next_id += 1
        requester = fields.get("requester") or {}
        ticket = {
            "id": ticket_id,
            "url": f"http://{self.netloc}{API}/tickets/{ticket_id}.json",
            "external_id": fields.get("external_id"),
            "subject": fields.get("subject"),
            "status": fields.get("status", "new"),
            "priority": fields.get("priority"),
            "group_id": fields.get("group_id"),
            "assignee_id": None,
            "tags": list(fields.get("tags") or []),
            "requester_id": self._user_id(requester.get("email")),
            "via_followup_source_id": fields.get("via_followup_source_id"),
        }
        self.tickets[ticket_id] = ticket
        self.comments[ticket_id] = []
        self._comment(ticket_id, fields.get("comment"))
        return 201, {"ticket": ticket, "audit": self._audit(ticket_id)}

    def _user_id(self, email: str | None) -> int | None:
        if not email:
            return None
        return self.users.setdefault(email, 7001 + len(self.users))

    def _update(self, ticket: dict[str, Any], fields: dict[str, Any]) -> tuple[int, Any]:
        if ticket["status"] == "closed":
            return 422, CLOSED_ERROR
        for name in ("status", "priority", "group_id", "subject"):
            if name in fields:
                ticket[name] = fields[name]
        if "tags" in fields:
            ticket["tags"] = list(fields["tags"])
        for tag in fields.get("additional_tags") or []:
            if tag not in ticket["tags"]:
                ticket["tags"].append(tag)
        self._comment(ticket["id"], fields.get("comment"))
        return 200, {"ticket": ticket, "audit": self._audit(ticket["id"])}

    def _comment(self, ticket_id: int, comment: dict[str, Any] | None) -> None:
        if not comment:
            return
        self.comments[ticket_id].append(
            {
                "id": self._next_comment,
                "type": "Comment",
                "body": comment.get("body") or comment.get("html_body") or "",
                "public": comment.get("public", True),
                "author_id": 1,
            }
        )
        self._next_comment += 1

    def _audit(self, ticket_id: int) -> dict[str, Any]:
        self._next_comment += 1
        return {"id": self._next_comment, "ticket_id": ticket_id, "events": []}
