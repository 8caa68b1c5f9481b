"""A server's worker sets what it made by the end of its startup aside from garbage collection
(`create_app(worker=True)`): the collector's full passes over those lasting objects held up the requests
arriving meanwhile (a p99 of 75 ms for a 7 ms median under load). An app made for other uses (the tests', an in-process client)
freezes nothing, so that a long test run does not keep every test's leftovers."""

from __future__ import annotations

import gc

import pytest

from registry import db
from registry.app import create_app
from registry.settings import Settings
from tests.helpers import bind


async def started_and_stopped(settings: Settings, *, worker: bool) -> int:
    """How many objects were frozen once the app had started (the app is stopped again, and the suite's own
    app gets the database back)."""
    engine = db.current_engine()
    app = create_app(settings, worker=worker)
    try:
        for hook in app.on_startup:
            await hook()
        return gc.get_freeze_count()
    finally:
        for hook in app.on_shutdown:
            await hook()
        bind(engine)


@pytest.fixture
def nothing_frozen() -> None:
    gc.unfreeze()
    yield
    # Frozen objects are never collected: put them back, so that the rest of the run collects as usual.
    gc.unfreeze()


async def test_a_worker_freezes_what_it_made_once_started(settings: Settings, migrated: str,
                                                          nothing_frozen: None) -> None:
    frozen = await started_and_stopped(settings, worker=True)
    # The modules, routes and templates of the app: tens of thousands of objects at the least.
    assert frozen > 10_000


async def test_an_app_made_for_other_uses_freezes_nothing(settings: Settings, migrated: str,
                                                           nothing_frozen: None) -> None:
    assert await started_and_stopped(settings, worker=False) == 0
