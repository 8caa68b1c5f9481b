"""Domain errors. Services raise these; the HTTP layer maps them to problem+json, the CLI to exit 2."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, fields: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        self.extra = extra or {}


class Invalid(RegistryError):
    """Input that fails validation (422). `fields` maps each offending field to its message."""

    status_code = 422
    title = "Invalid input"


class Unauthenticated(RegistryError):
    status_code = 401
    title = "Authentication required"


class Forbidden(RegistryError):
    status_code = 403
    title = "Forbidden"


class NotFound(RegistryError):
    status_code = 404
    title = "Not found"


class Conflict(RegistryError):
    """The current state no longer allows the action (409)."""

    status_code = 409
    title = "Conflict"


class TooManyRequests(RegistryError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
