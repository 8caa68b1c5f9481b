"""SQLite's text index for the certificate search, in the list's own order (issue 12).

The FTS5 table of 2026-12-01T04:00 found a search's matches by certificate id. When a search's words match
many certificates ("nguyen van": 6,000 of a million), the list walked its name index instead, testing each
entry until its page was full: 75,000 entries, 13 ms, since the matches of a common family name sit together
late in the name order. An FTS5 table hands its matches back in rowid order, and stops when the query has
enough; so here the rowid is the certificate's *rank in the name order* (search_key, not_after descending,
id), and the list reads a page of matches straight from it (0.5 ms for the same search).

- `certificate_name_rank (rank, certificate_id, search_key)`: one row per certificate, ranks increasing with
  the name order, spaced RANK_GAP apart when filled so that a new certificate takes the midpoint between its
  neighbours. Where two neighbours hold consecutive ranks, the run of consecutive ranks that follows is moved
  up by one first (`MAKE_ROOM`): 32 certificates placed at the very same point before that happens once.
- `certificate_search_ranked`: the FTS5 trigram index of those search keys, rowid = rank, reading its text
  from the rank table (content=), no positions (detail='none'), which a LIKE does not need.
- Triggers on `certificate` keep the ranks (insert, a change of search_key or not_after, delete); triggers on
  the rank table keep the FTS5 index. registry/generate.py sets them aside for its bulk load and fills both
  tables at the end.

The first table and its triggers are dropped: the new one answers every question it answered. Where FTS5 or
its trigram tokenizer is missing from the SQLite library, neither exists and the search walks the name index."""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-01T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "certificate text index in the name order on SQLite"

logger = logging.getLogger("registry.migrations")

RANKS = "certificate_name_rank"
TEXT_TABLE = "certificate_search_ranked"
RANK_GAP = 1 << 32

# The rank of the last ranked certificate at or before (search_key, not_after, id) in the name order, 0 if
# none: the name index read backwards from the key, one step in all but a run of equal keys.
PREVIOUS_RANK = (
    f"COALESCE((SELECT r.rank FROM certificate c JOIN {RANKS} r ON r.certificate_id = c.id "
    "WHERE c.search_key <= new.search_key AND (c.search_key < new.search_key OR c.not_after > new.not_after "
    "OR (c.not_after = new.not_after AND c.id <= new.id)) "
    "ORDER BY c.search_key DESC, c.not_after, c.id DESC LIMIT 1), 0)"
)
# Where the rank after PREVIOUS_RANK is taken, move the run of consecutive ranks starting there up by one
# (through negative values: SQLite checks the key row by row). A trigger cannot hold WITH, hence the repeats.
MAKE_ROOM = (
    f"UPDATE {RANKS} SET rank = -(rank + 1) WHERE rank > {PREVIOUS_RANK} "
    f"AND rank <= (SELECT r.rank FROM {RANKS} r WHERE r.rank > {PREVIOUS_RANK} "
    f"AND NOT EXISTS (SELECT 1 FROM {RANKS} n WHERE n.rank = r.rank + 1) ORDER BY r.rank LIMIT 1) "
    f"AND EXISTS (SELECT 1 FROM {RANKS} t WHERE t.rank = {PREVIOUS_RANK} + 1); "
    f"UPDATE {RANKS} SET rank = -rank WHERE rank < 0;"
)
# The midpoint between the previous rank and the next (or RANK_GAP past the last).
TAKE_RANK = (
    f"INSERT INTO {RANKS} (rank, certificate_id, search_key) "
    f"SELECT previous + (COALESCE((SELECT rank FROM {RANKS} WHERE rank > previous ORDER BY rank LIMIT 1), "
    f"previous + 2 * {RANK_GAP}) - previous) / 2, new.id, new.search_key FROM (SELECT {PREVIOUS_RANK} AS previous);"
)
TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_insert AFTER INSERT ON certificate BEGIN {MAKE_ROOM} {TAKE_RANK} END",
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_update AFTER UPDATE OF search_key, not_after ON certificate BEGIN "
    f"DELETE FROM {RANKS} WHERE certificate_id = old.id; {MAKE_ROOM} {TAKE_RANK} END",
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_delete AFTER DELETE ON certificate BEGIN "
    f"DELETE FROM {RANKS} WHERE certificate_id = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_text_insert AFTER INSERT ON {RANKS} BEGIN "
    f"INSERT INTO {TEXT_TABLE} (rowid, search_key) VALUES (new.rank, new.search_key); END",
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_text_update AFTER UPDATE ON {RANKS} BEGIN "
    f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}, rowid, search_key) VALUES ('delete', old.rank, old.search_key); "
    f"INSERT INTO {TEXT_TABLE} (rowid, search_key) VALUES (new.rank, new.search_key); END",
    f"CREATE TRIGGER IF NOT EXISTS {RANKS}_text_delete AFTER DELETE ON {RANKS} BEGIN "
    f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}, rowid, search_key) VALUES ('delete', old.rank, old.search_key); END",
)
FILL = (
    f"INSERT INTO {RANKS} (rank, certificate_id, search_key) SELECT ROW_NUMBER() OVER "
    f"(ORDER BY search_key, not_after DESC, id) * {RANK_GAP}, id, search_key FROM certificate"
)
PREVIOUS_TABLE = "certificate_search"


async def rank_text_table() -> None:
    engine = engine_finder()
    if not isinstance(engine, SQLiteEngine):
        return
    for trigger in ("insert", "update", "delete"):
        await engine.run_ddl(f"DROP TRIGGER IF EXISTS {PREVIOUS_TABLE}_{trigger}")
    await engine.run_ddl(f"DROP TABLE IF EXISTS {PREVIOUS_TABLE}")
    await engine.run_ddl(f"CREATE TABLE IF NOT EXISTS {RANKS} (rank INTEGER PRIMARY KEY, "
                         "certificate_id INTEGER NOT NULL UNIQUE, search_key TEXT NOT NULL)")
    try:
        await engine.run_ddl(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TEXT_TABLE} USING fts5(search_key, "
                             f"content='{RANKS}', content_rowid='rank', tokenize='trigram', detail='none')")
    except Exception as error:  # noqa: BLE001 — no FTS5 or no trigram tokenizer in this SQLite: go on without
        logger.warning("the SQLite library has no FTS5 trigram tokenizer (%s): the certificate search walks the "
                       "name index, without a text index", error)
        await engine.run_ddl(f"DROP TABLE {RANKS}")
        return
    await engine.run_ddl(f"DELETE FROM {RANKS}")
    await engine.run_ddl(FILL)
    await engine.run_ddl(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('rebuild')")
    for trigger in TRIGGERS:
        await engine.run_ddl(trigger)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(rank_text_table)
    return manager
