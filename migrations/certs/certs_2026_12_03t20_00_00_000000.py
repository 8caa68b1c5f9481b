"""SQLite: the lists' order indexes carry the columns their filters test (issue 12, at a million
certificates and 100,000 requests).

A head's certificate list walks the name order (`certificate_name_order`, 2026-11-30T11:30) and keeps the
certificates of their subtree, or held or kept by them; a department of 1,555 agencies among 10,000 holds
one certificate in six, so a page of 101 read some 650 certificates from the table, one seek each into a
3.5 GB file, only to test their agency. The request list walks its order (`cert_request_order`) the same
way. Remade with those columns after their own order, the walk tests each entry in the index and reads
from the table only the rows it keeps (SQLite defers a row's seek until a column the index lacks is
needed). In the database, at a million certificates: a department head's certificates page 2.3–3.1 →
0.8–1.0 ms; a department's active certificates (a status is read from `revoked_at`, `superseded_by`,
`superseded_at` and `not_after`) 2.4 → 0.8–0.9 ms; a head's requests page 1.9–2.2 → 0.7 ms. The queue of
requests in a state was remade this way for the to-do counts (2026-12-01T02:00).

PostgreSQL gets nothing here: its index scans test such conditions on the table's row whatever the index
holds. Reading the ids first through an index-only scan of a covering index, then their rows, took as long
(2.8 ms against 2.3 for the department's active certificates: the walk's rows are in shared buffers, and
the 51 rows' lookups cost what the walk saved)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-03T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SQLite: the lists' order indexes carry their filters' columns"

STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS certificate_name_order_scope ON certificate "
    "(search_key, not_after DESC, id, agency, holder, custodian, revoked_at, superseded_by, superseded_at)",
    "DROP INDEX IF EXISTS certificate_name_order",
    "CREATE INDEX IF NOT EXISTS cert_request_order_scope ON cert_request "
    "(urgent DESC, created_at, id, agency, requester, subject)",
    "DROP INDEX IF EXISTS cert_request_order",
    # The planner's figures for the new indexes (those of the dropped ones went with them).
    "ANALYZE certificate",
    "ANALYZE cert_request",
)


async def widen_order_indexes() -> None:
    engine = engine_finder()
    if not isinstance(engine, SQLiteEngine):
        return
    for statement in STATEMENTS:
        await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(widen_order_indexes)
    return manager
