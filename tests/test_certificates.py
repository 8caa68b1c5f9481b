"""The certificate database: import (PEM, DER, PKCS#7, several PEMs, the real CA certificates), refusals that
write nothing, holders, derived status, lists by agency, status and expiry, who sees what, and the pages."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from registry.audit.tables import AuditEntry
from registry.auth import service as auth
from registry.certs import parsing, service
from registry.certs.reasons import REASON_LABELS, REVOCATION_REASONS, URGENT_REASONS
from registry.certs.tables import Certificate
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.timeutil import now
from tests import certgen
from tests.certgen import issue
from tests.helpers import CITY, CITY_FINANCE, FINANCE, PASSWORD, REAL_CERTS_DIR, SYSTEM, WARD, sign_in

G2_ROOT = REAL_CERTS_DIR / "vgca-rootca-g2.pem"
VNPT_CA = REAL_CERTS_DIR / "vnpt-ca-sha2.pem"
FIFTY_MB = 50 * 1024 * 1024


async def counts() -> tuple[int, int]:
    """Certificates stored and audit entries about certificates (the province fixture audits its own setup)."""
    return await Certificate.count(), await AuditEntry.count().where(AuditEntry.action.like("certificate.%"))


async def add(cert: x509.Certificate, **links) -> dict:
    body, created = await service.import_certificate(SYSTEM, certgen.pem(cert), **links)
    assert created
    return body


# --- parsing, without the database --------------------------------------------------------------


def test_every_format_gives_the_same_certificate(ca) -> None:
    cert = ca.issue("Nguyễn Văn An", email="An.NV@quangninh.gov.vn", unit="Phòng Tổng hợp")
    pem, der = certgen.pem(cert), certgen.der(cert)
    expected = hashlib.sha256(der).hexdigest()
    for content in (
        pem,
        der,
        base64.b64encode(der),  # a .cer in bare base64
        b"Bag Attributes\n    friendlyName: an\nsubject=CN=An\n" + pem + b"\n",  # what `openssl pkcs12` prints
        pkcs7.serialize_certificates([cert], serialization.Encoding.DER),
        pkcs7.serialize_certificates([cert], serialization.Encoding.PEM),
        pem + pem,  # the same one pasted twice
    ):
        [parsed] = parsing.parse_certificates(content)
        assert parsed.fingerprint == expected
    parsed = parsing.parse_one(pem)
    assert parsed.subject == "E=An.NV@quangninh.gov.vn,CN=Nguyễn Văn An,OU=Phòng Tổng hợp,O=UBND tỉnh Quảng Ninh,L=Quảng Ninh,C=VN"
    assert parsed.email == "an.nv@quangninh.gov.vn"
    assert parsed.common_name == "Nguyễn Văn An"
    assert parsed.serial == format(cert.serial_number, "x")
    assert parsed.key_type == "RSA" and parsed.key_size == 2048
    assert parsed.key_usage == ("digital_signature", "content_commitment")
    assert parsed.is_ca is False and parsed.kind == "personal"
    assert parsed.not_after == cert.not_valid_after_utc


def _self_signed(subject: x509.Name, key, *, ca: bool = False, san_email: str | None = None) -> x509.Certificate:
    start = datetime.now(UTC) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san_email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(san_email)]), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


@pytest.mark.parametrize(
    ("attributes", "san_email", "is_ca", "kind"),
    [
        ([(NameOID.COMMON_NAME, "Trần Thị Bình"), (NameOID.USER_ID, "CCCD:022188001234")], None, False, "personal"),
        ([(NameOID.COMMON_NAME, "SỞ TÀI CHÍNH"), (NameOID.USER_ID, "MNS:1053435")], None, False, "org"),
        # A tax-code UID wins over the agency's mailbox in the subject.
        ([(NameOID.COMMON_NAME, "SỞ Y TẾ"), (NameOID.USER_ID, "MST:5700100256"),
          (NameOID.EMAIL_ADDRESS, "syt@quangninh.gov.vn")], None, False, "org"),
        ([(NameOID.COMMON_NAME, "Lê Văn Cường")], "cuong@quangninh.gov.vn", False, "personal"),
        ([(NameOID.COMMON_NAME, "UBND PHƯỜNG HỒNG GAI")], None, False, "org"),
        ([(NameOID.COMMON_NAME, "CA thử nghiệm")], None, True, "ca"),
    ],
)
def test_kind_is_guessed_from_the_certificate(attributes, san_email, is_ca, kind) -> None:
    subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    parsed = parsing.parse_one(certgen.pem(_self_signed(subject, ec.generate_private_key(ec.SECP256R1()), ca=is_ca,
                                                        san_email=san_email)))
    assert parsed.kind == kind
    assert (parsed.email != "") == bool(san_email or any(oid == NameOID.EMAIL_ADDRESS for oid, _ in attributes))


def test_key_types_and_uid_render() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Phạm Đức"), x509.NameAttribute(NameOID.USER_ID, "CCCD:1")])
    parsed = parsing.parse_one(certgen.der(_self_signed(subject, ed25519.Ed25519PrivateKey.generate())))
    assert (parsed.key_type, parsed.key_size) == ("Ed25519", 256)
    assert parsed.subject == "UID=CCCD:1,CN=Phạm Đức"
    assert parsed.key_usage == ()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda cert: b"", "empty"),
        (lambda cert: b" \n\t", "empty"),
        (lambda cert: b"this is not a certificate at all", "not a certificate"),
        (lambda cert: certgen.der(cert)[:300], "truncated"),
        (lambda cert: certgen.der(cert) + b"\x00\x00", "unexpected bytes"),
        (lambda cert: certgen.pem(cert)[:400], "truncated"),
        (lambda cert: certgen.pem(cert).replace(b"-----END CERTIFICATE-----", b""), "truncated"),
        (lambda cert: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40, "PNG"),
        (lambda cert: b"%PDF-1.7\n", "PDF"),
        (lambda cert: b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", "private key"),
        (lambda cert: b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n", "request"),
        (lambda cert: b"-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n", "base64"),
        (lambda cert: b"\x30\x03\x02\x01\x01", "neither"),
        (lambda cert: certgen.der(cert).replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x32", 1), "not a certificate"),
        (lambda cert: b"-----BEGIN", "not a certificate"),
        (lambda cert: b"text -----BEGIN CERTIFICATE without its dashes", "not a certificate"),
        (lambda cert: bytes(range(256)) * 4, "not a certificate"),
    ],
)
def test_what_is_not_a_certificate_is_invalid_with_a_reason(ca, make, fragment) -> None:
    with pytest.raises(Invalid) as raised:
        parsing.parse_certificates(make(ca.issue("Hỏng")))
    assert fragment.lower() in raised.value.detail.lower()
    assert "\n" not in raised.value.detail


def test_a_certificate_with_an_undecodable_subject_is_invalid(ca) -> None:
    der = certgen.der(ca.issue("ZZZZZZZZ"))
    at = der.index(b"ZZZZZZZZ")
    broken = der[:at] + b"\xff\xfe" * 4 + der[at + 8 :]  # same length, so only the UTF-8 is wrong
    with pytest.raises(Invalid, match="malformed"):
        parsing.parse_certificates(broken)


def test_reasons_map_to_rfc5280() -> None:
    assert set(REVOCATION_REASONS) == set(REASON_LABELS) == {
        "key_compromise", "token_lost", "position_changed", "retired", "left", "deceased",
        "agency_dissolved", "agency_merged", "other",
    }
    assert REVOCATION_REASONS["key_compromise"] == x509.ReasonFlags.key_compromise
    assert REVOCATION_REASONS["position_changed"] == x509.ReasonFlags.affiliation_changed
    assert REVOCATION_REASONS["retired"] == x509.ReasonFlags.cessation_of_operation
    assert REVOCATION_REASONS["other"] == x509.ReasonFlags.unspecified
    assert URGENT_REASONS == {"key_compromise", "token_lost"}
    assert REASON_LABELS["key_compromise"] == "Lộ hoặc nghi lộ khóa bí mật"


# --- import through the API --------------------------------------------------------------------


async def test_import_pem_with_parsed_fields_and_holder(client, province, ca) -> None:
    cert = issue(ca, "Người dùng city_staff", email="city_staff@quangninh.gov.vn", unit="Phòng Tài chính - Kế hoạch")
    holder = province.person_id("city_staff")
    response = await client.post(
        "/api/v1/certificates", content=certgen.pem(cert), params={"holder_person_id": holder},
        headers=province.auth("operator"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fingerprint"] == certgen.fingerprint(cert)
    assert body["serial"] == format(cert.serial_number, "x")
    assert body["subject"].startswith("E=city_staff@quangninh.gov.vn,CN=Người dùng city_staff,OU=Phòng Tài chính - Kế hoạch")
    assert body["issuer"] == "CN=CA phục vụ các cơ quan Nhà nước G2 (thử nghiệm),O=Ban Cơ yếu Chính phủ,C=VN"
    assert body["not_before"].endswith("+07:00") and body["not_after"].endswith("+07:00")
    assert datetime.fromisoformat(body["not_after"]) == cert.not_valid_after_utc
    assert (body["key_type"], body["key_size"]) == ("RSA", 2048)
    assert body["key_usage"] == ["digital_signature", "content_commitment"]
    assert body["status"] == "active" and body["kind"] == "personal"
    assert body["holder"] == {"id": holder, "full_name": "Người dùng city_staff"}
    assert body["agency_code"] == CITY_FINANCE and body["agency_name"] == "Phòng Tài chính - Kế hoạch thành phố Hạ Long"
    assert body["custodian"] is None and body["revoked_at"] is None and body["revocation_pending"] is False
    entry = await AuditEntry.select().where(AuditEntry.action == "certificate.import").first()
    assert entry["object_id"] == body["fingerprint"] and entry["actor"] == "operator"
    row = await Certificate.select(Certificate.der, Certificate.search_key).first()
    assert bytes(row["der"]) == certgen.der(cert)
    assert "nguoi dung city_staff" in row["search_key"]


async def test_import_der_raw_and_multipart(client, province, ca) -> None:
    rsa_cert = issue(ca, "Đỗ Thị Hà", email="ha@quangninh.gov.vn")
    ec_cert = issue(ca, "Vũ Minh Khoa", email="khoa@quangninh.gov.vn", key_type="ec")
    raw = await client.post("/api/v1/certificates", content=certgen.der(rsa_cert), headers=province.auth("admin"))
    assert raw.status_code == 201, raw.text
    form = await client.post(
        "/api/v1/certificates", files={"file": ("khoa.der", certgen.der(ec_cert), "application/pkix-cert")},
        headers=province.auth("operator"),
    )
    assert form.status_code == 201, form.text
    assert (form.json()["key_type"], form.json()["key_size"]) == ("EC", 256)
    # Unlinked: no holder, no agency, the kind guessed from the email.
    assert form.json()["holder"] is None and form.json()["agency_code"] is None and form.json()["kind"] == "personal"
    assert await Certificate.count() == 2


async def test_reimport_returns_the_same_json_and_writes_nothing(client, province, ca) -> None:
    cert = issue(ca, "Hoàng Văn Nam", email="nam@quangninh.gov.vn")
    first = await client.post("/api/v1/certificates", content=certgen.pem(cert), headers=province.auth("operator"))
    assert first.status_code == 201
    before = await counts()
    for content, holder in ((certgen.pem(cert), None), (certgen.der(cert), province.person_id("city_staff"))):
        params = {"holder_person_id": holder} if holder else {}
        again = await client.post("/api/v1/certificates", content=content, params=params, headers=province.auth("admin"))
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert await counts() == before


async def test_pkcs7_and_multi_pem_bundles(client, province, ca) -> None:
    leaf = issue(ca, "Người dùng city_clerk", email="city_clerk@quangninh.gov.vn")
    p7b = pkcs7.serialize_certificates([leaf, ca.cert], serialization.Encoding.DER)
    clerk = province.person_id("city_clerk")
    response = await client.post("/api/v1/certificates/bundle", content=p7b, params={"holder_person_id": clerk},
                                 headers=province.auth("operator"))
    assert response.status_code == 201, response.text
    # DER sorts a PKCS#7's certificates (a SET OF), so they are looked up by fingerprint.
    listed = {c["fingerprint"]: c for c in response.json()["certificates"]}
    assert set(listed) == {certgen.fingerprint(leaf), certgen.fingerprint(ca.cert)}
    assert all(c["created"] for c in listed.values())
    # The holder goes to the end-entity certificate; the CA comes along unlinked.
    end_entity, issuer = listed[certgen.fingerprint(leaf)], listed[certgen.fingerprint(ca.cert)]
    assert end_entity["holder"]["id"] == clerk and end_entity["agency_code"] == CITY
    assert issuer["holder"] is None and issuer["kind"] == "ca" and issuer["agency_code"] is None

    other = issue(ca, "Sở Tài chính tỉnh Quảng Ninh")
    pems = certgen.pem(other) + certgen.pem(leaf)
    mixed = await client.post("/api/v1/certificates/bundle", content=pems, headers=province.auth("operator"))
    assert mixed.status_code == 201
    assert [c["created"] for c in mixed.json()["certificates"]] == [True, False]
    assert mixed.json()["certificates"][0]["kind"] == "org"

    pem_p7b = pkcs7.serialize_certificates([other, leaf], serialization.Encoding.PEM)
    before = await counts()
    known = await client.post("/api/v1/certificates/bundle", files={"file": ("all.p7b", pem_p7b)},
                              headers=province.auth("operator"))
    assert known.status_code == 200
    assert {c["fingerprint"]: c["created"] for c in known.json()["certificates"]} == {
        certgen.fingerprint(other): False, certgen.fingerprint(leaf): False
    }
    assert await counts() == before == (3, 3)


async def test_a_bundle_is_all_or_nothing(client, province, ca) -> None:
    good = issue(ca, "Bùi Văn Tâm", email="tam@quangninh.gov.vn")
    content = certgen.pem(good) + b"-----BEGIN CERTIFICATE-----\nMIIBroken\n"
    response = await client.post("/api/v1/certificates/bundle", content=content, headers=province.auth("operator"))
    assert response.status_code == 422
    # A valid file, but the holder named does not work where the agency named is: nothing of it is kept.
    both = certgen.pem(good) + certgen.pem(issue(ca, "Đinh Thị Yến", email="yen@quangninh.gov.vn"))
    refused = await client.post("/api/v1/certificates/bundle", content=both,
                                params={"holder_person_id": province.person_id("city_staff"), "agency_code": WARD},
                                headers=province.auth("operator"))
    assert refused.status_code == 422
    assert await counts() == (0, 0)


async def test_the_single_import_refuses_a_file_of_several(client, province, ca) -> None:
    content = certgen.pem(issue(ca, "Một")) + certgen.pem(issue(ca, "Hai"))
    response = await client.post("/api/v1/certificates", content=content, headers=province.auth("operator"))
    assert response.status_code == 422
    assert "bundle" in response.json()["detail"]
    assert await counts() == (0, 0)


async def test_the_real_government_and_vnpt_ca_certificates(client, province) -> None:
    g2 = await client.post("/api/v1/certificates", content=G2_ROOT.read_bytes(), headers=province.auth("operator"))
    assert g2.status_code == 201, g2.text
    root = g2.json()
    assert root["subject"] == "CN=RootCA chuyên dùng Chính phủ G2,O=Ban Cơ yếu Chính phủ,C=VN"
    assert root["issuer"] == root["subject"]
    assert root["common_name"] == "RootCA chuyên dùng Chính phủ G2"
    assert root["kind"] == "ca" and root["is_ca"] is True
    assert (root["key_type"], root["key_size"]) == ("RSA", 4096)
    assert root["key_usage"] == ["key_cert_sign", "crl_sign"]
    assert root["serial"] == "3b65b0a03006f9ab"
    assert root["not_before"] == "2018-08-22T14:36:39+07:00" and root["not_after"] == "2048-08-14T14:36:39+07:00"
    real = x509.load_pem_x509_certificate(G2_ROOT.read_bytes())
    assert root["fingerprint"] == real.fingerprint(hashes.SHA256()).hex()

    # VNPT-CA chains to the national root, which this registry's trust store does not hold: the operator is
    # refused with the verdict, and an admin imports it with a reason (audited).
    refused = await client.post("/api/v1/certificates", content=VNPT_CA.read_bytes(), headers=province.auth("operator"))
    assert refused.status_code == 422 and refused.json()["code"] == "certificate_not_verified"
    assert refused.json()["verification"]["status"] == "untrusted"
    vnpt = await client.post("/api/v1/certificates", content=VNPT_CA.read_bytes(), headers=province.auth("admin"),
                             params={"override": "true", "override_reason": "Lưu chứng thư CA của VNPT để tra cứu"})
    assert vnpt.status_code == 201
    assert vnpt.json()["subject"] == "C=VN,O=VIETNAM POSTS AND TELECOMMUNICATIONS GROUP,CN=VNPT-CA SHA2"
    assert vnpt.json()["issuer"].startswith("CN=Vietnam National Root CA,")
    assert vnpt.json()["key_usage"] == ["digital_signature", "key_cert_sign", "crl_sign"]

    fetched = await client.get(f"/api/v1/certificates/{root['fingerprint']}", headers=province.auth("admin"))
    assert fetched.json()["subject"] == root["subject"]
    # Searchable without diacritics.
    found = await client.get("/api/v1/certificates", params={"q": "chuyen dung chinh phu"}, headers=province.auth("operator"))
    assert [c["fingerprint"] for c in found.json()] == [root["fingerprint"]]


# --- refusals that write nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content", "fragment"),
    [
        ("/api/v1/certificates", b"garbage garbage garbage", "not a certificate"),
        ("/api/v1/certificates", b"", "empty"),
        ("/api/v1/certificates", "truncated-der", "truncated"),
        ("/api/v1/certificates", "truncated-pem", "truncated"),
        ("/api/v1/certificates", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "PNG"),
        ("/api/v1/certificates/bundle", b"\x00\x01\x02\x03", "not a certificate"),
        ("/api/v1/certificates/bundle", "truncated-der", "truncated"),
    ],
)
async def test_bad_files_are_422_and_nothing_is_written(client, province, ca, path, content, fragment) -> None:
    cert = issue(ca, "Tệp hỏng")
    if content == "truncated-der":
        content = certgen.der(cert)[:-40]
    elif content == "truncated-pem":
        content = certgen.pem(cert)[:-60]
    before = await counts()
    response = await client.post(path, content=content, headers=province.auth("operator"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert fragment.lower() in problem["detail"].lower()
    assert problem["status"] == 422 and problem["title"]
    assert await counts() == before


async def test_a_50_mb_upload_is_413_and_nothing_is_written(client, province, ca) -> None:
    before = await counts()
    huge = certgen.pem(issue(ca, "Rất lớn")) + b"\n" * FIFTY_MB
    raw = await client.post("/api/v1/certificates", content=huge, headers=province.auth("operator"))
    assert raw.status_code == 413
    assert raw.headers["content-type"].startswith("application/problem+json")
    multipart = await client.post("/api/v1/certificates/bundle", files={"file": ("big.pem", huge)},
                                  headers=province.auth("operator"))
    assert multipart.status_code == 413
    assert await counts() == before


async def test_who_may_import(client, province, ca) -> None:
    content = certgen.pem(issue(ca, "Ai được nhập"))
    for username in ("city_staff", "city_clerk", "city_head", "province_head"):
        response = await client.post("/api/v1/certificates", content=content, headers=province.auth(username))
        assert response.status_code == 403, username
    nobody = await client.post("/api/v1/certificates", content=content)
    assert nobody.status_code == 401
    assert nobody.headers["content-type"].startswith("application/problem+json")
    assert await counts() == (0, 0)
    with pytest.raises(Forbidden):
        await service.import_certificate(
            await auth.load_principal(province.users["city_head"]["id"], via="token"), content
        )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"holder_person_id": 999999}, "holder_person_id"),
        ({"agency_code": "000.00.99.H49"}, "agency_code"),
        ({"holder_person_id": "city_staff", "agency_code": WARD}, "holder_person_id"),
        ({"holder_person_id": "city_staff", "kind": "org"}, "holder_person_id"),
        ({"holder_person_id": "city_staff", "custodian_person_id": "city_clerk"}, "custodian_person_id"),
        ({"agency_code": CITY, "custodian_person_id": "city_staff"}, "custodian_person_id"),
        ({"kind": "robot"}, "kind"),
    ],
)
async def test_links_are_checked(client, province, ca, params, field) -> None:
    params = {key: province.person_id(value) if key.endswith("person_id") and isinstance(value, str) else value
              for key, value in params.items()}
    response = await client.post("/api/v1/certificates", content=certgen.pem(issue(ca, "Liên kết sai")),
                                 params=params, headers=province.auth("operator"))
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await counts() == (0, 0)


async def test_a_certificate_for_another_province_is_refused(client, province, ca) -> None:
    from registry.agencies import service as agencies

    await agencies.import_csv(SYSTEM, "code,name,parent_code\n000.00.00.H22,Ủy ban nhân dân tỉnh Bắc Giang,\n".encode())
    before = await counts()
    response = await client.post("/api/v1/certificates", content=certgen.pem(issue(ca, "UBND TỈNH BẮC GIANG")),
                                 params={"agency_code": "000.00.00.H22"}, headers=province.auth("operator"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await counts() == before


async def test_an_organisation_certificate_with_its_custodian(client, province, ca) -> None:
    seal = issue(ca, "ỦY BAN NHÂN DÂN THÀNH PHỐ HẠ LONG")
    clerk = province.person_id("city_clerk")
    response = await client.post("/api/v1/certificates", content=certgen.pem(seal),
                                 params={"agency_code": CITY, "custodian_person_id": clerk},
                                 headers=province.auth("operator"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "org" and body["agency_code"] == CITY and body["holder"] is None
    assert body["custodian"] == {"id": clerk, "full_name": "Người dùng city_clerk"}


async def test_a_bundle_answers_for_what_it_wrote_as_the_registry_reads_it_back(client, province, ca) -> None:
    clerk = province.person_id("city_clerk")
    person = issue(ca, "Người dùng city_clerk", email="city_clerk@quangninh.gov.vn")
    seals = [issue(ca, "ỦY BAN NHÂN DÂN THÀNH PHỐ HẠ LONG"), issue(ca, "VĂN PHÒNG UBND THÀNH PHỐ HẠ LONG")]
    answers = []
    for content, params in (
        (pkcs7.serialize_certificates([person, ca.cert], serialization.Encoding.DER), {"holder_person_id": clerk}),
        (b"".join(certgen.pem(seal) for seal in seals), {"agency_code": CITY, "custodian_person_id": clerk}),
    ):
        response = await client.post("/api/v1/certificates/bundle", content=content, params=params,
                                     headers=province.auth("operator"))
        assert response.status_code == 201, response.text
        answers += response.json()["certificates"]
    assert len(answers) == 4 and all(item["created"] for item in answers)
    assert {item["kind"] for item in answers} == {"personal", "ca", "org"}
    for item in answers:
        detail = await client.get(f"/api/v1/certificates/{item['fingerprint']}", headers=province.auth("operator"))
        assert detail.status_code == 200
        assert {**detail.json(), "created": True} == item


async def test_concurrent_imports_of_one_certificate_store_it_once(province, ca) -> None:
    content = certgen.pem(issue(ca, "Cùng lúc", email="cungluc@quangninh.gov.vn"))
    results = await asyncio.gather(*(service.import_certificate(SYSTEM, content) for _ in range(4)))
    assert sorted(created for _body, created in results) == [False, False, False, True]
    assert len({body["fingerprint"] for body, _created in results}) == 1
    assert await counts() == (1, 1)


# --- holders ------------------------------------------------------------------------------------


async def test_linking_a_holder_later_is_audited(client, province, ca) -> None:
    cert = await add(issue(ca, "Người dùng ward_head", email="ward_head@quangninh.gov.vn"))
    head = province.person_id("ward_head")
    refused = await client.post(f"/api/v1/certificates/{cert['fingerprint']}/holder", json={"person_id": head},
                                headers=province.auth("city_head"))
    assert refused.status_code == 403
    response = await client.post(f"/api/v1/certificates/{cert['fingerprint']}/holder", json={"person_id": head},
                                 headers=province.auth("operator"))
    assert response.status_code == 200, response.text
    assert response.json()["holder"]["id"] == head and response.json()["agency_code"] == WARD
    entry = await AuditEntry.select().where(AuditEntry.action == "certificate.link").first()
    assert '"holder_person_id":null' in entry["before"] and f'"holder_person_id":{head}' in entry["after"]
    # The ward head now sees it; the same link again changes nothing.
    seen = await client.get(f"/api/v1/certificates/{cert['fingerprint']}", headers=province.auth("ward_head"))
    assert seen.status_code == 200
    before = await counts()
    await client.post(f"/api/v1/certificates/{cert['fingerprint']}/holder", json={"person_id": head},
                      headers=province.auth("operator"))
    assert await counts() == before
    empty = await client.post(f"/api/v1/certificates/{cert['fingerprint']}/holder", json={},
                              headers=province.auth("operator"))
    assert empty.status_code == 422
    unknown = await client.post(f"/api/v1/certificates/{'0' * 64}/holder", json={"person_id": head},
                                headers=province.auth("operator"))
    assert unknown.status_code == 404


async def test_list_for_person_gives_their_own_certificates(province, ca) -> None:
    staff = province.person_id("city_staff")
    older = await add(issue(ca, "Người dùng city_staff", days_left=100), holder_person_id=staff)
    newer = await add(issue(ca, "Người dùng city_staff", days_left=900), holder_person_id=staff)
    await add(issue(ca, "Người khác"), holder_person_id=province.person_id("city_clerk"))
    mine = await service.list_for_person(staff)
    assert [c["fingerprint"] for c in mine] == [newer["fingerprint"], older["fingerprint"]]


# --- status ---------------------------------------------------------------------------------------


async def test_status_active_expired_revoked_superseded_and_pending(client, province, ca) -> None:
    staff = province.person_id("city_staff")
    active = await add(issue(ca, "Đang dùng", days_left=300), holder_person_id=staff)
    expired = await add(issue(ca, "Đã hết hạn", days_left=-5, age_days=400), holder_person_id=staff)
    assert (active["status"], expired["status"]) == ("active", "expired")

    revoked_at = now() - timedelta(hours=2)
    await service.record_revocation(SYSTEM, active["id"], revoked_at=revoked_at, reason="key_compromise")
    revoked = await service.get_certificate(SYSTEM, active["fingerprint"])
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "key_compromise"
    assert abs(revoked["revoked_at"] - revoked_at) < timedelta(seconds=1)
    row = await service.find_by_fingerprint(active["fingerprint"])
    assert service.status_of(row, at=revoked_at - timedelta(minutes=1)) == "active"
    assert service.status_of(row, at=revoked_at) == "revoked"
    with pytest.raises(Conflict):
        await service.record_revocation(SYSTEM, active["id"], revoked_at=now(), reason="other")
    assert await AuditEntry.count().where(AuditEntry.action == "certificate.revoke") == 1

    expired_row = await service.find_by_fingerprint(expired["fingerprint"])
    assert service.status_of(expired_row, at=expired_row["not_after"] - timedelta(days=1)) == "active"

    old = await add(issue(ca, "Trước gia hạn", days_left=20), holder_person_id=staff)
    renewal = await add(issue(ca, "Sau gia hạn", days_left=1000), holder_person_id=staff)
    await service.record_supersession(SYSTEM, old["id"], renewal["id"])
    await service.record_supersession(SYSTEM, old["id"], renewal["id"])  # the same again: nothing to do
    replaced = await service.get_certificate(SYSTEM, old["fingerprint"])
    assert replaced["status"] == "superseded" and replaced["superseded_by"] == renewal["fingerprint"]
    assert (await service.get_certificate(SYSTEM, renewal["fingerprint"]))["status"] == "active"
    with pytest.raises(Conflict):
        await service.record_supersession(SYSTEM, old["id"], expired["id"])
    with pytest.raises(Invalid):
        await service.record_supersession(SYSTEM, renewal["id"], renewal["id"])
    with pytest.raises(Invalid):
        await service.record_supersession(SYSTEM, renewal["id"], old["id"])
    assert await AuditEntry.count().where(AuditEntry.action == "certificate.supersede") == 1

    await service.set_revocation_pending(renewal["id"])
    await service.set_revocation_pending(renewal["id"])
    pending = await client.get(f"/api/v1/certificates/{renewal['fingerprint']}", headers=province.auth("city_staff"))
    assert pending.json()["revocation_pending"] is True and pending.json()["status"] == "active"
    assert await AuditEntry.count().where(AuditEntry.action == "certificate.revocation_pending") == 1
    await service.clear_revocation_pending(renewal["id"])
    assert (await service.get_certificate(SYSTEM, renewal["fingerprint"]))["revocation_pending"] is False
    with pytest.raises(Conflict):
        await service.set_revocation_pending(active["id"])
    with pytest.raises(NotFound):
        await service.set_revocation_pending(987654)

    shown = await client.get(f"/api/v1/certificates/{active['fingerprint']}", headers=province.auth("city_head"))
    assert shown.json()["status"] == "revoked" and shown.json()["revoked_at"].endswith("+07:00")


async def test_revocation_checks_reason_and_who_records_it(province, ca) -> None:
    cert = await add(issue(ca, "Lý do"), holder_person_id=province.person_id("city_staff"))
    with pytest.raises(Invalid):
        await service.record_revocation(SYSTEM, cert["id"], revoked_at=now(), reason="lost_my_mind")
    head = await auth.load_principal(province.users["city_head"]["id"], via="token")
    with pytest.raises(Forbidden):
        await service.record_revocation(head, cert["id"], revoked_at=now(), reason="left")
    with pytest.raises(NotFound):
        await service.record_revocation(SYSTEM, 987654, revoked_at=now(), reason="left")
    # A scheduled revocation takes effect at its moment.
    await service.record_revocation(SYSTEM, cert["id"], revoked_at=(now() + timedelta(days=2)).isoformat(), reason="retired")
    assert (await service.get_certificate(SYSTEM, cert["fingerprint"]))["status"] == "active"


# --- lists --------------------------------------------------------------------------------------


@pytest.fixture
async def spread(province, templates, ca) -> dict[str, dict]:
    """Certificates across the province with different expiries and states (made once, copied per test)."""

    async def make() -> dict[str, dict]:
        staff, clerk = province.person_id("city_staff"), province.person_id("city_clerk")
        made = {
            "d20": await add(issue(ca, "Nguyễn Văn An", email="an@quangninh.gov.vn", days_left=20), holder_person_id=staff),
            "d50": await add(issue(ca, "Trần Thị Bình", email="binh@quangninh.gov.vn", days_left=50), holder_person_id=clerk),
            "d80": await add(issue(ca, "UBND PHƯỜNG HỒNG GAI", days_left=80), agency_code=WARD),
            "d200": await add(issue(ca, "Sở Tài chính", days_left=200), agency_code=FINANCE),
            "expired": await add(issue(ca, "Hết hạn rồi", days_left=-3, age_days=500), holder_person_id=staff),
            "revoked": await add(issue(ca, "Bị thu hồi", days_left=10), holder_person_id=staff),
            "root": await add(issue(ca, "Chưa gắn ai", email="chuagan@quangninh.gov.vn", days_left=15)),
        }
        await service.record_revocation(SYSTEM, made["revoked"]["id"], revoked_at=now() - timedelta(days=1), reason="token_lost")
        return made

    return await templates.start_from("certificates_spread", make, base="province")


async def _listed(client, province, username: str, **params) -> list[str]:
    response = await client.get("/api/v1/certificates", params=params, headers=province.auth(username))
    assert response.status_code == 200, response.text
    return [c["fingerprint"] for c in response.json()]


async def test_lists_expiring_within_30_60_90_days(client, province, spread) -> None:
    fp = {key: value["fingerprint"] for key, value in spread.items()}
    assert await _listed(client, province, "operator", expiring_within=30) == [fp["root"], fp["d20"]]
    assert await _listed(client, province, "operator", expiring_within=60) == [fp["root"], fp["d20"], fp["d50"]]
    assert await _listed(client, province, "operator", expiring_within=90) == [fp["root"], fp["d20"], fp["d50"], fp["d80"]]
    assert await _listed(client, province, "city_head", expiring_within=90) == [fp["d20"], fp["d50"], fp["d80"]]
    for bad in ({"expiring_within": 45}, {"status": "asleep"}):
        response = await client.get("/api/v1/certificates", params=bad, headers=province.auth("operator"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] in ("expiring_within", "status")


async def test_lists_by_status_agency_holder_and_search(client, province, spread) -> None:
    fp = {key: value["fingerprint"] for key, value in spread.items()}
    assert await _listed(client, province, "operator", status="expired") == [fp["expired"]]
    assert await _listed(client, province, "operator", status="revoked") == [fp["revoked"]]
    active = set(await _listed(client, province, "operator", status="active"))
    assert active == {fp[key] for key in ("d20", "d50", "d80", "d200", "root")}
    assert set(await _listed(client, province, "operator", agency=CITY)) == {
        fp[key] for key in ("d20", "d50", "d80", "expired", "revoked")
    }
    assert await _listed(client, province, "operator", agency=WARD) == [fp["d80"]]
    assert set(await _listed(client, province, "operator", holder=province.person_id("city_staff"))) == {
        fp["d20"], fp["expired"], fp["revoked"]
    }
    assert await _listed(client, province, "operator", q="NGUYEN van an") == [fp["d20"]]
    assert await _listed(client, province, "operator", q="binh@quangninh") == [fp["d50"]]
    assert await _listed(client, province, "operator", q="hong gai") == [fp["d80"]]
    assert await _listed(client, province, "operator", q=fp["d200"][:12].upper()) == [fp["d200"]]
    assert await _listed(client, province, "operator", limit=2, status="active") != []
    assert len(await _listed(client, province, "operator", limit=2)) == 2


async def test_lists_stay_within_each_ones_reach(client, province, spread) -> None:
    fp = {key: value["fingerprint"] for key, value in spread.items()}
    everything = set(fp.values())
    assert set(await _listed(client, province, "operator")) == everything
    assert set(await _listed(client, province, "admin")) == everything
    # Heads see their subtree; the unlinked certificate is for DoIT only.
    assert set(await _listed(client, province, "province_head")) == everything - {fp["root"]}
    assert set(await _listed(client, province, "city_head")) == {fp[k] for k in ("d20", "d50", "d80", "expired", "revoked")}
    assert set(await _listed(client, province, "city_clerk")) == {fp[k] for k in ("d20", "d50", "d80", "expired", "revoked")}
    assert await _listed(client, province, "ward_head") == [fp["d80"]]
    assert await _listed(client, province, "finance_head") == [fp["d200"]]
    # Staff see their own.
    assert set(await _listed(client, province, "city_staff")) == {fp["d20"], fp["expired"], fp["revoked"]}
    outside = await client.get("/api/v1/certificates", params={"agency": CITY}, headers=province.auth("ward_head"))
    assert outside.status_code == 404
    nobody = await client.get("/api/v1/certificates")
    assert nobody.status_code == 401


# --- who sees one certificate -------------------------------------------------------------------


async def test_visibility_of_one_certificate(client, province, spread) -> None:
    mine = spread["d20"]["fingerprint"]  # city_staff's, in the city's finance office
    url = f"/api/v1/certificates/{mine}"
    for username in ("city_staff", "city_head", "city_clerk", "province_head", "operator", "admin"):
        response = await client.get(url, headers=province.auth(username))
        assert response.status_code == 200, username
        assert response.json()["fingerprint"] == mine
    for username in ("ward_head", "finance_head"):
        response = await client.get(url, headers=province.auth(username))
        assert response.status_code == 404, username
        assert response.headers["content-type"].startswith("application/problem+json")
    # Staff of another agency.
    await auth.add_user(SYSTEM, username="finance_staff", full_name="Lương Văn Tài", agency_code=FINANCE,
                        roles=("staff",), password=PASSWORD)
    token, _ = await auth.create_token(SYSTEM, "finance_staff", name="tests")
    other = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert other.status_code == 404
    # Staff do not see a colleague's certificate either.
    colleague = await client.get(f"/api/v1/certificates/{spread['d50']['fingerprint']}", headers=province.auth("city_staff"))
    assert colleague.status_code == 404
    unlinked = f"/api/v1/certificates/{spread['root']['fingerprint']}"
    assert (await client.get(unlinked, headers=province.auth("province_head"))).status_code == 404
    assert (await client.get(unlinked, headers=province.auth("operator"))).status_code == 200
    assert (await client.get(url)).status_code == 401
    assert (await client.get(f"/api/v1/certificates/{'ab' * 32}", headers=province.auth("operator"))).status_code == 404
    assert (await client.get("/api/v1/certificates/not-a-fingerprint", headers=province.auth("operator"))).status_code == 404
    # Upper case with colons, as certificate viewers show it, finds it too.
    pasted = ":".join(mine[i : i + 2] for i in range(0, 64, 2)).upper()
    assert (await client.get(f"/api/v1/certificates/{pasted}", headers=province.auth("operator"))).status_code == 200


# --- pages ----------------------------------------------------------------------------------------


async def test_list_page_with_filters(client, province, spread) -> None:
    await sign_in(client, "operator")
    page = await client.get("/certificates")
    assert page.status_code == 200
    text = page.text
    for label in ("Chứng thư số", "Cơ quan, đơn vị", "Trạng thái", "Sắp hết hạn", "Hết hạn trong 30 ngày tới",
                  "Hết hạn trong 90 ngày tới", "Nguyễn Văn An", "Đang hiệu lực", "Hết hạn", "Đã thu hồi",
                  'scope="col"', '<label for="f-q">', "Nhập chứng thư số"):
        assert label in text, label
    assert '<a href="/certificates" aria-current="page">Chứng thư số</a>' in text
    revoked = await client.get("/certificates", params={"status": "revoked", "agency": "", "expiring": "", "q": ""})
    assert "Bị thu hồi" in revoked.text and "Nguyễn Văn An" not in revoked.text
    soon = await client.get("/certificates", params={"expiring": "30"})
    assert "Nguyễn Văn An" in soon.text and "Trần Thị Bình" not in soon.text
    assert '<option value="30" selected>' in soon.text
    searched = await client.get("/certificates", params={"q": "tran thi binh"})
    assert "Trần Thị Bình" in searched.text and "Nguyễn Văn An" not in searched.text
    bad = await client.get("/certificates", params={"expiring": "7"})
    assert bad.status_code == 422 and "Dữ liệu không hợp lệ" in bad.text


async def test_detail_page_shows_status_in_vietnamese(client, province, spread) -> None:
    await service.set_revocation_pending(spread["d20"]["id"])
    await service.record_supersession(SYSTEM, spread["d50"]["id"], spread["d200"]["id"])
    await sign_in(client, "operator")
    revoked = await client.get(f"/certificates/{spread['revoked']['fingerprint']}")
    assert revoked.status_code == 200
    assert "Đã thu hồi" in revoked.text and "Mất hoặc hỏng thiết bị lưu khóa" in revoked.text
    day = (now() - timedelta(days=1)).strftime("%d/%m/%Y")
    assert f"Đã thu hồi ngày {day}" in revoked.text
    pending = await client.get(f"/certificates/{spread['d20']['fingerprint']}")
    assert "Đang chờ thu hồi" in pending.text and "Đang hiệu lực" in pending.text
    for label in ("Chủ thể", "Tổ chức cấp", "Số sê-ri", "Dấu vân tay SHA-256", "Ký số", "Chống chối bỏ",
                  "Người dùng city_staff", "Gắn người sở hữu"):
        assert label in pending.text, label
    superseded = await client.get(f"/certificates/{spread['d50']['fingerprint']}")
    assert "Đã được thay thế" in superseded.text and f"/certificates/{spread['d200']['fingerprint']}" in superseded.text
    successor = await client.get(f"/certificates/{spread['d200']['fingerprint']}")
    assert "Chứng thư số được thay thế" in successor.text and "Trần Thị Bình" in successor.text
    expired = await client.get(f"/certificates/{spread['expired']['fingerprint']}")
    assert "Hết hạn" in expired.text and "Đang hiệu lực" not in expired.text
    download = await client.get(f"/certificates/{spread['d20']['fingerprint']}/download")
    assert download.status_code == 200 and download.headers["content-type"].startswith("application/x-pem-file")
    assert parsing.parse_one(download.content).fingerprint == spread["d20"]["fingerprint"]


async def test_staff_see_their_own_page_but_not_the_list(client, province, spread) -> None:
    await sign_in(client, "city_staff")
    own = await client.get(f"/certificates/{spread['d20']['fingerprint']}")
    assert own.status_code == 200 and "Nguyễn Văn An" in own.text
    assert "Gắn người sở hữu" not in own.text
    assert '<a href="/certificates"' not in (await client.get("/me")).text.split("</nav>")[0]
    listing = await client.get("/certificates")
    assert listing.status_code == 403 and "Không có quyền" in listing.text
    other = await client.get(f"/certificates/{spread['d50']['fingerprint']}")
    assert other.status_code == 404
    assert (await client.get("/certificates/import")).status_code == 403


async def test_import_form_uploads_and_refuses(client, province, ca) -> None:
    csrf = await sign_in(client, "operator")
    form = await client.get("/certificates/import")
    assert form.status_code == 200
    for label in ("Nhập chứng thư số", "Tệp chứng thư số", "Mã số người sở hữu", "Mã định danh cơ quan",
                  "Mã số văn thư quản lý", 'enctype="multipart/form-data"', f'name="_csrf" value="{csrf}"', '<label for="i-file">'):
        assert label in form.text, label

    cert = issue(ca, "Người dùng city_head", email="city_head@quangninh.gov.vn")
    fields = {"_csrf": csrf, "holder_person_id": str(province.person_id("city_head")), "agency_code": "", "kind": ""}
    no_csrf = await client.post("/certificates/import", data={"holder_person_id": ""},
                                files={"file": ("a.pem", certgen.pem(cert))})
    assert no_csrf.status_code == 403
    assert await counts() == (0, 0)

    created = await client.post("/certificates/import", data=fields, files={"file": ("a.pem", certgen.pem(cert))})
    assert created.status_code == 303
    assert created.headers["location"] == f"/certificates/{certgen.fingerprint(cert)}?notice=created"
    shown = await client.get(created.headers["location"])
    assert "Đã nhập chứng thư số vào cơ sở dữ liệu" in shown.text and "Người dùng city_head" in shown.text
    again = await client.post("/certificates/import", data=fields, files={"file": ("a.cer", certgen.der(cert))})
    assert again.headers["location"].endswith("?notice=known")

    before = await counts()
    garbage = await client.post("/certificates/import", data=fields, files={"file": ("a.png", b"\x89PNG\r\n\x1a\nxxxx")})
    assert garbage.status_code == 422
    assert "Không nhập được" in garbage.text and "PNG" in garbage.text and "Không có dữ liệu nào được ghi" in garbage.text
    wrong_id = await client.post("/certificates/import", data={**fields, "holder_person_id": "abc"},
                                 files={"file": ("b.pem", certgen.pem(issue(ca, "Mã sai")))})
    assert wrong_id.status_code == 422 and "holder_person_id" in wrong_id.text
    assert await counts() == before

    too_big = await client.post("/certificates/import", data=fields,
                                files={"file": ("big.pem", certgen.pem(cert) + b"\n" * (11 * 1024 * 1024))})
    assert too_big.status_code == 413 and "Tệp quá lớn" in too_big.text
    assert await counts() == before

    bundle = pkcs7.serialize_certificates([issue(ca, "Gói một"), issue(ca, "Gói hai")], serialization.Encoding.DER)
    listed = await client.post("/certificates/import", data={"_csrf": csrf}, files={"file": ("b.p7b", bundle)})
    assert listed.status_code == 201
    assert "Kết quả nhập" in listed.text and "Gói một" in listed.text and "Gói hai" in listed.text
    assert await Certificate.count() == 3


async def test_linking_through_the_detail_page(client, province, ca) -> None:
    cert = await add(issue(ca, "ỦY BAN NHÂN DÂN PHƯỜNG HỒNG GAI"))
    csrf = await sign_in(client, "operator")
    response = await client.post(f"/certificates/{cert['fingerprint']}/holder",
                                 data={"_csrf": csrf, "person_id": "", "agency_code": WARD, "custodian_person_id": "",
                                       "kind": ""})
    assert response.status_code == 303
    linked = await client.get(response.headers["location"])
    assert "Đã cập nhật người sở hữu" in linked.text and "Ủy ban nhân dân phường Hồng Gai" in linked.text
    assert (await service.get_certificate(SYSTEM, cert["fingerprint"]))["kind"] == "org"
