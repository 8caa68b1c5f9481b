"""Queries built once and run many times with new values.

Piccolo builds a query's SQL text on every run, walking its columns and joins: for a request record with
its eight joined names that took longer than the database took to answer (1–2 ms a query, measured for
issue 12). A query whose shape never changes is built here once per database engine, with `Value`
placeholders where its values go; each run only puts the values in and sends the same text. The text is
exactly what Piccolo builds, so rows come back as they do from the Piccolo query itself (same columns,
aliases and conversions); only the options that post-process rows in Python (`output(...)`) are refused.

    RECORD = Compiled(lambda: Request.select(*COLUMNS).where(Request.id == Value("id")).first())
    row = await RECORD.run(id=42)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import And, Or, Where, WhereRaw
from piccolo.query import OrderByRaw
from piccolo.query.methods.raw import Raw
from piccolo.query.methods.select import First, Select
from piccolo.querystring import QueryString

from registry import db

# Piccolo's output() options, applied to rows in Python after the query.
_POST_PROCESSING = ("as_json", "as_list", "as_objects", "load_json", "nested")


class Value:
    """Where a value given to `Compiled.run` goes."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Value({self.name!r})"


@dataclass(frozen=True)
class _Text:
    template: str  # Piccolo's raw-query template: {} where each argument goes
    args: tuple[Any, ...]  # fixed values, and Value placeholders
    first: bool


class Compiled:
    """A select (or `.first()`) of a fixed shape, built by `build` on its first run on each engine."""

    def __init__(self, build: Callable[[], Select | First]) -> None:
        self._build = build
        self._texts: dict[str, _Text] = {}
        self._table: Any = None

    def _text(self) -> _Text:
        query = self._build()
        output = getattr(getattr(query, "output_delegate", None), "_output", None)
        if output is not None and any(getattr(output, option) for option in _POST_PROCESSING):
            raise TypeError("Compiled queries return rows as the database gives them: no output() options")
        (querystring,) = query.querystrings
        template, args = _template(querystring)
        self._table = query.table
        return _Text(template, tuple(args), isinstance(query, First))

    async def run(self, **values: Any) -> Any:
        engine_type = _engine_type()
        text = self._texts.get(engine_type)
        if text is None:
            text = self._texts[engine_type] = self._text()
        args = [values[arg.name] if type(arg) is Value else arg for arg in text.args]
        rows = await self._table.raw(text.template, *args)
        if text.first:
            return rows[0] if rows else None
        return rows


def _engine_type() -> str:
    return db.current_engine().engine_type


def _template(querystring: QueryString) -> tuple[str, list[Any]]:
    """Piccolo's raw-query template of a query string ({} where each value goes) and its values."""
    _, fragments, args = querystring.bundle(start_index=1, bundled=[], combined_args=[])
    template = "".join(
        fragment.prefix.replace("{", "{{").replace("}", "}}") + ("" if fragment.no_arg else "{}")
        for fragment in fragments
    )
    return template, args


def value_list(count: int) -> str:
    """`{}, {}, …`: a plain query's placeholders for `count` values, as in `id IN ({value_list(3)})`."""
    return ", ".join(["{}"] * count)


def frozen_condition(condition: Any) -> Any:
    """A where-clause written out once, to be kept and used again: Piccolo writes a condition's SQL text anew
    each time a query uses it, walking its columns (for the inbox's conditions, a fifth of the request). The
    same text and values as a `WhereRaw`; a condition that needs a join (a joined table's column) is returned
    as it is, since a raw clause would not make the join."""
    columns = _where_columns(condition)
    if columns is None or _join_aliases(columns):
        return condition
    template, args = _template(condition.querystring)
    return WhereRaw(template, *args)


def all_of(conditions: Sequence[Any]) -> Any:
    """Piccolo's where-clause under which every one of `conditions` holds; None when there are none."""
    where = None
    for condition in conditions:
        where = condition if where is None else where & condition
    return where


class JoinedSelect:
    """A select of a fixed column list with its joins (a request record with its eight joined names), whose
    SELECT … FROM … JOIN … is written out once per engine; each run adds its own conditions, order and limit,
    which Piccolo writes out quickly (a tenth of the whole). Conditions that need a join the column list does
    not make are run as an ordinary Piccolo query instead, so the result never depends on which path ran.

    On PostgreSQL the joined names are read by lookups instead (`_lookup_head`) whenever the conditions need
    no joined table: planning eight joins took PostgreSQL 30–80 ms on every run, five times what running the
    query took."""

    def __init__(self, table: Any, columns: Callable[[], Sequence[Any]]) -> None:
        self._table = table
        self._columns = columns
        self._heads: dict[tuple[str, bool], QueryString] = {}

    @cached_property
    def _joined(self) -> frozenset[str]:
        """The joined tables the columns are read from."""
        return frozenset(_join_aliases(self._columns()))

    def _head(self, engine_type: str, lookups: bool) -> QueryString:
        head = self._heads.get((engine_type, lookups))
        if head is None:
            columns = self._columns()
            if lookups:
                sql = _lookup_head(self._table, columns, engine_type)
            else:
                sql, args = self._table.select(*columns).querystrings[0].compile_string(engine_type)
                if args:
                    raise TypeError("a joined select's columns take no values")
            head = self._heads[(engine_type, lookups)] = QueryString(sql.replace("{", "{{").replace("}", "}}"))
        return head

    async def run(self, conditions: Sequence[Any], order: Sequence[tuple[Any, bool]], limit: int) -> list[dict[str, Any]]:
        """Rows under every one of `conditions`, in `order` (columns of the table itself, or SQL expressions
        as text), at most `limit`."""
        where = all_of(conditions)
        needed = _where_columns(where) if where is not None else []
        if (needed is None or not set(_join_aliases(needed)) <= self._joined
                or any(not isinstance(column, str) and column._meta.call_chain for column, _ascending in order)):
            return await self._piccolo_query(conditions, order, limit)
        engine_type = _engine_type()
        head = self._head(engine_type, engine_type == "postgres" and not _join_aliases(needed))
        order_sql = ", ".join(
            f'{column if isinstance(column, str) else column._meta.get_full_name(with_alias=False)} '
            f'{"ASC" if ascending else "DESC"}' for column, ascending in order)
        parts, args = ["{}"], [head]
        if where is not None:
            parts.append("WHERE {}")
            args.append(where.querystring)
        if order_sql:
            parts.append(f"ORDER BY {order_sql}")
        parts.append("LIMIT {}")
        args.append(limit)
        return await Raw(table=self._table, querystring=QueryString(" ".join(parts), *args))

    async def _piccolo_query(self, conditions: Sequence[Any], order: Sequence[tuple[Any, bool]],
                             limit: int) -> list[dict[str, Any]]:
        query = self._table.select(*self._columns()).limit(limit)
        for column, ascending in order:
            query = query.order_by(OrderByRaw(column) if isinstance(column, str) else column, ascending=ascending)
        for condition in conditions:
            query = query.where(condition)
        return await query


def _lookup_head(table: Any, columns: Sequence[Any], engine_type: str) -> str:
    """`SELECT …, (SELECT name FROM person WHERE id = "certificate"."holder") AS "holder_name", … FROM table`:
    the same columns, aliases and values as the joined select (each join follows a foreign key to the key
    it references, so it matches one row or none), with nothing for the planner to order. PostgreSQL reads
    the lookups of the rows it returns only, after the sort and the limit."""
    selected = []
    for column in _flat(columns):
        select_string, _args = column.get_select_string(engine_type).compile_string(engine_type)
        chain = column._meta.call_chain
        if not chain:
            selected.append(select_string)
            continue
        alias = select_string.rsplit(" AS ", 1)[1]
        value = f'"{table._meta.tablename}"."{chain[0]._meta.db_column_name}"'
        for depth, key in enumerate(chain, start=1):
            target = key._foreign_key_meta
            read = chain[depth]._meta.db_column_name if depth < len(chain) else column._meta.db_column_name
            # Each lookup names its table afresh, so that a table referencing itself (a certificate and its
            # successor) never reads its own row by mistake.
            name = f"lookup_{depth}"
            value = (f'(SELECT "{name}"."{read}" FROM "{target.resolved_references._meta.tablename}" "{name}" '
                     f'WHERE "{name}"."{target.resolved_target_column._meta.db_column_name}" = {value})')
        selected.append(f"{value} AS {alias}")
    return f'SELECT ALL {", ".join(selected)} FROM "{table._meta.tablename}"'


def _flat(columns: Sequence[Any]) -> list[Any]:
    return [column for item in columns for column in (item if isinstance(item, (list, tuple)) else [item])]


def _where_columns(condition: Any) -> list[Any] | None:
    """The columns a condition names (as Piccolo finds them to make its joins); None for a kind of condition
    not known here."""
    if isinstance(condition, Where):
        return [condition.column]
    if isinstance(condition, (And, Or)):
        first, second = _where_columns(condition.first), _where_columns(condition.second)
        return None if first is None or second is None else first + second
    if isinstance(condition, WhereRaw):
        return list(condition.querystring.columns)
    return None


def _join_aliases(columns: Sequence[Any]) -> list[str]:
    """The aliases of the joined tables the columns are read from ("cert_request$agency")."""
    return [key.table_alias for column in columns if isinstance(column, Column)
            for key in column._meta.call_chain]
