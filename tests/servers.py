"""Real servers on 127.0.0.1 that the tests start: SMTP (aiosmtpd) and a Slack webhook.

Both record what they receive and can be told how to answer, so tests can script failures.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


class _SMTPHandler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, _server, _session, envelope, address, _options):
        if self.server.rcpt_delay:
            await asyncio.sleep(self.server.rcpt_delay)
        answer = self.server.rcpt_answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server, _session, envelope):
        if self.server.data_answers:
            return self.server.data_answers.popleft()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        )
        return "250 Message accepted"


@dataclass
class SMTPServer:
    """``rcpt_answers[address] = "550 no such user"`` refuses one recipient;
    ``data_answers.append("421 try later")`` answers the next DATA so; ``rcpt_delay`` slows it."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    data_answers: deque[str] = field(default_factory=deque)
    rcpt_delay: float = 0.0
    _controller: Controller | None = None

    def start(self) -> SMTPServer:
        self._controller = Controller(_SMTPHandler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@dataclass
class SlackRequest:
    path: str
    body: dict[str, Any]


class SlackServer:
    """A fake Slack incoming-webhook endpoint. ``answers.append((500, {}))`` scripts the next
    response; by default it answers 200 "ok"."""

    def __init__(self) -> None:
        self.requests: list[SlackRequest] = []
        self.answers: deque[tuple[int, dict[str, str]]] = deque()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers = owner.answers.popleft() if owner.answers else (200, {})
                if status == 200:
                    owner.requests.append(SlackRequest(self.path, body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"error")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/services/community") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
