"""SQLite's text index for the certificate search, in the list's own order (issue 12).

The FTS5 table of 2026-12-01T04:00 found a search's matches by certificate id. When a search's words match
many certificates ("nguyen van": 6,000 of a million), the list walked its name index instead, testing each
entry until its page was full: 75,000 entries, 13 ms, since the matches of a common family name sit together
late in the name order. An FTS5 table hands its matches back in rowid order, and stops when the query has
enough; so here the rowid is the certificate's *rank in the name order* (search_key, not_after descending,
id), and the list reads a page of matches straight from it (0.5 ms for the same search).

- `certificate_name_rank (rank, certificate_id, search_key)`: one row per certificate, ranks increasing with
  the name order, spaced RANK_GAP apart when filled so that a new certificate takes the midpoint between its
  neighbours. Where two neighbours hold consecutive ranks (32 certificates placed at the very same point), the
  hundred ranks around them are first spread evenly over their neighbours' room (`MAKE_ROOM`), through
  `certificate_name_rank_moves`.
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
# Where the rank after PREVIOUS_RANK is taken, the SPREAD_HALF ranks up to it and the SPREAD_HALF after it are
# spread evenly over the room between their neighbours: deleted and put back at their new ranks, through a
# table of moves, so that the text index deletes and inserts each once. Certificates placed one after another
# at one point (an import sorted by name, each after the one before; renewals, each before the one before)
# halve the room there each time; spreading the crowd over its neighbours' room makes room for as many again,
# at the cost of a hundred moves once in a while. A trigger cannot hold WITH, hence the repeats.
SPREAD_HALF = 50
MOVES = f"{RANKS}_moves"
NO_ROOM = f"EXISTS (SELECT 1 FROM {RANKS} t WHERE t.rank = {PREVIOUS_RANK} + 1)"
SPREAD_START = (
    f"COALESCE((SELECT rank FROM {RANKS} WHERE rank <= {PREVIOUS_RANK} ORDER BY rank DESC LIMIT 1 "
    f"OFFSET {SPREAD_HALF}), 0)"
)
SPREAD_END = (
    f"COALESCE((SELECT rank FROM {RANKS} WHERE rank > {PREVIOUS_RANK} ORDER BY rank LIMIT 1 OFFSET {SPREAD_HALF}), "
    f"(SELECT MAX(rank) FROM {RANKS}) + 2 * {RANK_GAP})"
)
SPREAD_STEP = f"(({SPREAD_END} - {SPREAD_START}) / {2 * SPREAD_HALF + 1})"
# Only where there is no room (the gate, a row or none, is read first): the rest is then never run.
SPREAD = (
    f"INSERT INTO {MOVES} (old_rank, new_rank, certificate_id, search_key) SELECT r.rank, {SPREAD_START} + "
    f"ROW_NUMBER() OVER (ORDER BY r.rank) * {SPREAD_STEP}, r.certificate_id, r.search_key "
    f"FROM (SELECT 1 WHERE {NO_ROOM}) AS gate CROSS JOIN {RANKS} r "
    f"WHERE r.rank > {SPREAD_START} AND r.rank < {SPREAD_END} AND {SPREAD_STEP} >= 2; "
    f"DELETE FROM {RANKS} WHERE rank IN (SELECT old_rank FROM {MOVES}); "
    f"INSERT INTO {RANKS} (rank, certificate_id, search_key) SELECT new_rank, certificate_id, search_key FROM {MOVES}; "
    f"DELETE FROM {MOVES};"
)
# Where even that leaves no room (a hundred certificates packed rank after rank), the run of
# consecutive ranks after PREVIOUS_RANK moves up by one.
SHIFT = (
    f"UPDATE {RANKS} SET rank = -(rank + 1) WHERE rank IN (SELECT r.rank FROM (SELECT 1 WHERE {NO_ROOM}) AS gate "
    f"CROSS JOIN {RANKS} r WHERE r.rank > {PREVIOUS_RANK} AND r.rank <= (SELECT e.rank FROM {RANKS} e "
    f"WHERE e.rank > {PREVIOUS_RANK} AND NOT EXISTS (SELECT 1 FROM {RANKS} n WHERE n.rank = e.rank + 1) "
    f"ORDER BY e.rank LIMIT 1)); "
    f"UPDATE {RANKS} SET rank = -rank WHERE rank < 0;"
)
MAKE_ROOM = f"{SPREAD} {SHIFT}"
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
    await engine.run_ddl(f"CREATE TABLE IF NOT EXISTS {MOVES} (old_rank INTEGER PRIMARY KEY, new_rank INTEGER NOT NULL, "
                         "certificate_id INTEGER NOT NULL, search_key TEXT NOT NULL)")
    try:
        await engine.run_ddl(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TEXT_TABLE} USING fts5(search_key, "
                             f"content='{RANKS}', content_rowid='rank', tokenize='trigram', detail='none')")
    except Exception as error:  # noqa: BLE001 — no FTS5 or no trigram tokenizer in this SQLite: go on without
        logger.warning("the SQLite library has no FTS5 trigram tokenizer (%s): the certificate search walks the "
                       "name index, without a text index", error)
        await engine.run_ddl(f"DROP TABLE {RANKS}")
        await engine.run_ddl(f"DROP TABLE {MOVES}")
        return
    await engine.run_ddl(f"DELETE FROM {RANKS}")
    await engine.run_ddl(FILL)
    await engine.run_ddl(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('rebuild')")
    # The rebuild leaves its index in several segments, which every later write went on merging: a
    # certificate's entry cost 0.9 ms instead of 0.1 at a million until they were merged into one.
    await engine.run_ddl(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('optimize')")
    for trigger in TRIGGERS:
        await engine.run_ddl(trigger)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(rank_text_table)
    return manager
