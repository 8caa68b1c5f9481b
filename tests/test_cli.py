"""The `registry` command, run for real as a subprocess against the test database."""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from registry.agencies.tables import Agency
from registry.audit.tables import AuditEntry
from registry.auth import service as auth
from registry.auth.tables import ApiToken, RoleAssignment, UserAccount
from registry.people.tables import Person
from registry.settings import Settings
from tests.helpers import (
    CITY,
    DOIT,
    PROVINCE_CSV,
    ROOT,
    SYSTEM,
    WARD,
    form_csrf,
    load_province_agencies,
    registry_command,
)
from tests.live_server import LiveServer, clean_env

TIMEOUT = 120
GOOD_PASSWORD = "mật khẩu đủ dài"


@pytest.fixture
def cli_env(migrated: str, settings: Settings, tmp_path: Path) -> dict[str, str]:
    return clean_env({"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path / "data")})


def registry(env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*registry_command(), *args], env=env, input=stdin, capture_output=True, text=True, encoding="utf-8",
        timeout=TIMEOUT, cwd=cwd,
    )


def assert_bad_input(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 with exactly one line on stderr, containing each fragment."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- help ---------------------------------------------------------------------------------------

COMMANDS = [
    [], ["serve"], ["migrate"], ["agency"], ["agency", "import"], ["user"], ["user", "add"],
    ["token"], ["token", "create"], ["token", "list"], ["token", "revoke"], ["audit"], ["audit", "verify"],
]


def test_every_command_has_help(tmp_path: Path) -> None:
    env = clean_env()
    running = [
        (command, subprocess.Popen([*registry_command(), *command, "--help"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for command in COMMANDS
    ]
    for command, process in running:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, (command, stderr)
        assert stdout.startswith("Usage:"), command
        assert "--help" in stdout
    assert not (tmp_path / "var").exists()  # help touches no data


def test_the_installed_command_runs() -> None:
    script = Path(sys.executable).parent / "registry"
    assert script.exists(), "pip install -e . installs the `registry` command beside the interpreter"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=TIMEOUT, env=clean_env())
    assert result.returncode == 0 and "agency" in result.stdout and "serve" in result.stdout


def test_an_unknown_command_is_bad_input(tmp_path: Path) -> None:
    assert_bad_input(registry(clean_env(), "frobnicate", cwd=tmp_path), "frobnicate")


# --- migrate and agency import ------------------------------------------------------------------


async def test_migrate_reports_nothing_pending(cli_env) -> None:
    result = registry(cli_env, "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no pending migrations"


def test_only_serve_and_migrate_apply_migrations(tmp_path: Path) -> None:
    """On a fresh data dir, other commands refuse with one line naming `registry migrate`, and create no
    table; after `registry migrate` they work."""
    env = clean_env({"REGISTRY_DATA_DIR": str(tmp_path / "data")})
    agencies_csv = tmp_path / "agencies.csv"
    agencies_csv.write_text(PROVINCE_CSV, encoding="utf-8")
    add_user = ["user", "add", "le.thu", "--name", "Lê Thị Thư", "--agency", CITY, "--role", "clerk", "--password-stdin"]

    for args, stdin in ((add_user, GOOD_PASSWORD), (["agency", "import", str(agencies_csv)], None)):
        assert_bad_input(registry(env, *args, stdin=stdin), "pending migration", "`registry migrate`")
    with sqlite3.connect(tmp_path / "data" / "registry.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (0,)

    migrated = registry(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("applied ") and migrated.stdout.endswith(" migration(s)\n")
    assert registry(env, "agency", "import", str(agencies_csv)).returncode == 0
    added = registry(env, *add_user, stdin=GOOD_PASSWORD)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added user le.thu (clerk@{CITY})"


async def test_agency_import(cli_env, tmp_path: Path) -> None:
    path = tmp_path / "agencies.csv"
    path.write_text(PROVINCE_CSV, encoding="utf-8")
    result = registry(cli_env, "agency", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 6 agencies: 6 created, 0 updated, 0 unchanged"
    assert await Agency.count() == 6
    city = await Agency.select().where(Agency.code == CITY).first()
    assert city["name"] == "Ủy ban nhân dân thành phố Hạ Long"
    entries = await AuditEntry.select(AuditEntry.actor, AuditEntry.action)
    assert len(entries) == 6 and all(e["actor"].startswith("cli:") and e["action"] == "agency.create" for e in entries)
    again = registry(cli_env, "agency", "import", str(path))
    assert again.returncode == 0
    assert again.stdout.strip() == "imported 6 agencies: 0 created, 0 updated, 6 unchanged"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.5.H49,Mã hỏng,{ROOT}\n", ["line 3 code", "V1V2V3.Z1Z2.Y1Y2.X1X2X3"]),
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.05.H49,Sở Tài chính,000.00.77.H49\n", ["line 3 parent_code", "unknown agency 000.00.77.H49"]),
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n{ROOT},Trùng,\n", ["line 3 code", "duplicate of line 2"]),
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.05.H49,,{ROOT}\n", ["line 3 name", "required"]),
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.05.H49,Sở,{ROOT},thừa\n", ["line 3", "more values"]),
        (f'code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.05.H49,"Sở chưa đóng ngoặc,{ROOT}\n', ["line", "broken CSV"]),
        (f"code,name,parent_code\n{ROOT},UBND tỉnh,\n000.00.05.H49,Sở,{ROOT},,,,\n", ["line 3"]),
        ("mã,tên\n000.00.00.H49,UBND\n", ["line 1", "code", "parent_code"]),
        (f"code,name,parent_code\n{ROOT},UBND,\n000.00.05.H22,Sở,{ROOT}\n", ["line 3 code", "level-1 code"]),
    ],
)
async def test_a_broken_file_is_exit_2_with_one_line_and_writes_nothing(cli_env, tmp_path: Path, content: str, fragments) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(content, encoding="utf-8")
    line = assert_bad_input(registry(cli_env, "agency", "import", str(path)), *fragments)
    assert str(path) in line
    assert await Agency.count() == 0
    assert await AuditEntry.count() == 0


async def test_a_missing_file_is_exit_2(cli_env, tmp_path: Path) -> None:
    assert_bad_input(registry(cli_env, "agency", "import", str(tmp_path / "nope.csv")), "nope.csv")


# --- users and tokens ---------------------------------------------------------------------------


async def test_user_add(cli_env) -> None:
    await load_province_agencies()
    result = registry(
        cli_env, "user", "add", "Le.Thu", "--name", "Lê Thị Thư", "--agency", CITY, "--role", "clerk", "--role", "head",
        "--email", "thu@quangninh.gov.vn", "--position", "Văn thư", "--password-stdin", stdin=GOOD_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"added user le.thu (clerk@{CITY}, head@{CITY})"
    user = await UserAccount.select().where(UserAccount.username == "le.thu").first()
    # The command line hashes with the production parameters (the suite itself uses cheap ones).
    assert user["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert GOOD_PASSWORD not in user["password_hash"]
    roles = await RoleAssignment.select(RoleAssignment.role).where(RoleAssignment.user == user["id"])
    assert sorted(r["role"] for r in roles) == ["clerk", "head"]
    person = await Person.select().where(Person.id == user["person"]).first()
    assert (person["full_name"], person["position"], person["email"]) == ("Lê Thị Thư", "Văn thư", "thu@quangninh.gov.vn")


async def test_an_operator_or_admin_reaches_the_whole_province(cli_env) -> None:
    await load_province_agencies()
    result = registry(cli_env, "user", "add", "doit", "--name", "Cán Bộ Sở", "--agency", DOIT,
                      "--role", "operator", "--role", "admin", "--password-stdin", stdin=GOOD_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"added user doit (admin@{ROOT}, operator@{ROOT})"


@pytest.mark.parametrize(
    ("args", "stdin", "fragments"),
    [
        (["existing", "--name", "Trùng Tên", "--agency", WARD, "--role", "staff"], GOOD_PASSWORD, ["existing", "taken"]),
        (["newuser", "--name", "Không Có Nơi", "--agency", "000.00.99.H49", "--role", "staff"], GOOD_PASSWORD, ["unknown agency 000.00.99.H49"]),
        (["newuser", "--name", "Vai Lạ", "--agency", WARD, "--role", "boss"], GOOD_PASSWORD, ["--role", "boss"]),
        (["newuser", "--name", "Ngắn", "--agency", WARD, "--role", "staff"], "short", ["password", "8 characters"]),
        (["newuser", "--name", "Trống", "--agency", WARD, "--role", "staff"], "", ["password"]),
        (["Bad Name!", "--name", "Tên Sai", "--agency", WARD, "--role", "staff"], GOOD_PASSWORD, ["user name"]),
        (["newuser", "--name", "Vận Hành", "--agency", WARD, "--role", "operator"], GOOD_PASSWORD, ["operator", DOIT]),
        (["newuser", "--agency", WARD, "--role", "staff"], GOOD_PASSWORD, ["--name"]),
    ],
)
async def test_user_add_refuses_bad_input_with_one_line(cli_env, args, stdin, fragments) -> None:
    await load_province_agencies()
    await auth.add_user(SYSTEM, username="existing", full_name="Đã Có", agency_code=CITY,
                        roles=["staff"], password=GOOD_PASSWORD)
    users_before, audit_before, people_before = await UserAccount.count(), await AuditEntry.count(), await Person.count()
    assert_bad_input(registry(cli_env, "user", "add", *args, "--password-stdin", stdin=stdin), *fragments)
    assert (await UserAccount.count(), await AuditEntry.count(), await Person.count()) == (users_before, audit_before, people_before)


async def test_user_add_needs_password_stdin(cli_env) -> None:
    await load_province_agencies()
    assert_bad_input(registry(cli_env, "user", "add", "newuser", "--name", "A B", "--agency", WARD, "--role", "staff"), "--password-stdin")
    assert await UserAccount.count() == 0


async def test_tokens_from_the_command_line(cli_env, client) -> None:
    await load_province_agencies()
    added = registry(cli_env, "user", "add", "robot", "--name", "Phần Mềm QLVB", "--agency", WARD, "--role", "clerk",
                     "--password-stdin", stdin=GOOD_PASSWORD)
    assert added.returncode == 0, added.stderr

    created = registry(cli_env, "token", "create", "robot", "--name", "QLVB", "--expires-days", "30")
    assert created.returncode == 0, created.stderr
    assert created.stderr == ""
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and created.stdout == lines[0] + "\n"
    token = lines[0]
    assert token.startswith("rgt_") and " " not in token
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "robot"
    assert me.json()["roles"] == [{"role": "clerk", "agency_code": WARD}]

    listed = registry(cli_env, "token", "list", "robot")
    assert listed.returncode == 0, listed.stderr
    [row] = listed.stdout.splitlines()
    token_id, prefix, name, state, last_used = row.split("\t")
    assert prefix == token[:10] + "…" and token not in listed.stdout
    assert (name, state) == ("QLVB", "active") and "+07:00" in last_used

    revoked = registry(cli_env, "token", "revoke", token_id)
    assert revoked.returncode == 0 and revoked.stdout.strip() == f"revoked token {token_id}"
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert registry(cli_env, "token", "list", "robot").stdout.split("\t")[3] == "revoked"
    assert_bad_input(registry(cli_env, "token", "revoke", token_id), "already revoked")
    assert_bad_input(registry(cli_env, "token", "revoke", "999999"), "no token 999999")
    assert_bad_input(registry(cli_env, "token", "revoke", "abc"), "abc")
    assert_bad_input(registry(cli_env, "token", "create", "ghost"), "no user ghost")
    assert_bad_input(registry(cli_env, "token", "create", "robot", "--expires-days", "0"), "--expires-days")
    assert await ApiToken.count() == 1


# --- audit verify -------------------------------------------------------------------------------


async def test_audit_verify(cli_env) -> None:
    await load_province_agencies()
    result = registry(cli_env, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok 7 entries\n"
    await AuditEntry.update({AuditEntry.after: '{"code":"000.00.05.H49","name":"Sở Giả mạo"}'}).where(AuditEntry.seq == 2)
    tampered = registry(cli_env, "audit", "verify")
    assert tampered.returncode == 1
    assert tampered.stdout == ""
    assert tampered.stderr.strip() == "broken: entry 2 (agency.create) was altered"


async def test_audit_verify_on_an_empty_log(cli_env) -> None:
    result = registry(cli_env, "audit", "verify")
    assert (result.returncode, result.stdout) == (0, "ok 0 entries\n")


def test_a_bad_database_url_is_exit_2(tmp_path: Path) -> None:
    env = clean_env({"REGISTRY_DATA_DIR": str(tmp_path), "REGISTRY_DATABASE_URL": "mysql://nobody@localhost/x"})
    assert_bad_input(registry(env, "audit", "verify"), "REGISTRY_DATABASE_URL")


# --- serve --------------------------------------------------------------------------------------


def test_serve_with_no_configuration_keeps_everything_under_var(tmp_path: Path) -> None:
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    with LiveServer(cwd=workdir, args=[], env=clean_env()) as server:
        health = server.wait_until_healthy()
        assert health.json() == {"status": "ok", "database": "sqlite"}
        login = httpx.get(f"{server.url}/login", timeout=10)
        assert login.status_code == 200 and "Tên đăng nhập" in login.text
        # The worker runs on uvloop (a dependency on this platform), as measured for production.
        assert re.search(r"worker \d+ ready on uvloop", server.stderr_path.read_text()), server.diagnostics()
    var = workdir / "var"
    database = var / "registry.sqlite3"
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT count(*) FROM migration").fetchone()[0] > 0
    key = var / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 32
    assert sorted(path.name for path in workdir.iterdir() if not path.name.startswith("serve-")) == ["var"]


def test_serve_demo_twice_prints_the_same_users_and_duplicates_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    with LiveServer(cwd=workdir, args=["--demo"], env=clean_env()) as first:
        first_users = first.demo_users()
    assert {user.roles for user in first_users} >= {"staff", "clerk", "head", "operator", "admin"}

    def counts() -> tuple[int, int, int, int]:
        with sqlite3.connect(workdir / "var" / "registry.sqlite3") as connection:
            return tuple(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[return-value]
                         for table in ("agency", "person", "user_account", "role_assignment"))

    after_first = counts()
    with LiveServer(cwd=workdir, args=["--demo"], env=clean_env()) as second:
        assert second.demo_users() == first_users
        assert counts() == after_first
        # A printed user signs in on the live server.
        user = next(user for user in second.demo_users() if user.roles == "clerk")
        with httpx.Client(base_url=second.url, timeout=10) as browser:
            page = browser.get("/login")
            response = browser.post("/login", data={"_csrf": form_csrf(page.text), "username": user.username, "password": user.password})
            assert response.status_code == 303, response.text
            home = browser.get("/")
            assert user.full_name in home.text
            me = browser.get("/api/v1/me")
            assert me.status_code == 200 and me.json()["username"] == user.username
    assert after_first[0] == 11 and after_first[2] == len(first_users)
