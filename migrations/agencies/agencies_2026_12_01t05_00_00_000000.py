"""An index on an agency's parent (issue 12): an agency's page lists the agencies directly under it, and
without the index both engines walked the whole tree in path order to find them (2.2 ms at 10,000 agencies on
SQLite, for a department's six)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-12-01T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index the agency's parent"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="agencies", description=DESCRIPTION)
    manager.alter_column(table_class_name="Agency", tablename="agency", column_name="parent",
                         db_column_name="parent", params={"index": True}, old_params={"index": False},
                         column_class=ForeignKey, old_column_class=ForeignKey, schema=None)
    return manager
