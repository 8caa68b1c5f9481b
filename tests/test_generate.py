"""`registry generate`: generated data at a tiny size, on the session's engine (SQLite or PostgreSQL):
the counts asked for, a consistent database (every reference resolves, subtree paths follow the tree, the
audit chain verifies), and bad input refused with one line, writing nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry.agencies.tables import Agency
from registry.audit import service as audit
from registry.audit.tables import AuditEntry
from registry.certs import parsing
from registry.certs import service as certs
from registry.certs.requests import CERT_MACHINE
from registry.settings import Settings
from tests.live_server import clean_env
from tests.test_cli import assert_bad_input, registry

SIZE = {"agencies": 40, "people": 160, "certificates": 700, "requests": 360}


@pytest.fixture
def cli_env(migrated: str, settings: Settings, tmp_path: Path) -> dict[str, str]:
    return clean_env({"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path / "data")})


def generate_args(**size: int) -> list[str]:
    args = ["generate"]
    for name, value in {**SIZE, **size}.items():
        args += [f"--{name}", str(value)]
    return args


async def scalar(sql: str) -> int:
    rows = await Agency.raw(sql)
    return int(next(iter(rows[0].values())))


async def test_generates_the_size_asked_for_consistently(cli_env) -> None:
    result = registry(cli_env, *generate_args())
    assert result.returncode == 0, result.stderr
    assert "generated 40 agencies, 160 people" in result.stdout

    assert await scalar("SELECT COUNT(*) AS n FROM agency") == 40
    assert await scalar("SELECT COUNT(*) AS n FROM person") == 160
    assert await scalar("SELECT COUNT(*) AS n FROM certificate") == 700
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request") == 360
    # A deep tree: the root, its departments and at least two levels below.
    assert await scalar("SELECT MAX(depth) AS n FROM agency") >= 2
    # Every subtree path is the parent's path and the agency's own id.
    assert await scalar(
        "SELECT COUNT(*) AS n FROM agency a LEFT JOIN agency p ON p.id = a.parent "
        "WHERE a.path <> COALESCE(p.path, '/') || CAST(a.id AS TEXT) || '/' "
        "OR a.depth <> COALESCE(p.depth + 1, 0)") == 0
    # Every request's agency, subject, requester and certificate exists; every person's agency too.
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request r LEFT JOIN agency a ON a.id = r.agency "
                        "WHERE a.id IS NULL") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request r LEFT JOIN person p ON p.id = r.subject "
                        "WHERE r.subject IS NOT NULL AND p.id IS NULL") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request r LEFT JOIN certificate c ON c.id = r.certificate "
                        "WHERE r.certificate IS NOT NULL AND c.id IS NULL") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM person p LEFT JOIN agency a ON a.id = p.agency "
                        "WHERE a.id IS NULL") == 0
    # A certificate request's agency is its certificate's agency.
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request r JOIN certificate c ON c.id = r.certificate "
                        "WHERE c.agency <> r.agency") == 0
    # Requests in every state of the machine, each with the history that led there.
    states = {row["state"] for row in await Agency.raw("SELECT DISTINCT state FROM cert_request")}
    assert states == set(CERT_MACHINE.states)
    assert await scalar(
        "SELECT COUNT(*) AS n FROM cert_request r WHERE r.state <> (SELECT e.to_state FROM workflow_event e "
        "WHERE e.record_id = r.id AND e.flow = 'cert' ORDER BY e.id DESC LIMIT 1)") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM cert_request WHERE state = 'batched' AND batch_id IS NULL") == 0
    # At most one open request per certificate.
    open_states = ", ".join(f"'{state}'" for state in sorted(CERT_MACHINE.open_states))
    assert await scalar(
        f"SELECT COUNT(*) AS n FROM (SELECT certificate FROM cert_request WHERE certificate IS NOT NULL "
        f"AND state IN ({open_states}) GROUP BY certificate HAVING COUNT(*) > 1) AS twice") == 0

    # Certificates are real: their fingerprint is the SHA-256 of their DER, which parses; histories have
    # superseded, revoked, expired and active ones.
    sample = await Agency.raw("SELECT * FROM certificate ORDER BY id DESC LIMIT 5")
    for row in sample:
        assert hashlib.sha256(bytes(row["der"])).hexdigest() == row["fingerprint"]
        parsed = parsing.parse_one(bytes(row["der"]))
        assert (parsed.fingerprint, parsed.serial, parsed.subject, parsed.issuer, parsed.common_name, parsed.email,
                parsed.key_type, ",".join(parsed.key_usage)) == (
            row["fingerprint"], row["serial"], row["subject"], row["issuer"], row["common_name"], row["email"],
            row["key_type"], row["key_usage"])
        assert parsed.not_after == certs._moment(row["not_after"])
    statuses = {certs.status_of(row) for row in await Agency.raw(
        "SELECT revoked_at, superseded_by, superseded_at, not_after FROM certificate")}
    assert {"active", "superseded", "expired", "revoked"} <= statuses
    # A renewal replaces a certificate of the same holder, later.
    assert await scalar("SELECT COUNT(*) AS n FROM certificate c JOIN certificate n ON n.id = c.superseded_by "
                        "WHERE COALESCE(n.holder, 0) <> COALESCE(c.holder, 0) OR n.not_before <= c.not_before") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM certificate WHERE superseded_by IS NOT NULL") > 0

    # The audit log describes it, chained.
    verified = await audit.verify()
    assert verified.ok, verified.problem
    assert verified.count == await AuditEntry.count() > 700

    # The generated users can be used: a head with a token reads their agency's requests over the API.
    assert await scalar("SELECT COUNT(*) AS n FROM user_account") >= 40


async def test_refuses_bad_sizes_with_one_line(cli_env) -> None:
    assert_bad_input(registry(cli_env, *generate_args(agencies=0)), "agencies")
    assert_bad_input(registry(cli_env, *generate_args(certificates=-5)), "certificates")
    assert_bad_input(registry(cli_env, *generate_args(people=0)), "people")
    assert_bad_input(registry(cli_env, "generate", "--agencies", "many"), "agencies")
    assert await scalar("SELECT COUNT(*) AS n FROM agency") == 0


async def test_refuses_a_database_with_data_and_writes_nothing(province, settings: Settings, tmp_path: Path) -> None:
    env = clean_env({"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path / "data")})
    agencies_before = await scalar("SELECT COUNT(*) AS n FROM agency")
    entries_before = await AuditEntry.count()
    assert_bad_input(registry(env, *generate_args()), "already holds data")
    assert await scalar("SELECT COUNT(*) AS n FROM agency") == agencies_before
    assert await AuditEntry.count() == entries_before


async def test_a_renewal_in_the_next_chunk_is_linked_too(migrated, monkeypatch) -> None:
    from registry import generate

    # Chunks of seven certificates: many chains (a certificate and its renewals) cross a chunk's end.
    monkeypatch.setattr(generate, "CERTIFICATE_CHUNK", 7)
    await generate.generate(generate.Size(agencies=6, people=20, certificates=90, requests=0))
    assert await scalar("SELECT COUNT(*) AS n FROM certificate") == 90
    # Every superseded certificate names its renewal, the next certificate of the same holder.
    assert await scalar("SELECT COUNT(*) AS n FROM certificate WHERE superseded_at IS NOT NULL") > 10
    assert await scalar("SELECT COUNT(*) AS n FROM certificate WHERE superseded_at IS NOT NULL "
                        "AND superseded_by IS NULL") == 0
    assert await scalar("SELECT COUNT(*) AS n FROM certificate c JOIN certificate n ON n.id = c.superseded_by "
                        "WHERE n.id <> c.id + 1 OR COALESCE(n.holder, 0) <> COALESCE(c.holder, 0)") == 0
