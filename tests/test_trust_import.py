"""Importing into the certificate database goes through the verification service: a certificate that does not
verify is refused with the verdict, unless an admin overrides with a reason (audited); the refusal writes
nothing. Certificates of trusted CAs import as before, expired ones (history) included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from registry.audit.tables import AuditEntry
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.errors import Forbidden, Invalid
from registry.trust import service as trust
from tests import pki
from tests.helpers import SYSTEM, page_csrf, sign_in


@pytest.fixture
def chain() -> tuple[pki.Authority, pki.Authority]:
    root = pki.root("Root CA nhập thử")
    return root, root.intermediate("CA cấp 2 nhập thử")


async def trust_chain(root: pki.Authority, issuing: pki.Authority, *, with_intermediate: bool = True) -> None:
    await trust.add_to_store(SYSTEM, pki.pem(root.cert), "anchor")
    if with_intermediate:
        await trust.add_to_store(SYSTEM, pki.pem(issuing.cert), "intermediate")
    await trust.add_to_store(SYSTEM, pki.der(root.crl()), "crl")
    await trust.add_to_store(SYSTEM, pki.der(issuing.crl()), "crl")


async def counts() -> tuple[int, int]:
    return await Certificate.count(), await AuditEntry.count().where(AuditEntry.action.like("certificate.%"))


async def test_untrusted_refused_then_admin_override_audited(client, province) -> None:
    stranger = pki.root("CA lạ").intermediate("CA lạ cấp 2")
    content = pki.pem(stranger.issue("Người của CA lạ", email="la@quangninh.gov.vn"))
    before = await counts()
    refused = await client.post("/api/v1/certificates", content=content, headers=province.auth("operator"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "certificate_not_verified" and problem["verification"]["status"] == "untrusted"
    assert "quản trị" in problem["detail"]
    assert await counts() == before
    # An operator may not override; an admin must give a reason.
    operator = await client.post("/api/v1/certificates", content=content, params={"override": "true", "override_reason": "x"},
                                 headers=province.auth("operator"))
    assert operator.status_code == 403
    no_reason = await client.post("/api/v1/certificates", content=content, params={"override": "true"},
                                  headers=province.auth("admin"))
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    assert await counts() == before
    forced = await client.post("/api/v1/certificates", content=content,
                               params={"override": "true", "override_reason": "Chứng thư cũ của đơn vị, lưu để đối chiếu"},
                               headers=province.auth("admin"))
    assert forced.status_code == 201, forced.text
    entry = await AuditEntry.select().where(AuditEntry.action == "certificate.import_override").first()
    assert entry is not None and entry["object_id"] == forced.json()["fingerprint"]
    assert "lưu để đối chiếu" in entry["after"] and "untrusted" in entry["after"]
    assert await counts() == (before[0] + 1, before[1] + 2)  # the import and its override
    # Known now: the same file again changes nothing and needs no override.
    again = await client.post("/api/v1/certificates", content=content, headers=province.auth("operator"))
    assert again.status_code == 200


async def test_revoked_refused_and_expired_history_accepted(migrated, chain) -> None:
    root, issuing = chain
    revoked = issuing.issue("Đã thu hồi")
    issuing.revoke(revoked)
    await trust_chain(root, issuing)
    with pytest.raises(Invalid) as refused:
        await certs.import_certificate(SYSTEM, pki.pem(revoked))
    assert refused.value.code == "certificate_not_verified" and refused.value.extra["verification"]["status"] == "revoked"
    expired = issuing.issue("Hết hạn từ lâu", not_before=pki.now() - timedelta(days=19), days=10)
    body, created = await certs.import_certificate(SYSTEM, pki.pem(expired))
    assert created and body["status"] == "expired"
    stranger_expired = pki.root("Lạ").intermediate("Lạ 2").issue("Lạ hết hạn", not_before=pki.now() - timedelta(days=19), days=10)
    with pytest.raises(Invalid):
        await certs.import_certificate(SYSTEM, pki.pem(stranger_expired))
    with pytest.raises(Forbidden):
        operator_like = SYSTEM.__class__(**{**SYSTEM.__dict__, "via": "token", "grants": ()})
        await certs.import_certificate(operator_like, pki.pem(revoked), override=True, override_reason="x")


async def test_a_bundle_with_its_chain(migrated, chain) -> None:
    root, issuing = chain
    await trust_chain(root, issuing)
    leaf = issuing.issue("Trong gói", email="goi@quangninh.gov.vn")
    bundle = pkcs7.serialize_certificates([issuing.cert, leaf], serialization.Encoding.DER)
    results = await certs.import_bundle(SYSTEM, bundle)
    assert sorted(created for _body, created in results) == [True, True]
    # A bundle holding a certificate that does not verify is refused whole.
    stranger = pki.root("CA ngoài").intermediate("CA ngoài 2")
    mixed = pkcs7.serialize_certificates([issuing.issue("Tốt"), stranger.issue("Xấu")], serialization.Encoding.DER)
    before = await counts()
    with pytest.raises(Invalid):
        await certs.import_bundle(SYSTEM, mixed)
    assert await counts() == before


async def test_import_page_shows_the_verdict_and_admins_override(client, province) -> None:
    stranger = pki.root("CA lạ trang").intermediate("CA lạ trang 2")
    content = pki.pem(stranger.issue("Người lạ trên trang"))
    csrf = await sign_in(client, "operator")
    refused = await client.post("/certificates/import", data={"_csrf": csrf}, files={"file": ("a.pem", content)})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert 'data-status="untrusted"' in refused.text and "Không nhập được" in refused.text
    assert 'name="override"' not in refused.text  # operators cannot override
    await client.post("/logout", data={"_csrf": page_csrf(refused.text)})
    csrf = await sign_in(client, "admin")
    form = await client.get("/certificates/import")
    assert 'name="override"' in form.text and 'name="override_reason"' in form.text
    missing = await client.post("/certificates/import", data={"_csrf": csrf, "override": "1", "override_reason": ""},
                                files={"file": ("a.pem", content)})
    assert missing.status_code == 422 and "lý do" in missing.text
    done = await client.post("/certificates/import", data={"_csrf": csrf, "override": "1", "override_reason": "Đối chiếu hồ sơ cũ"},
                             files={"file": ("a.pem", content)})
    assert done.status_code == 303 and "notice=created" in done.headers["location"]


# --- a bundle verified as a whole (one snapshot, one revocation query, no path building for unknown CAs) ----


def _one_by_one_without_shortcut(monkeypatch: pytest.MonkeyPatch):
    """verify_for_import one certificate at a time, pyhanko building every path (the behaviour before bundles
    were verified together): the reference the bundle's verdicts must equal."""

    async def reference(certificates: list, chain: list[bytes]) -> list[tuple[str, str, bool]]:
        with monkeypatch.context() as patch:
            patch.setattr(trust, "_no_issuer_anywhere", lambda snapshot, leaf: False)
            results = []
            for cert in certificates:
                der = pki.der(cert)
                verdict, accepted = await trust.verify_for_import(der, intermediates=[d for d in chain if d != der])
                results.append((verdict.status, verdict.detail, accepted))
            return results

    return reference


async def test_unknown_issuers_judged_without_path_building_as_pyhanko_judges_them(migrated, chain, monkeypatch) -> None:
    root, issuing = chain
    await trust_chain(root, issuing)
    stranger = pki.root("CA lạ không tin cậy")
    self_signed = pki.root("Tự ký không tin cậy").cert
    same_name_other_key = pki.root("Root CA nhập thử")  # the anchor's name, another key
    odd_subject = stranger.issue("Tên có ký tự \ue000 dùng riêng")  # private use: RFC 4518 refuses it
    arabic = stranger.issue("اسم عربي")
    # The same refused name again: its attributes' answer, kept from the first, is still "leave it to pyhanko".
    odd_again = stranger.issue("Tên có ký tự \ue000 dùng riêng")
    certificates = [stranger.issue("Người của CA lạ", email="la@quangninh.gov.vn"), self_signed,
                    same_name_other_key.issue("Giả danh"), odd_subject, odd_again, arabic, issuing.issue("Hợp lệ")]
    expected = await _one_by_one_without_shortcut(monkeypatch)(certificates, [])
    taken = []
    shortcut = trust._no_issuer_anywhere

    def spy(snapshot, leaf):
        answer = shortcut(snapshot, leaf)
        taken.append(answer)
        return answer

    monkeypatch.setattr(trust, "_no_issuer_anywhere", spy)
    parsed = [certs.parsing.parse_one(pki.der(cert)) for cert in certificates]
    judged = await trust.verify_all_for_import([(p, []) for p in parsed], stop_at_refusal=False)
    assert [(v.status, v.detail, accepted) for v, accepted in judged] == expected
    assert [status for status, _detail, _accepted in expected][:3] == ["untrusted", "untrusted", "untrusted"]
    assert expected[0][1] != expected[1][1]  # "no path" and "self-signed" say different things
    assert expected[-1][0] == "valid"
    # The unknown CA's certificates and the self-signed one skip path building; the anchor's namesake, the
    # subjects RFC 4518 may refuse and the trusted certificate are left to pyhanko.
    assert taken[:2] == [True, True] and not any(taken[2:])
    for cert in certificates:
        single = await trust.verify(pki.der(cert))
        assert (single.status, single.detail) == expected[certificates.index(cert)][:2]


async def test_a_bundle_of_trusted_and_untrusted_certificates_is_judged_as_before(migrated, chain, monkeypatch) -> None:
    root, issuing = chain
    await trust_chain(root, issuing)
    stranger = pki.root("CA ngoài hỗn hợp").intermediate("CA ngoài hỗn hợp 2")
    good = [issuing.issue(f"Tốt {n}") for n in range(3)]
    bad = [stranger.issue(f"Xấu {n}") for n in range(2)]
    # The issuing CA comes with the bundle too, as CA certificates do.
    order = [good[0], bad[0], issuing.cert, good[1], bad[1], good[2]]
    chain_ders = [pki.der(issuing.cert)]
    expected = await _one_by_one_without_shortcut(monkeypatch)(order, chain_ders)
    assert [accepted for _s, _d, accepted in expected] == [True, False, True, True, False, True]
    bundle = b"".join(pki.pem(cert) for cert in order)
    before = await counts()
    with pytest.raises(trust.NotVerified) as refused:
        await certs.import_bundle(SYSTEM, bundle)
    # Refused at the first certificate that does not verify, with its verdict, nothing written.
    assert refused.value.extra["verification"]["fingerprint"] == certs.parsing.parse_one(pki.der(bad[0])).fingerprint
    assert (refused.value.verdict.status, refused.value.verdict.detail) == expected[1][:2]
    assert await counts() == before
    results = await certs.import_bundle(SYSTEM, bundle, override=True, override_reason="Lưu để đối chiếu")
    assert [created for _body, created in results] == [True] * len(order)
    overrides = await AuditEntry.select(AuditEntry.object_id, AuditEntry.after).where(
        AuditEntry.action == "certificate.import_override").order_by(AuditEntry.id)
    fingerprints = {certs.parsing.parse_one(pki.der(cert)).fingerprint: index for index, cert in enumerate(order)}
    assert sorted(fingerprints[entry["object_id"]] for entry in overrides) == [1, 4]
    for entry in overrides:
        status, detail, _accepted = expected[fingerprints[entry["object_id"]]]
        assert status in entry["after"] and detail in entry["after"] and "Lưu để đối chiếu" in entry["after"]
    assert await counts() == (before[0] + len(order), before[1] + len(order) + 2)


async def test_a_revoked_certificate_in_a_bundle_is_refused_as_before(migrated, chain, monkeypatch) -> None:
    root, issuing = chain
    revoked = issuing.issue("Đã thu hồi trong gói")
    issuing.revoke(revoked)
    await trust_chain(root, issuing)
    fine = issuing.issue("Còn tốt trong gói")
    expected = await _one_by_one_without_shortcut(monkeypatch)([fine, revoked], [])
    assert [(status, accepted) for status, _d, accepted in expected] == [("valid", True), ("revoked", False)]
    before = await counts()
    with pytest.raises(trust.NotVerified) as refused:
        await certs.import_bundle(SYSTEM, pki.pem(fine) + pki.pem(revoked))
    assert (refused.value.verdict.status, refused.value.verdict.detail) == expected[1][:2]
    assert await counts() == before
    # The registry's own record of a revoked CA counts for every certificate of the bundle it issued.
    ca_body, _created = await certs.import_certificate(SYSTEM, pki.pem(issuing.cert))
    ca_row = await Certificate.select(Certificate.id).where(Certificate.fingerprint == ca_body["fingerprint"]).first()
    await certs.record_revocation(SYSTEM, ca_row["id"], revoked_at=pki.now() - timedelta(hours=2), reason="key_compromise")
    siblings = [issuing.issue("Anh em 1"), issuing.issue("Anh em 2")]
    expected = await _one_by_one_without_shortcut(monkeypatch)(siblings, [])
    assert {status for status, _d, _a in expected} == {"revoked"}
    before = await counts()
    with pytest.raises(trust.NotVerified) as refused:
        await certs.import_bundle(SYSTEM, b"".join(pki.pem(cert) for cert in siblings))
    assert (refused.value.verdict.status, refused.value.verdict.detail) == expected[0][:2]
    assert refused.value.verdict.revocation_source == "registry"
    assert await counts() == before
