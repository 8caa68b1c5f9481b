"""An attacker's probe of every route (issue 8, point 5): hostile values in every path parameter, query
parameter and body field get a 4xx with a reason, never a 5xx, and write nothing. Runs on SQLite and,
with REGISTRY_TEST_DATABASE_URL, on PostgreSQL (which refuses NUL in text and 2³¹ in integer columns)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from registry import db
from registry.auth.principal import system_principal
from registry.certs import service as certs
from tests import certgen
from tests.helpers import CITY, CITY_FINANCE, Province, sign_in

SYSTEM = system_principal("tests")

# Values that broke the registry once, or could: beyond 64 and 32 bits, NUL, a lone combining mark,
# control characters, a list or an object where text belongs, dates at the ends of the calendar.
HOSTILE_VALUES: list[Any] = [
    2**70, -(2**70), 2**31, 2**63, "\x00", "ab\x00cd", "\u0301", "\x1b[31m", ["a list"], {"an": "object"},
    "0001-01-01", "9999-12-31", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "", True, 1.5e300,
]
HOSTILE_TEXT = ["99999999999999999999999", "2147483648", "-9223372036854775809", "\x00", "a\x00b", "\u0301",
                "0001-01-01", "9999-12-31T23:59:59-05:00", "x" * 5000, "%", "_", "\u202e", "\ufeff"]
HOSTILE_PATH = ["99999999999999999999999", "2147483648", "-2147483649", "%00", "a%00b", "%CC%81", "%FF%FE",
                "0001-01-01", "x" * 2000]


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


RAW_BODIES = [
    b"\xff\xfe\xfa not utf-8",
    b'{"name": "\xff\xfe"}',
    _deep(100_000),
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"{" * 3,
    b"[" + b"1," * 2000 + b"1]",
    b'{"approve": [' + b",".join(b"1" for _ in range(5000)) + b"]}",
]


async def _certificate(province: Province, holder: str = "city_staff") -> str:
    ca = certgen.shared_ca()
    start = datetime.now(UTC) - timedelta(days=3 * 365 - 30)
    cert = ca.issue("Người dùng probe", email="probe@quangninh.gov.vn", not_before=start, days=3 * 365)
    created, _ = await certs.import_certificate(
        SYSTEM, certgen.pem(cert), holder_person_id=province.users[holder]["person_id"], agency_code=CITY_FINANCE,
        kind="personal",
    )
    return created["fingerprint"]


def _bases(fingerprint: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """A plausible body for each writing route, so that hostile values reach the checks behind the first."""
    personal = {
        "kind": "new_personal", "agency_code": CITY_FINANCE, "full_name": "Nguyễn Thị Lan", "date_of_birth": "1988-04-12",
        "id_number": "022188001234", "id_issued_on": "2021-06-01", "id_issued_by": "Cục Cảnh sát QLHC về TTXH",
        "email": "lan.nt@quangninh.gov.vn", "position": "Chuyên viên", "phone": "0912345678", "person_id": None,
    }
    org = {
        "kind": "new_org", "agency_code": CITY, "org_name": "UBND thành phố Hạ Long", "address": "Hồng Hà",
        "tax_code": "5700100256", "budget_code": "1053438", "email": "halong@quangninh.gov.vn",
        "receiver": {"full_name": "Lê Thị Thư", "id_number": "022190004321", "position": "Văn thư",
                     "phone": "0987654321", "email": "vanthu@quangninh.gov.vn"},
    }
    revoke = {"kind": "revoke", "agency_code": CITY_FINANCE, "certificate": fingerprint, "reason": "other",
              "detail": "Lý do"}
    change = {"kind": "change", "agency_code": CITY_FINANCE, "certificate": fingerprint,
              "changes": {"full_name": "Tên mới", "email": "moi@quangninh.gov.vn"}}
    return {
        ("POST", "/api/v1/cert-requests"): [personal, org, revoke, change, {"kind": "renew", "agency_code": CITY_FINANCE,
                                                                          "certificate": fingerprint, "validity_years": 2}],
        ("POST", "/api/v1/cert-requests/decisions"): [{"approve": [1], "reject": [{"id": 2, "reason": "Thiếu hồ sơ"}]}],
        ("POST", "/api/v1/cert-requests/{request_id}/reject"): [{"reason": "Thiếu hồ sơ"}],
        ("POST", "/api/v1/agencies"): [{"code": "000.20.21.H49", "name": "Phòng mới", "parent_code": CITY,
                                        "short_name": "PM", "address": "Hạ Long", "tax_code": "", "budget_code": "",
                                        "email": ""}],
        ("PATCH", "/api/v1/agencies/{code}"): [{"name": "Tên mới", "address": "Địa chỉ mới", "email": "a@b.vn"}],
        ("POST", "/api/v1/people"): [{"full_name": "Trần Văn B", "agency_code": CITY, "position": "Chuyên viên",
                                      "email": "b@quangninh.gov.vn", "id_number": "022188009999",
                                      "date_of_birth": "1990-01-01", "phone": "0912000000"}],
        ("PATCH", "/api/v1/people/{person_id}"): [{"full_name": "Trần Văn C", "date_of_birth": "1991-02-03"}],
        ("POST", "/api/v1/users"): [{"username": "probe.user", "full_name": "Người Thử", "agency_code": CITY,
                                     "roles": ["staff"], "password": "correct horse battery", "position": "", "email": ""}],
        ("POST", "/api/v1/users/{username}/roles"): [{"role": "head", "agency_code": CITY}],
        ("POST", "/api/v1/users/{username}/roles/revoke"): [{"role": "staff", "agency_code": CITY_FINANCE}],
        ("POST", "/api/v1/tokens"): [{"name": "probe", "expires_days": 30}],
        ("POST", "/api/v1/certificates/{fingerprint}/holder"): [{"person_id": 1, "agency_code": CITY_FINANCE,
                                                                 "custodian_person_id": None, "kind": "personal"}],
    }


def _mutations(body: Any, prefix: tuple = ()) -> Iterator[Any]:
    """`body` with one field (at any depth) replaced by each hostile value in turn."""
    if isinstance(body, dict):
        for key, value in body.items():
            for hostile in HOSTILE_VALUES:
                yield {**body, key: hostile}
            if isinstance(value, (dict, list)):
                for inner in _mutations(value):
                    yield {**body, key: inner}
    elif isinstance(body, list):
        for index, value in enumerate(body):
            for hostile in HOSTILE_VALUES:
                yield [*body[:index], hostile, *body[index + 1:]]
            if isinstance(value, (dict, list)):
                for inner in _mutations(value):
                    yield [*body[:index], inner, *body[index + 1:]]


def _routes(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    routes = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method.upper() in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                routes.append((method.upper(), path, operation))
    return routes


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


async def _count_rows() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in db.table_classes()
            if table._meta.tablename not in ("login_attempt",)}


def _server_errors(responses: list[tuple[str, httpx.Response]]) -> list[str]:
    return [f"{label} → {r.status_code}: {r.text[:300]}" for label, r in responses if r.status_code >= 500]


async def test_hostile_input_at_every_api_route_is_a_4xx_and_writes_nothing(client, province) -> None:
    fingerprint = await _certificate(province)
    schema = (await client.get("/schema/openapi.json")).json()
    routes = _routes(schema)
    assert len(routes) >= 25, [r[1] for r in routes]
    headers = province.auth("admin")
    sane = {"code": CITY, "person_id": str(province.users["city_staff"]["person_id"]), "request_id": "1",
            "fingerprint": fingerprint, "username": "city_staff", "token_id": "1"}
    bases = _bases(fingerprint)
    before = await _count_rows()
    responses: list[tuple[str, httpx.Response]] = []

    for method, path, operation in routes:
        parameters = operation.get("parameters", [])
        # Path parameters: each hostile value in each.
        for parameter in (p for p in parameters if p["in"] == "path"):
            for hostile in HOSTILE_PATH:
                url = _fill(path, {**sane, parameter["name"]: hostile})
                responses.append((f"{method} {url[:120]}", await client.request(method, url, headers=headers)))
        # Query parameters: each hostile value in each.
        url = _fill(path, sane)
        for parameter in (p for p in parameters if p["in"] == "query"):
            for hostile in HOSTILE_TEXT:
                response = await client.request(method, url, params={parameter["name"]: hostile}, headers=headers)
                responses.append((f"{method} {url}?{parameter['name']}={hostile[:40]!r}", response))
        if method == "GET":
            continue
        # Bodies: undecodable, too deep, too long, and every field of a plausible body made hostile.
        for raw in RAW_BODIES:
            response = await client.request(method, url, content=raw,
                                             headers={**headers, "Content-Type": "application/json"})
            responses.append((f"{method} {url} raw {raw[:30]!r}", response))
        for base in bases.get((method, path), [{"name": "x"}]):
            for body in _mutations(base):
                response = await client.request(method, url, content=json.dumps(body), headers={
                    **headers, "Content-Type": "application/json"})
                responses.append((f"{method} {url} {json.dumps(body, ensure_ascii=True)[:200]}", response))

    failures = _server_errors(responses)
    assert not failures, "\n".join(failures[:40])
    # Whatever got a 4xx wrote nothing; the few plausible bodies that passed may have written.
    refused_all = all(r.status_code >= 400 for _label, r in responses)
    if refused_all:
        assert await _count_rows() == before


async def test_hostile_values_get_a_reason_and_a_code(client, province) -> None:
    headers = province.auth("admin")
    cases = [
        (client.get("/api/v1/people/99999999999999999999999", headers=headers), 422, "integer_out_of_range"),
        (client.get("/api/v1/people/2147483648", headers=headers), 422, "integer_out_of_range"),
        (client.get("/api/v1/people", params={"q": "a\x00b"}, headers=headers), 422, "nul_character"),
        (client.get("/api/v1/certificates", params={"holder": "99999999999999999999"}, headers=headers), 422,
         "integer_out_of_range"),
        (client.post("/api/v1/people", content=b'{"full_name": "\xff"}',
                     headers={**headers, "Content-Type": "application/json"}), 400, "invalid_utf8"),
        (client.post("/api/v1/people", content=_deep(100_000),
                     headers={**headers, "Content-Type": "application/json"}), 400, "json_too_deep"),
        (client.post("/api/v1/people", json={"full_name": "Tên\x00", "agency_code": CITY}, headers=headers), 422,
         "nul_character"),
        (client.post("/api/v1/cert-requests/decisions", json={"approve": list(range(1, 1002))}, headers=headers), 422,
         "list_too_long"),
        (client.post("/api/v1/cert-requests/decisions", json={"approve": [2**64]}, headers=headers), 422,
         "integer_out_of_range"),
    ]
    before = await _count_rows()
    for request, status, code in cases:
        response = await request
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == code, body
        assert body["detail"] and body.get("errors"), body
    assert await _count_rows() == before


@pytest.mark.parametrize("query", ["\u0301", "  \u0301 \u0300 ", "%", "_", "\ufeff"])
async def test_searches_that_fold_to_nothing_are_answered(client, province, query: str) -> None:
    headers = province.auth("admin")
    for path in ("/api/v1/certificates", "/api/v1/people", "/api/v1/agencies"):
        response = await client.get(path, params={"q": query}, headers=headers)
        assert response.status_code == 200, (path, response.text)
    for path in ("/", "/agencies"):
        assert (await client.get(path, params={"q": query})).status_code == 200


async def test_pages_and_the_login_form_refuse_nul_with_a_page(client, province) -> None:
    page = await client.get("/login")
    csrf = page.text.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
    response = await client.post("/login", data={"_csrf": csrf, "username": "city\x00head", "password": "x\x00"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Dữ liệu không hợp lệ" in response.text
    for path in ("/?q=a%00b", "/agencies?q=%00", "/agencies/%00"):
        answer = await client.get(path)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html"), path
    await sign_in(client, "admin")
    for path in ("/certificates?q=%00", "/requests?kind=%00", "/admin/audit?since=0001-01-01",
                 "/admin/audit?until=9999-12-31T23:59:59-12:00", "/admin/audit?before_seq=99999999999999999999",
                 "/requests/99999999999999999999", "/certificates?q=%CC%81"):
        answer = await client.get(path)
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, (path, answer.status_code)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
async def test_the_audit_api_refuses_moments_at_the_ends_of_the_calendar(client, province, moment: str) -> None:
    for key in ("since", "until"):
        response = await client.get("/api/v1/audit", params={key: moment}, headers=province.auth("admin"))
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "date_out_of_range"


# --- real-world certificates with unusual but legal content ----------------------------------------


def _unusual_certificates() -> dict[str, bytes]:
    """Certificates `cryptography` loads, shaped like those found in the wild: no expiry (9999), issued
    before 1950's UTCTime cut-over, unknown critical extensions, policies with notices, exotic names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    ca = certgen.shared_ca()
    key = ec.generate_private_key(ec.SECP256R1())

    def build(subject: x509.Name, *, not_before: datetime, not_after: datetime, extensions=()) -> bytes:
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return certgen.der(builder.sign(ca.key, hashes.SHA256()))

    now = datetime.now(UTC)
    plain = certgen.name("Nguyễn Văn Thử", email="thu@quangninh.gov.vn")
    utc = UTC
    return {
        "no_expiry_9999": build(plain, not_before=now - timedelta(days=1),
                                not_after=datetime(9999, 12, 31, 23, 59, 59, tzinfo=utc)),
        "issued_1950": build(plain, not_before=datetime(1950, 1, 1, tzinfo=utc), not_after=now + timedelta(days=30)),
        "unknown_critical_extension": build(plain, not_before=now, not_after=now + timedelta(days=30), extensions=[
            (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)]),
        "policies_with_notice": build(plain, not_before=now, not_after=now + timedelta(days=30), extensions=[
            (x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier("2.16.704.1.2.1"), [
                "https://ca.gov.vn/cps", x509.UserNotice(x509.NoticeReference("Ban Cơ yếu", [1, 2]), "Thông báo")])]),
             False)]),
        "nul_in_names": build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tên\x00ẩn"),
                                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a\x00b@quangninh.gov.vn")]),
                              not_before=now, not_after=now + timedelta(days=30)),
        "bidi_and_controls": build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "\u202eNguyễn\x1b[31m"),
                                              x509.NameAttribute(NameOID.USER_ID, "CCCD:022188001234")]),
                                   not_before=now, not_after=now + timedelta(days=30)),
        "exotic_san": build(plain, not_before=now, not_after=now + timedelta(days=30), extensions=[
            (x509.SubjectAlternativeName([
                x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03abc"),
                x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Thư mục")])),
                x509.RFC822Name("thu@quangninh.gov.vn"), x509.UniformResourceIdentifier("https://x.vn")]), False)]),
        "empty_subject": build(x509.Name([]), not_before=now, not_after=now + timedelta(days=30)),
    }


async def test_unusual_real_world_certificates_are_stored_or_refused_with_a_reason(client, province) -> None:
    headers = {**province.auth("operator"), "Content-Type": "application/pkix-cert"}
    outcomes = {}
    for label, content in _unusual_certificates().items():
        response = await client.post("/api/v1/certificates", content=content, headers=headers)
        assert response.status_code in (200, 201, 422), (label, response.status_code, response.text)
        outcomes[label] = response.status_code
        if response.status_code == 422:
            assert response.json()["detail"], label
            continue
        body = response.json()
        # Once stored, it reads back everywhere: its JSON, the lists, its page.
        again = await client.get(f"/api/v1/certificates/{body['fingerprint']}", headers=province.auth("operator"))
        assert again.status_code == 200, (label, again.text)
        stored = again.json()
        assert not any("\x00" in str(stored[key]) for key in ("subject", "issuer", "common_name", "email")), label
    listed = await client.get("/api/v1/certificates", headers=province.auth("operator"))
    assert listed.status_code == 200, listed.text
    await sign_in(client, "operator")
    page = await client.get("/certificates")
    assert page.status_code == 200
    # The ordinary shapes are stored, not refused.
    for label in ("no_expiry_9999", "issued_1950", "policies_with_notice", "exotic_san"):
        assert outcomes[label] == 201, outcomes
    # An unknown extension marked critical fails verification (RFC 5280): refused unless an admin overrides.
    assert outcomes["unknown_critical_extension"] == 422
    forced = await client.post("/api/v1/certificates", content=_unusual_certificates()["unknown_critical_extension"],
                               params={"override": "true", "override_reason": "Lưu để đối chiếu"},
                               headers={**province.auth("admin"), "Content-Type": "application/pkix-cert"})
    assert forced.status_code == 201, forced.text
    no_expiry = next(c for c in listed.json() if c["not_after"].startswith("9999"))
    assert no_expiry["status"] == "active"
    # A NUL hidden in a name is refused with its reason.
    assert outcomes["nul_in_names"] == 422
