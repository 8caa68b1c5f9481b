"""An agency CSV import of N rows: total time and how long the write lock is held, next to a bare baseline
(the same rows inserted with plain sqlite3 `executemany` in one transaction), in one run.

    python benchmarks/bench_import.py [--rows 45000]

Each side gets a throw-away SQLite database. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import tempfile
import time
from pathlib import Path

from registry import db
from registry.agencies import service as agencies
from registry.auth.principal import system_principal


def agency_csv(rows: int) -> bytes:
    """A province of `rows` agencies: departments, their offices and teams (valid QCVN 102 codes)."""
    lines = ["code,name,parent_code", "000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,"]
    for y in range(1, 100):
        lines.append(f"000.00.{y:02d}.H49,Sở số {y},000.00.00.H49")
        for z in range(1, 100):
            lines.append(f"000.{z:02d}.{y:02d}.H49,Phòng {z} của sở {y},000.00.{y:02d}.H49")
            for v in range(1, 5):
                lines.append(f"{v:03d}.{z:02d}.{y:02d}.H49,Tổ {v} phòng {z} sở {y},000.{z:02d}.{y:02d}.H49")
                if len(lines) > rows:
                    return "\n".join(lines).encode()
    return "\n".join(lines).encode()


def bare_baseline(content: bytes, path: Path) -> float:
    """The floor: the same rows into a table with the same indexes, no checks, no audit."""
    rows = [line.split(",") for line in content.decode().splitlines()[1:]]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE agency (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT, parent_code TEXT)")
    connection.execute("CREATE INDEX agency_parent ON agency (parent_code)")
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO agency (code, name, parent_code) VALUES (?, ?, ?)", rows)
    connection.execute("COMMIT")
    took = time.perf_counter() - started
    connection.close()
    return took


async def registry_import(content: bytes, path: Path) -> tuple[float, float]:
    engine = db.use_database(f"sqlite:///{path}")
    await db.migrate()
    held: list[float] = []
    original = agencies.db.transaction

    @contextlib.asynccontextmanager
    async def timed(**kwargs):
        started = time.perf_counter()
        async with original(**kwargs) as tx:
            yield tx
        held.append(time.perf_counter() - started)

    agencies.db.transaction = timed
    try:
        started = time.perf_counter()
        await agencies.import_csv(system_principal("bench"), content)
        total = time.perf_counter() - started
    finally:
        agencies.db.transaction = original
        await db.close_pool(engine)
    return total, sum(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=45_000)
    args = parser.parse_args()
    content = agency_csv(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        baseline = bare_baseline(content, Path(folder) / "bare.sqlite3")
        total, locked = asyncio.run(registry_import(content, Path(folder) / "registry.sqlite3"))
    rows = content.count(b"\n")
    print(f"{rows} agencies")
    print(f"  bare executemany, one transaction: {baseline:6.2f} s")
    print(f"  registry import (checked, audited): {total:6.2f} s in all, write lock held {locked:6.2f} s")


if __name__ == "__main__":
    main()
