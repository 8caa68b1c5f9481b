"""The to-do counts of every page read from indexes alone (issue 12, at 100,000 requests).

A head's count of requests awaiting their decision, and a unit's of deliveries to confirm and tokens to
return, filter by state, by the agency's subtree and by who filed the request and whom it is about
(`workflow.engine.pending_count`, `batches.handover.todo_counter`). The indexes by state held only the
state, so each count read every matching request's row: for a department of 1,555 agencies among 20,000
submitted requests, 44-52 ms on SQLite and 16 ms on PostgreSQL. These indexes hold every column those
counts read, and the counts fall to 5 ms on both. The partial index of tokens due by state and kind
(2026-11-30T16:00) is one of them with fewer columns, so it is dropped; the plain indexes by state stay
for the lists that read whole rows."""

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
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS cert_request_state_scope "
                         f"ON cert_request (state, agency, requester, subject){with_id}")
    await engine.run_ddl("CREATE INDEX IF NOT EXISTS cert_request_tokens_due_scope "
                         f"ON cert_request (state, kind, agency, requester, subject){with_id} WHERE {TOKENS_DUE}")
    await engine.run_ddl("DROP INDEX IF EXISTS cert_request_tokens_due_by_state")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_indexes)
    return manager
