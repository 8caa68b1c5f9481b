"""SQLite reads outside a transaction: the short ones on one shared connection (spreading them over several
was measured slower under load), long ones (announced with `db.long_read`, or met while the shared
connection is held up) on spare connections; the audit chain's head, read on every request, on the event
loop's own thread, which never waits for a lock there."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from registry import db
from registry.audit import service as audit
from registry.audit.tables import AuditHead
from registry.settings import Settings

# A read that keeps SQLite busy for a while (about half a second here), without any table.
LONG = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) AS n FROM c"


@pytest.fixture
def engine(migrated: str, settings: Settings) -> db.SharedConnectionSQLiteEngine:
    if not settings.database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's connections")
    engine = db.current_engine()
    assert isinstance(engine, db.SharedConnectionSQLiteEngine)
    return engine


def shared(engine: db.SharedConnectionSQLiteEngine) -> list:
    return engine._shared.get(id(asyncio.get_running_loop()), [])


async def until(condition, seconds: float = 10.0) -> None:
    """Wait (on a loaded machine, opening a connection may take a while) until `condition()` holds."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_short_reads_share_one_connection(engine) -> None:
    answers = await asyncio.gather(*(AuditHead.raw("SELECT {} AS n", n) for n in range(20)))
    assert [rows[0]["n"] for rows in answers] == list(range(20))
    assert len(shared(engine)) == 1


async def test_an_announced_long_read_takes_a_spare_connection(engine) -> None:
    await AuditHead.raw("SELECT 1")
    primary = shared(engine)[0]
    with db.long_read():
        long = asyncio.ensure_future(AuditHead.raw(LONG))
    await until(lambda: len(shared(engine)) == 2)
    assert shared(engine)[0] is primary
    # The shared connection is free: a short read is answered while the long one still runs.
    assert await AuditHead.raw("SELECT 2 AS two") == [{"two": 2}]
    assert not long.done()
    assert (await long)[0]["n"] == 1_000_000


async def test_reads_arriving_while_the_shared_connection_is_held_up_take_a_spare(engine, monkeypatch) -> None:
    monkeypatch.setattr(db, "READ_STALL_SECONDS", 0.01)
    await AuditHead.raw("SELECT 1")
    long = asyncio.ensure_future(AuditHead.raw(LONG))  # not announced: it goes to the shared connection
    await asyncio.sleep(0.05)
    assert not long.done() and len(shared(engine)) == 1
    assert await AuditHead.raw("SELECT 2 AS two") == [{"two": 2}]
    assert not long.done()  # answered on a spare, not queued behind the long read
    assert len(shared(engine)) == 2
    assert (await long)[0]["n"] == 1_000_000


async def test_the_audit_head_is_read_on_the_loop_as_raw_reads_it(engine) -> None:
    async with db.transaction():
        await AuditHead.raw("INSERT INTO audit_head (id, seq, hash) VALUES (1, 7, 'abc') "
                            "ON CONFLICT (id) DO UPDATE SET seq = 7, hash = 'abc'")
    assert await audit.head() == (7, "abc")
    assert engine._quick, "read on the loop's own connection"
    assert await db.quick_read(AuditHead, "SELECT seq, hash FROM audit_head WHERE id = {}", 1) == \
        await AuditHead.raw("SELECT seq, hash FROM audit_head WHERE id = {}", 1)


async def test_a_quick_read_in_a_transaction_sees_its_own_writes(engine) -> None:
    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with db.transaction():
            await AuditHead.raw("INSERT INTO audit_head (id, seq, hash) VALUES (1, 9, 'inside') "
                                "ON CONFLICT (id) DO UPDATE SET seq = 9, hash = 'inside'")
            assert await audit.head() == (9, "inside")
            raise Undo
    assert await audit.head() != (9, "inside")


async def test_a_quick_read_never_waits_for_a_lock_on_the_loop(engine, settings: Settings) -> None:
    holder = sqlite3.connect(db.sqlite_path(settings.database_url), isolation_level=None)
    try:
        # A connection in exclusive locking mode, writing: no other connection may read meanwhile.
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE audit_head SET seq = seq")
        assert engine.read_on_loop("SELECT seq FROM audit_head", []) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert engine.read_on_loop("SELECT 5 AS five", []) == [{"five": 5}]


@pytest.mark.parametrize("text", [b"0", b"1", b"-5", b"2147483647", b"123456789012345678901234567890", b"1.0", b"2.5",
                                  b"-7.9", b" 12 ", b"1e3"])
def test_integers_read_as_piccolo_reads_them(text: bytes) -> None:
    """The registry's INTEGER converter skips Piccolo's Decimal for the text of an integer, and otherwise
    reads what Piccolo reads (a 1.0 another writer stored), as the same type."""
    from piccolo.engine.sqlite import convert_int_out

    assert db._sqlite_integer(text) == convert_int_out(text)
    assert type(db._sqlite_integer(text)) is int


def test_a_text_that_is_no_number_is_refused_as_piccolo_refuses_it() -> None:
    from piccolo.engine.sqlite import convert_int_out

    with pytest.raises(ArithmeticError):
        convert_int_out(b"hello")
    with pytest.raises(ArithmeticError):
        db._sqlite_integer(b"hello")


@pytest.mark.parametrize("text", [b"0", b"1", b"2"])
def test_booleans_read_as_piccolo_reads_them(text: bytes) -> None:
    from piccolo.engine.sqlite import convert_boolean_out

    assert db._sqlite_boolean(text) is convert_boolean_out(text)


async def test_rows_read_with_the_registry_converters(engine) -> None:
    """Through the engine, integer, boolean and moment columns come back as Python's int, bool and a
    datetime in Vietnam time, NULL as None."""
    from registry.certs.tables import Certificate

    await Certificate.raw("CREATE TABLE converted (n INTEGER, flag BOOLEAN, moment TIMESTAMPTZ, missing INTEGER)")
    await Certificate.raw("INSERT INTO converted VALUES (42, 1, '2026-12-02 05:00:00', NULL), (-3, 0, "
                          "'2026-01-01 00:00:00.5', NULL)")
    rows = await Certificate.raw("SELECT n, flag, moment, missing FROM converted ORDER BY n DESC")
    assert [(row["n"], row["flag"], row["missing"]) for row in rows] == [(42, True, None), (-3, False, None)]
    assert all(type(row["n"]) is int and type(row["flag"]) is bool for row in rows)
    assert rows[0]["moment"].isoformat() == "2026-12-02T12:00:00+07:00"
