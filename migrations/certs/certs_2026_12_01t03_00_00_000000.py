"""Indexes that another index already serves, dropped (issue 12): a certificate's fingerprint is unique, and its
constraint has an index of its own; the name order (search_key, not_after, id) begins with the search key; and
the request queue (state, urgent, created_at, id, ...), a unit's requests by state (agency, state) and the
urgent-first order (urgent, created_at, id) begin with the columns the workflow's own single-column indexes
held.

Every insert and update kept them in step for nothing (an import writes each certificate into every index of
its table, every change its audit entry into those of the chain), and a planner offered two indexes for one
lookup may take the narrower. The workflow's columns keep `index=True` in code, where the other flows' tables
need them; cert_request's are dropped here by name."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.engine import engine_finder

ID = "2026-12-01T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop indexes another index serves"

# The workflow columns' single-column indexes on cert_request (Piccolo names them table_column).
SERVED_BY_COMPOSITES = ("cert_request_state", "cert_request_agency", "cert_request_urgent")


async def drop_served_by_composites() -> None:
    engine = engine_finder()
    for name in SERVED_BY_COMPOSITES:
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.alter_column(table_class_name="Certificate", tablename="certificate", column_name="fingerprint",
                         db_column_name="fingerprint", params={"index": False}, old_params={"index": True},
                         column_class=Varchar, old_column_class=Varchar, schema=None)
    manager.alter_column(table_class_name="Certificate", tablename="certificate", column_name="search_key",
                         db_column_name="search_key", params={"index": False}, old_params={"index": True},
                         column_class=Varchar, old_column_class=Varchar, schema=None)
    manager.add_raw(drop_served_by_composites)
    return manager
