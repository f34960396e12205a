"""How a job handler says why it failed; adapters translate vendor errors into these."""

from __future__ import annotations


class JobError(Exception):
    pass


class TransientError(JobError):
    """Try again later (a timeout, a refused connection, HTTP 429/5xx, SMTP 4xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(JobError):
    """Retrying cannot help (HTTP 400/401/403/404/422, SMTP 5xx): the job is dead at once."""
