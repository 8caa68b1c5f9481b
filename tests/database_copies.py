"""Each test gets a copy of a database prepared once per session.

Templates are made once ("empty": migrated; "province": migrated plus the small province) and each test
that touches the database starts from a copy of one of them, restored in place at the one URL the
session's app, its engine and the command-line subprocesses are bound to. Restoring in place, rather
than binding each test to a database of its own, keeps one engine for the whole session: the app and
its startup hooks never need rebinding, and nothing of a previous test survives.

- SQLite: the template is a checkpointed file; a copy is a file copy over the working file (its WAL and
  shared-memory files removed first, with every connection to it closed).
- PostgreSQL: the template is a database; a copy is `CREATE DATABASE … TEMPLATE`. The copy for the next
  test is made while the current one runs and swapped in by renaming (a rename takes milliseconds, a
  copy some hundreds); used copies are dropped in the background. A template never has open
  connections once made, as PostgreSQL requires of a template.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from registry import db

T = TypeVar("T")


class SQLiteCopies:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.working_url = f"sqlite:///{folder / 'registry.sqlite3'}"

    def _path(self, template: str) -> Path:
        return self.folder / f"template-{template}.sqlite3"

    async def create_template(self, name: str, build: Callable[[], Awaitable[T]], *, start_from: str | None = None) -> T:
        path = self._path(name)
        if start_from is not None:
            shutil.copyfile(self._path(start_from), path)
        engine = db.use_database(f"sqlite:///{path}")
        try:
            return await build()
        finally:
            await db.close_pool(engine)
            # Everything into the main file, so that copying that one file copies the whole database.
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def restore(self, template: str) -> None:
        """The working file becomes a copy of the template (every connection to it must be closed)."""
        working = db.sqlite_path(self.working_url)
        for suffix in ("-wal", "-shm"):
            working.with_name(working.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(self._path(template), working)

    async def close(self) -> None:
        pass


class PostgresCopies:
    def __init__(self, server_url: str, admin: asyncpg.Connection, reaper: asyncpg.Connection) -> None:
        self.server_url = server_url
        # Every database of this run shares a prefix, so that a crashed run's leftovers are recognisable.
        self.prefix = f"registry_test_{secrets.token_hex(4)}"
        self.working_url = self._url(self.prefix)
        self.working_exists = False
        self.templates: list[str] = []
        self.ready: dict[str, asyncio.Task[str]] = {}
        self.serial = 0
        # One connection creates and renames, one statement at a time; a copy in flight and a restore take
        # turns. Another drops used copies in the background: a DROP DATABASE can take seconds on a busy
        # server, and no test needs to wait for it.
        self.admin = admin
        self.admin_lock = asyncio.Lock()
        self.reaper = reaper
        self.trash: asyncio.Queue[str | None] = asyncio.Queue()
        self.reaping = asyncio.create_task(self._reap())

    @classmethod
    async def open(cls, server_url: str) -> "PostgresCopies":
        return cls(server_url, await asyncpg.connect(server_url), await asyncpg.connect(server_url))

    def _url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{name}"))

    def _template_name(self, template: str) -> str:
        return f"{self.prefix}_template_{template}"

    def _next_name(self, kind: str) -> str:
        self.serial += 1
        return f"{self.prefix}_{kind}_{self.serial}"

    async def _execute(self, statement: str) -> None:
        async with self.admin_lock:
            await self.admin.execute(statement)

    async def _reap(self) -> None:
        while (name := await self.trash.get()) is not None:
            try:
                await self.reaper.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except asyncpg.PostgresError as error:  # a leftover to mention, not a reason to fail the run
                warnings.warn(f"could not drop the test database {name}: {error}", stacklevel=1)

    async def create_template(self, name: str, build: Callable[[], Awaitable[T]], *, start_from: str | None = None) -> T:
        database = self._template_name(name)
        source = f' TEMPLATE "{self._template_name(start_from)}"' if start_from else ""
        await self._execute(f'CREATE DATABASE "{database}"{source}')
        self.templates.append(database)
        engine = db.use_database(self._url(database))
        try:
            return await build()
        finally:
            await db.close_pool(engine)

    async def _copy(self, template: str) -> str:
        name = self._next_name("copy")
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template_name(template)}"')
        return name

    async def _rename_working_away(self) -> None:
        """Rename the used working database (for the reaper), ending any connection left on it."""
        used = self._next_name("used")
        for _attempt in range(100):
            try:
                await self.admin.execute(f'ALTER DATABASE "{self.prefix}" RENAME TO "{used}"')
                break
            except asyncpg.ObjectInUseError:
                await self.admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", self.prefix
                )
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"connections to {self.prefix} would not end")
        self.trash.put_nowait(used)

    async def restore(self, template: str) -> None:
        """The working database becomes a fresh copy of the template, and the next copy starts at once."""
        pending = self.ready.pop(template, None)
        copy = await pending if pending is not None else await self._copy(template)
        async with self.admin_lock:
            if self.working_exists:
                await self._rename_working_away()
            await self.admin.execute(f'ALTER DATABASE "{copy}" RENAME TO "{self.prefix}"')
            self.working_exists = True
        self.ready[template] = asyncio.create_task(self._copy(template))

    async def close(self) -> None:
        for task in self.ready.values():
            with contextlib.suppress(Exception):
                self.trash.put_nowait(await task)
        if self.working_exists:
            self.trash.put_nowait(self.prefix)
        for name in self.templates:
            self.trash.put_nowait(name)
        self.trash.put_nowait(None)
        await self.reaping
        await self.admin.close()
        await self.reaper.close()


@contextlib.asynccontextmanager
async def database_copies(test_database_url: str, folder: Path) -> AsyncIterator[SQLiteCopies | PostgresCopies]:
    copies: SQLiteCopies | PostgresCopies
    copies = await PostgresCopies.open(test_database_url) if test_database_url else SQLiteCopies(folder)
    try:
        yield copies
    finally:
        await copies.close()
