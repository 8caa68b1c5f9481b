"""Each test that touches the database starts from a copy of a state saved once per session.

A saved state is a template: "empty" (migrated) and "province" (plus the small province of
tests/helpers.py) are made when the session starts; a fixture may add its own, built on first use from
another (`Templates.start_from`). Everything happens in the one working database that the session's app,
its engine and the command-line subprocesses are bound to: a template is saved from it and restored
into it. Restoring in place, rather than binding each test to a database of its own, keeps one engine
for the whole session: the app and its startup hooks never need rebinding, and nothing of a previous
test survives.

- SQLite: a template is a file: the working file, checkpointed (everything in the main file, no WAL),
  copied aside. A restore copies it back over the working file, whose WAL and shared-memory files go
  first, with every connection to it closed.
- PostgreSQL: a template is what the tables and sequences hold (each table's rows as binary COPY). A
  restore, in one transaction, deletes every row, copies the template's rows back and sets every
  sequence where the template had it. A database per test (`CREATE DATABASE … TEMPLATE`, dropped after
  the test) was measured first and rejected: on PostgreSQL 15 every DROP DATABASE forces a checkpoint,
  0.05–3 s each on a shared server, and the suite took longer than when it rebuilt the province.
"""

from __future__ import annotations

import contextlib
import copy
import io
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from registry import db

T = TypeVar("T")


class Copies(Protocol):
    working_url: str

    async def save(self, template: str) -> None: ...

    async def restore(self, template: str) -> None: ...

    async def close(self) -> None: ...


class SQLiteCopies:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.working = folder / "registry.sqlite3"
        self.working_url = f"sqlite:///{self.working}"

    def _path(self, template: str) -> Path:
        return self.folder / f"template-{template}.sqlite3"

    async def save(self, template: str) -> None:
        await db.close_pool(db.current_engine())
        with contextlib.closing(sqlite3.connect(self.working)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(self.working, self._path(template))

    async def restore(self, template: str) -> None:
        # The engine's shared read connection would go on reading the replaced file: close it (the
        # engine opens another on its next query). Transactions open connections of their own and close them.
        await db.close_pool(db.current_engine())
        for suffix in ("-wal", "-shm"):
            self.working.with_name(self.working.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(self._path(template), self.working)

    async def close(self) -> None:
        pass


@dataclass
class TableRows:
    """A saved state on PostgreSQL: each non-empty table's rows (binary COPY) and each sequence's position."""

    rows: dict[str, bytes]
    sequences: dict[str, int | None]


class PostgresCopies:
    def __init__(self, admin: asyncpg.Connection, working_url: str, working: asyncpg.Connection) -> None:
        self.admin = admin
        self.working_url = working_url
        self.working = working
        self.saved: dict[str, TableRows] = {}
        self.tables_in_order: list[str] = []

    @classmethod
    async def open(cls, server_url: str) -> PostgresCopies:
        """A database of this run's own on the server (`registry_test_…`, dropped by `close`)."""
        name = f"registry_test_{secrets.token_hex(4)}"
        working_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        return cls(admin, working_url, await asyncpg.connect(working_url))

    async def save(self, template: str) -> None:
        self.tables_in_order = await self._tables_in_order()
        rows = {}
        for table in self.tables_in_order:
            if await self.working.fetchval(f'SELECT EXISTS (SELECT FROM "{table}")'):
                buffer = io.BytesIO()
                await self.working.copy_from_table(table, output=buffer, format="binary")
                rows[table] = buffer.getvalue()
        sequences = await self.working.fetch(
            "SELECT sequencename AS name, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        self.saved[template] = TableRows(rows, {record["name"]: record["last_value"] for record in sequences})

    async def _tables_in_order(self) -> list[str]:
        """The schema's tables, each after the tables its foreign keys reference."""
        tables = [r["name"] for r in await self.working.fetch("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")]
        references = await self.working.fetch(
            "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = 'public'"
        )
        parents: dict[str, set[str]] = {table: set() for table in tables}
        for record in references:
            child, parent = record["child"].strip('"'), record["parent"].strip('"')
            if child != parent:
                parents[child].add(parent)
        ordered: list[str] = []
        while len(ordered) < len(tables):
            ready = sorted(t for t in tables if t not in ordered and parents[t] <= set(ordered))
            if not ready:
                raise RuntimeError(f"foreign keys form a cycle among {sorted(set(tables) - set(ordered))}")
            ordered.extend(ready)
        return ordered

    async def restore(self, template: str) -> None:
        """The working database's rows and sequences become the template's, in one transaction (open
        connections may stay: between a test's statements they hold no lock)."""
        saved = self.saved[template]
        statements = [f'DELETE FROM "{table}"' for table in reversed(self.tables_in_order)]
        for sequence, last_value in saved.sequences.items():
            position = f"{last_value}, true" if last_value is not None else "1, false"
            statements.append(f"SELECT setval('\"{sequence}\"', {position})")
        async with self.working.transaction():
            await self.working.execute(";\n".join(statements))
            for table in self.tables_in_order:
                if table in saved.rows:
                    await self.working.copy_to_table(table, source=io.BytesIO(saved.rows[table]), format="binary")

    async def close(self) -> None:
        await self.working.close()
        await self.admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(self.working_url).path[1:]}" WITH (FORCE)')
        await self.admin.close()


@dataclass
class Templates:
    """The saved states of the session's working database, and what building each one returned."""

    copies: Copies
    built: dict[str, Any] = field(default_factory=dict)

    async def build(self, name: str, make: Callable[[], Awaitable[T]], *, base: str | None = None) -> T:
        """Run `make` on `base`'s state (or on the database as it is) and save the result as `name`."""
        if base is not None:
            await self.copies.restore(base)
        self.built[name] = await make()
        await self.copies.save(name)
        return self.result(name)

    async def restore(self, name: str) -> Any:
        await self.copies.restore(name)
        return self.result(name)

    def result(self, name: str) -> Any:
        """What building `name` returned (a copy: a test may change it)."""
        return copy.deepcopy(self.built[name])

    async def start_from(self, name: str, make: Callable[[], Awaitable[T]], *, base: str) -> T:
        """The working database as `make` leaves it when run on `base`: built on first use, then copied.
        `make` must not depend on anything but `base` (its result is reused by every later test)."""
        if name in self.built:
            return await self.restore(name)
        return await self.build(name, make, base=base)


@contextlib.asynccontextmanager
async def working_database(test_database_url: str, folder: Path) -> AsyncIterator[Templates]:
    """The session's working database (PostgreSQL when a server URL is given, else SQLite in `folder`)."""
    copies: Copies = await PostgresCopies.open(test_database_url) if test_database_url else SQLiteCopies(folder)
    try:
        yield Templates(copies)
    finally:
        await copies.close()
