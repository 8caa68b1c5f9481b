"""A text index for the certificate search (issue 12, at a million certificates): the list filters by words
that occur anywhere in the search key (`LIKE '%word%'`) and is read in the search key's order, so a word
whose matches sit together late in that order, or that matches little or nothing, made the planner walk
most of the table. A trigram index finds the few thousand matches of such a search at once; the list then
sorts those (registry/certs/service.py chooses which way to read by the planner's estimate of the matches).

PostgreSQL only: a GIN trigram index (pg_trgm) when the extension is available and may be created here. A
server without it, or a role that may not create it, keeps the ordered reading and the migration does not
fail: the attempt runs in a savepoint, so that a refusal cannot abort the migration's transaction. SQLite
keeps the ordered reading (its LIKE is evaluated on the name index's entries, without the table)."""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-30T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "text search index for certificates"

logger = logging.getLogger("registry.migrations")

TRIGRAM_INDEX = "certificate_search_trigram"


async def add_search_index() -> None:
    engine = engine_finder()
    if isinstance(engine, SQLiteEngine):
        return
    if not await engine.run_ddl("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"):
        logger.warning("pg_trgm is not available: the certificate search reads in order, without a text index")
        return
    # Piccolo runs a migration's raw steps in one transaction: a statement that failed would abort it, and
    # every later one (this migration's and the next ones') would be refused. A savepoint keeps it usable.
    await engine.run_ddl("SAVEPOINT certificate_search_trigram")
    try:
        await engine.run_ddl("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # noqa: BLE001 — not permitted (or anything else): go on without the index
        await engine.run_ddl("ROLLBACK TO SAVEPOINT certificate_search_trigram")
        logger.warning("pg_trgm could not be created (%s): the certificate search reads in order, without a "
                       "text index", error)
        return
    await engine.run_ddl("RELEASE SAVEPOINT certificate_search_trigram")
    await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON certificate USING gin (search_key gin_trgm_ops)")
    await engine.run_ddl("ANALYZE certificate")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_search_index)
    return manager
