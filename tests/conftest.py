"""Test fixtures: a real database (a SQLite file, or a fresh PostgreSQL database when
REGISTRY_TEST_DATABASE_URL is set), migrated once per session and emptied after every test; the
real app behind Litestar's async test client; a small province with one user per role."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import argon2
import argon2.profiles
import asyncpg
import httpx
import pytest

from registry import db
from registry.app import create_app
from registry.auth import service as auth_service
from registry.settings import Settings

TEST_DATABASE_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL", "").strip()
ON_POSTGRES = bool(TEST_DATABASE_URL)
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

# Real Argon2id hashing, with argon2's cheapest parameters: the suite hashes a password for every user
# it creates. Servers and the command line (test_cli.py) keep the library's defaults.
auth_service.use_password_hasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set REGISTRY_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DB"
)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.sqlite3'}"
        return
    # Each run gets its own database on the shared server, dropped at the end.
    name = f"registry_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(TEST_DATABASE_URL, name)
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret-key", dev_ca=True)


@pytest.fixture(scope="session")
async def migrated(settings: Settings) -> AsyncIterator[str]:
    engine = db.use_database(settings.database_url)
    await db.migrate()
    yield settings.database_url
    await db.close_pool(engine)
    await db.close_pool(db.current_engine())


async def empty_all_tables() -> None:
    tables = [table for table in db.table_classes() if table._meta.tablename != "migration"]
    names = [table._meta.tablename for table in tables]
    if db.is_sqlite():
        async with db.transaction():
            await db.current_engine().run_ddl("PRAGMA defer_foreign_keys = ON")
            for name in names:
                await db.current_engine().run_ddl(f'DELETE FROM "{name}"')
    else:
        quoted = ", ".join(f'"{name}"' for name in names)
        await db.current_engine().run_ddl(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def app(settings: Settings, migrated: str):
    return create_app(settings)


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test that touches the database starts from empty tables."""
    if "migrated" not in request.fixturenames and "app" not in request.fixturenames:
        yield
        return
    yield
    await empty_all_tables()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, in the test's own event loop (so the PostgreSQL pool and the test's own
    queries share one loop), with the app's startup and shutdown hooks run around it."""
    # The hooks are called directly: app.lifespan() opens an anyio task group, which pytest-asyncio
    # would enter and exit in different tasks.
    for hook in app.on_startup:
        await hook()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as test_client:
            yield test_client
    finally:
        for hook in app.on_shutdown:
            await hook()


# --- a small province ---------------------------------------------------------------------------

PROVINCE_CSV = """code,name,parent_code,short_name,budget_code,email
000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,,UBND tỉnh,1053432,ubnd@quangninh.gov.vn
000.00.05.H49,Sở Tài chính,000.00.00.H49,STC,1053435,stc@quangninh.gov.vn
000.00.16.H49,Sở Khoa học và Công nghệ,000.00.00.H49,Sở KH&CN,1053436,skhcn@quangninh.gov.vn
000.00.21.H49,Ủy ban nhân dân thành phố Hạ Long,000.00.00.H49,UBND TP Hạ Long,1053438,halong@quangninh.gov.vn
000.02.21.H49,Phòng Tài chính - Kế hoạch thành phố Hạ Long,000.00.21.H49,Phòng TC-KH,1053440,tckh@quangninh.gov.vn
000.10.21.H49,Ủy ban nhân dân phường Hồng Gai,000.00.21.H49,UBND phường Hồng Gai,1053441,honggai@quangninh.gov.vn
"""

ROOT = "000.00.00.H49"
FINANCE = "000.00.05.H49"
DOIT = "000.00.16.H49"
CITY = "000.00.21.H49"
CITY_FINANCE = "000.02.21.H49"
WARD = "000.10.21.H49"

PASSWORD = "correct horse battery"

# username → (agency, roles): one per role in the city, plus heads elsewhere to test scope.
PROVINCE_USERS = {
    "admin": (DOIT, ("admin",)),
    "operator": (DOIT, ("operator",)),
    "city_head": (CITY, ("head",)),
    "city_clerk": (CITY, ("clerk",)),
    "city_staff": (CITY_FINANCE, ("staff",)),
    "ward_head": (WARD, ("head",)),
    "finance_head": (FINANCE, ("head",)),
    "province_head": (ROOT, ("head",)),
}


@dataclass
class Province:
    tokens: dict[str, str]
    users: dict[str, dict[str, Any]]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture
async def province(migrated: str, settings: Settings) -> Province:
    from registry.agencies import service as agencies
    from registry.auth import service as auth
    from registry.auth.principal import system_principal

    actor = system_principal("tests")
    await agencies.import_csv(actor, PROVINCE_CSV.encode())
    await agencies.set_operator_agency(actor, DOIT)
    tokens, users = {}, {}
    for username, (agency_code, roles) in PROVINCE_USERS.items():
        users[username] = await auth.add_user(
            actor, username=username, full_name=f"Người dùng {username}", agency_code=agency_code,
            roles=roles, password=PASSWORD, email=f"{username}@quangninh.gov.vn",
        )
        tokens[username], _ = await auth.create_token(actor, username, name="tests")
    return Province(tokens=tokens, users=users)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form like a browser; returns the session's CSRF token."""
    page = await client.get("/login")
    csrf = page.text.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
    response = await client.post("/login", data={"_csrf": csrf, "username": username, "password": password, "next": "/me"})
    assert response.status_code in (200, 303), response.text
    me = await client.get("/me")
    return me.text.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]


def registry_command() -> list[str]:
    return [sys.executable, "-m", "registry"]
