"""The one helper for "inside these subtrees" conditions.

Agencies carry a materialized path (`/1/6/9/`): an agency lies in the subtree rooted at `/1/6/` when its
path starts with that prefix. How a prefix is best asked depends on the engine: SQLite uses no index for
`LIKE` (its LIKE is case-insensitive), but serves a range `path >= '/1/6/' AND path < '/1/60'` from the
ordinary index; PostgreSQL serves `LIKE '/1/6/%'` from the path's `text_pattern_ops` index."""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Iterable
from typing import Any

from registry.shared_reads import SharedReads

# Every agency's path, sorted, to tell a wide subtree from a narrow one without a query (see
# `_agency_among`); refreshed by `refresh_agency_paths` at most every AGENCY_PATHS_MAX_AGE seconds. Stale
# paths only change which plan a query asks for, never its rows (and, far from a limit, whether agencies
# are too many to offer as a list: `agencies.service.tree`).
AGENCY_PATHS_MAX_AGE = 60.0
# A subtree holding more than this share of the agencies is "wide".
WIDE_SHARE = 0.02
MOST_OF_THE_TREE = 0.5
_agency_paths: list[str] = []
_agency_paths_loaded = -AGENCY_PATHS_MAX_AGE
# The read of the paths in progress, which the requests arriving meanwhile may wait for.
_reads = SharedReads()


async def refresh_agency_paths() -> None:
    """Read the paths again when they are older than AGENCY_PATHS_MAX_AGE. While they are being read, the
    other requests go on with the paths read before, or wait for the read when there are none yet:
    answered at once with no paths, the first requests of a worker asked SQLite for the province's
    certificates agency by agency, a second and a half each at a million, where the list in its order
    takes milliseconds."""
    if time.monotonic() - _agency_paths_loaded < AGENCY_PATHS_MAX_AGE:
        return
    if _agency_paths and _reads.in_progress("paths"):
        return
    await _reads.once("paths", _load_agency_paths)


async def _load_agency_paths() -> None:
    global _agency_paths, _agency_paths_loaded
    from registry.agencies.tables import Agency

    started = time.monotonic()
    _agency_paths = sorted(row["path"] for row in await Agency.raw("SELECT path FROM agency"))
    _agency_paths_loaded = started


def forget_agency_paths() -> None:
    """The next refresh reads the paths again, however recent (a database put back in place, in tests)."""
    global _agency_paths, _agency_paths_loaded
    _agency_paths, _agency_paths_loaded = [], -AGENCY_PATHS_MAX_AGE
    _reads.clear()


def agencies_within(paths: Iterable[str] | None) -> int | None:
    """How many agencies lie within the subtrees, or in the whole tree for None, as of the last refresh
    (None until the paths were loaded)."""
    if not _agency_paths:
        return None
    if paths is None:
        return len(_agency_paths)
    return sum(bisect.bisect_left(_agency_paths, prefix_upper_bound(path)) - bisect.bisect_left(_agency_paths, path)
               for path in _outermost(paths))


def share_of_agencies(paths: Iterable[str]) -> float | None:
    """The share of all agencies within the subtrees (None until the paths were loaded)."""
    inside = agencies_within(paths)
    return None if inside is None else inside / len(_agency_paths)


# SQLite: a subtree of at most this many agencies (and not wide) holds few enough rows, about a hundred
# certificates an agency at national scale, that a list is best read through its agency index and sorted.
# SQLite's planner cannot tell how many agencies the subquery returns, and walked the name order instead:
# at 20,000 certificates a leaf's first 50 of 110 took 8.8 ms to find, against 0.6 ms read and sorted.
FEW_AGENCIES = 20


def is_small_subtree(path: str) -> bool:
    """Whether the subtree rooted at `path` holds few agencies (FEW_AGENCIES), as of the last refresh; False
    until the paths were loaded. Only chooses how a list is read, never its rows."""
    inside = agencies_within([path])
    return inside is not None and inside <= FEW_AGENCIES and inside / len(_agency_paths) <= WIDE_SHARE


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (paths end with '/')."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def within_subtrees(path_column: Any, paths: Iterable[str], *, read_in_order: bool = True) -> Any:
    """A where-clause: `path_column` (an agency path, possibly through joins) lies in one of the
    subtrees rooted at `paths`. None when `paths` is empty.

    When the path is reached through the queried table's own agency column (`CertRequest.agency.path`),
    the clause asks for that column among the subtree's agency ids, `agency IN (SELECT id FROM agency WHERE
    path ...)`: the agency's path index finds the subtree and the record's agency index its rows, instead of
    every record being joined to its agency and its path compared (at a million certificates, the
    difference between a millisecond and a second). `read_in_order=False`: never read a wide subtree in
    the list's order (see `_agency_among`), for lists whose page is long against the table (the inbox)."""
    from registry.db import is_sqlite

    outermost = _outermost(paths)
    if not outermost:
        return None
    sqlite = is_sqlite()
    chain = getattr(path_column._meta, "call_chain", None) or []
    if len(chain) == 1 and path_column._meta.name == "path":
        return _agency_among(chain[0], outermost, sqlite, read_in_order)
    condition = None
    for path in outermost:
        if sqlite:
            clause = (path_column >= path) & (path_column < prefix_upper_bound(path))
        else:
            clause = path_column.like(f"{path}%")
        condition = clause if condition is None else condition | clause
    return condition


def subtree_sql(paths: Iterable[str], sqlite: bool, column: str = "path") -> tuple[str, list[str]]:
    """The condition on an agency `column` for "within these subtrees" as SQL text with `{}` placeholders,
    and its values (for raw queries and `WhereRaw`)."""
    clauses, values = [], []
    for path in _outermost(paths):
        if sqlite:
            clauses.append(f"({column} >= {{}} AND {column} < {{}})")
            values += [path, prefix_upper_bound(path)]
        else:
            clauses.append(f"{column} LIKE {{}}")
            values.append(f"{path}%")
    return " OR ".join(clauses), values


def _agency_among(foreign_key: Any, paths: list[str], sqlite: bool, read_in_order: bool = True) -> Any:
    from piccolo.columns.combination import WhereRaw

    table = foreign_key._meta.table._meta.tablename
    column = foreign_key._meta.db_column_name
    condition, values = subtree_sql(paths, sqlite)
    # SQLite: for a wide subtree (a department, the province) the list is best read in its order, each row
    # checked against the subtree's ids, stopping at the page's end; for a narrow one, the agency index
    # finds its few rows, then they are sorted. SQLite's planner cannot tell the two apart, so a wide
    # subtree's condition is written `+column IN ...`, which keeps the agency index out of the choice.
    # Lists with long pages against the table (read_in_order=False) still leave the agency index out for
    # a subtree holding most of the tree (the province): other filters (state, kind) serve better.
    share = share_of_agencies(paths)
    outermost = _outermost(paths)
    # PostgreSQL keeps a plan for a statement it has run five times, made without its values. Without the
    # pattern it guessed a subtree of 50 agencies for a department of 1,555, and read the inbox agency by
    # agency in 25 ms instead of 10; with the paths in the text, each subtree's statement is planned knowing
    # them. Only paths of digits and slashes are written in (checked), never text from a request.
    inline = not sqlite and all(_PLAIN_PATH.fullmatch(path) for path in outermost)
    if share is not None and share > MOST_OF_THE_TREE and len(outermost) == 1:
        # Most of the tree (the province, for operators and admins): "not among the agencies outside it"
        # is the same rows, and the outside is two short index ranges (nothing at all in a one-province
        # tree) where the inside is ten thousand ids gathered for every query (2.8 ms at national scale on
        # SQLite, 4.4 ms on PostgreSQL). Exact whatever the cached share says: it only chose the form.
        # PostgreSQL compares byte by byte with the operators of the path's text_pattern_ops index.
        root = outermost[0]
        below, above = ("<", ">=") if sqlite else ("~<~", "~>=~")
        outside = f"SELECT id FROM agency WHERE path {below} {{}} OR path {above} {{}}"
        bounds = [root, prefix_upper_bound(root)]
        if inline:
            outside, bounds = _inline(outside, bounds), []
        return WhereRaw(f'"{table}"."{column}" IS NOT NULL AND "{table}"."{column}" NOT IN ({outside})', *bounds)
    if inline:
        condition, values = _inline(condition, values), []
    among = f'"{table}"."{column}" IN (SELECT id FROM agency WHERE {condition})'
    if share is None or share <= (WIDE_SHARE if read_in_order else MOST_OF_THE_TREE):
        return WhereRaw(among, *values)
    # PostgreSQL made a wide subtree's IN a join, each row read in the list's order looking its agency up: at
    # 10,000 agencies nearly every lookup missed its cache (a department's active certificates, 757 rows read
    # for a page of 51: 1.13 ms). Wrapped, the IN stays a condition, tested against a hashed set of the
    # subtree's agencies built once (0.84 ms); a narrow subtree still finds its few agencies' rows through the
    # agency index.
    return WhereRaw(f"+{among}" if sqlite else f"({among}) IS TRUE", *values)


# A materialized path as the registry writes it, safe to write into SQL text as it is.
_PLAIN_PATH = re.compile(r"/(?:[0-9]+/)+")


def _inline(sql: str, values: list[str]) -> str:
    """`sql` with each {} replaced by its value as a quoted literal (values of _PLAIN_PATH paths only)."""
    return sql.format(*(f"'{value}'" for value in values))


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those nested in another (a condition per subtree root is enough)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(outer) for outer in kept):
            kept.append(path)
    return kept


def is_within(path: str, roots: Iterable[str]) -> bool:
    return any(path.startswith(root) for root in roots)
