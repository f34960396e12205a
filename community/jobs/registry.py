"""Job kinds and their handlers. Features register handlers when the app is created."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Handler = Callable[[dict[str, Any]], None]

_handlers: dict[str, Handler] = {}
_writes_first: set[str] = set()


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta
    function: Callable[[datetime], int]


_periodic: dict[str, Periodic] = {}


def periodic(name: str, *, every: timedelta) -> Callable[[Callable], Callable]:
    """Register ``function(now)`` to run in the worker loop about every ``every``: a cheap
    sweep that finds what fell due (a reminder) and queues jobs for it with dedupe keys, so
    several workers sweeping at once still queue each job once. It runs in an app context and
    its own transaction, which the worker commits; it returns how many jobs it queued."""

    def register(function: Callable[[datetime], int]) -> Callable[[datetime], int]:
        existing = _periodic.get(name)
        if existing is not None and existing.function is not function:
            raise RuntimeError(f"two periodic tasks called {name!r}")
        _periodic[name] = Periodic(name, every, function)
        return function

    return register


def periodic_tasks() -> list[Periodic]:
    return [_periodic[name] for name in sorted(_periodic)]


def handler(kind: str, *, writes: bool = False) -> Callable[[Handler], Handler]:
    """Register ``function`` as the handler of ``kind``. It receives the job's payload (ids),
    runs inside an app context and the job's transaction, and must be idempotent.

    ``writes=True`` marks a handler that writes to the database and makes no network call (a
    fan-out queueing more jobs): the worker may then hold the write lock for its whole run."""

    def register(function: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and existing is not function:
            raise RuntimeError(f"two handlers for job kind {kind!r}")
        _handlers[kind] = function
        if writes:
            _writes_first.add(kind)
        return function

    return register


def writes_first(kind: str) -> bool:
    return kind in _writes_first


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)
