"""On SQLite, whether anything was committed since, by any process, is read from the write-ahead log's
index, with no query (`db.committed_state`), and the audit chain's head, which tells every request whether
who is asking may have changed (registry/auth/known.py), is read again only after a commit: a query let go
of the GIL inside SQLite, and under load getting it back cost eight times the read (README, "Who is asking,
without a query"). The state must move with every commit, by this process or any other; the head is read
as before whenever the state cannot be had."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys

import pytest

from registry import db
from registry.audit import service as audit
from registry.auth import service as auth
from registry.auth.principal import system_principal
from registry.settings import Settings


@pytest.fixture
def engine(migrated: str, settings: Settings) -> db.SharedConnectionSQLiteEngine:
    if not settings.database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's write-ahead log")
    engine = db.current_engine()
    assert isinstance(engine, db.SharedConnectionSQLiteEngine)
    return engine


async def test_the_state_moves_with_every_commit_of_any_process(engine) -> None:
    first = db.committed_state()
    assert isinstance(first, bytes) and len(first) == 48
    # Reads, by the registry or anyone, commit nothing.
    await audit.head()
    with contextlib.closing(sqlite3.connect(engine.path)) as reader:
        reader.execute("SELECT count(*) FROM audit_entry").fetchall()
    assert db.committed_state() == first

    # A change through the registry (its audit entry and the chain's head, in one transaction).
    async with db.transaction():
        audit.record(system_principal("test"), "test.change", "test", "1")
    second = db.committed_state()
    assert second is not None and second != first

    # Another process's commit of anything, even a table the registry does not know.
    script = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.execute('CREATE TABLE IF NOT EXISTS elsewhere (x)'); c.execute('INSERT INTO elsewhere VALUES (1)'); "
              "c.commit()")
    subprocess.run([sys.executable, "-c", script, engine.path], check=True, timeout=60)
    third = db.committed_state()
    assert third is not None and third not in (first, second)

    # Another connection of this process, and a checkpoint that starts the log again.
    other = sqlite3.connect(engine.path, isolation_level=None)
    other.execute("INSERT INTO elsewhere VALUES (2)")
    fourth = db.committed_state()
    assert fourth not in (first, second, third)
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    other.execute("INSERT INTO elsewhere VALUES (3)")
    assert db.committed_state() not in (first, second, third, fourth)
    other.close()


async def test_a_header_being_rewritten_is_not_taken(engine) -> None:
    """A writer rewrites the second copy of the header, then the first: copies that differ are read again
    from the database instead (None), as SQLite's own readers do."""
    assert db.committed_state() is not None
    key = id(asyncio.get_running_loop())
    index = engine._wal_index[key]
    whole = bytes(index[0:96])
    try:
        engine._wal_index[key] = whole[:48] + bytes([whole[48] ^ 1]) + whole[49:]
        assert db.committed_state() is None
        uninitialised = bytearray(whole)
        uninitialised[12] = uninitialised[60] = 0
        engine._wal_index[key] = bytes(uninitialised)
        assert db.committed_state() is None
    finally:
        engine._wal_index[key] = index
    assert db.committed_state() == whole[:48]


def counting_head_reads(monkeypatch) -> list[tuple[int, str]]:
    reads: list[tuple[int, str]] = []
    original = audit._read_head

    async def counted() -> tuple[int, str]:
        reads.append(await original())
        return reads[-1]

    monkeypatch.setattr(audit, "_read_head", counted)
    return reads


async def test_the_chains_head_is_read_again_only_after_a_commit(engine, monkeypatch) -> None:
    reads = counting_head_reads(monkeypatch)
    first = await auth._data_marker()
    assert await auth._data_marker() == first and await audit.head() == first[1:]
    assert len(reads) == 1
    # Another process commits something that is not a change of registry data (a token's last use, say):
    # the head is read again, and is the same.
    script = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.execute('CREATE TABLE IF NOT EXISTS elsewhere (x)'); c.commit()")
    subprocess.run([sys.executable, "-c", script, engine.path], check=True, timeout=60)
    assert await auth._data_marker() == first
    assert len(reads) == 2
    # Another process's change of registry data: seen at once.
    script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"
    upsert = ("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'changed elsewhere') "
              "ON CONFLICT (id) DO UPDATE SET hash = excluded.hash")
    subprocess.run([sys.executable, "-c", script, engine.path, upsert], check=True, timeout=60)
    changed = await auth._data_marker()
    assert changed != first and changed[2] == "changed elsewhere"
    # Inside a transaction the head is read through it, every time.
    async with db.transaction():
        before = len(reads)
        await audit.head()
        await audit.head()
        assert len(reads) == before + 2
        audit.record(system_principal("test"), "test.change", "test", "3")
    assert await auth._data_marker() not in (first, changed)


async def test_without_the_index_the_chains_head_is_read_each_time(engine, monkeypatch) -> None:
    monkeypatch.setattr(db.SharedConnectionSQLiteEngine, "committed_state", lambda self: None)
    reads = counting_head_reads(monkeypatch)
    before = await auth._data_marker()
    assert before == (db.write_generation(), *await audit.head())
    assert len(reads) == 2
    async with db.transaction():
        audit.record(system_principal("test"), "test.change", "test", "2")
    assert await auth._data_marker() != before


async def test_the_index_is_let_go_with_the_connections(engine) -> None:
    assert db.committed_state() is not None
    index = engine._wal_index[id(asyncio.get_running_loop())]
    await engine.close_shared()
    assert index.closed and engine._wal_index == {} and engine._quick == {}
    # Mapped again when next asked for.
    assert db.committed_state() is not None
