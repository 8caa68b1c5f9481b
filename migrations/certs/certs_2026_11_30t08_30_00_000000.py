"""Indexes for the staff lists at national scale (issue 12): the certificate list's order (search key, then
expiry), the custodian half of "mine", requests by agency and state (a subtree's inbox and lists), and
requests waiting in a state in the inbox's order. Then the planner's statistics, so that SQLite chooses
between a subtree's few rows and the list's order by what the tables hold."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for staff lists"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS certificate_search_order ON certificate (search_key, not_after)",
    "CREATE INDEX IF NOT EXISTS certificate_custodian ON certificate (custodian)",
    "CREATE INDEX IF NOT EXISTS cert_request_agency_state ON cert_request (agency, state)",
    "CREATE INDEX IF NOT EXISTS cert_request_state_order ON cert_request (state, urgent, created_at)",
    "CREATE INDEX IF NOT EXISTS person_id_number ON person (id_number)",
)


async def add_indexes() -> None:
    engine = engine_finder()
    for statement in INDEXES:
        await engine.run_ddl(statement)
    await engine.run_ddl("ANALYZE")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_indexes)
    return manager
