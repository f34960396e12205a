"""Domain errors that services raise and views turn into a 4xx with a clear message."""


class DomainError(Exception):
    """A rule of the product was not met. ``str(error)`` is fit to show to the person."""

    status = 400


class NotAllowed(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
