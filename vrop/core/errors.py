"""Errors that services raise and every path (web, API, import, Telegram) shows as is.

A ``ServiceError`` carries a message already marked for translation, so the user reads
why their action was refused in their own language; ``code`` is stable for API clients.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy


class ServiceError(Exception):
    """A refused action: nothing was changed, and ``message`` says why."""

    code = "refused"
    status = 400

    def __init__(
        self,
        message: Any,
        *,
        code: str | None = None,
        field: str | None = None,
        params: dict | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.params = params or {}
        if code:
            self.code = code
        super().__init__(str(message))

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(ServiceError):
    """Bad input: a value that cannot be accepted."""

    code = "invalid"
    status = 422


class RuleViolation(ServiceError):
    """A business rule refuses the action (next step, discount ladder, credit stop, ...)."""

    code = "rule"
    status = 409


class PermissionDenied(ServiceError):
    """The viewer may not do this. Also used for objects they may not see (no IDOR hints)."""

    code = "forbidden"
    status = 403


class NotFound(ServiceError):
    code = "not_found"
    status = 404


# The message of a request the API cannot parse (shown with the field errors).
INVALID_REQUEST = gettext_lazy("The request is not valid.")
