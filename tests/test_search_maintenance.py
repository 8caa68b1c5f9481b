"""`registry maintain` puts the certificate search's own structures back in shape without changing what any
search finds: on PostgreSQL the table of search keys rewritten in key order (a search reads its matching keys
from that table's pages, and keys added by imports land after the others, wherever they sort); on SQLite the
text table's segments merged into one. The generator leaves the keys in order, as the migration did."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import db
from registry.audit import service as audit
from registry.auth.principal import system_principal
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.generate import Size, generate
from registry.settings import Settings
from tests import certgen
from tests.live_server import clean_env
from tests.test_certificate_search import every_page
from tests.test_cli import registry

SIZE = Size(agencies=20, people=80, certificates=300, requests=20)
QUERIES = ["nguyen van", "an", "aaa", "thi"]


async def keys_as_stored() -> list[str]:
    """The table of keys in the order of its pages."""
    return [row["search_key"] for row in await Certificate.raw(f"SELECT search_key FROM {certs.SEARCH_NAMES} ORDER BY ctid")]


async def keys_in_order() -> list[str]:
    return [row["search_key"] for row in await Certificate.raw(
        f"SELECT search_key FROM {certs.SEARCH_NAMES} ORDER BY search_key")]


async def found() -> dict[str, list[int]]:
    return {q: [row["id"] for row in await every_page(q, 7)] for q in QUERIES}


async def test_maintain_sorts_the_search_keys_and_every_search_finds_the_same(
        migrated: str, settings: Settings, ca, tmp_path: Path) -> None:
    await generate(SIZE, seed=11)
    if not db.is_sqlite():
        assert await keys_as_stored() == await keys_in_order()  # the generator's load, put in order
    # Imports add keys that sort first, after all the others.
    for name in ("Aaa Một", "Aaa Hai", "Aab Ba"):
        await certs.import_certificate(system_principal("test"), certgen.pem(certgen.issue(ca, name)))
    if not db.is_sqlite():
        assert await keys_as_stored() != await keys_in_order()
    before = await found()
    assert len(before["aaa"]) == 2
    head = await audit.head()

    result = registry(clean_env({"REGISTRY_DATABASE_URL": settings.database_url,
                                 "REGISTRY_DATA_DIR": str(tmp_path / "data")}), "maintain")
    assert result.returncode == 0, result.stderr
    if db.is_sqlite():
        assert result.stdout.strip() == "text index merged"
        # FTS5's own check of its index against the table it indexes.
        async with db.transaction():
            await Certificate.raw(f"INSERT INTO {certs.TEXT_TABLE} ({certs.TEXT_TABLE}, rank) VALUES ('integrity-check', 1)")
    else:
        count = len(await keys_in_order())
        assert result.stdout.strip() == f"search keys sorted ({count} keys)"
        assert await keys_as_stored() == await keys_in_order()
    assert await found() == before
    # No registry data changed: the audit chain has no new entry.
    assert await audit.head() == head
    assert await certs.tidy_search_indexes() == result.stdout.strip()  # and again, as often as wanted


async def test_maintain_refuses_a_database_with_pending_migrations(settings: Settings, tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path / 'empty.sqlite3'}" if settings.database_url.startswith("sqlite:///")
           else None)
    if url is None:
        pytest.skip("an empty database of this run's own is a SQLite file")
    result = registry(clean_env({"REGISTRY_DATABASE_URL": url, "REGISTRY_DATA_DIR": str(tmp_path / "data")}),
                      "maintain")
    assert result.returncode == 2
    assert "pending migration" in result.stderr and len(result.stderr.strip().splitlines()) == 1
