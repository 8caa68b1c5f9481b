"""A person is one person across the province: a citizen ID, when known, names exactly one person record."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "citizen IDs unique province-wide"


async def unique_id_numbers() -> None:
    await engine_finder().run_ddl(
        "CREATE UNIQUE INDEX IF NOT EXISTS person_id_number_unique ON person (id_number) WHERE id_number <> ''"
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="people", description=DESCRIPTION)
    manager.add_raw(unique_id_numbers)
    return manager
