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
