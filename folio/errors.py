"""Errors that service functions raise. The API turns them into its one error body,
the CLI into one line on stderr, and the UI into a message; none of them is a crash."""

from typing import Any


class FolioError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidInput(FolioError):
    """The request was understood but its content breaks a rule; details name where."""

    status = 422
    code = "invalid"


class NotFound(FolioError):
    status = 404
    code = "not_found"


class PermissionDenied(FolioError):
    status = 403
    code = "forbidden"


class Conflict(FolioError):
    status = 409
    code = "conflict"


class StaleWrite(Conflict):
    """Someone else saved the object since the caller read it; details carry its current state."""

    code = "stale_write"


class TooLarge(FolioError):
    status = 413
    code = "too_large"
