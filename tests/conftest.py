"""Test fixtures: a real database (a SQLite file, or PostgreSQL databases of the run's own when
REGISTRY_TEST_DATABASE_URL is set), prepared once per session and copied for every test that touches it
(tests/database_copies.py); the real app behind an ASGI client; the small province (tests/helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import argon2
import argon2.profiles
import httpx
import pytest

from registry import db, subtree
from registry.app import create_app
from registry.auth import service as auth_service
from registry.settings import Settings
from registry.trust import service as trust_service
from tests import certgen
from tests.database_copies import Templates, working_database
from tests.helpers import TEST_DATABASE_URL, Province, seed_province

# Real Argon2id hashing, with argon2's cheapest parameters: the suite hashes a password for every user
# it creates. Servers and the command line (test_cli.py) keep the library's defaults.
auth_service.use_password_hasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))

# A test that asks for any of these works on a fresh copy of the database: of the province's when it asks
# for `province` (directly or through another fixture), of the migrated, empty one otherwise.
DATABASE_FIXTURES = frozenset({"migrated", "app", "client", "province"})


async def seed_trusted_province() -> Province:
    """The province, whose trust store vouches for the suite's test CA (tests import what it issues)."""
    province = await seed_province()
    await certgen.trust(certgen.shared_ca())
    return province


@pytest.fixture(scope="session")
async def templates(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Templates]:
    """The session's working database and its saved states: "empty" (migrated) and "province"."""
    async with working_database(TEST_DATABASE_URL, tmp_path_factory.mktemp("db")) as templates:
        engine = db.use_database(templates.copies.working_url)
        try:
            await templates.build("empty", db.migrate)
            await templates.build("province", seed_trusted_province)
        finally:
            await db.close_pool(engine)
        yield templates
        await db.close_pool(db.current_engine())


@pytest.fixture(scope="session")
def database_url(templates: Templates) -> str:
    """The one database URL of the session: the app, its engine and command-line subprocesses use it."""
    return templates.copies.working_url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret-key", dev_ca=True)


@pytest.fixture(scope="session")
def app(settings: Settings):
    """The app, made once; it binds the session's engine to the working database."""
    return create_app(settings)


@pytest.fixture(autouse=True)
async def fresh_database(request: pytest.FixtureRequest) -> None:
    """Before a test that touches the database, the working database becomes a copy of its template."""
    names = set(request.fixturenames)
    if not names & DATABASE_FIXTURES:
        return
    templates: Templates = request.getfixturevalue("templates")
    request.getfixturevalue("app")  # the session's engine, bound once
    # No pool may outlive a test (`client` closes the app's on shutdown; this closes one a test opened).
    await db.close_pool(db.current_engine())
    await templates.restore("province" if "province" in names else "empty")
    db.note_write()  # what was derived from the previous test's data (the pages' to-do counts) is stale
    # The verification service keeps one validation context per trust-store version; each test's database
    # is a fresh copy, so the cached one is forgotten.
    trust_service.forget_cached_context()
    # The public portal's caches must not outlive the database they were filled from.
    from registry.specimens.service import forget_publication_version

    forget_publication_version()
    # Nor the agency paths kept for the planner and for sizing the agency filter.
    subtree.forget_agency_paths()


@pytest.fixture(autouse=True)
async def trusted_test_ca(request: pytest.FixtureRequest, fresh_database: None) -> None:
    """Certificates made by the suite's test CA import as before: the province's database already trusts it;
    a test on the empty database that uses the CA gets it (and its CRL) in the trust store."""
    names = set(request.fixturenames)
    if "ca" in names and names & DATABASE_FIXTURES and "province" not in names:
        await certgen.trust(certgen.shared_ca())


@pytest.fixture
def migrated(settings: Settings) -> str:
    """A migrated, empty database (a fresh copy for this test); returns its URL."""
    return settings.database_url


@pytest.fixture
def province(templates: Templates) -> Province:
    """The small province, already in this test's copy of the database: its users and their tokens."""
    return templates.result("province")


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


@pytest.fixture(scope="session")
def ca() -> certgen.IssuingCA:
    """A test CA in the shape of the government's, issuing real certificates."""
    return certgen.shared_ca()
