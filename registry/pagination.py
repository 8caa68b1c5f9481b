"""Keyset pagination, shared by every list: a list is read in a total order (its sort columns, ending with
the row's id), a page is the first `limit` rows after a cursor, and the cursor is the last row's sort key.
Reading page 2,000 costs what page 1 costs, where OFFSET would walk the 100,000 rows before it.

The cursor is opaque to clients: base64url of a JSON array of the sort values. The list's body keeps its
shape (a JSON array); the next page's address travels in headers, `Link: <…>; rel="next"` (RFC 8288) and
`X-Next-Cursor`, absent on the last page. A cursor that does not decode to the list's key is refused as
`invalid_cursor` (422), never an error of the database."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import msgspec

from registry.errors import Invalid

MAX_CURSOR_LENGTH = 1_000
NEXT_CURSOR_HEADER = "X-Next-Cursor"


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows and the cursor of the next page (None on the last)."""

    items: list[Any]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    encoded = msgspec.json.encode([value.isoformat() if isinstance(value, datetime) else value for value in values])
    return base64.urlsafe_b64encode(encoded).rstrip(b"=").decode("ascii")


def _refuse() -> Invalid:
    return Invalid("cursor: not a cursor of this list (take it from the previous page's X-Next-Cursor)",
                   code="invalid_cursor", fields={"cursor": "not a cursor of this list"})


def decode_cursor(cursor: str | None, kinds: Sequence[type]) -> tuple[Any, ...] | None:
    """The sort key a cursor carries, each value of the type `kinds` names (str, int, bool, datetime; a type
    wrapped as `(type,)` may also be None). None when there is no cursor (the first page)."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise _refuse()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _refuse() from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise _refuse()
    decoded: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        nullable = isinstance(kind, tuple)
        kind = kind[0] if nullable else kind
        if value is None and nullable:
            decoded.append(None)
        elif kind is datetime and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise _refuse() from None
            # Rows hold real moments: one at the calendar's ends is forged (and would overflow in UTC).
            if moment.tzinfo is None or not 1000 <= moment.year <= 9000:
                raise _refuse()
            decoded.append(moment)
        elif kind is bool and type(value) is bool:
            decoded.append(value)
        elif kind is int and type(value) is int and -(2**31) <= value < 2**31:  # ids: 32-bit serial columns
            decoded.append(value)
        elif kind is str and isinstance(value, str) and "\x00" not in value:
            decoded.append(value)
        else:
            raise _refuse()
    return tuple(decoded)


def page_of(rows: list[Any], limit: int, key: Any) -> Page:
    """`rows` read with `limit + 1`: the first `limit` of them, and the next cursor when there was one more.
    `key(row)` gives a row's sort values in the list's order."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(key(rows[-1])))
    return Page(rows, None)


def next_page_headers(page: Page, path: str, query: dict[str, Any]) -> dict[str, str]:
    """The headers that lead to the next page: the same query with the new cursor."""
    if page.next_cursor is None:
        return {}
    kept = {name: value for name, value in query.items() if name != "cursor" and value not in (None, "")}
    target = f"{path}?{urlencode({**kept, 'cursor': page.next_cursor}, doseq=True)}"
    return {"Link": f'<{target}>; rel="next"', NEXT_CURSOR_HEADER: page.next_cursor}


def after_sql(columns: Sequence[tuple[str, bool]], placeholder: str = "{}") -> str:
    """The SQL condition "after the cursor" for sort columns (expression, ascending) in order, as text with
    one `placeholder` per value, the values to be bound in the order `after_values` gives. The expressions
    must never be NULL (coalesce a nullable column): NULL compares neither way. Works on both
    engines whatever the mix of directions (row-value comparison would need one direction):
    a >= ? AND ((a > ?) OR (a = ? AND b < ?) OR (a = ? AND b = ? AND id > ?))."""
    terms = []
    for position, (expression, ascending) in enumerate(columns):
        equal = [f"{earlier} = {placeholder}" for earlier, _ in columns[:position]]
        step = f"{expression} {'>' if ascending else '<'} {placeholder}"
        terms.append("(" + " AND ".join([*equal, step]) + ")")
    # The leading bound on the first column alone says the same once more, in the form an index on that
    # column can seek to: without it the planners read the index from its start and filter.
    first, ascending = columns[0]
    return f"({first} {'>=' if ascending else '<='} {placeholder} AND (" + " OR ".join(terms) + "))"


def after_values(values: Sequence[Any]) -> list[Any]:
    """The values `after_sql`'s placeholders take, in their order."""
    bound: list[Any] = [values[0]]
    for position in range(len(values)):
        bound.extend(values[: position + 1])
    return bound
