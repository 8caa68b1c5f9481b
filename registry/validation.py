"""Field checks shared by every form and API: collect every problem, then fail once with all of them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable, TypeVar

from registry.errors import Invalid
from registry.text import normalize

T = TypeVar("T")

EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
CITIZEN_ID = re.compile(r"^\d{12}$")
BUDGET_CODE = re.compile(r"^\d{7}$")
TAX_CODE = re.compile(r"^\d{10}(-\d{3})?$")
# Vietnamese mobile numbers: 0 followed by nine digits (a +84 prefix is accepted and rewritten).
PHONE = re.compile(r"^0\d{9}$")


class FieldErrors:
    """Gathers field errors; `raise_if_any` raises one Invalid naming them all."""

    def __init__(self, prefix: str = "") -> None:
        self.errors: dict[str, str] = {}
        self.prefix = prefix

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(self.prefix + field, message)

    def check(self, field: str, value: Any, parse: Callable[[Any], T]) -> T | None:
        """Run one parser; record its Invalid under `field` instead of raising."""
        try:
            return parse(value)
        except Invalid as error:
            self.add(field, next(iter(error.fields.values()), error.detail))
            return None

    def merge(self, error: Invalid, prefix: str = "") -> None:
        for field, message in (error.fields or {"": error.detail}).items():
            self.add(prefix + field, message)

    def raise_if_any(self, summary: str = "invalid input") -> None:
        if self.errors:
            listed = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
            raise Invalid(f"{summary}: {listed}", fields=dict(self.errors))


def text(value: Any, *, required: bool = True, max_length: int = 300) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("must be text", fields={"": "must be text"})
    cleaned = normalize(value)
    if required and not cleaned:
        raise Invalid("is required", fields={"": "is required"})
    if len(cleaned) > max_length:
        raise Invalid(f"at most {max_length} characters", fields={"": f"at most {max_length} characters"})
    return cleaned


def _pattern(value: Any, pattern: re.Pattern[str], message: str, *, required: bool) -> str:
    cleaned = text(value, required=required, max_length=254)
    if cleaned and not pattern.match(cleaned):
        raise Invalid(message, fields={"": message})
    return cleaned


def email(value: Any, *, required: bool = True) -> str:
    return _pattern(value, EMAIL, "not a valid email address", required=required).lower()


def citizen_id(value: Any, *, required: bool = True) -> str:
    return _pattern(value, CITIZEN_ID, "a citizen ID (CCCD) has exactly 12 digits", required=required)


def budget_code(value: Any, *, required: bool = True) -> str:
    return _pattern(value, BUDGET_CODE, "a budget relation code has exactly 7 digits", required=required)


def tax_code(value: Any, *, required: bool = True) -> str:
    return _pattern(value, TAX_CODE, "a tax code has 10 digits, or 10-3 for a branch", required=required)


def phone(value: Any, *, required: bool = True) -> str:
    raw = text(value, required=required, max_length=20).replace(" ", "").replace(".", "").replace("-", "")
    if raw.startswith("+84"):
        raw = "0" + raw[3:]
    if raw and not PHONE.match(raw):
        raise Invalid("a mobile number has 10 digits starting with 0", fields={"": "10 digits starting with 0"})
    return raw


def iso_date(value: Any, *, required: bool = True) -> date | None:
    if isinstance(value, date):
        return value
    cleaned = text(value, required=required, max_length=10)
    if not cleaned:
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD", fields={"": "expected YYYY-MM-DD"}) from None


def birth_date(value: Any, *, required: bool = True) -> date | None:
    """A date of birth of someone of working age: 16 to 100 years before today."""
    from registry.timeutil import today

    born = iso_date(value, required=required)
    if born is None:
        return None
    current = today()
    oldest = current.replace(year=current.year - 100)
    youngest = date(current.year - 16, current.month, min(current.day, 28))
    if not oldest <= born <= youngest:
        raise Invalid("not a plausible date of birth for a civil servant", fields={"": "implausible date of birth"})
    return born
