"""Staff paths over HTTP at a small size and at `--factor` times that size, on SQLite and PostgreSQL
(one and two workers), each next to the bare baseline in the same run (benchmarks/harness.py).

    python benchmarks/bench_staff.py                       # everything: both engines, both sizes
    python benchmarks/bench_staff.py --engines sqlite --factor 10 --duration 2

The data comes from `registry generate` (the small size is the national size divided by 50, so the
default 50x is the national one: 10,000 agencies, 200,000 people, a million certificates, 100,000
requests). Generated databases are kept under --data-dir (SQLite files) or as PostgreSQL databases named
`registry_bench_<size>` on --postgres-url's server, and reused by later runs (the server applies any new
migration when it starts).

Measured, for each engine, size and worker count: first, the slowest of 32 requests sent at once to the
just-started worker with a new token (its first burst); then `/api/v1/me`, the inbox (page and API), certificate
and request lists with their filters (agency subtree, status, expiring, text search), a request's page,
the agency page — requests/s, p99, share of the bare rate beside its target; then certificate import
(bundles of 20 over HTTP) against parsing alone (the registry's own parser, in this process), a
500-request bulk decision against 500 single approvals, and the workers' memory. Last, the slowdown of
each path at the large size against the small one, and two PostgreSQL workers against one.

Figures on a shared machine are only meaningful as ratios to the bare runs of the same session.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
from harness import API_TARGET, PAGE_TARGET, Case, Result  # noqa: E402

from registry.generate import Size  # noqa: E402

NATIONAL = Size()
SMALL = NATIONAL.scaled(1 / 50)
PASSWORD = "mật khẩu đo tải"
BUNDLE = 20
BULK = 500
IMPORT_TARGET = 0.5
BULK_TARGET = 10.0
SLOWDOWN_TARGET = 1.5
TWO_WORKERS_TARGET = 1.8
MEMORY_TARGET = 2.0
# A worker's first requests, all at once (a new token, nothing read yet): none may wait this long. Each
# measured path is asked for once before it is measured, which hides what its first burst costs.
FIRST_BURST = 32
FIRST_BURST_TARGET_MS = 1000.0


@dataclass
class Prepared:
    database_url: str
    data_dir: Path
    tokens: dict[str, str]  # role → bearer token
    cookies: dict[str, str]  # role → session cookie
    paths: dict[str, str]  # named path parameters
    decidable: list[int]  # submitted requests the root's head may decide


def size_name(size: Size) -> str:
    return f"{size.agencies}a-{size.certificates}c"


def run_registry(env: dict[str, str], *args: str, timeout: float = 7200) -> str:
    finished = subprocess.run([sys.executable, "-m", "registry", *args], env=env, cwd=harness.REPOSITORY,
                              capture_output=True, text=True, timeout=timeout, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"registry {' '.join(args)}: {finished.stderr}")
    return finished.stdout


async def ensure_postgres_database(server_url: str, name: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def holds_agencies(database_url: str) -> bool:
    from registry import db
    from registry.agencies.tables import Agency

    engine = db.use_database(database_url)
    try:
        return bool(await Agency.raw("SELECT 1 FROM agency LIMIT 1"))
    finally:
        await db.close_pool(engine)


def ensure_data(engine: str, size: Size, options: argparse.Namespace, console: Console) -> tuple[str, Path]:
    """The generated database of this engine and size, made once."""
    data_dir = Path(options.data_dir).resolve() / f"{engine}-{size_name(size)}"
    data_dir.mkdir(parents=True, exist_ok=True)
    if engine == "sqlite":
        database_url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
    else:
        database_url = asyncio.run(ensure_postgres_database(options.postgres_url, f"registry_bench_{size_name(size)}"))
    env = harness._python_env(harness.settings_env(database_url, data_dir))
    run_registry(env, "migrate")
    marker = data_dir / "generated"
    if not marker.exists() or not asyncio.run(holds_agencies(database_url)):  # a database dropped or replaced
        console.log(f"generating {size} on {engine}…")
        started = time.perf_counter()
        run_registry(env, "generate", "--agencies", str(size.agencies), "--people", str(size.people),
                     "--certificates", str(size.certificates), "--requests", str(size.requests),
                     "--password", PASSWORD)
        console.log(f"generated in {time.perf_counter() - started:,.0f} s")
        marker.write_text(str(size))
    return database_url, data_dir


async def prepare(database_url: str, data_dir: Path) -> Prepared:
    """Tokens and signed-in sessions for the generated users, and the paths worth asking for."""
    from registry import db
    from registry.agencies.tables import Agency
    from registry.auth import service as auth
    from registry.auth.principal import system_principal
    from registry.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="x")
    engine = db.use_database(database_url)
    try:
        actor = system_principal("benchmark")
        # The head of a department (depth 1) decides for its subtree; a small agency deep in the tree for the
        # subtree filter; the operator reads the province.
        department = (await Agency.raw("SELECT id, code, path FROM agency WHERE depth = 1 ORDER BY id LIMIT 1"))[0]
        leaf = (await Agency.raw("SELECT id, code, path FROM agency WHERE depth >= 3 ORDER BY depth DESC, id "
                                 "LIMIT 1"))[0]
        users = {"head": f"head.{department['id']}", "operator": "operator.1", "root_head": "head.1", "admin": "admin.1"}
        tokens, cookies = {}, {}
        for role, username in users.items():
            token, _row = await auth.create_token(actor, username, name="benchmark")
            tokens[role] = token
            signed = await auth.sign_in(settings, username, PASSWORD, ip="127.0.0.1")
            cookies[role] = signed.session_token
        root_head = (await Agency.raw("SELECT u.id AS user_id, u.person AS person FROM user_account u "
                                      "WHERE u.username = 'head.1'"))[0]
        request = (await Agency.raw(
            "SELECT r.id FROM cert_request r JOIN agency a ON a.id = r.agency WHERE a.path LIKE {} "
            "ORDER BY r.id DESC LIMIT 1", f"{department['path']}%"))[0]
        decidable = [row["id"] for row in await Agency.raw(
            "SELECT id FROM cert_request WHERE state = 'submitted' AND (requester IS NULL OR requester <> {}) "
            "AND (subject IS NULL OR subject <> {}) ORDER BY id LIMIT {}",
            root_head["user_id"], root_head["person"], 2 * BULK + 2)]
        paths = {"department": department["code"], "leaf": leaf["code"], "request": str(request["id"])}
        return Prepared(database_url, data_dir, tokens, cookies, paths, decidable)
    finally:
        await db.close_pool(engine)


def cases(prepared: Prepared) -> list[Case]:
    def api(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {prepared.tokens[role]}"}

    def page(role: str) -> dict[str, str]:
        return {"Cookie": f"registry_session={prepared.cookies[role]}"}

    paths = prepared.paths
    return [
        Case("me (token)", "/api/v1/me", api("head"), API_TARGET),
        Case("inbox page (head)", "/inbox", page("head"), PAGE_TARGET),
        Case("inbox API (head)", "/api/v1/inbox?limit=50", api("head"), API_TARGET),
        Case("certificates (operator)", "/api/v1/certificates?limit=50", api("operator"), API_TARGET),
        Case("certificates, small subtree", f"/api/v1/certificates?agency={paths['leaf']}&limit=50", api("operator"),
             API_TARGET),
        Case("certificates, department, active", f"/api/v1/certificates?agency={paths['department']}&status=active"
             "&limit=50", api("operator"), API_TARGET),
        Case("certificates expiring 30 d", "/api/v1/certificates?expiring_within=30&limit=50", api("operator"),
             API_TARGET),
        Case("certificates search", "/api/v1/certificates?q=nguyen%20van&limit=50", api("operator"), API_TARGET),
        Case("certificates page (head)", "/certificates", page("head"), PAGE_TARGET),
        Case("requests submitted, subtree", f"/api/v1/cert-requests?state=submitted&agency={paths['department']}"
             "&limit=50", api("operator"), API_TARGET),
        Case("requests (head)", "/api/v1/cert-requests?limit=50", api("head"), API_TARGET),
        Case("requests page (head)", "/requests", page("head"), PAGE_TARGET),
        Case("request page (head)", f"/requests/{paths['request']}", page("head"), PAGE_TARGET),
        Case("agency page (head)", f"/agencies/{paths['department']}", page("head"), PAGE_TARGET),
    ]


# --- import and decisions -------------------------------------------------------------------------


def bundles(count: int, offset: int) -> list[bytes]:
    """`count` bundles of BUNDLE new certificates (concatenated PEM), serials never generated before."""
    import base64
    from datetime import UTC, datetime, timedelta

    from registry.generate import build_certificates

    start = datetime.now(UTC).replace(microsecond=0)
    result = []
    for index in range(count):
        specs = [(2 * 10**17 + offset + index * BUNDLE + item, f"Người Nhập Thử {offset + index * BUNDLE + item}",
                  f"nhap{offset + index * BUNDLE + item}@quangninh.gov.vn", "Sở Đo Tải", start,
                  start + timedelta(days=730)) for item in range(BUNDLE)]
        pems = []
        for der, _subject, _issuer in build_certificates(specs):
            body = base64.encodebytes(der).decode().replace("\n", "")
            lines = [body[i:i + 64] for i in range(0, len(body), 64)]
            pems.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
        result.append("".join(pems).encode())
    return result


def parse_rate(contents: list[bytes]) -> float:
    from registry.certs import parsing

    started = time.perf_counter()
    for content in contents:
        parsing.parse_certificates(content)
    return len(contents) * BUNDLE / (time.perf_counter() - started)


async def import_rate(base_url: str, token: str, contents: list[bytes], concurrency: int = 4) -> float:
    queue = list(contents)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=120) as client:
        async def worker() -> None:
            while queue:
                content = queue.pop()
                # Generated certificates chain to no trusted root: an administrator's audited override lets
                # them in (the trust check itself stays in the measured path).
                response = await client.post("/api/v1/certificates/bundle", content=content,
                                             params={"override": "true", "override_reason": "Đo tải"},
                                             headers={"Content-Type": "application/x-pem-file"})
                if response.status_code not in (200, 201):
                    raise RuntimeError(f"import: {response.status_code} {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(contents) * BUNDLE / (time.perf_counter() - started)


async def decision_costs(base_url: str, token: str, ids: list[int]) -> tuple[float, float]:
    """Milliseconds per request: one `decisions` call for BULK requests, and BULK single approvals (fewer,
    half the ids each, when the data holds fewer than 2 * BULK requests to decide). Both ways are first
    taken once, unmeasured, as every path read is asked for before it is measured: the first decision of a
    worker also reads the decider's credential and prepares its statements."""
    warm_up, ids = ids[:2], ids[2:]
    count = min(BULK, len(ids) // 2)
    bulk, singles = ids[:count], ids[count:2 * count]
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=300) as client:
        for response in (await client.post("/api/v1/cert-requests/decisions", json={"approve": warm_up[:1]}),
                         await client.post(f"/api/v1/cert-requests/{warm_up[1]}/approve")):
            if response.status_code != 200:
                raise RuntimeError(f"warming up: {response.status_code} {response.text[:300]}")
        started = time.perf_counter()
        response = await client.post("/api/v1/cert-requests/decisions", json={"approve": bulk})
        bulk_ms = 1000 * (time.perf_counter() - started) / len(bulk)
        if response.status_code != 200:
            raise RuntimeError(f"decisions: {response.status_code} {response.text[:300]}")
        started = time.perf_counter()
        for record_id in singles:
            response = await client.post(f"/api/v1/cert-requests/{record_id}/approve")
            if response.status_code != 200:
                raise RuntimeError(f"approve {record_id}: {response.status_code} {response.text[:300]}")
        single_ms = 1000 * (time.perf_counter() - started) / len(singles)
    return bulk_ms, single_ms


async def first_burst(base_url: str, case: Case) -> float:
    """Milliseconds the slowest of FIRST_BURST requests for `case` took, sent at once to a worker that has
    answered nothing but its readiness check."""
    limits = httpx.Limits(max_connections=FIRST_BURST)
    async with httpx.AsyncClient(base_url=base_url, headers=case.headers, timeout=300, limits=limits) as client:
        async def one() -> float:
            started = time.perf_counter()
            response = await client.get(case.path)
            if response.status_code != 200:
                raise RuntimeError(f"first burst: {case.path} answers {response.status_code}")
            return 1000 * (time.perf_counter() - started)

        return max(await asyncio.gather(*(one() for _ in range(FIRST_BURST))))


def worker_memory_mb(server: harness.Server) -> float:
    """The largest resident set among the server's processes (granian's workers are its children)."""
    output = subprocess.run(["ps", "-o", "rss=", "-g", str(server.process.pid)], capture_output=True, text=True,
                            check=False).stdout
    sizes = [int(line) for line in output.split() if line.strip().isdigit()]
    return max(sizes, default=0) / 1024


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Run:
    engine: str
    size: Size
    workers: int
    results: list[Result]
    first_burst_ms: float = 0.0  # the slowest of a new worker's first requests (FIRST_BURST at once)
    memory_mb: float = 0.0  # a worker after every path was asked for, many times
    empty_memory_mb: float = 0.0  # the same worker just started, before any request but the readiness check
    extra: dict[str, Any] | None = None


def measure_run(engine: str, size: Size, workers: int, prepared: Prepared, options: argparse.Namespace,
                console: Console, with_writes: bool, log_dir: Path) -> Run:
    env = harness.settings_env(prepared.database_url, prepared.data_dir)
    with harness.registry_server(env, workers=workers, log_dir=log_dir) as registry, \
            harness.bare_server(workers=workers, log_dir=log_dir) as bare:
        empty_memory = worker_memory_mb(registry)
        burst_case = next(case for case in cases(prepared) if case.label == "certificates (operator)")
        burst_ms = asyncio.run(first_burst(registry.base_url, burst_case))
        console.log(f"first {FIRST_BURST} requests at once ({burst_case.label}): slowest {burst_ms:,.0f} ms")
        results = harness.measure(registry, bare, cases(prepared), duration=options.duration, rounds=options.rounds,
                                  progress=console)
        memory = worker_memory_mb(registry)
    extra: dict[str, Any] = {}
    if with_writes:
        # On a copy: the kept database stays as generated, so every run reads the same data (decided
        # requests would leave the heads' inboxes for good, imported certificates would pile up).
        with scratch_copy(prepared, options, log_dir) as copy_env, \
                harness.registry_server(copy_env, workers=workers, log_dir=log_dir) as registry:
            contents = bundles(options.bundles, offset=int(time.time() * 1000) % 10**9 * 1000)
            extra["parse_rate"] = parse_rate(contents)
            extra["import_rate"] = asyncio.run(import_rate(registry.base_url, prepared.tokens["admin"], contents))
            extra["decidable"] = len(prepared.decidable)
            if len(prepared.decidable) >= 4:
                extra["decided"] = min(BULK, (len(prepared.decidable) - 2) // 2)
                extra["bulk_ms"], extra["single_ms"] = asyncio.run(
                    decision_costs(registry.base_url, prepared.tokens["root_head"], prepared.decidable))
        console.log(f"writes: {extra}")
    return Run(engine, size, workers, results, burst_ms, memory, empty_memory, extra)


WRITES_DATABASE = "registry_bench_writes"


@contextlib.contextmanager
def scratch_copy(prepared: Prepared, options: argparse.Namespace, scratch: Path) -> Iterator[dict[str, str]]:
    """A copy of the prepared database (its tokens and sessions included) for the writes, dropped afterwards;
    yields the registry's settings for it. SQLite: the backup API (consistent, write-ahead log included);
    PostgreSQL: a database made from the kept one as its template (no one may be connected to it meanwhile:
    the reading server has stopped)."""
    data_dir = scratch / "writes"
    data_dir.mkdir(exist_ok=True)
    if harness.engine_of(prepared.database_url) == "sqlite":
        import sqlite3

        target = data_dir / "registry.sqlite3"
        source = sqlite3.connect(prepared.database_url.removeprefix("sqlite:///"))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        try:
            yield harness.settings_env(f"sqlite:///{target}", data_dir)
        finally:
            for leftover in data_dir.glob("registry.sqlite3*"):
                leftover.unlink()
        return
    template = prepared.database_url.rsplit("/", 1)[1]
    asyncio.run(_postgres_command(options.postgres_url, f'DROP DATABASE IF EXISTS "{WRITES_DATABASE}" WITH (FORCE)',
                                  f'CREATE DATABASE "{WRITES_DATABASE}" TEMPLATE "{template}"'))
    try:
        yield harness.settings_env(options.postgres_url.rsplit("/", 1)[0] + f"/{WRITES_DATABASE}", data_dir)
    finally:
        asyncio.run(_postgres_command(options.postgres_url, f'DROP DATABASE IF EXISTS "{WRITES_DATABASE}" WITH (FORCE)'))


async def _postgres_command(server_url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            for attempt in range(50):
                try:
                    await connection.execute(statement)
                    break
                except asyncpg.ObjectInUseError:
                    # The reading server's connections close as its workers exit: a moment later.
                    if attempt == 49:
                        raise
                    await asyncio.sleep(0.2)
    finally:
        await connection.close()


def print_run(console: Console, run: Run) -> None:
    title = (f"{run.engine}, {run.workers} worker(s), {run.size.agencies:,} agencies / {run.size.people:,} people / "
             f"{run.size.certificates:,} certificates / {run.size.requests:,} requests — worker memory "
             f"{run.memory_mb:,.0f} MB ({run.empty_memory_mb:,.0f} MB just started)")
    console.print(harness.results_table(title, run.results))
    met = "[green]✓[/]" if run.first_burst_ms <= FIRST_BURST_TARGET_MS else "[red]✗[/]"
    console.print(f"first {FIRST_BURST} requests at once to a new worker (certificates, operator): slowest "
                  f"{run.first_burst_ms:,.0f} ms (target ≤ {FIRST_BURST_TARGET_MS:,.0f} ms) {met}")
    if run.extra:
        table = Table(title=f"{run.engine}: writes", title_justify="left")
        for column in ("measure", "figure", "ratio", "target", ""):
            table.add_column(column)
        extra = run.extra
        ratio = extra["import_rate"] / extra["parse_rate"]
        table.add_row("certificate import (bundles of 20, HTTP)", f"{extra['import_rate']:,.0f} cert/s",
                      f"{ratio:.1%} of parsing alone ({extra['parse_rate']:,.0f}/s)", f"≥ {IMPORT_TARGET:.0%}",
                      "[green]✓[/]" if ratio >= IMPORT_TARGET else "[red]✗[/]")
        if "bulk_ms" in extra:
            gain = extra["single_ms"] / extra["bulk_ms"]
            table.add_row(f"bulk decision ({extra['decided']})", f"{extra['bulk_ms']:.2f} ms/request",
                          f"{gain:.1f}× cheaper than single ({extra['single_ms']:.2f} ms)", f"≥ {BULK_TARGET:.0f}×",
                          "[green]✓[/]" if gain >= BULK_TARGET else "[red]✗[/]")
        else:
            # Each run decides up to 2 × BULK submitted requests for good; a small database runs out.
            table.add_row("bulk decision", "not measured", f"{extra['decidable']} submitted requests left to decide: "
                          "delete the generated database to start again", f"≥ {BULK_TARGET:.0f}×", "?")
        console.print(table)


def print_comparisons(console: Console, runs: list[Run]) -> None:
    by_key = {(run.engine, run.size, run.workers): run for run in runs}
    table = Table(title="large against small (shares of bare, so that the machine's load cancels out)",
                  title_justify="left")
    for column in ("engine", "case", "small req/s", "large req/s", "slowdown", "target", ""):
        table.add_column(column)
    for run in runs:
        if run.size == SMALL or run.workers != 1:
            continue
        small = by_key.get((run.engine, SMALL, 1))
        if small is None:
            continue
        for large_result, small_result in zip(run.results, small.results, strict=True):
            slowdown = small_result.share / large_result.share if large_result.share else float("inf")
            table.add_row(run.engine, large_result.case.label, f"{small_result.rate:,.0f}", f"{large_result.rate:,.0f}",
                          f"{slowdown:.2f}×", f"≤ {SLOWDOWN_TARGET}×",
                          "[green]✓[/]" if slowdown <= SLOWDOWN_TARGET else "[red]✗[/]")
    console.print(table)

    table = Table(title="worker memory: with the data loaded (every path asked for) against just started",
                  title_justify="left")
    for column in ("engine", "size", "workers", "just started", "loaded", "ratio", "target", ""):
        table.add_column(column)
    for run in runs:
        ratio = run.memory_mb / run.empty_memory_mb if run.empty_memory_mb else float("inf")
        table.add_row(run.engine, f"{run.size.certificates:,} certificates", str(run.workers),
                      f"{run.empty_memory_mb:,.0f} MB", f"{run.memory_mb:,.0f} MB", f"{ratio:.2f}×",
                      f"≤ {MEMORY_TARGET}×", "[green]✓[/]" if ratio <= MEMORY_TARGET else "[red]✗[/]")
    console.print(table)

    table = Table(title="two workers against one (the load generator and the database share the same cores)",
                  title_justify="left")
    # The bare endpoint's own gain, measured beside each path: what the machine's cores allow at all.
    for column in ("engine", "size", "case", "1 worker req/s", "2 workers req/s", "gain", "bare's gain", "target",
                   ""):
        table.add_column(column)
    for run in runs:
        one = by_key.get((run.engine, run.size, 1)) if run.workers == 2 else None
        if one is None:
            continue
        for two_result, one_result in zip(run.results, one.results, strict=True):
            gain = two_result.rate / one_result.rate if one_result.rate else 0.0
            bare_gain = two_result.bare_rate / one_result.bare_rate if one_result.bare_rate else 0.0
            table.add_row(run.engine, f"{run.size.certificates:,} certificates", two_result.case.label,
                          f"{one_result.rate:,.0f}", f"{two_result.rate:,.0f}", f"{gain:.2f}×", f"{bare_gain:.2f}×",
                          f"≥ {TWO_WORKERS_TARGET}×", "[green]✓[/]" if gain >= TWO_WORKERS_TARGET else "[red]✗[/]")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both (default)")
    parser.add_argument("--sizes", default="small,large", help="small, large or both (default)")
    parser.add_argument("--factor", type=float, default=50, help="the large size as a multiple of the small (50)")
    parser.add_argument("--duration", type=float, default=3, help="seconds per wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="alternated bare/registry runs per path (default 2)")
    parser.add_argument("--bundles", type=int, default=25, help="bundles of 20 certificates imported (default 25)")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "registry-bench-data"))
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    options = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 160)
    sizes = {"small": SMALL, "large": SMALL.scaled(options.factor)}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="registry-bench-logs-") as logs:
        for engine in [name.strip() for name in options.engines.split(",") if name.strip()]:
            for size_label in [name.strip() for name in options.sizes.split(",") if name.strip()]:
                size = sizes[size_label]
                database_url, data_dir = ensure_data(engine, size, options, console)
                prepared = asyncio.run(prepare(database_url, data_dir))
                # The writes (imports, decisions) come with the one-worker run, on a copy of the data.
                for workers in ((2, 1) if engine == "postgresql" else (1,)):
                    run = measure_run(engine, size, workers, prepared, options, console, with_writes=workers == 1,
                                      log_dir=Path(logs))
                    print_run(console, run)
                    runs.append(run)
    print_comparisons(console, runs)


if __name__ == "__main__":
    main()
