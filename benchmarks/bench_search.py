"""Certificate text search, in process: how long `list_certificates_page` takes for a few kinds of query on a
generated database (the first page and the next one, as the operator of the province and as the system).

    python benchmarks/bench_search.py DATABASE_URL [--runs 5] [--limit 50] [--q 'nguyen van' ...] [--max-matches N]

Reads only. Prints each query's median time in milliseconds and how many rows its first page held. Not a
test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

QUERIES = ["nguyen van", "nguyen", "van", "a", "thu", "nguyenvanan12", "ly hai yen", "lyhaiyen1234", "khong co ai"]


async def measure(database_url: str, queries: list[str], runs: int, limit: int, max_matches: int | None) -> None:
    from registry import db
    from registry.auth.principal import system_principal
    from registry.auth.service import find_user, load_principal
    from registry.certs import service
    from registry.certs.service import list_certificates_page

    if max_matches is not None:
        service.INDEX_PATH_MAX_MATCHES = max_matches

    engine = db.use_database(database_url)
    await db.open_pool(engine)
    try:
        operator_user = await find_user("operator.1")
        actors = {"system": system_principal("bench")}
        if operator_user is not None:
            actors["operator"] = await load_principal(operator_user["id"], via="token")
        print(f"{'q':<16} {'actor':<9} {'rows':>5} {'page 1 ms':>10} {'page 2 ms':>10}")
        for q in queries:
            for name, actor in actors.items():
                first, second, rows = [], [], 0
                for _ in range(runs):
                    started = time.perf_counter()
                    page = await list_certificates_page(actor, q=q, limit=limit)
                    first.append((time.perf_counter() - started) * 1000)
                    rows = len(page.items)
                    if page.next_cursor:
                        started = time.perf_counter()
                        await list_certificates_page(actor, q=q, limit=limit, cursor=page.next_cursor)
                        second.append((time.perf_counter() - started) * 1000)
                later = f"{statistics.median(second):10.1f}" if second else f"{'-':>10}"
                print(f"{q:<16} {name:<9} {rows:>5} {statistics.median(first):10.1f} {later}", flush=True)
    finally:
        await db.close_pool(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--q", action="append", help="a query (repeatable; default: a set of kinds)")
    parser.add_argument("--max-matches", type=int, help="the estimated matches up to which the text index is used "
                        "(0: never, the ordered walk alone)")
    options = parser.parse_args()
    asyncio.run(measure(options.database_url, options.q or QUERIES, options.runs, options.limit, options.max_matches))


if __name__ == "__main__":
    main()
