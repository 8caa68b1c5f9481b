"""Guards answer on the event loop. Litestar runs a guard written as a plain function in its thread pool,
and the hop there and back cost more than what `/api/v1/me` does itself (README, "Guards on the event
loop"); the guards are coroutines, and a guarded request hands nothing to that pool. They still refuse
what they refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from litestar import concurrency

from tests.helpers import sign_in


class CountingExecutor(ThreadPoolExecutor):
    """Litestar's executor for plain functions, counting what it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any):
        self.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.fixture
def litestar_threads():
    executor = CountingExecutor()
    concurrency.set_asyncio_executor(executor)
    yield executor
    concurrency.set_asyncio_executor(None)
    executor.shutdown()


async def test_guarded_requests_stay_on_the_event_loop(client, province, litestar_threads) -> None:
    # signed_in (the API's /me, a page) and may(...) (an action's guard), by token and by session.
    for path, user in (("/api/v1/me", "city_head"), ("/api/v1/people", "admin"), ("/api/v1/cert-requests", "city_head")):
        response = await client.get(path, headers=province.auth(user))
        assert response.status_code == 200, (path, response.text)
    await sign_in(client, "city_head")
    assert (await client.get("/me")).status_code == 200
    assert (await client.get("/requests")).status_code == 200
    assert litestar_threads.submitted == 0


async def test_guards_still_refuse(client, province, litestar_threads) -> None:
    anonymous = await client.get("/api/v1/me")
    assert anonymous.status_code == 401
    assert "sign in" in anonymous.json()["detail"]
    # A head may not manage users: the action's guard says so, by name.
    refused = await client.get("/api/v1/users/admin", headers=province.auth("city_head"))
    assert refused.status_code == 403
    assert "user.manage" in refused.json()["detail"]
    page = await client.get("/me", follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert "application/json" not in page.headers.get("content-type", "")


async def test_registry_guards_run_without_copying_the_handler(client, province, monkeypatch) -> None:
    """Litestar gives each guard a copy of the route handler (copy.copy); the registry's own guards never look at
    it, and run on the handler itself (README, "Guards without copies"). They still run in order: the 401 of
    `signed_in` and the 403 of `may` are what they were (above)."""
    import copy

    copies = 0
    original = copy.copy

    def counting(value: Any) -> Any:
        nonlocal copies
        copies += 1
        return original(value)

    monkeypatch.setattr("litestar.handlers.base.copy", counting)
    for path, user in (("/api/v1/me", "city_head"), ("/api/v1/people", "admin"), ("/api/v1/cert-requests", "city_head")):
        response = await client.get(path, headers=province.auth(user))
        assert response.status_code == 200, (path, response.text)
    assert copies == 0


async def test_a_foreign_guard_keeps_litestars_way() -> None:
    """A handler with any guard that is not the registry's is left to Litestar, copies and all: that guard may
    read or change the handler it is given."""
    from litestar import Litestar, get
    from litestar.testing import AsyncTestClient

    from registry.http import EXCEPTION_HANDLERS, guards_on_handlers, signed_in

    given: list[Any] = []

    async def foreign(connection: Any, handler: Any) -> None:
        given.append(handler)

    @get("/api/ours", guards=[signed_in], sync_to_thread=False)
    def ours() -> str:
        return "ours"

    @get("/mixed", guards=[foreign], sync_to_thread=False)
    def mixed() -> str:
        return "mixed"

    app = guards_on_handlers(Litestar([ours, mixed], exception_handlers=EXCEPTION_HANDLERS))
    handlers = {route.path: route.route_handlers for route in app.routes}
    assert any("authorize_connection" in vars(handler) for handler in handlers["/api/ours"])
    assert not any("authorize_connection" in vars(handler) for handler in handlers["/mixed"] if hasattr(handler, "__dict__"))
    async with AsyncTestClient(app) as test_client:
        # No principal: the registry's guard refuses as before; the foreign guard lets the request through.
        assert (await test_client.get("/api/ours")).status_code == 401
        assert (await test_client.get("/mixed")).text == "mixed"
    (handler,) = [handler for handler in handlers["/mixed"] if "GET" in handler.http_methods]
    assert len(given) == 1 and given[0] is not handler and given[0].handler_name == handler.handler_name
