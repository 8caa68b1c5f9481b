"""Indexes in the lists' own orders (issue 12, at a million certificates and 100,000 requests): a queue of
requests in a state (the inbox, "submitted in my subtree") read urgent first, then oldest, then by id, so
that the planner walks it in order and stops at the page's end instead of sorting thousands; the same
order for the unfiltered request list; the certificate list by name, newest first, then id; and the tokens
still to be returned after a revocation (a few among 100,000, counted on every page of a unit). The indexes
they replace served the orders before the id became their last key."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T11:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes in the lists' orders"

STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS cert_request_queue ON cert_request (state, urgent DESC, created_at, id)",
    "CREATE INDEX IF NOT EXISTS cert_request_order ON cert_request (urgent DESC, created_at, id)",
    "DROP INDEX IF EXISTS cert_request_state_order",
    "CREATE INDEX IF NOT EXISTS certificate_name_order ON certificate (search_key, not_after DESC, id)",
    "DROP INDEX IF EXISTS certificate_search_order",
    "CREATE INDEX IF NOT EXISTS cert_request_tokens_due ON cert_request (agency) "
    "WHERE token_return_due IS NOT NULL AND token_returned_at IS NULL",
)


async def add_indexes() -> None:
    engine = engine_finder()
    for statement in STATEMENTS:
        await engine.run_ddl(statement)
    await engine.run_ddl("ANALYZE")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_indexes)
    return manager
