"""Settings, the data directory, the transaction helper, /health and HTTP conventions."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from registry import db
from registry.agencies.tables import RegistrySetting
from registry.settings import Settings
from registry.timeutil import now
from tests.helpers import ON_POSTGRES
from tests.live_server import clean_env


def test_defaults_keep_everything_under_var(tmp_path: Path) -> None:
    settings = Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path / "var")})
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'registry.sqlite3'}"
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == settings.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Read once, then the same key every time.
    assert Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path / "var")}).secret_key == settings.secret_key


def test_environment_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_DATABASE_URL": "postgresql://u@h:5432/d",
        "REGISTRY_SECRET_KEY": "k" * 40,
        "REGISTRY_OPERATOR_AGENCY": "000.00.16.H49",
    })
    assert settings.engine_name == "postgresql"
    assert settings.secret_key == "k" * 40
    assert settings.operator_agency == "000.00.16.H49"
    assert not (tmp_path / "secret_key").exists()


def test_a_bad_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="REGISTRY_DATABASE_URL"):
        Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_DATABASE_URL": "mysql://x"})


def test_nothing_but_settings_reads_the_environment(tmp_path: Path) -> None:
    """Piccolo's configuration ignores REGISTRY_DATABASE_URL: until a database is bound, a query fails
    with the reason, and no database file appears."""
    script = (
        "import asyncio\nimport registry.db\nfrom registry.agencies.tables import Agency\n"
        "async def main():\n    await Agency.count()\nasyncio.run(main())\n"
    )
    env = clean_env({"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'stray.sqlite3'}"})
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no database is bound" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sqlite_files_use_wal(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    db.make_engine(f"sqlite:///{path}")
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_health_names_the_engine(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "postgresql" if ON_POSTGRES else "sqlite"}


async def test_openapi_document_is_served(client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/agencies" in paths and "/health" in paths


async def test_errors_are_problem_json(client) -> None:
    response = await client.get("/api/v1/agencies/000.00.00.H49")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401 and body["title"] and body["detail"]

    missing = await client.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_pages_get_vietnamese_error_pages(client) -> None:
    response = await client.get("/agencies/999.99.99.Z99")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in response.text
    assert '<html lang="vi">' in response.text


async def test_pages_needing_sign_in_redirect_to_login(client) -> None:
    response = await client.get("/me", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/me"


async def test_oversized_upload_is_413(client, province) -> None:
    body = b"x" * (11 * 1024 * 1024)
    response = await client.post("/api/v1/agencies/import", content=body, headers=province.auth("admin"))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_transaction_rolls_back_everything_on_error(migrated: str) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await RegistrySetting.insert(RegistrySetting(key="a", value="1", updated_at=now()))
            raise RuntimeError("boom")
    assert await RegistrySetting.count() == 0


async def test_nested_transactions_join_the_outer_one(migrated: str) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as outer:
            async with db.transaction() as inner:
                assert inner is outer
                await RegistrySetting.insert(RegistrySetting(key="b", value="1", updated_at=now()))
            raise RuntimeError("boom")
    assert await RegistrySetting.count() == 0


async def test_concurrent_writers_queue_instead_of_failing(migrated: str) -> None:
    """Many simultaneous read-then-write transactions: none dies with 'database is locked'."""

    async def writer(index: int) -> None:
        async with db.transaction():
            await RegistrySetting.count()
            await RegistrySetting.insert(RegistrySetting(key=f"k{index}", value=str(index), updated_at=now()))

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert await RegistrySetting.count() == 20
