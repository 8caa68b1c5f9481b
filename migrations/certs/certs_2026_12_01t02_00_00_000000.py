"""The to-do counts of every page read from indexes alone (issue 12, at 100,000 requests).

A head's count of requests awaiting their decision, and a unit's of deliveries to confirm and tokens to
return, filter by state, by the agency's subtree and by who filed the request and whom it is about
(`workflow.engine.pending_count`, `batches.handover.todo_counter`). The indexes by state held only the
state, so each count read every matching request's row: for a department of 1,555 agencies among 20,000
submitted requests, 44-52 ms on SQLite and 16 ms on PostgreSQL, and 5 ms with these indexes.

The queue of requests in a state (2026-11-30T11:30) is remade with those columns after its own order,
rather than a second index by state beside it: given both, SQLite chose the one that filters the head's
inbox without its order, and sorted all 3,000 matches (a page went from 3 to 37 ms). The partial index
of tokens due by state and kind (2026-11-30T16:00) is remade the same way, with the agency, requester
and subject after its own columns."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-01T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "to-do counts from indexes alone"

TOKENS_DUE = "token_return_due IS NOT NULL AND token_returned_at IS NULL"


async def add_indexes() -> None:
    engine = engine_finder()
    # SQLite keeps the row id in every index; PostgreSQL is given it to answer `SELECT id` from the index.
    with_id = "" if isinstance(engine, SQLiteEngine) else " INCLUDE (id)"
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS cert_request_queue_scope "
                         "ON cert_request (state, urgent DESC, created_at, id, agency, requester, subject)")
    await engine.run_ddl("DROP INDEX IF EXISTS cert_request_queue")
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS cert_request_tokens_due_scope "
                         f"ON cert_request (state, kind, agency, requester, subject){with_id} WHERE {TOKENS_DUE}")
    await engine.run_ddl("DROP INDEX IF EXISTS cert_request_tokens_due_by_state")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_indexes)
    return manager
