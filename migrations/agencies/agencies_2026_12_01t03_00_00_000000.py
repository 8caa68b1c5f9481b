"""Indexes that another index already serves, dropped (issue 12): an agency's code is unique, and its constraint
has an index of its own.

Every insert and update kept them in step for nothing (an import writes each certificate into every index of
its table, every change its audit entry into those of the chain), and a planner offered two indexes for one
lookup may take the narrower."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-12-01T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop indexes another index serves"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="agencies", description=DESCRIPTION)
    manager.alter_column(table_class_name="Agency", tablename="agency", column_name="code",
                         db_column_name="code", params={"index": False}, old_params={"index": True},
                         column_class=Varchar, old_column_class=Varchar, schema=None)
    return manager
