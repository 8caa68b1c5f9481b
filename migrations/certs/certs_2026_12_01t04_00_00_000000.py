"""A text index for the certificate search on SQLite (issue 12), as PostgreSQL has its trigram index
(2026-11-30T12:00): the list filters by words anywhere in the search key (`LIKE '%word%'`), which SQLite could
only test while walking the name index in order. A word that matches little or nothing walked all of it: at a
million certificates, 0.15 to 1 s for a typo, holding one of the reading connections as long.

An FTS5 table with the trigram tokenizer (SQLite 3.34 and later) over the certificates' search keys, kept
by triggers; it holds no copy of the text (`content='certificate'`) and no positions (`detail='none'`), which
a LIKE does not need. registry/certs/service.py asks it how many certificates a search's words match and reads
few matches through it. Where FTS5 or its trigram tokenizer is missing from the SQLite library, the table is
not made and the search walks the name index as before."""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-01T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "text search index for certificates on SQLite"

logger = logging.getLogger("registry.migrations")

TEXT_TABLE = "certificate_search"
# Kept in step with certificate.search_key; registry/generate.py sets them aside for a bulk load and rebuilds.
TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS {TEXT_TABLE}_insert AFTER INSERT ON certificate BEGIN "
    f"INSERT INTO {TEXT_TABLE} (rowid, search_key) VALUES (new.id, new.search_key); END",
    f"CREATE TRIGGER IF NOT EXISTS {TEXT_TABLE}_update AFTER UPDATE OF search_key ON certificate BEGIN "
    f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}, rowid, search_key) VALUES ('delete', old.id, old.search_key); "
    f"INSERT INTO {TEXT_TABLE} (rowid, search_key) VALUES (new.id, new.search_key); END",
    f"CREATE TRIGGER IF NOT EXISTS {TEXT_TABLE}_delete AFTER DELETE ON certificate BEGIN "
    f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}, rowid, search_key) VALUES ('delete', old.id, old.search_key); END",
)


async def add_text_table() -> None:
    engine = engine_finder()
    if not isinstance(engine, SQLiteEngine):
        return
    try:
        await engine.run_ddl(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TEXT_TABLE} USING fts5(search_key, "
                             "content='certificate', content_rowid='id', tokenize='trigram', detail='none')")
    except Exception as error:  # noqa: BLE001 — no FTS5 or no trigram tokenizer in this SQLite: go on without
        logger.warning("the SQLite library has no FTS5 trigram tokenizer (%s): the certificate search walks the "
                       "name index, without a text index", error)
        return
    for trigger in TRIGGERS:
        await engine.run_ddl(trigger)
    await engine.run_ddl(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('rebuild')")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_text_table)
    return manager
