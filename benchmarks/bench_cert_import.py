"""Certificate import over HTTP against parsing alone, on SQLite and PostgreSQL, in one run.

    python benchmarks/bench_cert_import.py [--engines sqlite,postgresql] [--bundles 25] [--concurrency 4]

For each engine: a fresh database (a SQLite file, or the PostgreSQL database `registry_bench_import` on
--postgres-url's server, dropped and made again), one admin with an API token, and a CA made here with
`cryptography` put into the trust store as an anchor with its current CRL. The registry runs on its
production server (benchmarks/harness.py). Two imports are measured, each in bundles of 20 by 4 clients
(`POST /api/v1/certificates/bundle`), next to parsing alone (registry.certs.parsing.parse_certificates, in
this process, on the same bundles):

- untrusted: certificates from `registry.generate` (as benchmarks/bench_staff.py imports them), whose CA
  the store does not hold; an admin's override with a reason lets them in, the trust check still runs;
- trusted: certificates issued by the CA in the store, each verified (path, signature, CRL) and accepted.

The issue's target: import at half the parsing-alone rate or better. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

BUNDLE = 20
IMPORT_TARGET = 0.5
DATABASE = "registry_bench_import"


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + \
        "\n-----END CERTIFICATE-----\n"


def untrusted_bundles(count: int, offset: int) -> list[bytes]:
    """As bench_staff's: generated certificates (Ed25519, registry.generate), their CA in no trust store."""
    from registry.generate import build_certificates

    start = datetime.now(UTC).replace(microsecond=0)
    result = []
    for index in range(count):
        specs = [(2 * 10**17 + offset + index * BUNDLE + item, f"Người Nhập Thử {offset + index * BUNDLE + item}",
                  f"nhap{offset + index * BUNDLE + item}@quangninh.gov.vn", "Sở Đo Tải", start,
                  start + timedelta(days=730)) for item in range(BUNDLE)]
        result.append("".join(_pem(der) for der, _subject, _issuer in build_certificates(specs)).encode())
    return result


class TrustedCA:
    """A root CA (ECDSA P-256) issuing signing certificates with the extensions a CA writes, and its CRL."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.x509, self.hashes, self.NameOID = x509, hashes, NameOID
        self.key = ec.generate_private_key(ec.SECP256R1())
        # One key pair for every holder: the benchmark measures the registry, not key generation.
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ban Cơ yếu Chính phủ (đo tải)"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "CA đo tải")])
        start = datetime.now(UTC) - timedelta(days=30)
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def crl_der(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        x509 = self.x509
        start = datetime.now(UTC) - timedelta(minutes=5)
        return (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject).last_update(start)
                .next_update(start + timedelta(days=7)).add_extension(x509.CRLNumber(1), critical=False)
                .sign(self.key, self.hashes.SHA256()).public_bytes(Encoding.DER))

    def bundles(self, count: int, offset: int) -> list[bytes]:
        from cryptography.hazmat.primitives.serialization import Encoding

        x509, NameOID = self.x509, self.NameOID
        start = datetime.now(UTC) - timedelta(days=1)
        usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        result = []
        for index in range(count):
            pems = []
            for item in range(BUNDLE):
                number = offset + index * BUNDLE + item
                email = f"tin{number}@quangninh.gov.vn"
                subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                                     x509.NameAttribute(NameOID.LOCALITY_NAME, "Quảng Ninh"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, f"Người Tin Cậy {number}"),
                                     x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)])
                cert = (
                    x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                    .public_key(self.leaf_key.public_key()).serial_number(3 * 10**17 + number)
                    .not_valid_before(start).not_valid_after(start + timedelta(days=730))
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(usage, critical=True).add_extension(aki, critical=False)
                    .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
                    .sign(self.key, self.hashes.SHA256())
                )
                pems.append(_pem(cert.public_bytes(Encoding.DER)))
            result.append("".join(pems).encode())
        return result


async def fresh_postgres(server_url: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{DATABASE}"


async def drop_postgres(server_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await connection.close()


def prepare(database_url: str, ca: TrustedCA) -> str:
    """Migrate, one agency and one admin, the CA and its CRL in the trust store; an API token for the admin."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from registry import db
    from registry.agencies import service as agencies
    from registry.auth import service as auth
    from registry.auth.principal import system_principal
    from registry.trust import service as trust

    async def work() -> str:
        engine = db.use_database(database_url)
        try:
            await db.migrate()
            actor = system_principal("benchmark")
            await agencies.import_csv(
                actor, "code,name,parent_code\n000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,\n".encode())
            await auth.add_user(actor, username="bench.admin", full_name="Người Đo Tải", agency_code="000.00.00.H49",
                                roles=["admin"], password="benchmark password")
            await trust.add_to_store(actor, ca.cert.public_bytes(Encoding.PEM), "anchor")
            await trust.add_to_store(actor, ca.crl_der(), "crl")
            token, _row = await auth.create_token(actor, "bench.admin", name="benchmark")
            return token
        finally:
            await db.close_pool(engine)

    return asyncio.run(work())


def parse_rate(contents: list[bytes], rounds: int = 3) -> float:
    from registry.certs import parsing

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for content in contents:
            parsing.parse_certificates(content)
        best = min(best, time.perf_counter() - started)
    return len(contents) * BUNDLE / best


async def import_rate(base_url: str, token: str, contents: list[bytes], *, override: bool,
                      concurrency: int) -> float:
    queue = list(contents)
    params = {"override": "true", "override_reason": "Đo tải"} if override else {}
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=300) as client:
        async def worker() -> None:
            while queue:
                content = queue.pop()
                response = await client.post("/api/v1/certificates/bundle", content=content, params=params,
                                             headers={"Content-Type": "application/x-pem-file"})
                if response.status_code not in (200, 201):
                    raise RuntimeError(f"import: {response.status_code} {response.text[:500]}")
                created = [item for item in response.json()["certificates"] if item["created"]]
                if len(created) != BUNDLE:
                    raise RuntimeError(f"import: {len(created)} created of {BUNDLE}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(contents) * BUNDLE / (time.perf_counter() - started)


def run_engine(engine: str, options: argparse.Namespace, console: Console, scratch: Path) -> list[tuple]:
    data_dir = scratch / engine
    data_dir.mkdir()
    if engine == "sqlite":
        database_url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
    else:
        database_url = asyncio.run(fresh_postgres(options.postgres_url))
    ca = TrustedCA()
    token = prepare(database_url, ca)
    offset = int(time.time() * 1000) % 10**9 * 1000
    warm = untrusted_bundles(2, offset)
    sets = {
        "untrusted, override": (untrusted_bundles(options.bundles, offset + 10**6), True),
        "trusted CA, verified": (ca.bundles(options.bundles, offset), False),
    }
    rows = []
    try:
        env = harness.settings_env(database_url, data_dir)
        with harness.registry_server(env, workers=1, log_dir=scratch) as registry:
            asyncio.run(import_rate(registry.base_url, token, warm, override=True, concurrency=1))
            for label, (contents, override) in sets.items():
                parsed = parse_rate(contents)
                spy = None
                if options.profile:
                    # py-spy on the server and its workers: a flame graph of where the import's time goes.
                    out = Path(options.profile) / f"{engine}-{label.split(',')[0].replace(' ', '_')}.txt"
                    spy = subprocess.Popen(["py-spy", "record", "--subprocesses", "--idle", "-r", "200", "--format", "raw", "-o", str(out),
                                            "-p", str(registry.process.pid)], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                    time.sleep(1.5)
                imported = asyncio.run(import_rate(registry.base_url, token, contents, override=override,
                                                   concurrency=options.concurrency))
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
                rows.append((engine, label, imported, parsed))
                console.log(f"{engine} {label}: {imported:,.0f} cert/s, parsing {parsed:,.0f}/s, "
                            f"{imported / parsed:.1%}")
    finally:
        if engine == "postgresql" and not options.keep:
            asyncio.run(drop_postgres(options.postgres_url))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--bundles", type=int, default=25, help="bundles of 20 in each import (default 25)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument("--profile", default="", help="a folder: py-spy stacks of the server (collapsed, for flamegraph.pl or speedscope), one per import")
    options = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 140)
    rows = []
    with tempfile.TemporaryDirectory(prefix="registry-bench-import-") as scratch:
        for engine in [name.strip() for name in options.engines.split(",") if name.strip()]:
            rows += run_engine(engine, options, console, Path(scratch))
    table = Table(title=f"certificate import, bundles of {BUNDLE}, {options.concurrency} clients", title_justify="left")
    for column in ("engine", "certificates", "import cert/s", "parsing cert/s", "share", "target", ""):
        table.add_column(column)
    for engine, label, imported, parsed in rows:
        share = imported / parsed
        table.add_row(engine, label, f"{imported:,.0f}", f"{parsed:,.0f}", f"{share:.1%}", f"≥ {IMPORT_TARGET:.0%}",
                      "[green]✓[/]" if share >= IMPORT_TARGET else "[red]✗[/]")
    console.print(table)


if __name__ == "__main__":
    main()
