"""The Zendesk adapter: the only module that imports zenpy.

Built once per job (zenpy's API objects keep per-call state, so a client is never shared
between threads). It never sleeps: zenpy's own 429 handling would sleep for Retry-After inside
the worker, so ``ratelimit_budget=1`` makes it give up on the first 429 and the job is
rescheduled at Retry-After instead; proactive throttling (which also sleeps) stays off. Every
failure comes out as a ``TransientError`` (try again later) or a ``PermanentError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket, User
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException

from community.jobs.errors import PermanentError, TransientError


class CredentialsRejected(PermanentError):
    """401/403: the email or API token is wrong or lacks rights. Nothing works until fixed."""


class TicketClosed(PermanentError):
    """422 on an update: Zendesk closed the ticket, which then takes no more changes."""


class TicketGone(PermanentError):
    """404: the ticket was deleted in Zendesk."""


@dataclass(frozen=True)
class RemoteTicket:
    id: int
    status: str | None = None
    priority: str | None = None
    group_id: int | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class NewTicket:
    subject: str
    body: str
    external_id: str
    tags: list[str]
    priority: str
    requester_name: str | None = None
    requester_email: str | None = None
    group_id: int | None = None
    status: str | None = None
    followup_source_id: int | None = None

    def payload(self) -> dict[str, Any]:
        """The fields as sent, for deriving an Idempotency-Key that changes with the body."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


class _Session(requests.Session):
    """Adds ``Idempotency-Key`` to POSTs while one is set (zenpy has no per-call headers)."""

    idempotency_key: str | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if self.idempotency_key and str(method).upper() == "POST":
            kwargs["headers"] = {
                **(kwargs.get("headers") or {}),
                "Idempotency-Key": self.idempotency_key,
            }
        return super().request(method, url, *args, **kwargs)


# Only connection failures are retried here (nothing reached Zendesk). A request that may have
# been applied (a read timeout, a 5xx) fails the job, and the outbox retries it after checking
# what Zendesk already has, so a note is never posted twice by a blind resend.
_RETRIES = Retry(
    total=2,
    connect=2,
    read=0,
    status=0,
    other=0,
    redirect=0,
    backoff_factor=0.2,
    respect_retry_after_header=False,  # a 429 goes back to zenpy, and from there to the job
    raise_on_status=False,
)


@dataclass
class ZendeskClient:
    subdomain: str
    email: str
    token: str
    timeout: float
    _last_response: requests.Response | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._session = _Session()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=_RETRIES))
        self._session.hooks["response"].append(self._remember)
        self._zenpy = Zenpy(
            subdomain=self.subdomain,
            email=self.email,
            token=self.token,
            session=self._session,
            timeout=self.timeout,
            ratelimit_budget=1,  # give up on the first 429 instead of sleeping
            proactive_ratelimit=None,  # no throttling sleeps either
            disable_cache=True,  # zenpy's cache would answer reads with what we last wrote
        )

    def _remember(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._last_response = response

    def agent_url(self, ticket_id: int) -> str:
        return f"https://{self.subdomain}.zendesk.com/agent/tickets/{ticket_id}"

    def tickets_with_external_id(self, external_id: str) -> list[RemoteTicket]:
        """Every ticket carrying ``external_id`` (Zendesk does not keep it unique), oldest first."""
        with self._translate("looking up tickets"):
            found = [_remote(t) for t in self._zenpy.tickets(external_id=external_id)]
        return sorted(found, key=lambda t: t.id)

    def create_ticket(self, ticket: NewTicket, idempotency_key: str) -> RemoteTicket:
        fields: dict[str, Any] = {
            "subject": ticket.subject,
            "external_id": ticket.external_id,
            "tags": ticket.tags,
            "priority": ticket.priority,
            # Private: the asker hears from the site, not from a Zendesk trigger.
            "comment": Comment(body=ticket.body, public=False),
        }
        if ticket.requester_email:
            fields["requester"] = User(name=ticket.requester_name, email=ticket.requester_email)
        if ticket.group_id is not None:
            fields["group_id"] = ticket.group_id
        if ticket.status:
            fields["status"] = ticket.status
        if ticket.followup_source_id is not None:
            fields["via_followup_source_id"] = ticket.followup_source_id
        self._session.idempotency_key = idempotency_key
        try:
            with self._translate("creating a ticket"):
                audit = self._zenpy.tickets.create(Ticket(**fields))
        finally:
            self._session.idempotency_key = None
        return _remote(audit.ticket)

    def update_ticket(
        self,
        ticket_id: int,
        *,
        status: str | None = None,
        note: str | None = None,
        add_tags: list[str] | None = None,
    ) -> RemoteTicket:
        fields: dict[str, Any] = {"id": ticket_id}
        if status:
            fields["status"] = status
        if note:
            fields["comment"] = Comment(body=note, public=False)
        if add_tags:
            fields["additional_tags"] = add_tags
        with self._translate(f"updating ticket {ticket_id}"):
            audit = self._zenpy.tickets.update(Ticket(**fields))
        return _remote(audit.ticket)

    def comment_bodies(self, ticket_id: int) -> list[str]:
        with self._translate(f"reading the comments of ticket {ticket_id}"):
            return [c.body or "" for c in self._zenpy.tickets.comments(ticket=ticket_id)]

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        self._last_response = None
        try:
            yield
        except RatelimitBudgetExceeded as error:
            raise TransientError(
                f"Zendesk rate limit (429) while {doing}", retry_after=self._retry_after()
            ) from error
        except APIException as error:
            raise _from_status(error.response, doing, self._retry_after()) from error
        except requests.HTTPError as error:
            raise _from_status(error.response, doing, self._retry_after()) from error
        except requests.RequestException as error:  # timeouts, refused or reset connections
            raise TransientError(f"Zendesk unreachable while {doing}: {error}") from error
        except ZenpyException as error:  # an answer zenpy could not read
            raise TransientError(f"Zendesk answered oddly while {doing}: {error}") from error

    def _retry_after(self) -> float | None:
        response = self._last_response
        value = response.headers.get("Retry-After") if response is not None else None
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def _from_status(
    response: requests.Response | None, doing: str, retry_after: float | None
) -> Exception:
    status = response.status_code if response is not None else 0
    detail = _detail(response)
    message = f"Zendesk answered {status} while {doing}: {detail}"
    if status in (401, 403):
        return CredentialsRejected(f"Zendesk credentials rejected ({status}) while {doing}")
    if status == 404:
        return TicketGone(message)
    if status == 422 and "closed" in detail.lower():
        return TicketClosed(message)
    if status == 429 or status >= 500 or status == 0:
        return TransientError(message, retry_after=retry_after)
    return PermanentError(message)


def _detail(response: requests.Response | None) -> str:
    if response is None:
        return "no response"
    try:
        return json.dumps(response.json())[:500]
    except ValueError:
        return response.text[:200]


def _remote(ticket: Any) -> RemoteTicket:
    return RemoteTicket(
        id=int(ticket.id),
        status=ticket.status,
        priority=ticket.priority,
        group_id=ticket.group_id,
        external_id=ticket.external_id,
    )
