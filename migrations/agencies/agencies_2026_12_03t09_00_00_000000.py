"""PostgreSQL: the agencies of a subtree read from the path index alone (issue 12).

A list confined to a wide subtree tests each row's agency against the subtree's agencies, gathered once into
a hashed set (registry/subtree.py): `agency IN (SELECT id FROM agency WHERE path LIKE '/1/2/%')`. A
department holds a sixth of 10,000 agencies, and for so many the planner read the whole agency table rather
than look each one up from the path index through the table's pages (1.8 ms of the department's 3.2 ms list
at a million certificates). The path index now carries the id, and the set is read from the index alone:
0.17 ms. It replaces the path's prefix index (2026-11-30T05:10), whose every use it serves.

SQLite's indexes carry the rowid, which is the agency's id: its path index already answers alone."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the agency path index carries the id (PostgreSQL)"


async def covering_path_index() -> None:
    engine = engine_finder()
    if engine.engine_type == "postgres":
        await engine.run_ddl("CREATE INDEX IF NOT EXISTS agency_path_ids ON agency (path text_pattern_ops) INCLUDE (id)")
        await engine.run_ddl("DROP INDEX IF EXISTS agency_path_prefix")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="agencies", description=DESCRIPTION)
    manager.add_raw(covering_path_index)
    return manager
