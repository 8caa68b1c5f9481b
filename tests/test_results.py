"""What the CA returns for a batch (issue 9, point 2) and the built-in test CA (point 4): certificates
matched to their requests by citizen ID, email, subject or old serial, outcomes recorded all at once,
idempotent, nothing dropped; hostile files refused with nothing written; the test CA runs a batch's whole
life on one machine and publishes a CRL that lists what the registry revoked."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry.audit.tables import AuditEntry
from registry.certs.tables import Certificate, CertRequest
from tests import certgen
from tests.helpers import CITY_FINANCE, add_certificate, approved_revocation, new_personal
from tests.helpers import approved_cert_request as approved

OPERATOR = "operator"


async def sent_batch(client, province, request_ids: list[int]) -> int:
    created = await client.post("/api/v1/batches", json={"request_ids": request_ids}, headers=province.auth(OPERATOR))
    assert created.status_code == 201, created.text
    batch_id = created.json()["id"]
    sent = await client.post(f"/api/v1/batches/{batch_id}/sent", json={"dispatch_no": "45/STTTT-CĐS"},
                             headers=province.auth(OPERATOR))
    assert sent.status_code == 200, sent.text
    return batch_id


async def state_of(request_id: int) -> dict:
    return await CertRequest.select(CertRequest.state, CertRequest.issued_certificate.fingerprint,
                                    CertRequest.token_return_due).where(CertRequest.id == request_id).first()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def issue_with_uid(ca: certgen.IssuingCA, common_name: str, uid: str, email: str) -> x509.Certificate:
    """A certificate whose subject carries the citizen ID the way some CAs write it."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.now(UTC) - timedelta(days=1)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.USER_ID, uid),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=1000))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.key, hashes.SHA256()))


async def post_results(client, province, batch_id: int, files: dict[str, bytes], outcomes: list | None = None,
                       user: str = OPERATOR):
    import json

    data = {"outcomes": json.dumps(outcomes)} if outcomes is not None else {}
    return await client.post(f"/api/v1/batches/{batch_id}/results", headers=province.auth(user), data=data,
                             files=[("file", (name, content)) for name, content in files.items()])


async def test_results_are_matched_recorded_once_and_nothing_is_dropped(client, province, ca) -> None:
    lan = await approved(client, province, new_personal())
    binh = await approved(client, province, new_personal(full_name="Hoàng Văn Bình", id_number="022188005678",
                                                         email="binh.hv@quangninh.gov.vn"))
    refused = await approved(client, province, new_personal(full_name="Trần Văn Cường", id_number="022188007777",
                                                            email="cuong.tv@quangninh.gov.vn"))
    revocation = await approved_revocation(client, province, ca)
    batch_id = await sent_batch(client, province, [lan, binh, refused, revocation])

    # Lan's certificate carries her email; Bình's only his citizen ID; a stranger's matches nothing.
    lan_cert = certgen.issue(ca, "Nguyễn Thị Lan", email="lan.nt@quangninh.gov.vn")
    binh_cert = issue_with_uid(ca, "Hoàng Văn Bình", "CCCD:022188005678", "hvbinh@example.vn")
    stranger = certgen.issue(ca, "Người Lạ", email="la@quangninh.gov.vn")

    # Partial results leave the rest waiting.
    first = await post_results(client, province, batch_id, {"lan.pem": certgen.pem(lan_cert)})
    assert first.status_code == 200, first.text
    assert [(o["request_id"], o["outcome"], o["changed"]) for o in first.json()["outcomes"]] == [(lan, "fulfilled", True)]
    assert (await state_of(binh))["state"] == "sent" and first.json()["batch"]["state"] == "sent"

    archive = zip_of({"ket-qua/lan.cer": certgen.der(lan_cert), "ket-qua/binh.pem": certgen.pem(binh_cert),
                      "ket-qua/la.pem": certgen.pem(stranger), "ket-qua/ca.pem": certgen.pem(ca.cert)})
    outcomes = [{"request_id": refused, "outcome": "failed", "reason": "Sai số CCCD"},
                {"request_id": revocation, "outcome": "fulfilled", "revoked_at": "2026-11-30T09:00:00+07:00"}]
    second = await post_results(client, province, batch_id, {"ket-qua.zip": archive}, outcomes)
    assert second.status_code == 200, second.text
    body = second.json()
    by_request = {o["request_id"]: o for o in body["outcomes"]}
    assert by_request[lan]["changed"] is False
    assert by_request[binh] == {"request_id": binh, "outcome": "fulfilled", "certificate": certgen.fingerprint(binh_cert),
                                "changed": True}
    assert by_request[refused]["outcome"] == "failed" and by_request[revocation]["outcome"] == "fulfilled"
    assert [(u["fingerprint"], u["reason"]) for u in body["unmatched"]] == [(certgen.fingerprint(stranger), "no_request")]
    assert [(i["fingerprint"], i["reason"]) for i in body["ignored"]] == [(certgen.fingerprint(ca.cert), "ca_certificate")]
    assert body["batch"]["state"] == "closed"
    assert [u["fingerprint"] for u in body["batch"]["unmatched"]] == [certgen.fingerprint(stranger)]

    # Each certificate is in the registry, linked to the person the request was for.
    issued = await Certificate.select(Certificate.holder, Certificate.source).where(
        Certificate.fingerprint == certgen.fingerprint(binh_cert)).first()
    subject = await CertRequest.select(CertRequest.subject).where(CertRequest.id == binh).first()
    assert issued == {"holder": subject["subject"], "source": "ca_result"}
    assert await Certificate.count().where(Certificate.fingerprint == certgen.fingerprint(stranger)) == 1
    # The revocation: the certificate is revoked with its date and reason, the token clock runs.
    revoked_state = await state_of(revocation)
    assert revoked_state["state"] == "fulfilled" and revoked_state["token_return_due"] is not None
    target = await CertRequest.select(CertRequest.certificate.revoked_at, CertRequest.certificate.revocation_reason).where(
        CertRequest.id == revocation).first()
    assert target["certificate.revocation_reason"] == "token_lost"
    assert target["certificate.revoked_at"].astimezone(UTC) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    failed = await CertRequest.select(CertRequest.state, CertRequest.decision_note).where(CertRequest.id == refused).first()
    assert failed["state"] == "failed"

    # The same results again change nothing.
    entries, certificates = await AuditEntry.count(), await Certificate.count()
    again = await post_results(client, province, batch_id, {"ket-qua.zip": archive}, outcomes)
    assert again.status_code == 200, again.text
    assert not any(o["changed"] for o in again.json()["outcomes"])
    assert not any(u["changed"] for u in again.json()["unmatched"])
    assert (await AuditEntry.count(), await Certificate.count()) == (entries, certificates)
    # A contradicting result is refused.
    contradiction = await post_results(client, province, batch_id, {}, [{"request_id": refused, "outcome": "fulfilled"}])
    assert contradiction.status_code == 409 and contradiction.json()["code"] == "result_already_recorded"


async def test_renewal_matched_by_subject_or_old_serial_supersedes(client, province, ca) -> None:
    old_fingerprint = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=60)
    renewal = await approved(client, province, {"kind": "renew", "agency_code": CITY_FINANCE,
                                                "certificate": old_fingerprint, "validity_years": 2})
    old = await Certificate.select(Certificate.id, Certificate.serial, Certificate.der).where(
        Certificate.fingerprint == old_fingerprint).first()
    old_cert = x509.load_der_x509_certificate(bytes(old["der"]))
    batch_id = await sent_batch(client, province, [renewal])
    # The CA wrote another email into the new certificate: the old serial names the request instead.
    renewed = certgen.issue(ca, old_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                            email="moi@quangninh.gov.vn")
    response = await client.post(f"/api/v1/batches/{batch_id}/results", headers=province.auth(OPERATOR), json={
        "certificates": [certgen.pem(renewed).decode()],
        "outcomes": [{"old_serial": old["serial"].upper(), "outcome": "fulfilled",
                      "certificate": certgen.fingerprint(renewed)}],
    })
    assert response.status_code == 200, response.text
    assert (await state_of(renewal))["issued_certificate.fingerprint"] == certgen.fingerprint(renewed)
    replaced = await Certificate.select(Certificate.superseded_by.fingerprint).where(Certificate.id == old["id"]).first()
    assert replaced["superseded_by.fingerprint"] == certgen.fingerprint(renewed)
    detail = (await client.get(f"/api/v1/certificates/{old_fingerprint}", headers=province.auth(OPERATOR))).json()
    assert detail["status"] == "superseded"


async def test_hostile_results_are_refused_and_change_nothing(client, province, ca) -> None:
    lan = await approved(client, province, new_personal())
    draft = await client.post("/api/v1/batches", json={"request_ids": [lan]}, headers=province.auth(OPERATOR))
    not_sent = await post_results(client, province, draft.json()["id"], {"x.pem": certgen.pem(certgen.issue(ca, "X"))})
    assert not_sent.status_code == 409 and not_sent.json()["code"] == "batch_not_sent"
    await client.post(f"/api/v1/batches/{draft.json()['id']}/sent", json={"dispatch_no": "1/CĐS"},
                      headers=province.auth(OPERATOR))
    batch_id = draft.json()["id"]
    good = certgen.pem(certgen.issue(ca, "Nguyễn Thị Lan", email="lan.nt@quangninh.gov.vn"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.pem", good)
        archive.writestr("zeros.pem", b"\0" * (20 * 1024 * 1024))
    cases = [
        ({"rac.pem": b"not a certificate at all"}, None, 422, "results_file_invalid"),
        ({"a.zip": zip_of({"a.pem": good, "../../etc/x.pem": good})}, None, 422, "zip_unsafe_path"),
        ({"a.zip": zip_of({"/abs.pem": good})}, None, 422, "zip_unsafe_path"),
        ({"a.zip": bomb.getvalue()}, None, 413, "zip_bomb"),
        ({"a.zip": zip_of({"inner.zip": zip_of({"a.pem": good})})}, None, 422, "zip_nested"),
        ({"a.zip": b"PK\x03\x04broken"}, None, 422, "zip_unreadable"),
        ({"a.pem": good}, [{"request_id": lan, "outcome": "failed"}], 422, "required"),
        ({"a.pem": good}, [{"request_id": 999999, "outcome": "failed", "reason": "x"}], 404, "not_in_batch"),
        ({}, [{"request_id": lan, "outcome": "maybe"}], 422, "invalid_input"),
        ({}, [], 422, "nothing_to_import"),
    ]
    certificates, entries = await Certificate.count(), await AuditEntry.count()
    for files, outcomes, status, code in cases:
        response = await post_results(client, province, batch_id, files, outcomes)
        assert response.status_code == status, (files.keys(), response.text)
        assert response.json()["code"] == code, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    garbage_json = await client.post(f"/api/v1/batches/{batch_id}/results", headers=province.auth(OPERATOR),
                                     json={"certificates": ["%%%"]})
    assert garbage_json.status_code == 422
    head = await post_results(client, province, batch_id, {"a.pem": good}, user="city_head")
    assert head.status_code == 403
    assert (await Certificate.count(), await AuditEntry.count()) == (certificates, entries)
    assert (await state_of(lan))["state"] == "sent"


async def test_the_test_ca_runs_a_batch_to_the_end(client, province, ca) -> None:
    lan = await approved(client, province, new_personal())
    renew_target = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=60)
    renewal = await approved(client, province, {"kind": "renew", "agency_code": CITY_FINANCE, "certificate": renew_target})
    revocation = await approved_revocation(client, province, ca)
    batch_id = await sent_batch(client, province, [lan, renewal, revocation])

    refused = await client.post(f"/api/v1/batches/{batch_id}/dev-ca", headers=province.auth("city_head"))
    assert refused.status_code == 403
    response = await client.post(f"/api/v1/batches/{batch_id}/dev-ca", headers=province.auth(OPERATOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["batch"]["state"] == "closed" and body["unmatched"] == []
    assert {o["request_id"]: o["outcome"] for o in body["outcomes"]} == {lan: "fulfilled", renewal: "fulfilled",
                                                                       revocation: "fulfilled"}
    again = await client.post(f"/api/v1/batches/{batch_id}/dev-ca", headers=province.auth(OPERATOR))
    assert again.status_code == 409

    # A real chain: the TEST root signs the TEST issuing CA, which signed Lan's certificate.
    chain = x509.load_pem_x509_certificates((await client.get("/dev-ca/chain.pem")).content)
    issuing, root = chain
    assert "TEST" in root.subject.rfc4514_string() and "TEST" in issuing.subject.rfc4514_string()
    issuing.verify_directly_issued_by(root)
    lan_fingerprint = (await state_of(lan))["issued_certificate.fingerprint"]
    lan_row = await Certificate.select(Certificate.der, Certificate.subject, Certificate.email, Certificate.holder).where(
        Certificate.fingerprint == lan_fingerprint).first()
    lan_cert = x509.load_der_x509_certificate(bytes(lan_row["der"]))
    lan_cert.verify_directly_issued_by(issuing)
    assert "CN=Nguyễn Thị Lan" in lan_row["subject"] and "L=Quảng Ninh" in lan_row["subject"]
    assert lan_row["email"] == "lan.nt@quangninh.gov.vn" and lan_row["holder"] is not None
    renewed = (await client.get(f"/api/v1/certificates/{renew_target}", headers=province.auth(OPERATOR))).json()
    assert renewed["status"] == "superseded"

    # The CRL lists what the registry revoked, signed by the issuing CA.
    crl_response = await client.get("/dev-ca/crl")
    assert crl_response.headers["content-type"].startswith("application/pkix-crl")
    crl = x509.load_der_x509_crl(crl_response.content)
    assert crl.is_signature_valid(issuing.public_key())
    revoked_serial = (await CertRequest.select(CertRequest.certificate.serial).where(CertRequest.id == revocation).first())
    # The revoked certificate came from the fixture CA, not the test CA: only the test CA's own appear.
    assert crl.get_revoked_certificate_by_serial_number(int(revoked_serial["certificate.serial"], 16)) is None
    root_crl = x509.load_der_x509_crl((await client.get("/dev-ca/root.crl")).content)
    assert root_crl.is_signature_valid(root.public_key()) and len(root_crl) == 0


async def test_the_test_ca_revokes_what_it_issued(client, province, ca) -> None:
    lan = await approved(client, province, new_personal())
    first = await sent_batch(client, province, [lan])
    assert (await client.post(f"/api/v1/batches/{first}/dev-ca", headers=province.auth(OPERATOR))).status_code == 200
    fingerprint = (await state_of(lan))["issued_certificate.fingerprint"]
    der = bytes((await Certificate.select(Certificate.der).where(Certificate.fingerprint == fingerprint).first())["der"])
    # Anyone can check it: valid, through the test CA's chain in the trust store.
    verdict = await client.post("/api/v1/verify", content=der, headers={"Content-Type": "application/pkix-cert"})
    assert verdict.status_code == 200 and verdict.json()["status"] == "valid", verdict.text
    revocation = await approved(client, province, {"kind": "revoke", "agency_code": CITY_FINANCE,
                                                   "certificate": fingerprint, "reason": "left"})
    second = await sent_batch(client, province, [revocation])
    assert (await client.post(f"/api/v1/batches/{second}/dev-ca", headers=province.auth(OPERATOR))).status_code == 200
    serial = (await Certificate.select(Certificate.serial).where(Certificate.fingerprint == fingerprint).first())["serial"]
    crl = x509.load_der_x509_crl((await client.get("/dev-ca/crl")).content)
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.affiliation_changed
    # The public verify page now says revoked.
    page = await client.post("/verify", files={"file": ("lan.cer", der)})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-status="revoked"' in page.text and "Thu hồi lúc" in page.text
    verdict = await client.post("/api/v1/verify", content=der, headers={"Content-Type": "application/pkix-cert"})
    assert verdict.json()["status"] == "revoked" and verdict.json()["valid"] is False


async def test_without_the_test_ca_its_routes_answer_404(settings, province) -> None:
    import httpx

    from registry import db
    from registry.app import create_app
    from tests.helpers import bind

    engine = db.current_engine()
    app = create_app(settings.with_changes(dev_ca=False))
    for hook in app.on_startup:
        await hook()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as client:
            assert (await client.get("/dev-ca/crl")).status_code == 404
            response = await client.post("/api/v1/batches/1/dev-ca", headers=province.auth(OPERATOR))
            assert response.status_code == 404 and response.json()["code"] == "dev_ca_disabled"
    finally:
        for hook in app.on_shutdown:
            await hook()
        bind(engine)


async def test_operator_records_results_from_the_batch_page(client, province, ca) -> None:
    from tests.helpers import form_csrf, sign_in

    lan = await approved(client, province, new_personal())
    unlock_target = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=300)
    unlock = await approved(client, province, {"kind": "unlock", "agency_code": CITY_FINANCE,
                                               "certificate": unlock_target, "detail": "Quên mật khẩu"})
    batch_id = await sent_batch(client, province, [lan, unlock])
    await sign_in(client, OPERATOR)
    page = await client.get(f"/batches/{batch_id}")
    assert page.status_code == 200 and "Nhập kết quả từ CA" in page.text and "CA THỬ NGHIỆM" in page.text
    csrf = form_csrf(page.text)

    # A broken file: the same page, the error beside it, what was chosen kept, nothing recorded.
    broken = await client.post(f"/batches/{batch_id}/results", data={"_csrf": csrf, f"outcome_{unlock}": "fulfilled"},
                               files=[("file", ("ketqua.pem", b"-----BEGIN CERTIFICATE-----\nrac\n"))])
    assert broken.status_code == 422 and broken.headers["content-type"].startswith("text/html")
    assert "ketqua.pem" in broken.text and 'value="fulfilled" selected' in broken.text
    assert (await state_of(unlock))["state"] == "sent"

    lan_cert = certgen.issue(ca, "Nguyễn Thị Lan", email="lan.nt@quangninh.gov.vn")
    done = await client.post(f"/batches/{batch_id}/results", data={"_csrf": csrf, f"outcome_{unlock}": "fulfilled"},
                             files=[("file", ("lan.pem", certgen.pem(lan_cert)))])
    assert done.status_code == 200 and done.headers["content-type"].startswith("text/html")
    assert "Kết quả vừa nhập" in done.text and f"#{lan}" in done.text
    assert (await state_of(lan))["state"] == "fulfilled" and (await state_of(unlock))["state"] == "fulfilled"
    assert 'data-testid="state">Đã xong' in done.text


async def test_the_test_ca_button_fulfils_the_batch_from_its_page(client, province) -> None:
    from tests.helpers import form_csrf, sign_in

    lan = await approved(client, province, new_personal())
    batch_id = await sent_batch(client, province, [lan])
    await sign_in(client, OPERATOR)
    page = await client.get(f"/batches/{batch_id}")
    done = await client.post(f"/batches/{batch_id}/dev-ca", data={"_csrf": form_csrf(page.text)})
    assert done.status_code == 200 and done.headers["content-type"].startswith("text/html")
    assert 'data-testid="results-report"' in done.text and 'data-testid="state">Đã xong' in done.text
    assert (await state_of(lan))["state"] == "fulfilled"
    # Pressed again (a second tab): the page says why, nothing changes.
    again = await client.post(f"/batches/{batch_id}/dev-ca", data={"_csrf": form_csrf(page.text)})
    assert again.status_code == 409 and "đã nhận đủ kết quả từ CA" in again.text
