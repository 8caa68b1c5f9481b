"""Requests per second of the registry's hot paths next to a bare Litestar endpoint, in one run.

    python benchmarks/bench_http.py [--requests 3000] [--concurrency 1] [--database-url URL]

Everything runs in this process over ASGI (httpx's ASGITransport), so the numbers compare the
application's own cost — routing, authentication, database round trips — without a server or sockets.
The registry runs on a throw-away SQLite database unless --database-url names another (it is migrated
and gets one agency and one user). Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get

from registry import db
from registry.agencies import service as agencies
from registry.app import create_app
from registry.auth import service as auth
from registry.auth.principal import system_principal
from registry.settings import Settings


@get("/bare")
async def bare() -> dict[str, Any]:
    return {"status": "ok"}


def bare_app() -> Litestar:
    return Litestar(route_handlers=[bare])


async def prepare_registry(database_url: str, data_dir: Path) -> tuple[Litestar, str]:
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="benchmark-secret-key")
    app = create_app(settings)
    await db.migrate()
    actor = system_principal("benchmark")
    if await agencies.find_row("000.00.00.H49") is None:
        await agencies.import_csv(actor, "code,name,parent_code\n000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,\n".encode())
    if await auth.find_user("bench.user") is None:
        await auth.add_user(actor, username="bench.user", full_name="Người Đo Tải", agency_code="000.00.00.H49",
                            roles=["clerk"], password="benchmark password")
    token, _row = await auth.create_token(actor, "bench.user", name="benchmark")
    return app, token


async def measure(app: Litestar, path: str, headers: dict[str, str], requests: int, concurrency: int) -> float:
    """Requests per second for `requests` GETs of `path`, `concurrency` at a time."""
    for hook in app.on_startup:
        await hook()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local", headers=headers) as client:
            for _ in range(min(100, requests)):  # warm up
                (await client.get(path)).raise_for_status()
            per_worker = max(1, requests // concurrency)

            async def worker() -> None:
                for _ in range(per_worker):
                    response = await client.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
    finally:
        for hook in app.on_shutdown:
            await hook()
    return per_worker * concurrency / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint (default 3000)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (default 1)")
    parser.add_argument("--database-url", default="", help="the registry's database (default: a temporary SQLite file)")
    options = parser.parse_args()

    # The app's logging configuration would otherwise log every request the client makes.
    for name in ("httpx", "piccolo"):
        logging.getLogger(name).setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch:
        data_dir = Path(scratch)
        database_url = options.database_url or f"sqlite:///{data_dir / 'registry.sqlite3'}"
        registry_app, token = await prepare_registry(database_url, data_dir)
        for name in ("httpx", "piccolo"):
            logging.getLogger(name).setLevel(logging.WARNING)
        cases = [
            ("bare Litestar endpoint", bare_app(), "/bare", {}),
            ("registry /health", registry_app, "/health", {}),
            ("registry /api/v1/me (bearer token)", registry_app, "/api/v1/me", {"Authorization": f"Bearer {token}"}),
        ]
        print(f"{options.requests} requests each, {options.concurrency} in flight, "
              f"registry on {'postgresql' if database_url.startswith('postgres') else 'sqlite'}")
        baseline = None
        for name, app, path, headers in cases:
            rate = await measure(app, path, headers, options.requests, options.concurrency)
            baseline = baseline or rate
            print(f"  {name:<38} {rate:>9,.0f} req/s   {rate / baseline:>6.1%} of bare")


if __name__ == "__main__":
    asyncio.run(main())
