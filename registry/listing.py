"""Keyset pages of the registry's lists, on top of registry.pagination: the condition "after the cursor" as a
Piccolo where-clause, and how a page travels: in headers for the API (the body stays a JSON array), as
links for staff pages ("Trang sau", "Trang đầu"). The workflow's records page in the engine
(`engine.list_records_page`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.params import QueryParameter
from piccolo.columns.combination import WhereRaw

from registry.pagination import MAX_CURSOR_LENGTH, NEXT_CURSOR_HEADER, Page, after_sql, after_values, next_page_headers

# Imported by the services (people, agencies), which the HTTP layer itself imports: it is imported where
# it is used.

CURSOR_DESCRIPTION = ("the next page: the `X-Next-Cursor` of the previous page (also in its `Link: <…>; "
                      'rel="next"` header); absent for the first page')

# The `cursor` parameter of every paged list.
CursorParam = Annotated[str | None, QueryParameter(description=CURSOR_DESCRIPTION, max_length=MAX_CURSOR_LENGTH)]

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
    """The where-clause of the rows after the cursor's `values`, for sort `columns` (SQL, ascending)."""
    return WhereRaw(after_sql(columns), *after_values(values))


def key_of(names: Sequence[str]) -> Any:
    """A row's sort values (as a cursor carries them) from its fields `names`."""
    return lambda row: [row[name] for name in names]


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
