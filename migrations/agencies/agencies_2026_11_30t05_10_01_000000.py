"""Subtree queries ask for agency paths by prefix (registry.subtree): on PostgreSQL, `LIKE 'prefix%'` is
served only by an index with `text_pattern_ops` whatever the database's collation. SQLite asks a range,
which the ordinary index serves."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T05:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "prefix index on agency paths"


async def prefix_index() -> None:
    engine = engine_finder()
    if engine.engine_type == "postgres":
        await engine.run_ddl("CREATE INDEX IF NOT EXISTS agency_path_prefix ON agency (path text_pattern_ops)")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="agencies", description=DESCRIPTION)
    manager.add_raw(prefix_index)
    return manager
