"""The one helper for "inside these subtrees" conditions.

Agencies carry a materialized path (`/1/6/9/`): an agency lies in the subtree rooted at `/1/6/` when its
path starts with that prefix. How a prefix is best asked depends on the engine: SQLite uses no index for
`LIKE` (its LIKE is case-insensitive), but serves a range `path >= '/1/6/' AND path < '/1/60'` from the
ordinary index; PostgreSQL serves `LIKE '/1/6/%'` from the path's `text_pattern_ops` index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (paths end with '/')."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def within_subtrees(path_column: Any, paths: Iterable[str]) -> Any:
    """A where-clause: `path_column` (an agency path, possibly through joins) lies in one of the
    subtrees rooted at `paths`. None when `paths` is empty."""
    from registry.db import is_sqlite

    sqlite = is_sqlite()
    condition = None
    for path in _outermost(paths):
        if sqlite:
            clause = (path_column >= path) & (path_column < prefix_upper_bound(path))
        else:
            clause = path_column.like(f"{path}%")
        condition = clause if condition is None else condition | clause
    return condition


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those nested in another (a condition per subtree root is enough)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(outer) for outer in kept):
            kept.append(path)
    return kept


def is_within(path: str, roots: Iterable[str]) -> bool:
    return any(path.startswith(root) for root in roots)
