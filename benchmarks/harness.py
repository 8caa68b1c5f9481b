"""A small HTTP benchmark harness: the registry on its production server next to a bare baseline.

    python benchmarks/harness.py [--database-url URL] [--workers 1] [--duration 3] [--rounds 2]
                                 [--path /health] [--path /api/v1/me] [--header 'Name: value']

Both sides are real servers: the registry is started with `registry serve` (granian, N workers, on a free
port, its settings in the environment), the bare baseline is a hello-world Litestar endpoint served by
granian the same way (benchmarks/bare_app.py). wrk (/usr/bin/wrk, 32 connections) runs against each path,
and bare and registry runs alternate so that both see the same disturbance from the rest of the machine:
each path's share of the bare rate is taken against the bare runs next to it. Run alone, the harness
measures `/health` and `/api/v1/me` on a throw-away SQLite database (a user and an API token are made for
it); other benchmarks import `Server`, `registry_server`, `bare_server`, `Case` and `measure`.

Not a test: pytest does not collect it. Figures on a shared machine are only meaningful as ratios to the
bare runs of the same session.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPOSITORY = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
WRK = os.environ.get("WRK", "/usr/bin/wrk")
BARE_PATH = "/bare"
CONNECTIONS = 32

# The targets of issue 12, as shares of the bare rate.
API_TARGET = 0.25
PAGE_TARGET = 0.10
P99_TARGET_MS = 100.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A server process (its own process group, so that its workers stop with it)."""

    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                request = urllib.request.Request(self.base_url + path, headers=dict(headers or {}))
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError) as error:
                last_error = str(error)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {path} ({last_error}); its log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def _start(name: str, command: Sequence[str], env: Mapping[str, str], log_dir: Path) -> Server:
    port = int(command[command.index("--port") + 1])
    log = log_dir / f"{name}-{port}.log"
    handle = log.open("wb")
    process = subprocess.Popen(list(command), env=dict(env), stdout=handle, stderr=subprocess.STDOUT,
                               cwd=REPOSITORY, start_new_session=True)
    handle.close()
    return Server(name=name, port=port, process=process, log=log)


def _python_env(extra: Mapping[str, str] | None = None, *, path: Path = REPOSITORY) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def registry_server(settings_env: Mapping[str, str], *, workers: int = 1, log_dir: Path,
                    ready_path: str = "/health") -> Iterator[Server]:
    """`registry serve` (granian, `workers` processes) on a free port, with `settings_env` (REGISTRY_* variables)."""
    command = [sys.executable, "-m", "registry", "serve", "--host", "127.0.0.1", "--port", str(free_port()),
               "--workers", str(workers)]
    server = _start("registry", command, _python_env(settings_env), log_dir)
    try:
        server.wait_ready(ready_path)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def bare_server(*, workers: int = 1, log_dir: Path) -> Iterator[Server]:
    """The hello-world Litestar endpoint, served by granian as the registry is."""
    command = [sys.executable, str(BENCHMARKS / "bare_app.py"), "--port", str(free_port()), "--workers", str(workers)]
    server = _start("bare", command, _python_env(path=BENCHMARKS), log_dir)
    try:
        server.wait_ready(BARE_PATH)
        yield server
    finally:
        server.stop()


@dataclass
class Case:
    """One path to measure: what it is, its headers (a bearer token, a session cookie) and its target share."""

    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    target_share: float | None = None
    p99_target_ms: float | None = P99_TARGET_MS


@dataclass
class WrkRun:
    rate: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors

    @classmethod
    def parse(cls, output: str) -> WrkRun:
        rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
        p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        total = re.search(r"(\d+) requests in", output)
        if not (rate and p99 and total):
            raise RuntimeError(f"cannot read wrk's output:\n{output}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[p99.group(2)]
        errors = 0
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
        if non_2xx:
            errors += int(non_2xx.group(1))
        socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
        if socket_errors:
            errors += sum(int(count) for count in socket_errors.groups())
        return cls(rate=float(rate.group(1)), p99_ms=float(p99.group(1)) * scale, requests=int(total.group(1)),
                   errors=errors)


def wrk(url: str, *, headers: Mapping[str, str] | None = None, duration: float = 3.0,
        connections: int = CONNECTIONS, threads: int = 2) -> WrkRun:
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
               "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr or finished.stdout}")
    return WrkRun.parse(finished.stdout)


def check_path(server: Server, case: Case) -> None:
    """One request first: a path that does not answer 200 would measure its error page."""
    request = urllib.request.Request(server.base_url + case.path, headers=case.headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    if status != 200:
        raise RuntimeError(f"{case.label}: {case.path} answers {status}, not 200")


@dataclass
class Result:
    case: Case
    rate: float
    p99_ms: float
    bare_rate: float
    errors: int

    @property
    def share(self) -> float:
        return self.rate / self.bare_rate if self.bare_rate else 0.0

    @property
    def meets_target(self) -> bool | None:
        verdicts = []
        if self.case.target_share is not None:
            verdicts.append(self.share >= self.case.target_share)
        if self.case.p99_target_ms is not None:
            verdicts.append(self.p99_ms <= self.case.p99_target_ms)
        if self.errors:
            verdicts.append(False)
        return all(verdicts) if verdicts else None


def measure(registry: Server, bare: Server, cases: Sequence[Case], *, duration: float = 3.0, rounds: int = 2,
            connections: int = CONNECTIONS, progress: Console | None = None) -> list[Result]:
    """Each case `rounds` times, each registry run next to a bare run (bare, registry, bare, registry...);
    the medians of both, and the share of the registry's rate in the bare rate."""
    results = []
    bare_url = bare.base_url + BARE_PATH
    for case in cases:
        check_path(registry, case)
        wrk(registry.base_url + case.path, headers=case.headers, duration=1, connections=connections)  # warm up
        bare_runs, registry_runs = [], []
        for _ in range(rounds):
            bare_runs.append(wrk(bare_url, duration=duration, connections=connections))
            registry_runs.append(wrk(registry.base_url + case.path, headers=case.headers, duration=duration,
                                     connections=connections))
        result = Result(
            case=case,
            rate=statistics.median(run.rate for run in registry_runs),
            p99_ms=statistics.median(run.p99_ms for run in registry_runs),
            bare_rate=statistics.median(run.rate for run in bare_runs),
            errors=sum(run.errors for run in registry_runs),
        )
        if progress is not None:
            progress.log(f"{case.label}: {result.rate:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                         f"{result.share:.1%} of bare ({result.bare_rate:,.0f})")
        results.append(result)
    return results


def target_text(case: Case) -> str:
    parts = []
    if case.target_share is not None:
        parts.append(f"≥ {case.target_share:.0%}")
    if case.p99_target_ms is not None:
        parts.append(f"p99 ≤ {case.p99_target_ms:.0f} ms")
    return ", ".join(parts) or "—"


def results_table(title: str, results: Sequence[Result]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("case")
    table.add_column("path", overflow="fold")
    table.add_column("req/s", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("bare req/s", justify="right")
    table.add_column("share of bare", justify="right")
    table.add_column("target")
    table.add_column("", justify="center")
    for result in results:
        verdict = {True: "[green]✓[/]", False: "[red]✗[/]", None: ""}[result.meets_target]
        if result.errors:
            verdict += f" [red]{result.errors} errors[/]"
        table.add_row(result.case.label, result.case.path, f"{result.rate:,.0f}", f"{result.p99_ms:.1f}",
                      f"{result.bare_rate:,.0f}", f"{result.share:.1%}", target_text(result.case), verdict)
    return table


def engine_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith(("postgresql://", "postgres://")) else "sqlite"


def settings_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_SECRET_KEY": "benchmark-secret-key-benchmark-secret-key",
    }


def prepare_token(database_url: str, data_dir: Path) -> str:
    """Migrate the database, add one agency and a clerk when missing, and return a fresh API token for them."""
    import asyncio

    from registry import db
    from registry.agencies import service as agencies
    from registry.auth import service as auth
    from registry.auth.principal import system_principal

    async def work() -> str:
        engine = db.use_database(database_url)
        try:
            await db.migrate()
            actor = system_principal("benchmark")
            if await agencies.find_row("000.00.00.H49") is None:
                await agencies.import_csv(
                    actor, "code,name,parent_code\n000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,\n".encode())
            if await auth.find_user("bench.user") is None:
                await auth.add_user(actor, username="bench.user", full_name="Người Đo Tải",
                                    agency_code="000.00.00.H49", roles=["clerk"], password="benchmark password")
            token, _row = await auth.create_token(actor, "bench.user", name="benchmark")
            return token
        finally:
            await db.close_pool(engine)

    return asyncio.run(work())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="the registry's database (default: a temporary SQLite file)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 1)))
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 3)),
                        help="seconds per wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)),
                        help="alternated bare/registry runs per path (default 2)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--path", action="append", default=[], help="a path to measure (repeatable)")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' sent with every path")
    options = parser.parse_args()

    console = Console(width=None if sys.stdout.isatty() else 140)
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch:
        data_dir = Path(scratch)
        database_url = options.database_url or f"sqlite:///{data_dir / 'registry.sqlite3'}"
        headers = dict(item.split(":", 1) for item in options.header)
        headers = {name.strip(): value.strip() for name, value in headers.items()}
        if options.path:
            cases = [Case(path, path, headers) for path in options.path]
        else:
            token = prepare_token(database_url, data_dir)
            cases = [Case("health", "/health", headers, None),
                     Case("me (token)", "/api/v1/me", {"Authorization": f"Bearer {token}", **headers}, API_TARGET)]
        env = settings_env(database_url, data_dir)
        with registry_server(env, workers=options.workers, log_dir=data_dir) as registry, \
                bare_server(workers=options.workers, log_dir=data_dir) as bare:
            results = measure(registry, bare, cases, duration=options.duration, rounds=options.rounds,
                              connections=options.connections, progress=console)
        console.print(results_table(
            f"registry on {engine_of(database_url)}, {options.workers} worker(s), wrk {options.connections} "
            f"connections, {options.rounds}×{options.duration:g} s alternated with bare", results))


if __name__ == "__main__":
    main()
