"""Job kinds and their handlers. Features register handlers when the app is created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], None]

_handlers: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``function`` as the handler of ``kind``. It receives the job's payload (ids),
    runs inside an app context and the job's transaction, and must be idempotent."""

    def register(function: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and existing is not function:
            raise RuntimeError(f"two handlers for job kind {kind!r}")
        _handlers[kind] = function
        return function

    return register


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)
