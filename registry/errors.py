"""Domain errors. Services raise these; the HTTP layer maps them to problem+json, the CLI to exit 2.

Every error carries a stable snake_case `code` that scripts branch on (CONTRACT.md, "HTTP"); the words
people read come from the message catalogue (`registry.messages`) keyed by that code."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    status_code = 400
    title = "Bad request"
    default_code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        field_codes: dict[str, str | tuple[str, dict[str, Any]]] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}
        # Values the catalogue's message for `code` may name ({id}, {state}, ...).
        self.params = params or {}
        # What a page shows beside each field: the catalogue's message for a code (with its values), the
        # error's own unless the raiser names a more precise one. `fields` keeps the API's English words.
        self.field_codes: dict[str, tuple[str, dict[str, Any]]] = {
            field: (self.code, self.params) for field in self.fields
        }
        for field, field_code in (field_codes or {}).items():
            self.field_codes[field] = (field_code, {}) if isinstance(field_code, str) else field_code


class Invalid(RegistryError):
    """Input that fails validation (422). `fields` maps each offending field to its message."""

    status_code = 422
    title = "Invalid input"
    default_code = "invalid_input"


class Unauthenticated(RegistryError):
    status_code = 401
    title = "Authentication required"
    default_code = "unauthenticated"


class Forbidden(RegistryError):
    status_code = 403
    title = "Forbidden"
    default_code = "forbidden"


class NotFound(RegistryError):
    status_code = 404
    title = "Not found"
    default_code = "not_found"


class Conflict(RegistryError):
    """The current state no longer allows the action (409)."""

    status_code = 409
    title = "Conflict"
    default_code = "conflict"


class TooLarge(RegistryError):
    status_code = 413
    title = "Payload too large"
    default_code = "too_large"


class TooManyRequests(RegistryError):
    status_code = 429
    title = "Too many requests"
    default_code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None, params: dict[str, Any] | None = None):
        super().__init__(detail, code=code, params=params)
        self.retry_after = retry_after


class Unavailable(RegistryError):
    """The database is busy beyond the wait a request may take (503 with Retry-After)."""

    status_code = 503
    title = "Service unavailable"
    default_code = "busy"

    def __init__(self, detail: str, *, retry_after: int = 2, code: str | None = None):
        super().__init__(detail, code=code)
        self.retry_after = retry_after
