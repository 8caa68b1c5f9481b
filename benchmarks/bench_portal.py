"""The public portal over HTTP, next to a bare Litestar endpoint in the same run (issue 10, point 6).

    python benchmarks/bench_portal.py [--agencies 1000] [--specimens-per-agency 20] [--factor 10]
                                      [--duration 3] [--rounds 2] [--database-url postgresql://...]

Generates a province of `--agencies` agencies (imported through the registry's own CSV import) with
`--specimens-per-agency` published, superseded and withdrawn specimens each (a real X.509 certificate
per specimen, bulk-inserted), serves it with `registry serve` (granian, one worker) and measures with wrk,
alternating with the bare endpoint served by granian the same way (benchmarks/harness.py):

  - a warm agency page (anonymous, the portal's cache filled),
  - a warm search without diacritics (`/?q=so tai chinh`),
  - a 304 (the agency page with its ETag in If-None-Match),

then again with `--factor` times the data. Prints each rate, its share of the bare rate and, between the
two sizes, the slowdown. Targets: agency page ≥ 75 % of bare, search ≥ 25 %, each < 1.5× slower with ten
times the data. Not a test: pytest does not collect it. On a shared machine only the ratios mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

PAGE_TARGET = 0.75
SEARCH_TARGET = 0.25
SLOWDOWN_TARGET = 1.5
NAMES = ["Sở Tài chính", "Ủy ban nhân dân xã Hòa Bình", "Trường Trung học cơ sở Hạ Long", "Phòng Giáo dục và Đào tạo",
         "Trung tâm Y tế huyện Đầm Hà", "Ban Quản lý dự án Đầu tư xây dựng", "Chi cục Thủy lợi", "Đài Phát thanh",
         "Bệnh viện Đa khoa khu vực Cẩm Phả", "Thanh tra tỉnh"]
LEADERS = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung", "Hoàng Đức Em", "Vũ Thị Giang",
           "Đặng Quốc Hùng", "Bùi Minh Khoa"]
POSITIONS = ["Giám đốc", "Phó Giám đốc", "Chủ tịch", "Phó Chủ tịch", "Trưởng phòng"]


def agency_codes(count: int) -> list[tuple[str, str | None]]:
    """(code, parent code) in parents-first order: the province, level-2 units, level-3 under them, then
    level-4 under the first level-3 unit."""
    codes: list[tuple[str, str | None]] = [("000.00.00.H49", None)]
    for y in range(1, 100):
        codes.append((f"000.00.{y:02d}.H49", "000.00.00.H49"))
    for y in range(1, 100):
        for z in range(1, 100):
            codes.append((f"000.{z:02d}.{y:02d}.H49", f"000.00.{y:02d}.H49"))
    v = 1
    while len(codes) < count:
        codes.append((f"{v:03d}.01.01.H49", "000.01.01.H49"))
        v += 1
    ordered = codes[:count]
    return ordered


def tiny_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 56, 56), outline=(200, 16, 32, 255), width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def certificates(count: int, start_serial: int):
    """`count` real certificates (one EC key, issued by a throw-away CA): (der, serial hex, subject, issuer)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ban Cơ yếu Chính phủ"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "CA phục vụ các cơ quan Nhà nước G2 (đo tải)")])
    start = datetime.now(UTC) - timedelta(days=30)
    for index in range(count):
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"Chứng thư đo tải {start_serial + index}")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                .serial_number(start_serial + index).not_valid_before(start).not_valid_after(start + timedelta(days=1000))
                .sign(ca_key, hashes.SHA256()))
        yield (cert.public_bytes(serialization.Encoding.DER), format(start_serial + index, "x"),
               cert.subject.rfc4514_string(), cert.issuer.rfc4514_string())


async def generate(database_url: str, agencies_count: int, per_agency: int, console: Console) -> str:
    """The province at this size; returns the code of the agency whose page is measured."""
    from registry import db
    from registry.agencies import service as agencies
    from registry.agencies.tables import Agency
    from registry.auth.principal import system_principal
    from registry.certs.tables import Certificate
    from registry.specimens import service as specimens
    from registry.specimens.tables import Specimen
    from registry.text import fold
    from registry.timeutil import now

    engine = db.use_database(database_url)
    try:
        await db.migrate()
        actor = system_principal("benchmark")
        started = time.perf_counter()
        rows = ["code,name,parent_code"]
        for index, (code, parent) in enumerate(agency_codes(agencies_count)):
            name = "Ủy ban nhân dân tỉnh Quảng Ninh" if parent is None else f"{NAMES[index % len(NAMES)]} {index}"
            rows.append(f"{code},{name},{parent or ''}")
        await agencies.import_csv(actor, "\n".join(rows).encode())
        ids = {row["code"]: row["id"] for row in await Agency.select(Agency.code, Agency.id)}
        names = {row["code"]: row["name"] for row in await Agency.select(Agency.code, Agency.name)}
        console.log(f"{len(ids):,} agencies imported in {time.perf_counter() - started:,.1f} s")
        png = tiny_png()
        png_sha = hashlib.sha256(png).hexdigest()
        moment = now()
        started = time.perf_counter()
        serial = 1_000_000
        codes = list(ids)
        chunk_agencies = 200
        for offset in range(0, len(codes), chunk_agencies):
            batch = codes[offset:offset + chunk_agencies]
            issued = list(certificates(len(batch) * per_agency, serial))
            serial += len(issued)
            cert_rows = []
            for der, serial_hex, subject, issuer in issued:
                fingerprint = hashlib.sha256(der).hexdigest()
                cert_rows.append({
                    "fingerprint": fingerprint, "serial": serial_hex, "subject": subject, "issuer": issuer,
                    "common_name": subject, "email": "", "search_key": fold(subject)[:700],
                    "not_before": moment - timedelta(days=30), "not_after": moment + timedelta(days=970),
                    "key_type": "EC", "key_size": 256, "key_usage": "", "is_ca": False, "kind": "personal", "der": der,
                    "holder": None, "agency": None, "custodian": None, "revoked_at": None, "revocation_reason": "",
                    "revocation_pending_since": None, "superseded_by": None, "superseded_at": None,
                    "source": "benchmark", "imported_at": moment, "imported_by": None,
                })
            specimen_rows = []
            async with db.transaction(lock_wait=120):
                inserted = await db.bulk_insert(Certificate, cert_rows, returning=("id",))
                certificate_ids = iter(row["id"] for row in inserted)
                for code in batch:
                    for index in range(per_agency):
                        # Per agency: the seal and 4 leaders published now; 15 older ones superseded or withdrawn.
                        current = index < 5
                        kind = "org" if index % 5 == 0 else "leader"
                        full_name = "" if kind == "org" else LEADERS[(index + len(code)) % len(LEADERS)] + f" {index}"
                        position = "" if kind == "org" else POSITIONS[index % len(POSITIONS)]
                        published_at = moment - timedelta(days=(per_agency - index) * 60)
                        state = "published" if current else ("superseded" if index % 3 else "withdrawn")
                        specimen_rows.append({
                            "kind": kind, "state": state, "version": 3, "agency": ids[code], "requester": None,
                            "subject": None, "urgent": False, "summary": full_name or names[code],
                            "search_key": fold(f"{full_name} {position} {names[code]}")[:400], "details": "{}",
                            "decided_by": None, "decided_at": published_at, "decision_note": "",
                            "created_at": published_at, "updated_at": published_at,
                            "certificate": next(certificate_ids), "full_name": full_name, "position": position,
                            "holder_key": "org" if kind == "org" else f"name:{fold(full_name)}",
                            "image_png": png, "image_sha256": png_sha, "image_png_sha256": png_sha,
                            "image_width": 60, "image_height": 60, "image_warnings": "",
                            "published_at": published_at,
                            "ended_at": None if current else published_at + timedelta(days=59),
                            "end_reason": "" if current else "Được thay thế bằng mẫu mới",
                        })
                await db.bulk_insert(Specimen, specimen_rows)
                await specimens.bump_publication()
        console.log(f"{len(codes) * per_agency:,} specimens with their certificates in {time.perf_counter() - started:,.1f} s")
        # A unit at the third level (most agencies are), with its specimens and no units below.
        return "000.01.05.H49"
    finally:
        await db.close_pool(engine)


@dataclass
class Measured:
    label: str
    rate: float
    bare: float
    p99_ms: float
    errors: int

    @property
    def share(self) -> float:
        return self.rate / self.bare if self.bare else 0.0


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answers {response.status}")
        return response.headers["ETag"]


def measure(registry: harness.Server, bare: harness.Server, cases: list[tuple[str, str, dict[str, str]]],
            duration: float, rounds: int, console: Console) -> list[Measured]:
    results = []
    for label, path, headers in cases:
        url = registry.base_url + path
        harness.wrk(url, headers=headers, duration=1)  # warm: the cache filled, the code paths hot
        bare_runs, runs = [], []
        for _ in range(rounds):
            bare_runs.append(harness.wrk(bare.base_url + harness.BARE_PATH, duration=duration))
            runs.append(harness.wrk(url, headers=headers, duration=duration))
        result = Measured(label, statistics.median(r.rate for r in runs), statistics.median(r.rate for r in bare_runs),
                          statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs))
        console.log(f"{label}: {result.rate:,.0f} req/s, {result.share:.1%} of bare ({result.bare:,.0f}), "
                    f"p99 {result.p99_ms:.1f} ms")
        results.append(result)
    return results


def run_size(database_url: str, data_dir: Path, agencies_count: int, per_agency: int, options, console: Console) -> list[Measured]:
    code = asyncio.run(generate(database_url, agencies_count, per_agency, console))
    env = harness.settings_env(database_url, data_dir)
    with harness.registry_server(env, workers=1, log_dir=data_dir) as registry, \
            harness.bare_server(workers=1, log_dir=data_dir) as bare:
        page = f"/agencies/{code}"
        etag = etag_of(registry.base_url + page)
        cases = [
            ("agency page (warm)", page, {}),
            ("search 'so tai chinh' (warm)", "/?q=so+tai+chinh", {}),
            ("agency page, 304", page, {"If-None-Match": etag}),
            ("department page, 99 units below (warm)", "/agencies/000.00.05.H49", {}),
        ]
        return measure(registry, bare, cases, options.duration, options.rounds, console)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=1000)
    parser.add_argument("--specimens-per-agency", type=int, default=20)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default="", help="PostgreSQL server database for both sizes "
                        "(emptied first); default: SQLite files in a temporary directory")
    options = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 140)
    sizes = [options.agencies, options.agencies * options.factor]
    measured: list[list[Measured]] = []
    with tempfile.TemporaryDirectory(prefix="registry-portal-bench-") as scratch:
        for count in sizes:
            data_dir = Path(scratch) / f"size-{count}"
            data_dir.mkdir()
            database_url = options.database_url or f"sqlite:///{data_dir / 'registry.sqlite3'}"
            if options.database_url:
                asyncio.run(reset_postgres(options.database_url))
            console.log(f"{count:,} agencies, {count * options.specimens_per_agency:,} specimens")
            measured.append(run_size(database_url, data_dir, count, options.specimens_per_agency, options, console))
    table = Table(title=f"Public portal, granian 1 worker, wrk {harness.CONNECTIONS} connections, "
                        f"{options.rounds}×{options.duration:g} s alternated with the bare endpoint")
    for column in ("case", "size", "req/s", "bare req/s", "share of bare", "target", "p99 ms"):
        table.add_column(column, justify="right" if column not in ("case", "target") else "left")
    targets = {0: PAGE_TARGET, 1: SEARCH_TARGET, 2: None, 3: PAGE_TARGET}
    for size, results in zip(sizes, measured, strict=True):
        for index, result in enumerate(results):
            target = targets[index]
            verdict = "" if target is None else (" ✓" if result.share >= target else " ✗")
            table.add_row(result.label, f"{size:,}", f"{result.rate:,.0f}", f"{result.bare:,.0f}",
                          f"{result.share:.1%}", (f"≥ {target:.0%}" if target else "—") + verdict, f"{result.p99_ms:.1f}")
    console.print(table)
    console.print(f"Slowdown at {options.factor}× the data (rate at the small size ÷ rate at the large; target < {SLOWDOWN_TARGET}):")
    for small, large in zip(measured[0], measured[1], strict=True):
        # Shares of the bare rate of each run, so that the machine's other load cancels out.
        slowdown = small.share / large.share if large.share else float("inf")
        console.print(f"  {small.label}: {slowdown:.2f}× {'✓' if slowdown < SLOWDOWN_TARGET else '✗'}")


async def reset_postgres(database_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
