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


async def _plain_indexes() -> dict[str, list[tuple[str, bool, tuple[str, ...]]]]:
    """Each table's indexes over plain columns, without a WHERE clause: (name, unique, columns in order)."""
    from registry.audit.tables import AuditEntry

    found: dict[str, list[tuple[str, bool, tuple[str, ...]]]] = {}
    if db.is_sqlite():
        tables = await AuditEntry.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
        for table in (row["name"] for row in tables):
            for index in await AuditEntry.raw(f"PRAGMA index_list('{table}')"):
                columns = await AuditEntry.raw(f"PRAGMA index_info('{index['name']}')")
                if not index["partial"] and all(column["name"] for column in columns):
                    found.setdefault(table, []).append(
                        (index["name"], bool(index["unique"]), tuple(column["name"] for column in columns)))
        return found
    rows = await AuditEntry.raw(
        "SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique AS is_unique, "
        "ARRAY(SELECT a.attname FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n) "
        "      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns, "
        "x.indnkeyatts AS key_count "
        "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace s ON s.oid = t.relnamespace "
        "WHERE s.nspname = current_schema() AND x.indpred IS NULL AND x.indexprs IS NULL AND i.relam = "
        "(SELECT oid FROM pg_am WHERE amname = 'btree')")
    for row in rows:
        if len(row["columns"]) == row["key_count"]:
            found.setdefault(row["table_name"], []).append((row["index_name"], row["is_unique"], tuple(row["columns"])))
    return found


async def test_no_index_repeats_another(migrated: str) -> None:
    """Every index earns its upkeep: none is another's leading columns (a unique one counts: it enforces)."""
    indexes = await _plain_indexes()
    assert "certificate" in indexes and "cert_request" in indexes and "audit_entry" in indexes
    redundant = [
        f"{table}.{name} {columns} is served by {other} {other_columns}"
        for table, listed in indexes.items()
        for name, unique, columns in listed
        for other, other_unique, other_columns in listed
        if other != name and not unique and other_columns[:len(columns)] == columns
        and (len(other_columns) > len(columns) or other_unique)
    ]
    assert redundant == []


async def test_the_agencies_under_an_agency_are_found_by_index(migrated: str) -> None:
    """An agency's page lists the agencies directly under it: without an index on the parent, both engines
    walked the whole tree in path order to find them."""
    indexes = await _plain_indexes()
    leading = {(table, columns[0]) for table, listed in indexes.items() for _name, _unique, columns in listed}
    assert ("agency", "parent") in leading
