"""Field checks shared by every form and API: collect every problem, then fail once with all of them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

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
        # field → the catalogue code (and its values) of the message a page shows for it.
        self.field_codes: dict[str, tuple[str, dict[str, Any]]] = {}
        self.codes: set[str] = set()
        self.prefix = prefix

    def add(self, field: str, message: str, code: str = "invalid_input", *,
            field_code: str | tuple[str, dict[str, Any]] | None = None) -> None:
        """`message` is the API's English; `field_code` (default: `code`) keys the page's Vietnamese."""
        key = self.prefix + field
        if key not in self.errors:
            self.errors[key] = message
            chosen = field_code or code
            self.field_codes[key] = (chosen, {}) if isinstance(chosen, str) else chosen
        self.codes.add(code)

    def check(self, field: str, value: Any, parse: Callable[[Any], T]) -> T | None:
        """Run one parser; record its Invalid under `field` instead of raising."""
        try:
            return parse(value)
        except Invalid as error:
            first = next(iter(error.fields), None)
            message = error.fields[first] if first is not None else error.detail
            field_code = error.field_codes.get(first) if first is not None else None
            self.add(field, message, error.code, field_code=field_code or (error.code, error.params))
            return None

    def merge(self, error: Invalid, prefix: str = "") -> None:
        for field, message in (error.fields or {"": error.detail}).items():
            self.add(prefix + field, message, field_code=error.field_codes.get(field) or (error.code, error.params))

    def raise_if_any(self, summary: str = "invalid input") -> None:
        if self.errors:
            listed = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
            # One kind of mistake keeps its code (text_too_long, nul_character...); a mix is invalid_input.
            code = next(iter(self.codes)) if len(self.codes) == 1 else "invalid_input"
            raise Invalid(f"{summary}: {listed}", fields=dict(self.errors), code=code, field_codes=dict(self.field_codes))


# Limits by use, for fields that no form names more precisely.
NAME_LENGTH = 200
NOTE_LENGTH = 1000
SEARCH_LENGTH = 200
# Dates the registry deals in (births, ID issues, certificate lifetimes): far outside is a typo or a probe.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def text(value: Any, *, required: bool = True, max_length: int = 300, field: str = "") -> str:
    """Free text: NFC with collapsed spaces, no NUL or other control characters, at most `max_length`
    characters. Errors name `field` (FieldErrors.check fills in its own field name)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("must be text", fields={field: "must be text"}, code="not_text")
    check_characters(value, field)
    cleaned = normalize(value)
    if required and not cleaned:
        raise Invalid("is required", fields={field: "is required"}, code="required")
    if len(cleaned) > max_length:
        raise Invalid(f"{field or 'text'}: at most {max_length} characters", fields={field: f"at most {max_length} characters"},
                      code="text_too_long", params={"max_length": max_length})
    return cleaned


def check_characters(value: str, field: str = "") -> str:
    """Refuse NUL and the other C0/C1 control characters except tab, line feed and carriage return: no
    person types them, PostgreSQL refuses NUL in text, and they hide what a value really says."""
    if has_control_characters(value):
        code = "nul_character" if "\x00" in value else "control_character"
        raise Invalid(f"{field or 'text'}: contains a control character", fields={field: "contains a control character"},
                      code=code)
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _pattern(value: Any, pattern: re.Pattern[str], message: str, field_code: str, *, required: bool) -> str:
    cleaned = text(value, required=required, max_length=254)
    if cleaned and not pattern.match(cleaned):
        raise Invalid(message, fields={"": message}, field_codes={"": field_code})
    return cleaned


def email(value: Any, *, required: bool = True) -> str:
    return _pattern(value, EMAIL, "not a valid email address", "invalid_email", required=required).lower()


def citizen_id(value: Any, *, required: bool = True) -> str:
    return _pattern(value, CITIZEN_ID, "a citizen ID (CCCD) has exactly 12 digits", "invalid_citizen_id",
                    required=required)


def budget_code(value: Any, *, required: bool = True) -> str:
    return _pattern(value, BUDGET_CODE, "a budget relation code has exactly 7 digits", "invalid_budget_code",
                    required=required)


def tax_code(value: Any, *, required: bool = True) -> str:
    return _pattern(value, TAX_CODE, "a tax code has 10 digits, or 10-3 for a branch", "invalid_tax_code",
                    required=required)


def phone(value: Any, *, required: bool = True) -> str:
    raw = text(value, required=required, max_length=20).replace(" ", "").replace(".", "").replace("-", "")
    if raw.startswith("+84"):
        raw = "0" + raw[3:]
    if raw and not PHONE.match(raw):
        raise Invalid("a mobile number has 10 digits starting with 0", fields={"": "10 digits starting with 0"},
                      field_codes={"": "invalid_phone"})
    return raw


def iso_date(value: Any, *, required: bool = True) -> date | None:
    if isinstance(value, date):
        born = value
    else:
        cleaned = text(value, required=required, max_length=10)
        if not cleaned:
            return None
        try:
            born = date.fromisoformat(cleaned)
        except ValueError:
            raise Invalid("expected a date as YYYY-MM-DD", fields={"": "expected YYYY-MM-DD"}, code="invalid_date") from None
    if not EARLIEST_DATE <= born <= LATEST_DATE:
        raise Invalid(f"a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}",
                      fields={"": f"between {EARLIEST_DATE.year} and {LATEST_DATE.year}"}, code="date_out_of_range",
                      params={"earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year})
    return born


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
        raise Invalid("not a plausible date of birth for a civil servant", fields={"": "implausible date of birth"},
                      field_codes={"": "implausible_birth_date"})
    return born
