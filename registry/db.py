"""Database engines for SQLite and PostgreSQL, the one transaction helper, and migrations.

Piccolo finds its engine through `registry.piccolo_conf.DB`; `use_database` rebinds that and every
table, so one process (a worker, a CLI command, a test session) talks to the database its settings name.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import mmap
import os
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("PICCOLO_CONF", "registry.piccolo_conf")

import aiosqlite  # noqa: E402
from piccolo.apps.migrations.tables import Migration  # noqa: E402
from piccolo.engine.base import Engine  # noqa: E402
from piccolo.engine.postgres import PostgresEngine  # noqa: E402
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory  # noqa: E402
from piccolo.table import Table  # noqa: E402

from registry.shared_reads import SharedReads  # noqa: E402
from registry.timeutil import VIETNAM  # noqa: E402

SQLITE_BUSY_TIMEOUT_SECONDS = 30
# How long a writer waits for SQLite's write lock before the request gets 503 with Retry-After. Imports
# parse and check outside the lock and write in one short burst, so a healthy writer never waits this long.
WRITE_LOCK_WAIT_SECONDS = 10.0
# Bookkeeping (a token's last use, a session's last activity) waits much less: it is skipped instead.
BOOKKEEPING_WAIT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 2

logger = logging.getLogger("registry.db")

# Statements the shared read connection may run; anything else gets a connection of its own, so that a
# write waiting for the lock never holds up the reads queued behind it on the shared connection.
_READ_STATEMENTS = ("SELECT", "WITH", "VALUES", "EXPLAIN")


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


# Reads outside a transaction go to one shared connection per event loop (its own thread). Spreading them
# over four was measured slower under load: at 32 concurrent requests a worker served the certificate list
# at 169 req/s on four connections, 412 on one (a million certificates; 178 and 433 at 20,000: the threads
# of one process's SQLite connections contend with each other and with the event loop). Reads known to be
# long (`long_read`: a search walking the name order, 15 ms at a million) go to up to READ_CONNECTIONS - 1
# spare connections instead, side by side (SQLite releases the GIL while it works), and so do the reads
# arriving while the shared one is held up by a long read nobody announced (nothing finished on it for
# READ_STALL_SECONDS; a page of 100 rows takes 3 ms, 10 under load).
READ_CONNECTIONS = 4
READ_STALL_SECONDS = 0.05
# Connections of finished transactions kept per event loop for the next ones (concurrent writers queue for
# SQLite's one write lock, each on its own connection).
IDLE_WRITE_CONNECTIONS = 4
# Page cache of each shared read connection (SQLite's default is 2 MiB). The shared connections live as
# long as the worker; at a million certificates a list's rows lie on pages far apart, and a 100-row list
# took 7.6 ms with the default against 4.6 ms with this (at most 4 × 8 MiB per worker, filled as read).
_T = TypeVar("_T")
READ_CACHE_KIB = 8192
# The write-ahead log index's header (WalIndexHdr), kept twice at the start of its shared memory file, and
# the offset of its "initialised" byte.
_WAL_HEADER_BYTES = 48
_WAL_HEADER_IS_INIT = 12


class SharedConnectionSQLiteEngine(SQLiteEngine):
    """Piccolo opens a new SQLite connection (and its thread) for every query outside a transaction,
    which costs more than most queries. This engine keeps a few connections per event loop for those (the
    least busy one takes the next read); transactions still take a connection of their own. In autocommit
    mode, with WAL, each statement sees the latest committed data."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: dict[int, list[Any]] = {}
        self._in_flight: dict[int, int] = {}
        # When each shared connection last made progress: took its first read after being idle, or
        # finished one.
        self._progress: dict[int, float] = {}
        self._opening: dict[int, asyncio.Lock] = {}
        # Per event loop, a connection used on the loop's own thread for `quick_read`.
        self._quick: dict[int, sqlite3.Connection] = {}
        # Per event loop, the write-ahead log's index mapped (committed_state), or None when it cannot be.
        self._wal_index: dict[int, mmap.mmap | None] = {}
        # read_while_unchanged: (event loop, name) → (the committed state it was read in, what was read).
        self._unchanged_reads: dict[tuple[int, str], tuple[bytes, Any]] = {}
        # Transactions' connections between two transactions, per event loop, with each one's busy timeout.
        self._idle_writers: dict[int, list[Any]] = {}
        self._busy_waits: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def _open_shared(self) -> Any:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # A daemon worker thread: a connection nobody closed must not keep the process alive at exit
        # (aiosqlite starts a plain thread, joined at interpreter shutdown).
        worker = getattr(connection, "_thread", None)
        if worker is not None:
            worker.daemon = True
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
        return connection

    def _in_flight_on(self, connection: Any) -> int:
        return self._in_flight.get(id(connection), 0)

    def _held_up(self, connection: Any) -> bool:
        """Whether the connection has reads in flight and finished none for READ_STALL_SECONDS."""
        return (self._in_flight_on(connection) > 0
                and time.monotonic() - self._progress.get(id(connection), 0.0) > READ_STALL_SECONDS)

    def _choose_shared(self, loop_key: int) -> Any | None:
        """The shared connection for the next read, or None when one should be opened for it first."""
        pool = self._shared.get(loop_key, [])
        if not pool:
            return None
        if not _long_read.get() and not self._held_up(pool[0]):
            return pool[0]
        spare = min(pool[1:], key=self._in_flight_on, default=None)
        if spare is not None and self._in_flight_on(spare) == 0:
            return spare
        if len(pool) >= READ_CONNECTIONS:
            return min(pool, key=self._in_flight_on)
        return None

    async def _shared_connection(self) -> Any:
        loop_key = id(asyncio.get_running_loop())
        chosen = self._choose_shared(loop_key)
        if chosen is not None:
            return chosen
        # Opened one at a time: the first reads of a worker wait for the connection being opened instead of
        # each opening one of their own.
        async with self._opening.setdefault(loop_key, asyncio.Lock()):
            chosen = self._choose_shared(loop_key)
            if chosen is not None:
                return chosen
            connection = await self._open_shared()
            # Every connection opened is in the pool, so that close_shared closes it (a connection left open
            # would go on reading a replaced database file).
            self._shared.setdefault(loop_key, []).append(connection)
            return connection

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: Any = None) -> Any:
        if not _is_read(query):
            # A write outside db.transaction() (which should not happen) still never blocks the readers.
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self._shared_connection()
        key = id(connection)
        if not self._in_flight_on(connection):
            self._progress[key] = time.monotonic()
        self._in_flight[key] = self._in_flight_on(connection) + 1
        try:
            # Executed and fetched in one step on the connection's thread: were statements of concurrent
            # requests left open between the two, the connection would stay inside one read transaction and
            # keep reading an old snapshot (a person just created "not found").
            return await connection.execute_fetchall(query, args or [])
        finally:
            # Gone when the pool was closed meanwhile (a worker stopping with reads in flight).
            if key in self._in_flight:
                self._in_flight[key] -= 1
                self._progress[key] = time.monotonic()

    async def _run_in_existing_connection(self, connection: Any, query: str, args: list[Any] | None = None,
                                          query_type: str = "generic", table: Any = None) -> Any:
        # Piccolo re-sends "PRAGMA foreign_keys = 1" before every statement of a transaction; the
        # transaction's connection got it once when it was opened (get_connection).
        return await connection.execute_fetchall(query, args or [])

    async def get_connection(self) -> Any:
        """A transaction's own connection, waiting at most `lock_wait` seconds for the write lock: one a finished
        transaction of this event loop left idle (opening one costs a thread and a file open, more than a small
        write's statements), or a new one."""
        wait = _lock_wait.get()
        idle = self._idle_writers.get(id(asyncio.get_running_loop()))
        if idle:
            connection = idle.pop()
            if self._busy_waits.get(connection) != wait:
                # What sqlite3.connect(timeout=…) sets when it opens a connection.
                await connection.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                self._busy_waits[connection] = wait
            return connection
        connection = aiosqlite.connect(**{**self.connection_kwargs, "timeout": wait})
        worker = getattr(connection, "_thread", None)
        if worker is not None:
            worker.daemon = True
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        self._busy_waits[connection] = wait
        return connection

    async def release_connection(self, connection: Any) -> None:
        """A transaction's connection after its COMMIT or ROLLBACK: kept idle for the next transaction of this
        event loop (a few at most), closed otherwise or when it is still inside a transaction."""
        idle = self._idle_writers.setdefault(id(asyncio.get_running_loop()), [])
        if len(idle) < IDLE_WRITE_CONNECTIONS and not connection.in_transaction:
            idle.append(connection)
            return
        await connection.close()

    def _quick_connection(self, key: int) -> sqlite3.Connection:
        connection = self._quick.get(key)
        if connection is None:
            # timeout=0: a read that would wait for a lock gives up at once instead of holding up the loop. Used
            # on the loop's thread only; close_shared may close it from another.
            connection = sqlite3.connect(**{**self.connection_kwargs, "timeout": 0, "check_same_thread": False})
            connection.row_factory = dict_factory
            self._quick[key] = connection
        return connection

    def read_on_loop(self, query: str, args: list[Any]) -> list[dict[str, Any]] | None:
        """The rows of a read run on the event loop's own thread (see `quick_read`); None when the database
        was busy (no waiting on the loop: the caller reads the usual way)."""
        connection = self._quick_connection(id(asyncio.get_running_loop()))
        try:
            # Fetched whole: the statement ends, and its read transaction with it (no old snapshot kept).
            return connection.execute(query, args).fetchall()
        except sqlite3.OperationalError as error:
            if is_busy_error(error):
                return None
            raise

    def committed_state(self) -> bytes | None:
        """What SQLite's write-ahead log index says of the last commit, by any process: its header, which
        every committing writer rewrites before its commit returns (a change counter, the last frame, the
        log's salts and checksums: https://www.sqlite.org/walformat.html). Read from the index's shared
        memory file, mapped once, with no query: a query lets go of the GIL inside SQLite, and under load
        getting it back cost 50 µs where the read took 6 (`/api/v1/me`, README). None when the index cannot
        be read (not in WAL mode, the file missing, a writer halfway through rewriting the header): the
        caller then asks the database."""
        key = id(asyncio.get_running_loop())
        index = self._wal_index.get(key)
        if index is None:
            if key in self._wal_index:  # tried already, and not to be had
                return None
            index = self._map_wal_index(key)
            self._wal_index[key] = index
            if index is None:
                return None
        # The writer rewrites the second copy of the header, then the first; read in the other order, equal
        # copies are one whole header (SQLite's readers check the same).
        first = index[0:_WAL_HEADER_BYTES]
        second = index[_WAL_HEADER_BYTES:2 * _WAL_HEADER_BYTES]
        if first != second or not first[_WAL_HEADER_IS_INIT]:
            return None
        return first

    def _map_wal_index(self, key: int) -> mmap.mmap | None:
        """The index mapped read-only, while the loop's quick connection, opened first and closed after it,
        keeps the index in use (SQLite only truncates or removes an index no connection holds)."""
        connection = self._quick_connection(key)
        try:
            mode = connection.execute("PRAGMA journal_mode").fetchone()
            if not mode or next(iter(mode.values())).lower() != "wal":
                return None
            # A read opens the index (it is made with the first reader after the log).
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            with open(f"{self.path}-shm", "rb") as index_file:
                if os.fstat(index_file.fileno()).st_size < 2 * _WAL_HEADER_BYTES:
                    return None
                return mmap.mmap(index_file.fileno(), 2 * _WAL_HEADER_BYTES, access=mmap.ACCESS_READ)
        except (OSError, ValueError, sqlite3.Error):
            return None

    async def close_shared(self) -> None:
        for index in self._wal_index.values():
            if index is not None:
                index.close()
        self._wal_index = {}
        self._unchanged_reads = {}
        for connection in self._quick.values():
            connection.close()
        self._quick = {}
        pools, self._shared = [*self._shared.values(), *self._idle_writers.values()], {}
        self._idle_writers = {}
        self._in_flight = {}
        self._progress = {}
        self._opening = {}
        for pool in pools:
            for connection in pool:
                await connection.close()


def _is_read(query: str) -> bool:
    return query.lstrip().split(None, 1)[0].upper() in _READ_STATEMENTS if query.strip() else True


class _ImmediateTransaction(SQLiteTransaction):
    """BEGIN IMMEDIATE that closes its connection when the lock cannot be had (Piccolo's would leak it)."""

    async def __aenter__(self) -> _ImmediateTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.connection.close()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        """Piccolo's, except that the connection goes back to the engine instead of being closed; one whose
        COMMIT or ROLLBACK failed is closed."""
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await self.connection.close()
            self.engine.current_transaction.reset(self.context)
            raise
        release = getattr(self.engine, "release_connection", None)
        await (release(self.connection) if release is not None else self.connection.close())
        self.engine.current_transaction.reset(self.context)
        return exception is None


# The registry's queries are short and many, several web workers share the cores: a parallel plan's
# workers take longer to start than a page of 50 rows takes to read (a 34 ms inbox query ran in 14 ms
# without them), and JIT compilation, which PostgreSQL starts for any query its estimate calls costly,
# costs more than it saves on queries that stop at a page's end. A page read out of order costs the planner
# 4 times one read in order by default, the price of a spinning disk's seek; the registry's data is read from
# memory or an SSD, where the two cost about the same. At 4, the planner walked a department's inbox along
# the order of every request (7,100 read to find 51) rather than along the queue of submitted ones, which it
# believed scattered: 9-11 ms against 2.7 ms, and the inbox API went from 218 to 354 req/s at national size.
POSTGRES_SESSION_SETTINGS = {"max_parallel_workers_per_gather": "0", "jit": "off", "random_page_cost": "1.1"}


def make_engine(database_url: str, prepare: bool = True) -> Engine:
    """An engine for the URL; `prepare` creates the SQLite file's folder and turns WAL on."""
    if database_url.startswith("sqlite:///"):
        path = sqlite_path(database_url)
        if prepare:
            path.parent.mkdir(parents=True, exist_ok=True)
            enable_wal(path)
        # Replace Piccolo's own converters for every connection of the process: timestamps in Vietnam time (the
        # type is the registry's); integers and booleans with the same results, faster (see _sqlite_integer).
        sqlite3.register_converter("TIMESTAMPTZ", _sqlite_timestamptz_in_vietnam)
        sqlite3.register_converter("INTEGER", _sqlite_integer)
        sqlite3.register_converter("BOOLEAN", _sqlite_boolean)
        # A generous busy timeout: writers queue for the lock instead of failing with "database is locked".
        return SharedConnectionSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    dsn = database_url.replace("postgres://", "postgresql://", 1)
    return PostgresEngine(config={"dsn": dsn, "server_settings": POSTGRES_SESSION_SETTINGS})


def enable_wal(path: Path) -> None:
    """WAL lets readers go on while one writer writes; the mode is stored in the file, so once is enough."""
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def table_classes() -> list[type[Table]]:
    from piccolo.conf.apps import Finder

    return [*Finder().get_table_classes(), Migration]


def use_database(database_url: str) -> Engine:
    """Point Piccolo and every table at this database."""
    import registry.piccolo_conf as conf

    engine = make_engine(database_url)
    conf.DB = engine
    for table in table_classes():
        table._meta.db = engine
    return engine


def current_engine() -> Engine:
    import registry.piccolo_conf as conf

    return conf.DB


async def quick_read(table: type[Table], sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a read that takes microseconds (a row by its key, on every request): on SQLite, outside a
    transaction, run on the event loop's thread, where handing it to a connection's thread and back cost far
    more than the read (a 10 µs read against a round trip of 0.1 to 0.5 ms, longer under load); otherwise
    (PostgreSQL, a transaction, a busy database) as `table.raw` runs it. `sql` takes `{}` placeholders."""
    engine = table._meta.db
    if isinstance(engine, SharedConnectionSQLiteEngine) and _current_tx.get() is None:
        rows = engine.read_on_loop(_sqlite_text(sql, args), list(args))
        if rows is not None:
            return rows
    return await table.raw(sql, *args)


# The SQLite text of each quick read, by its `{}` form: the same few reads come with every request, and
# Piccolo's QueryString compiled the same text again each time (a tenth of /api/v1/me).
_SQLITE_TEXTS: dict[str, str] = {}


def _sqlite_text(sql: str, args: tuple[Any, ...]) -> str:
    text = _SQLITE_TEXTS.get(sql)
    if text is None:
        from piccolo.querystring import QueryString

        text, values = QueryString(sql, *args).compile_string("sqlite")
        # Plain values only: a nested query would add its own text and values (not the case of quick reads).
        if len(values) != len(args) or any(isinstance(arg, QueryString) for arg in args):
            raise TypeError("quick_read takes plain values only")
        if len(_SQLITE_TEXTS) < 1000:
            _SQLITE_TEXTS[sql] = text
    return text


def committed_state() -> bytes | None:
    """On SQLite, a value that changes with every commit of any process, read without a query
    (SharedConnectionSQLiteEngine.committed_state); None elsewhere, or when it cannot be read."""
    engine = current_engine()
    if isinstance(engine, SharedConnectionSQLiteEngine):
        return engine.committed_state()
    return None


async def read_while_unchanged(name: str, read: Callable[[], Awaitable[_T]]) -> _T:
    """What `read()` answers, kept on SQLite while nothing at all has been committed since it was read, by any
    process (`committed_state` the same): asked again only after a commit. The state is taken before the
    read: a commit landing meanwhile moves it, and the next call reads again. On PostgreSQL, read for every
    call, but callers asking at the same time share a query that started after they asked
    (`SharedReads.fresh`). Read for the caller alone inside a transaction (which sees its own writes), and
    whenever the committed state cannot be had."""
    engine = current_engine()
    if _current_tx.get() is not None:
        return await read()
    if not isinstance(engine, SharedConnectionSQLiteEngine):
        return await _fresh_reads.fresh(name, read)
    state = engine.committed_state()
    if state is None:
        return await read()
    key = (id(asyncio.get_running_loop()), name)
    kept = engine._unchanged_reads.get(key)
    if kept is not None and kept[0] == state:
        return kept[1]
    value = await read()
    engine._unchanged_reads[key] = (state, value)
    return value


# Reads that must see every commit made before they were asked for, shared by concurrent callers.
_fresh_reads = SharedReads()


def is_sqlite() -> bool:
    return isinstance(current_engine(), SQLiteEngine)


async def _keep_session(connection: Any) -> None:
    """The pool's reset of a connection given back, after asyncpg's own (which rolls back a transaction left
    open). asyncpg's default also sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`,
    a round trip after every query outside a transaction; the registry leaves nothing of that behind (its
    settings are SET LOCAL or given when connecting, its advisory locks end with their transaction, it opens
    no cursor outside a transaction and listens to nothing)."""


# --- moments read in Vietnam time ---------------------------------------------------------------
# Both databases keep a moment as UTC and drivers hand it back as UTC. Everything the registry shows is
# Vietnam time, so each response used to be walked value by value to convert its datetimes; reading them
# as +07:00 lets a response be encoded once (http.ApiResponse). The instant is the same either way.

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_IN_VIETNAM = _PG_EPOCH.astimezone(VIETNAM)
_PG_INFINITY, _PG_NEGATIVE_INFINITY = 0x7FFFFFFFFFFFFFFF, -0x8000000000000000
# asyncpg's own stand-ins for ±infinity (naive), which its encoder writes as infinity.
_INFINITY_DATETIME = datetime(MAXYEAR, 12, 31, 23, 59, 59, 999999)
_NEGATIVE_INFINITY_DATETIME = datetime(MINYEAR, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _timestamptz_in_vietnam(value: tuple[int]) -> datetime:
    """A timestamptz as PostgreSQL sends it (microseconds since 2000 UTC) as a Vietnam-time datetime; as
    asyncpg would give it (UTC, or its naive stand-ins for infinity) where Vietnam time cannot hold it."""
    microseconds = value[0]
    if microseconds == _PG_INFINITY:
        return _INFINITY_DATETIME
    if microseconds == _PG_NEGATIVE_INFINITY:
        return _NEGATIVE_INFINITY_DATETIME
    offset = timedelta(microseconds=microseconds)
    try:
        return _PG_EPOCH_IN_VIETNAM + offset
    except OverflowError:  # 9999-12-31T23:59:59Z, "no well-defined expiration", is year 10000 in Vietnam
        return _PG_EPOCH + offset


def _timestamptz_out(value: datetime | date) -> tuple[int]:
    """asyncpg's own encoding of a timestamptz parameter: a date is midnight of the process's zone, a naive
    datetime is in that zone too, and its stand-ins for infinity are infinity."""
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise TypeError(f"expected a datetime.date or datetime.datetime instance, got {type(value).__name__!r}")
        value = datetime(value.year, value.month, value.day).astimezone()
    if value == _INFINITY_DATETIME:
        return (_PG_INFINITY,)
    if value == _NEGATIVE_INFINITY_DATETIME:
        return (_PG_NEGATIVE_INFINITY,)
    return ((value.astimezone(UTC) - _PG_EPOCH) // _MICROSECOND,)


async def _read_moments_in_vietnam_time(connection: Any) -> None:
    await connection.set_type_codec("timestamptz", schema="pg_catalog", encoder=_timestamptz_out,
                                    decoder=_timestamptz_in_vietnam, format="tuple")


def _sqlite_integer(value: bytes) -> int:
    """An INTEGER column's value. Piccolo's converter reads every one through a `Decimal` (so that a `1.0`
    stored by another writer still reads as 1): a fifth of the time a 50-row certificate list spent in
    SQLite. `int` reads the text of an integer directly; anything else goes the way Piccolo's goes."""
    try:
        return int(value)
    except ValueError:
        return int(Decimal(value.decode()))


def _sqlite_boolean(value: bytes) -> bool:
    return value == b"1"


def _sqlite_timestamptz_in_vietnam(value: bytes | str) -> datetime:
    """A timestamptz column as Piccolo writes it to SQLite (UTC text; without an offset, taken as UTC), as a
    Vietnam-time datetime; one too late for Vietnam time stays as it was written. `astimezone` is one step
    where shifting by the fixed offset and replacing the zone took two: 0.7 µs against 1.5 a moment, a fifth
    of a 50-row certificate list's fetch (600 → 490 µs)."""
    moment = datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(VIETNAM)
    except OverflowError:
        return moment


async def open_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=1, max_size=10, reset=_keep_session,
                                           init=_read_moments_in_vietnam_time)


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
    if isinstance(engine, SharedConnectionSQLiteEngine):
        await engine.close_shared()


# --- transactions ------------------------------------------------------------------------------


@dataclass
class Tx:
    """One unit of work. Audit entries gathered here are chained and written just before commit."""

    audit_entries: list[Any] = field(default_factory=list)
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_current_tx: ContextVar[Tx | None] = ContextVar("registry_tx", default=None)


def current_tx() -> Tx | None:
    return _current_tx.get()


_lock_wait: ContextVar[float] = ContextVar("registry_lock_wait", default=WRITE_LOCK_WAIT_SECONDS)
_long_read: ContextVar[bool] = ContextVar("registry_long_read", default=False)


@contextlib.contextmanager
def long_read() -> Iterator[None]:
    """The reads inside are expected to be long (a walk through much of a table): on SQLite they take a spare
    connection, so that the short reads of other requests are not queued behind them (READ_CONNECTIONS)."""
    token = _long_read.set(True)
    try:
        yield
    finally:
        _long_read.reset(token)


def is_busy_error(error: BaseException) -> bool:
    """The database could not give a lock in time: SQLite's "database is locked" / "busy", PostgreSQL's
    lock timeout, deadlock or serialization failure. Such a request is worth retrying, so it is a 503."""
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return "locked" in message or "busy" in message
    sqlstate = getattr(error, "sqlstate", None)
    # 55P03 lock_not_available, 40P01 deadlock_detected, 40001 serialization_failure
    return sqlstate in ("55P03", "40P01", "40001")


def busy() -> Exception:
    from registry.errors import Unavailable

    return Unavailable("the database is busy; try again in a moment", retry_after=RETRY_AFTER_SECONDS,
                       code="database_busy")


# How many times this process has written to the database (a transaction committed, or a write made
# outside one with `note_write`): what is derived from the data and kept a few seconds (the pages' to-do
# counts) is recomputed once this moves, so that a user sees their own change at once.
_write_generation = 0


def note_write() -> None:
    global _write_generation
    _write_generation += 1


def write_generation() -> int:
    return _write_generation


@contextlib.asynccontextmanager
async def transaction(*, lock_wait: float | None = None, bookkeeping: bool = False) -> AsyncIterator[Tx]:
    """The single write transaction helper.

    SQLite: BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of one dying
    with "database is locked" at its first write; a writer that waits longer than `lock_wait` seconds
    (default WRITE_LOCK_WAIT_SECONDS) gets `Unavailable` (503 with Retry-After), never a 500.
    PostgreSQL: an ordinary transaction; races are settled by conditional updates, the audit chain's head
    row and `serialize_on`. Nested calls join the outer transaction.
    `bookkeeping`: the writes change no registry data (a token's last use): what this process derived from
    the data (write_generation) stays valid.
    """
    outer = _current_tx.get()
    if outer is not None:
        yield outer
        return
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        piccolo_tx = _ImmediateTransaction(engine=engine, transaction_type=TransactionType.immediate)
    else:
        piccolo_tx = engine.transaction()
    tx = Tx()
    token = _current_tx.set(tx)
    wait_token = _lock_wait.set(lock_wait if lock_wait is not None else WRITE_LOCK_WAIT_SECONDS)
    try:
        try:
            async with piccolo_tx:
                if not isinstance(engine, SQLiteEngine):
                    # PostgreSQL: a row lock held longer than this is the same "try again" as SQLite's.
                    wait_ms = int(1000 * (lock_wait if lock_wait is not None else WRITE_LOCK_WAIT_SECONDS))
                    await engine.current_transaction.get().connection.execute(f"SET LOCAL lock_timeout = {wait_ms}")
                yield tx
                if tx.audit_entries:
                    # Imported here: the audit package depends on this module, not the other way round.
                    from registry.audit.service import write_chained

                    await write_chained(tx.audit_entries)
            if not bookkeeping:
                note_write()
        except Exception as error:
            if is_busy_error(error):
                raise busy() from error
            raise
    finally:
        _lock_wait.reset(wait_token)
        _current_tx.reset(token)
    for hook in tx.after_commit:
        await hook()


# PostgreSQL binds at most 32,767 values per statement, SQLite 32,766.
_MAX_BOUND_VALUES = 30_000


async def bulk_insert(table: type[Table], rows: list[dict[str, Any]], returning: tuple[str, ...] = (),
                      skip_conflicts_on: str | None = None) -> list[dict[str, Any]]:
    """Insert many rows in few statements, inside the current transaction. Piccolo builds each row's SQL in
    Python, which for tens of thousands of rows costs far more than the database's work; this binds the
    values directly. Every row names the same columns. Returns the `returning` columns of each row.
    `skip_conflicts_on` names a unique column: rows clashing on it are skipped (and not returned)."""
    tx = _current_tx.get()
    if tx is None:
        raise RuntimeError("bulk_insert needs a transaction")
    if not rows:
        return []
    engine = current_engine()
    connection = engine.current_transaction.get().connection
    columns = list(rows[0])
    per_statement = max(1, _MAX_BOUND_VALUES // len(columns))
    quoted = ", ".join(f'"{column}"' for column in columns)
    tail = f' ON CONFLICT ("{skip_conflicts_on}") DO NOTHING' if skip_conflicts_on else ""
    tail += f" RETURNING {', '.join(returning)}" if returning else ""
    sqlite = isinstance(engine, SQLiteEngine)
    results: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = [row[column] for row in chunk for column in columns]
        if sqlite:
            row_marks = "(" + ", ".join("?" * len(columns)) + ")"
            groups = ", ".join([row_marks] * len(chunk))
        else:
            width = len(columns)
            groups = ", ".join(
                "(" + ", ".join(f"${index * width + offset + 1}" for offset in range(width)) + ")"
                for index in range(len(chunk))
            )
        sql = f'INSERT INTO "{table._meta.tablename}" ({quoted}) VALUES {groups}{tail}'
        if sqlite:
            async with connection.execute(sql, values) as cursor:
                fetched = await cursor.fetchall() if returning else []
        else:
            fetched = [dict(record) for record in await connection.fetch(sql, *values)] if returning else []
            if not returning:
                await connection.execute(sql, *values)
        results.extend(dict(item) for item in fetched)
    return results


async def best_effort(write: Callable[[], Awaitable[Any]], what: str) -> None:
    """Bookkeeping that must never fail the request it rides on (a token's last use, a session's last
    activity): its own short transaction, skipped with a warning when the database is busy or refuses."""
    if _current_tx.get() is not None:
        # Inside someone's transaction the write simply joins it.
        await write()
        return
    try:
        async with transaction(lock_wait=BOOKKEEPING_WAIT_SECONDS, bookkeeping=True):
            await write()
    except Exception as error:  # noqa: BLE001 - bookkeeping is never worth a failed request
        logger.warning("skipped %s: %s", what, error)


async def serialize_on(kind: int, key: str) -> None:
    """Inside a transaction: wait until no other transaction holds the same (kind, key), until commit.
    SQLite's BEGIN IMMEDIATE already serialises every writer; PostgreSQL takes a transaction-level
    advisory lock. Callers take kinds in increasing order, so two keys never deadlock."""
    if _current_tx.get() is None:
        raise RuntimeError("serialize_on needs a transaction")
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return
    connection = engine.current_transaction.get().connection
    await connection.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", kind, key)


# --- migrations --------------------------------------------------------------------------------


def migrations_root() -> Path:
    """`migrations/` beside the package in a checkout; `registry/_migrations` inside a built wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parent / "migrations", package_dir / "_migrations"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("migrations folder not found")


async def migrate() -> list[str]:
    """Apply pending migrations of every app; returns the ids applied."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    before = await applied_migrations()
    # Piccolo narrates each step on stdout; the CLI reports a summary instead.
    with contextlib.redirect_stdout(io.StringIO()) as narration:
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}\n{narration.getvalue()}")
    after = await applied_migrations()
    return [name for name in after if name not in before]


async def applied_migrations() -> list[str]:
    if not await Migration.table_exists():
        return []
    rows = await Migration.select(Migration.name).order_by(Migration.id)
    return [row["name"] for row in rows]


async def pending_migrations() -> list[str]:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.conf.apps import Finder

    applied = set(await applied_migrations())
    manager = BaseMigrationManager()
    pending: list[str] = []
    for app_config in Finder().get_app_configs():
        modules = manager.get_migration_modules(app_config.resolved_migrations_folder_path)
        pending.extend(sorted(set(modules) - applied))
    return pending
