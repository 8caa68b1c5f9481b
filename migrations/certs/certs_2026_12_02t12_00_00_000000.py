"""PostgreSQL: the search keys of the certificates, each once, in a table of their own with a trigram index
(issue 12).

The certificate search matches words anywhere in a search key and lists the matches in the name order. The
trigram index on the certificates (2026-11-30T12:00) finds every match, and the list then fetched each one
from the table to sort them: "nguyen van" at a million certificates has 6,000 matches spread over 2,800 pages
of a 1.7 GB table (11 ms, where 20,000 certificates took 0.3 ms). Certificates share their search keys (a
person's renewals, a clerk's seal): the million hold 210,000 distinct keys, and the 1,700 that match "nguyen
van" sit in 24 pages of a small table that stays in memory. So a wide list finds the matching keys there,
sorts them, and reads each key's certificates through the name index, in order, until its page is full
(registry/certs/service.py, `NAMES`): 1 ms for the same search.

- `certificate_search_name (search_key)`: every search key a certificate has or had. A key whose certificates
  all changed theirs stays, harmless: the list finds no certificate under it.
- A trigger per INSERT statement adds the new keys (a bulk load adds each once); a row trigger adds the new
  key of a certificate whose search key changes.
- The trigram index on those keys, where pg_trgm is available (the migration of 2026-11-30T12:00 creates the
  extension); without it the search reads as it did.

SQLite has its ranked FTS5 table (2026-12-01T12:00) and gets nothing here."""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-02T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "distinct certificate search keys with a trigram index on PostgreSQL"

logger = logging.getLogger("registry.migrations")

NAMES = "certificate_search_name"
NAMES_INDEX = "certificate_search_name_trigram"

STATEMENTS = [
    f"CREATE TABLE IF NOT EXISTS {NAMES} (search_key text PRIMARY KEY)",
    f"""CREATE OR REPLACE FUNCTION {NAMES}_add_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {NAMES} (search_key) SELECT DISTINCT search_key FROM inserted_certificates ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION {NAMES}_add_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {NAMES} (search_key) VALUES (NEW.search_key) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$""",
    f"DROP TRIGGER IF EXISTS {NAMES}_insert ON certificate",
    f"CREATE TRIGGER {NAMES}_insert AFTER INSERT ON certificate REFERENCING NEW TABLE AS inserted_certificates "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {NAMES}_add_inserted()",
    f"DROP TRIGGER IF EXISTS {NAMES}_update ON certificate",
    f"CREATE TRIGGER {NAMES}_update AFTER UPDATE OF search_key ON certificate FOR EACH ROW "
    f"WHEN (OLD.search_key IS DISTINCT FROM NEW.search_key) EXECUTE FUNCTION {NAMES}_add_changed()",
    f"INSERT INTO {NAMES} (search_key) SELECT DISTINCT search_key FROM certificate ON CONFLICT DO NOTHING",
]


async def add_search_names() -> None:
    engine = engine_finder()
    if isinstance(engine, SQLiteEngine):
        return
    for statement in STATEMENTS:
        await engine.run_ddl(statement)
    if not await engine.run_ddl("SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops'"):
        logger.warning("pg_trgm is not installed: the certificate search reads its keys without a text index")
        return
    await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {NAMES_INDEX} ON {NAMES} USING gin (search_key gin_trgm_ops)")
    await engine.run_ddl(f"ANALYZE {NAMES}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_search_names)
    return manager
