"""The schema: migrations agree with the tables in code, and run on this engine."""

from __future__ import annotations

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from registry import db


@pytest.mark.parametrize("app_name", [config.app_name for config in Finder().get_app_configs()])
async def test_migrations_match_tables(app_name: str) -> None:
    """A table or column changed in code without a migration fails here."""
    app_config = Finder().get_app_config(app_name)
    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app_config)
    pending = [statement for group in statements for statement in group.statements]
    assert pending == [], f"{app_name}: tables differ from migrations; run `piccolo migrations new {app_name} --auto`"


async def test_every_app_is_migrated(migrated: str) -> None:
    assert await db.pending_migrations() == []
    for table in db.table_classes():
        assert await table.table_exists(), table._meta.tablename


async def test_migrate_again_is_a_no_op(migrated: str) -> None:
    assert await db.migrate() == []
