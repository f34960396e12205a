"""Job kinds and their handlers. Features register handlers when the app is created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], None]

_handlers: dict[str, Handler] = {}
_writes_first: set[str] = set()


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
