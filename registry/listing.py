"""Keyset pages of the registry's lists, on top of registry.pagination: the condition "after the cursor" as a
Piccolo where-clause, the pages of a workflow flow's records (account requests, specimens, mailboxes,
batches), and how a page travels: in headers for the API (the body stays a JSON array), as links for
staff pages ("Trang sau", "Trang đầu")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from piccolo.columns.combination import WhereRaw

from registry.pagination import (
    NEXT_CURSOR_HEADER,
    Page,
    after_sql,
    after_values,
    decode_cursor,
    next_page_headers,
    page_of,
)

if TYPE_CHECKING:
    from registry.auth.principal import Principal
    from registry.workflow.engine import Flow

# Imported by the services (people, agencies), which the workflow engine and the HTTP layer themselves
# import: those two are imported where they are used.

CURSOR_DESCRIPTION = ("the next page: the `X-Next-Cursor` of the previous page (also in its `Link: <…>; "
                      'rel="next"` header); absent for the first page')

# The headers a paged list answers with (documented on every list route).
PAGE_HEADERS = [
    ResponseHeader(name="Link", documentation_only=True, required=False,
                   description='`<…>; rel="next"`: the next page, with the same filters (absent on the last page)'),
    ResponseHeader(name=NEXT_CURSOR_HEADER, documentation_only=True, required=False,
                   description="the cursor of the next page, for `cursor` (absent on the last page)"),
]


def column_sql(column: Any) -> str:
    """A column of a table as SQL text, qualified by its table (as Piccolo names it in a select)."""
    return f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'


def after(columns: Sequence[tuple[str, bool]], values: Sequence[Any]) -> WhereRaw:
    """The where-clause of the rows after the cursor's `values`, for sort `columns` (SQL, ascending).
    Led by a bound on the first column alone (`a >= ?`, implied by the rest), which both engines read as
    a range of its index: the ORs alone make SQLite scan (a deep page of 200,000 people took 29 ms)."""
    (first, ascending), *_rest = columns
    lead = f"{first} {'>=' if ascending else '<='} {{}}"
    return WhereRaw(f"({lead} AND {after_sql(columns)})", values[0], *after_values(values))


def _sort_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def key_of(names: Sequence[str]) -> Any:
    """A row's sort values (as a cursor carries them) from its fields `names`."""
    return lambda row: [_sort_value(row[name]) for name in names]


# --- a flow's records --------------------------------------------------------------------------------

# Urgent first, then oldest first (the engine's order), then by id so that the order is total.
URGENT_OLDEST = (("urgent", False), ("created_at", True), ("id", True))
# Newest first (batches).
NEWEST = (("created_at", False), ("id", False))
_KINDS = {"urgent": int, "created_at": datetime, "id": int}


async def records_page(actor: Principal, flow: Flow, *, cursor: str | None, limit: int,
                       order: Sequence[tuple[str, bool]] = URGENT_OLDEST, states: Iterable[str] | None = None,
                       agency_code: str | None = None, mine: bool = False, kind: str | None = None,
                       extra_condition: Any = None) -> Page:
    """One page of the records `engine.list_records` lists with the same filters, in a total order.
    (To move into the engine's `list_records` with the workflow's own pagination.)"""
    from registry import subtree
    from registry.workflow import engine

    after_key = decode_cursor(cursor, [_KINDS[name] for name, _ascending in order])
    await subtree.refresh_agency_paths()
    table: Any = flow.table
    conditions = engine._record_conditions(actor, flow, states=states, agency_code=agency_code, mine=mine, kind=kind,
                                           urgent_only=False, extra_condition=extra_condition)
    if conditions is None:
        return Page([], None)
    query = table.select(*flow.select_columns).limit(limit + 1)
    for name, ascending in order:
        query = query.order_by(getattr(table, name), ascending=ascending)
    for condition in conditions:
        query = query.where(condition)
    if after_key is not None:
        columns = [(_record_sort_sql(table, name), ascending) for name, ascending in order]
        query = query.where(after(columns, after_key))
    page = page_of(await query, limit, key_of([name for name, _ascending in order]))
    return Page([engine.record_json(actor, flow, row) for row in page.items], page.next_cursor)


def _record_sort_sql(table: Any, name: str) -> str:
    column = column_sql(getattr(table, name))
    # A boolean compared as a number, the same on both engines (SQLite stores 0 and 1).
    return f"(CASE WHEN {column} THEN 1 ELSE 0 END)" if name == "urgent" else column


# --- how a page travels -------------------------------------------------------------------------------


def _query_of(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    return query


def api_page(request: Request, page: Page, items: Any) -> Response:
    """The API's answer: the page's items as the list's documented body, the next page in headers."""
    from registry.http import ApiResponse

    return ApiResponse(items, headers=next_page_headers(page, request.url.path, _query_of(request)))


def page_links(request: Request, page: Page, cursor_name: str = "cursor") -> dict[str, str | None]:
    """For a staff page: the address of the next page ("Trang sau") and, on a later page, of the first
    ("Trang đầu"), each keeping the page's filters (and the cursors of its other lists)."""
    query = {name: values for name, values in _query_of(request).items() if name != cursor_name}
    path = request.url.path

    def address(extra: Mapping[str, str]) -> str:
        encoded = urlencode({**query, **extra}, doseq=True)
        return f"{path}?{encoded}" if encoded else path

    return {
        "next": address({cursor_name: page.next_cursor}) if page.next_cursor else None,
        "first": address({}) if request.query_params.get(cursor_name) else None,
    }
