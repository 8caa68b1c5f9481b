"""The trust store and verification over HTTP: admins upload anchors, intermediates and CRLs (API and page),
the public verifies a certificate (API and page, no credentials, rate-limited), refusals are 4xx with a
Vietnamese reason and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.audit.tables import AuditEntry
from registry.trust import ratelimit
from registry.trust import service as trust
from registry.trust.tables import TrustItem
from tests import pki
from tests.helpers import page_csrf, sign_in


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    trust.forget_cached_context()
    ratelimit.VERIFY_LIMITER.reset()


@pytest.fixture
def chain() -> tuple[pki.Authority, pki.Authority]:
    root = pki.root("Root CA kiểm thử API")
    return root, root.intermediate("CA cấp 2 kiểm thử API")


async def upload_chain(client, province, root: pki.Authority, issuing: pki.Authority) -> None:
    admin = province.auth("admin")
    for path, content in (("anchors", pki.pem(root.cert)), ("intermediates", pki.der(issuing.cert)),
                          ("crls", pki.der(root.crl())), ("crls", pki.pem(issuing.crl()))):
        response = await client.post(f"/api/v1/trust/{path}", content=content, headers=admin)
        assert response.status_code == 201, response.text


async def test_admin_uploads_and_lists(client, province, chain) -> None:
    root, issuing = chain
    admin = province.auth("admin")
    # The province's store: the G2 root (default) and the suite's test CA with its CRL.
    before = await client.get("/api/v1/trust", headers=admin)
    kinds_before = sorted(item["kind"] for item in before.json()["items"])
    assert kinds_before == ["anchor", "anchor", "crl"]
    audit_before = await AuditEntry.count().where(AuditEntry.action == "trust.add_anchor")
    response = await client.post("/api/v1/trust/anchors", files={"file": ("root.pem", pki.pem(root.cert))}, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "anchor" and "Root CA kiểm thử API" in body["subject"] and body["created"] is True
    assert body["not_after"].endswith("+07:00")
    again = await client.post("/api/v1/trust/anchors", content=pki.der(root.cert), headers=admin)
    assert again.status_code == 200 and again.json()["created"] is False
    assert await AuditEntry.count().where(AuditEntry.action == "trust.add_anchor") == audit_before + 1
    await client.post("/api/v1/trust/intermediates", content=pki.der(issuing.cert), headers=admin)
    await client.post("/api/v1/trust/crls", content=pki.der(issuing.crl()), headers=admin)
    listed = await client.get("/api/v1/trust", headers=province.auth("operator"))
    assert listed.status_code == 200
    kinds = sorted(item["kind"] for item in listed.json()["items"])
    assert kinds == sorted([*kinds_before, "anchor", "crl", "intermediate"])
    assert listed.json()["version"] > before.json()["version"]
    crl = next(item for item in listed.json()["items"] if item["kind"] == "crl" and "API" in item["subject"])
    assert crl["stale"] is False and crl["issuer"] == crl["subject"]


async def test_refusals_change_nothing(client, province, chain) -> None:
    root, issuing = chain
    admin = province.auth("admin")
    await client.post("/api/v1/trust/anchors", content=pki.pem(root.cert), headers=admin)
    items_before = await TrustItem.count()
    for path, content, status, code in (
        ("crls", b"not a crl at all", 422, "not_a_crl"),
        ("crls", pki.der(issuing.crl()), 422, "crl_signature_unknown"),  # its CA is not in the store yet
        ("crls", pki.der(root.crl(signer=pki.key())), 422, "crl_signature_unknown"),
        ("crls", pki.der(root.crl(this_update=pki.now() - timedelta(days=9), next_update=pki.now() - timedelta(days=2))), 422, "crl_expired"),
        ("anchors", b"\x89PNG\r\n\x1a\n", 422, "not_a_certificate"),
        ("intermediates", pki.pem(issuing.issue("Không phải CA")), 422, "not_a_ca"),
    ):
        response = await client.post(f"/api/v1/trust/{path}", content=content, headers=admin)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == code
        assert any(letter in problem["detail"] for letter in "ăâđêôơưếờ"), problem["detail"]  # Vietnamese
    assert await TrustItem.count() == items_before
    for who, status in (("operator", 403), ("city_head", 403)):
        response = await client.post("/api/v1/trust/anchors", content=pki.pem(root.cert), headers=province.auth(who))
        assert response.status_code == status
    assert (await client.post("/api/v1/trust/anchors", content=pki.pem(root.cert))).status_code == 401
    assert (await client.get("/api/v1/trust")).status_code == 401
    assert (await client.get("/api/v1/trust", headers=province.auth("city_staff"))).status_code == 403


async def test_public_verify_api(client, province, chain) -> None:
    root, issuing = chain
    await upload_chain(client, province, root, issuing)
    cert = issuing.issue("Nguyễn Thị Hoa", email="hoa@quangninh.gov.vn", not_before=pki.now() - timedelta(days=5))
    raw = await client.post("/api/v1/verify", content=pki.pem(cert))
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert (body["valid"], body["status"]) == (True, "valid")
    assert body["specimens"] == [] and "hợp lệ" in body["detail"]
    assert body["certificate"]["fingerprint"] == trust.sha256_of(cert)
    assert body["certificate"]["not_before"].endswith("+07:00") and body["checked_at"].endswith("+07:00")
    multipart = await client.post("/api/v1/verify", files={"file": ("hoa.cer", pki.der(cert))})
    assert multipart.json()["status"] == "valid"
    past = await client.post("/api/v1/verify", params={"at": (pki.now() - timedelta(days=30)).isoformat()}, content=pki.der(cert))
    assert past.json()["status"] == "not_yet_valid"
    for content in (b"garbage", b"", pki.der(root.crl())):
        refused = await client.post("/api/v1/verify", content=content)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    bad_at = await client.post("/api/v1/verify", params={"at": "tomorrow"}, content=pki.der(cert))
    assert bad_at.status_code == 422 and bad_at.json()["errors"][0]["field"] == "at"
    untrusted = await client.post("/api/v1/verify", content=pki.der(pki.root("CA lạ").intermediate("Lạ").issue("Ai đó")))
    assert untrusted.json()["status"] == "untrusted" and untrusted.json()["valid"] is False


async def test_verify_is_rate_limited_per_address(client, province, chain) -> None:
    root, issuing = chain
    content = pki.der(issuing.issue("Nhiều lần"))
    for _ in range(ratelimit.VERIFY_LIMIT):
        assert (await client.post("/api/v1/verify", content=content)).status_code == 200
    limited = await client.post("/api/v1/verify", content=content)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "thử lại" in limited.json()["detail"]
    page = await client.post("/verify", files={"file": ("a.cer", content)})
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "thử lại" in page.text


async def test_verify_page_without_javascript(client, province, chain) -> None:
    root, issuing = chain
    await upload_chain(client, province, root, issuing)
    home = await client.get("/")
    assert 'href="/verify"' in home.text and "Kiểm tra chứng thư" in home.text
    form = await client.get("/verify")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text and "<script" not in form.text
    cert = issuing.issue("Phạm Văn Đức", not_before=pki.now() - timedelta(days=3))
    uploaded = await client.post("/verify", files={"file": ("duc.cer", pki.der(cert))}, data={"pem": "", "at": ""})
    assert uploaded.status_code == 200 and uploaded.headers["content-type"].startswith("text/html")
    assert 'data-status="valid"' in uploaded.text and "Phạm Văn Đức" in uploaded.text and "Hợp lệ" in uploaded.text
    pasted = await client.post("/verify", data={"pem": pki.pem(cert).decode(), "at": ""}, files={"file": ("", b"")})
    assert 'data-status="valid"' in pasted.text
    issuing.revoke(cert)
    await client.post("/api/v1/trust/crls", content=pki.der(issuing.crl(number=2)), headers=province.auth("admin"))
    revoked = await client.post("/verify", data={"pem": pki.pem(cert).decode(), "at": ""}, files={"file": ("", b"")})
    assert 'data-status="revoked"' in revoked.text and "Đã bị thu hồi" in revoked.text
    garbage = await client.post("/verify", data={"pem": "xin chào", "at": ""}, files={"file": ("", b"")})
    assert garbage.status_code == 422 and garbage.headers["content-type"].startswith("text/html")
    assert "Không kiểm tra được" in garbage.text and "xin chào" in garbage.text  # what was typed is kept
    empty = await client.post("/verify", data={"pem": "", "at": ""}, files={"file": ("", b"")})
    assert empty.status_code == 422 and "Chọn tệp" in empty.text


async def test_admin_trust_page(client, province, chain) -> None:
    root, issuing = chain
    csrf = await sign_in(client, "admin")
    page = await client.get("/admin/trust")
    assert page.status_code == 200 and "RootCA chuyên dùng Chính phủ G2" in page.text
    added = await client.post("/admin/trust", data={"_csrf": csrf, "kind": "anchor"}, files={"file": ("r.pem", pki.pem(root.cert))})
    assert added.status_code == 201 and "Đã thêm" in added.text and "Root CA kiểm thử API" in added.text
    await client.post("/admin/trust", data={"_csrf": csrf, "kind": "intermediate"}, files={"file": ("i.der", pki.der(issuing.cert))})
    stale_soon = issuing.crl(this_update=pki.now() - timedelta(days=3), next_update=pki.now() + timedelta(days=2))
    crl = await client.post("/admin/trust", data={"_csrf": csrf, "kind": "crl"}, files={"file": ("c.crl", pki.der(stale_soon))})
    assert crl.status_code == 201 and 'data-status="current"' in crl.text
    forged = await client.post("/admin/trust", data={"_csrf": csrf, "kind": "crl"},
                               files={"file": ("f.crl", pki.der(root.crl(signer=pki.key())))})
    assert forged.status_code == 422 and forged.headers["content-type"].startswith("text/html")
    assert "Không thêm được" in forged.text and "giả mạo" in forged.text
    no_csrf = await client.post("/admin/trust", data={"kind": "anchor"}, files={"file": ("r.pem", pki.pem(root.cert))})
    assert no_csrf.status_code == 403
    # Dates dd/mm/yyyy, the CRL's thisUpdate and nextUpdate among them.
    assert stale_soon.next_update_utc.astimezone(trust.to_vietnam(pki.now()).tzinfo).strftime("%d/%m/%Y") in crl.text
    await client.post("/logout", data={"_csrf": page_csrf(page.text)})
    await sign_in(client, "city_head")
    assert (await client.get("/admin/trust")).status_code == 403
