"""What the tests share: the small province (its agencies, one user per role, their tokens), signing in
like a browser, bearer headers, the fixture files kept in the repository, and the `registry` command."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from piccolo.querystring import QueryString

from registry import db  # (first: it points Piccolo at registry.piccolo_conf before any table loads)
from registry.auth import service as auth
from registry.auth.principal import Principal, system_principal
from tests import certgen

TESTS_DIR = Path(__file__).resolve().parent
# Files the suite reads live here, in the repository: a fresh clone with nothing beside it must pass.
REAL_CERTS_DIR = TESTS_DIR / "fixtures" / "real-certs"

TEST_DATABASE_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL", "").strip()
ON_POSTGRES = bool(TEST_DATABASE_URL)

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set REGISTRY_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DB"
)

# The actor of whatever a test sets up directly through a service.
SYSTEM = system_principal("tests")

# --- a small province ---------------------------------------------------------------------------

PROVINCE_CSV = """code,name,parent_code,short_name,budget_code,email
000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,,UBND tỉnh,1053432,ubnd@quangninh.gov.vn
000.00.05.H49,Sở Tài chính,000.00.00.H49,STC,1053435,stc@quangninh.gov.vn
000.00.16.H49,Sở Khoa học và Công nghệ,000.00.00.H49,Sở KH&CN,1053436,skhcn@quangninh.gov.vn
000.00.21.H49,Ủy ban nhân dân thành phố Hạ Long,000.00.00.H49,UBND TP Hạ Long,1053438,halong@quangninh.gov.vn
000.02.21.H49,Phòng Tài chính - Kế hoạch thành phố Hạ Long,000.00.21.H49,Phòng TC-KH,1053440,tckh@quangninh.gov.vn
000.10.21.H49,Ủy ban nhân dân phường Hồng Gai,000.00.21.H49,UBND phường Hồng Gai,1053441,honggai@quangninh.gov.vn
"""

ROOT = "000.00.00.H49"
FINANCE = "000.00.05.H49"
DOIT = "000.00.16.H49"
CITY = "000.00.21.H49"
CITY_FINANCE = "000.02.21.H49"
WARD = "000.10.21.H49"

PASSWORD = "correct horse battery"

# username → (agency, roles): one per role in the city, plus heads elsewhere to test scope.
PROVINCE_USERS = {
    "admin": (DOIT, ("admin",)),
    "operator": (DOIT, ("operator",)),
    "city_head": (CITY, ("head",)),
    "city_clerk": (CITY, ("clerk",)),
    "city_staff": (CITY_FINANCE, ("staff",)),
    "ward_head": (WARD, ("head",)),
    "finance_head": (FINANCE, ("head",)),
    "province_head": (ROOT, ("head",)),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Province:
    tokens: dict[str, str]
    users: dict[str, dict[str, Any]]

    def auth(self, username: str) -> dict[str, str]:
        return bearer(self.tokens[username])

    def person_id(self, username: str) -> int:
        return self.users[username]["person_id"]


async def load_province_agencies() -> None:
    """The province's agencies, with DoIT as the operator agency."""
    from registry.agencies import service as agencies

    await agencies.import_csv(SYSTEM, PROVINCE_CSV.encode())
    await agencies.set_operator_agency(SYSTEM, DOIT)


async def seed_province() -> Province:
    """The province's agencies, then its users with one API token each, in the bound database."""
    from registry.auth import service as auth

    await load_province_agencies()
    tokens, users = {}, {}
    for username, (agency_code, roles) in PROVINCE_USERS.items():
        users[username] = await auth.add_user(
            SYSTEM, username=username, full_name=f"Người dùng {username}", agency_code=agency_code,
            roles=roles, password=PASSWORD, email=f"{username}@quangninh.gov.vn",
        )
        tokens[username], _ = await auth.create_token(SYSTEM, username, name="tests")
    return Province(tokens=tokens, users=users)


def new_personal(agency: str = CITY_FINANCE, **changes: Any) -> dict[str, Any]:
    """The body of a request for a new personal certificate (Mẫu 01) that passes every check."""
    body = {
        "kind": "new_personal", "agency_code": agency, "full_name": "Nguyễn Thị Lan", "date_of_birth": "1988-04-12",
        "id_number": "022188001234", "id_issued_on": "2021-06-01", "id_issued_by": "Cục Cảnh sát QLHC về TTXH",
        "email": "lan.nt@quangninh.gov.vn", "position": "Chuyên viên", "phone": "0912345678",
    }
    body.update(changes)
    return body


# --- pages ----------------------------------------------------------------------------------------


def form_csrf(html: str) -> str:
    """The CSRF token of a page's form (the hidden `_csrf` field)."""
    return html.split('name="_csrf" value="', 1)[1].split('"', 1)[0]


def page_csrf(html: str) -> str:
    """The session's CSRF token that a signed-in page carries for scripts (`<meta name="csrf-token">`)."""
    return html.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form like a browser; returns the session's CSRF token."""
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"_csrf": form_csrf(page.text), "username": username, "password": password, "next": "/me"}
    )
    assert response.status_code in (200, 303), response.text
    return page_csrf((await client.get("/me")).text)


# --- certificates and requests ---------------------------------------------------------------------

async def add_certificate(ca: certgen.IssuingCA, province: Province, holder: str | None, agency: str, *,
                          days_left: int = 60, kind: str | None = None, name: str | None = None) -> str:
    """A real certificate in the registry, held by `holder` (a province user) or by the agency."""
    from registry.certs import service as certs

    cert = certgen.issue(ca, name or (holder or agency), email=f"{holder or 'org'}@quangninh.gov.vn", days_left=days_left,
                         age_days=3 * 365 - days_left)
    person_id = province.person_id(holder) if holder else None
    created, _ = await certs.import_certificate(
        SYSTEM, certgen.pem(cert), holder_person_id=person_id, agency_code=agency, kind=kind or ("personal" if holder else "org"),
    )
    return created["fingerprint"]


async def file_cert_request(client, province: Province, username: str, body: dict[str, Any]):
    return await client.post("/api/v1/cert-requests", json=body, headers=province.auth(username))


async def approved_cert_request(client: httpx.AsyncClient, province: Province, body: dict[str, Any]) -> int:
    """A certificate request filed by the city's clerk and approved by its head; its id."""
    created = await file_cert_request(client, province, "city_clerk", body)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    decided = await client.post(f"/api/v1/cert-requests/{request_id}/approve", headers=province.auth("city_head"))
    assert decided.status_code == 200, decided.text
    return request_id


async def approved_revocation(client: httpx.AsyncClient, province: Province, ca: certgen.IssuingCA) -> int:
    """An urgent revocation (token lost) of a certificate of the city's staff member, approved by the head."""
    fingerprint = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=700)
    return await approved_cert_request(client, province, {"kind": "revoke", "agency_code": CITY_FINANCE,
                                                          "certificate": fingerprint, "reason": "token_lost"})


# --- cookies and engines --------------------------------------------------------------------------

def set_cookie(response: httpx.Response, name: str) -> dict[str, Any]:
    """The Set-Cookie header for `name`, parsed: {"value": ..., lower-case attribute: value or True}."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        key, _, value = first.partition("=")
        if key == name:
            parsed: dict[str, Any] = {"value": value}
            for attribute in attributes:
                attr_name, has_value, attr_value = attribute.partition("=")
                parsed[attr_name.lower()] = attr_value if has_value else True
            return parsed
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def recorded_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the current engine runs from now on, its whitespace made single spaces: Piccolo's own
    query log, kept in a list instead of printed. The queries still run."""
    engine = db.current_engine()
    queries: list[str] = []
    monkeypatch.setattr(engine, "log_queries", True)
    # On the class: PostgreSQL's engine has slots. Only this engine logs, so only its queries are kept.
    monkeypatch.setattr(type(engine), "print_query",
                        lambda _engine, query_id, query: queries.append(" ".join(str(query).split())))
    return queries


def recorded_statements(monkeypatch: pytest.MonkeyPatch) -> list[QueryString]:
    """Every statement the current engine runs from now on, as it runs it (its arguments bound, ready for
    `EXPLAIN QUERY PLAN {}`). The statements still run."""
    engine = db.current_engine()
    statements: list[QueryString] = []
    original = engine.run_querystring

    async def recording(querystring: QueryString, *args: Any, **kwargs: Any) -> Any:
        statements.append(querystring)
        return await original(querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", recording)
    return statements


async def principal_of(username: str) -> Principal:
    """A user's principal as a token of theirs reads it (the generated data's users are `head.<agency id>`,
    `clerk.<agency id>`, `operator.1`)."""
    user = await auth.find_user(username)
    assert user is not None, username
    principal = await auth.load_principal(user["id"], via="token")
    assert principal is not None
    return principal


def bind(engine) -> None:
    """Point Piccolo back at `engine` (creating another app rebinds every table to a new engine)."""
    import registry.piccolo_conf as conf

    conf.DB = engine
    for table in db.table_classes():
        table._meta.db = engine


# --- the command line -----------------------------------------------------------------------------


def registry_command() -> list[str]:
    return [sys.executable, "-m", "registry"]
