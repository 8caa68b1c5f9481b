"""The bare baseline: a hello-world Litestar endpoint, served by granian exactly as `registry serve` serves
the registry (ASGI interface, the same worker count, no access log).

    python benchmarks/bare_app.py --port 8001 --workers 1
"""

from __future__ import annotations

import argparse
from typing import Any

from litestar import Litestar, get


@get("/bare")
async def hello() -> dict[str, Any]:
    return {"status": "ok"}


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[hello])


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    server = Granian(
        "bare_app:create_bare_app",
        address=options.host,
        port=options.port,
        workers=options.workers,
        interface=Interfaces.ASGI,
        factory=True,
        log_access=False,
    )
    server.serve(target_loader=create_bare_app, wrap_loader=False)


if __name__ == "__main__":
    main()
