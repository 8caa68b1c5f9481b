"""The public portal (issue 10, points 4-6): search ignoring case and diacritics across agencies,
leaders and certificates; an agency's page with its specimens (images and certificate details) and
mailboxes; what was published on a past day; the history; a certificate's page with downloads; the
Atom feed; the JSON API; only what is public; ETag, Last-Modified and 304; a cache that publication
invalidates."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from cryptography import x509

from registry.certs import service as certs
from registry.timeutil import parse_moment
from tests.helpers import CITY, FINANCE, SYSTEM, add_certificate, sign_in
from tests.specimen_helpers import published_specimen, seal_png, signature_png, specimen_form, submit

LEADER = "Người dùng city_head"
PERSONAL = {"id_number": "022190001234", "date_of_birth": "1985-04-30", "phone": "0912345678"}


async def publish_city(client, province, ca) -> dict:
    """The city's seal and its head's signature published, and a mailbox."""
    org = await add_certificate(ca, province, None, CITY, days_left=700, name="UBND thành phố Hạ Long")
    leader = await add_certificate(ca, province, "city_head", CITY, days_left=700)
    seal = await published_specimen(client, province, specimen_form("org", CITY, org), seal_png())
    signature = await published_specimen(
        client, province, specimen_form("leader", CITY, leader, full_name=LEADER, position="Chủ tịch UBND thành phố"),
        signature_png())
    mailbox = await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "vanthu@halong.gov.vn"},
                                headers=province.auth("city_clerk"))
    assert (await client.post(f"/api/v1/mailboxes/{mailbox.json()['id']}/publish",
                              headers=province.auth("operator"))).status_code == 200
    return {"org": org, "leader": leader, "seal": seal, "signature": signature}


async def test_search_ignores_case_and_diacritics_across_agencies_leaders_and_certificates(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    page = await client.get("/", params={"q": "so tai chinh"})
    assert page.status_code == 200 and f"/agencies/{FINANCE}" in page.text and "Sở Tài chính" in page.text
    api = await client.get("/api/v1/public/agencies", params={"q": "SO TAI CHINH"})
    assert api.status_code == 200 and [a["code"] for a in api.json()] == [FINANCE]
    leader = (await client.get("/api/v1/public/agencies", params={"q": "nguoi dung city_head"})).json()
    assert [(a["code"], a["matched"], a["leaders"]) for a in leader] == [(CITY, "leader", [LEADER])]
    row = await certs.find_by_fingerprint(published["leader"])
    by_serial = (await client.get("/api/v1/public/agencies", params={"q": row["serial"].upper()})).json()
    assert [(a["code"], a["matched"]) for a in by_serial] == [(CITY, "certificate")]
    by_fingerprint = await client.get("/", params={"q": published["org"][:20]})
    assert f"/public/certificates/{published['org']}" in by_fingerprint.text
    nothing = await client.get("/", params={"q": "khong co dau ca"})
    assert "Không tìm thấy" in nothing.text


async def test_the_agency_page_shows_specimens_certificates_and_mailboxes(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    row = await certs.find_by_fingerprint(published["leader"])
    page = await client.get(f"/agencies/{CITY}")
    assert page.status_code == 200
    text = page.text
    assert f'src="/specimens/{published["seal"]["id"]}/image.png"' in text
    assert f'src="/specimens/{published["signature"]["id"]}/image.png"' in text
    assert LEADER in text and "Chủ tịch UBND thành phố" in text and "vanthu@halong.gov.vn" in text
    assert row["serial"] in text and published["leader"] in text and row["issuer"] in text
    assert row["not_after"].strftime("%d/%m/%Y") in text or certs.to_vietnam(row["not_after"]).strftime("%d/%m/%Y") in text
    assert "Còn hiệu lực" in text and published["signature"]["image_sha256"] in text
    assert 'lang="vi"' in text and "<h1>" in text and "content-security-policy" in page.headers
    api = (await client.get(f"/api/v1/public/agencies/{CITY}")).json()
    assert {s["kind"] for s in api["specimens"]} == {"org", "leader"}
    leader = next(s for s in api["specimens"] if s["kind"] == "leader")
    assert leader["certificate"]["serial"] == row["serial"] and leader["certificate"]["status"] == "active"
    assert leader["published_at"].endswith("+07:00") and api["mailboxes"][0]["address"] == "vanthu@halong.gov.vn"
    assert (await client.get("/api/v1/public/agencies/999.99.99.Z99")).status_code == 404
    # Images are public once published.
    image = await client.get(leader["image_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


async def test_a_past_date_shows_what_was_published_then(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    first = published["seal"]
    org = published["org"]
    second = await published_specimen(client, province, specimen_form("org", CITY, org), seal_png(size=160))
    moment = parse_moment(first["published_at"]) if isinstance(first["published_at"], str) else first["published_at"]
    then = await client.get(f"/api/v1/public/agencies/{CITY}", params={"at": moment.isoformat()})
    assert then.status_code == 200
    org_then = [s for s in then.json()["specimens"] if s["kind"] == "org"]
    assert [s["id"] for s in org_then] == [first["id"]] and org_then[0]["state"] == "published"
    now_ = (await client.get(f"/api/v1/public/agencies/{CITY}")).json()
    assert [s["id"] for s in now_["specimens"] if s["kind"] == "org"] == [second["id"]]
    before = await client.get(f"/agencies/{CITY}", params={"at": (moment - timedelta(days=400)).date().isoformat()})
    assert before.status_code == 200 and "Chưa có mẫu chữ ký số của cơ quan được công bố vào ngày này" in before.text
    page_then = await client.get(f"/agencies/{CITY}", params={"at": moment.isoformat()})
    assert f"/specimens/{first['id']}/image.png" in page_then.text and f"/specimens/{second['id']}/image.png" not in page_then.text
    history = await client.get(f"/agencies/{CITY}/history")
    assert f"/specimens/{first['id']}/image.png" in history.text and "Đã được thay thế" in history.text
    bad = await client.get(f"/agencies/{CITY}", params={"at": "hôm qua"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert (await client.get(f"/api/v1/public/agencies/{CITY}", params={"at": "0001-01-01"})).status_code == 422


async def test_a_revoked_certificate_shows_its_specimen_withdrawn(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    row = await certs.find_by_fingerprint(published["leader"])
    await certs.record_revocation(SYSTEM, row["id"], revoked_at="2026-11-20T00:00:00+07:00", reason="key_compromise")
    page = await client.get(f"/agencies/{CITY}")
    assert f"/specimens/{published['signature']['id']}/image.png" not in page.text
    history = await client.get(f"/agencies/{CITY}/history")
    assert "Đã thu hồi" in history.text and "thu hồi từ 20/11/2026" in history.text and "Đã bị thu hồi" in history.text
    certificate = await client.get(f"/public/certificates/{published['leader']}")
    assert certificate.status_code == 200 and "Đã bị thu hồi" in certificate.text


async def test_certificate_page_and_downloads(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    page = await client.get(f"/public/certificates/{published['org']}")
    assert page.status_code == 200 and "Tải về dạng PEM" in page.text
    row = await certs.find_by_fingerprint(published["org"])
    der = await client.get(f"/public/certificates/{published['org']}/download", params={"format": "der"})
    assert der.status_code == 200 and der.content == bytes(row["der"])
    pem = await client.get(f"/public/certificates/{published['org']}/download")
    assert x509.load_pem_x509_certificate(pem.content).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER) == bytes(row["der"])
    assert "attachment" in pem.headers["content-disposition"]
    # A certificate on no published specimen is not the portal's to show.
    other = await add_certificate(ca, province, None, FINANCE, days_left=100)
    assert (await client.get(f"/public/certificates/{other}")).status_code == 404
    assert (await client.get(f"/public/certificates/{other}/download")).status_code == 404


async def test_the_atom_feed_lists_publication_changes(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    await client.post(f"/api/v1/specimens/{published['signature']['id']}/withdraw", json={"reason": "Nghỉ hưu"},
                      headers=province.auth("operator"))
    feed = await client.get("/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in root.iter("{http://www.w3.org/2005/Atom}entry")]
    assert titles[0].startswith("Thu hồi: Mẫu chữ ký — " + LEADER)
    assert any(t.startswith("Công bố: Hộp thư — vanthu@halong.gov.vn") for t in titles)


async def test_the_portal_never_shows_personal_data_drafts_or_rejected_items(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    head = province.person_id("city_head")
    assert (await client.patch(f"/api/v1/people/{head}", json=PERSONAL, headers=province.auth("city_clerk"))).status_code == 200
    # A draft and a rejected specimen, and a rejected and a waiting mailbox: none of them public.
    draft_cert = await add_certificate(ca, province, None, CITY, days_left=500, name="Bản nháp")
    draft = await submit(client, province, "city_clerk", specimen_form("org", CITY, draft_cert), seal_png(size=90))
    other_leader = await add_certificate(ca, province, "city_clerk", CITY, days_left=500)
    rejected = await submit(client, province, "city_clerk",
                            specimen_form("leader", CITY, other_leader, full_name="Người dùng city_clerk", position="Phó Chủ tịch"),
                            signature_png())
    await client.post(f"/api/v1/specimens/{rejected.json()['id']}/reject", json={"reason": "Ảnh mờ"},
                      headers=province.auth("operator"))
    waiting = await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "chua.cong.bo@halong.gov.vn"},
                                headers=province.auth("city_clerk"))
    assert waiting.status_code == 201
    secrets = [*PERSONAL.values(), "30/04/1985", "Người dùng city_clerk", "Phó Chủ tịch", "chua.cong.bo@halong.gov.vn",
               draft_cert, other_leader, "Ảnh mờ", "city_clerk@"]
    paths = ["/", f"/agencies/{CITY}", f"/agencies/{CITY}/history", f"/api/v1/public/agencies/{CITY}",
             "/?q=nguoi dung", "/api/v1/public/agencies?q=nguoi", f"/public/certificates/{published['leader']}",
             "/feed.atom", f"/?q={draft_cert[:16]}", f"/api/v1/public/agencies?q={other_leader[:16]}"]
    for path in paths:
        answer = await client.get(path)
        assert answer.status_code == 200, path
        leaked = [value for value in secrets if value in answer.text]
        assert not leaked, (path, leaked)
    for specimen_id in (draft.json()["id"], rejected.json()["id"]):
        assert (await client.get(f"/specimens/{specimen_id}/image.png")).status_code == 404
    assert (await client.get(f"/public/certificates/{draft_cert}")).status_code == 404


async def test_etags_and_304_and_publication_invalidates_the_cache(client, province, ca) -> None:
    published = await publish_city(client, province, ca)
    for path in (f"/agencies/{CITY}", "/?q=ha long", f"/api/v1/public/agencies/{CITY}", "/api/v1/public/agencies?q=ha",
                 f"/public/certificates/{published['org']}", "/feed.atom"):
        first = await client.get(path)
        assert first.status_code == 200 and first.headers["etag"] and first.headers["last-modified"], path
        assert first.headers["cache-control"] == "public, max-age=0, must-revalidate"
        again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        since = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert since.status_code == 304, path
    before = await client.get(f"/agencies/{CITY}")
    # A publication elsewhere changes the version: the page is built again (its ETag may stay the same
    # only if its bytes do), and the new specimen shows at once.
    org = published["org"]
    newer = await published_specimen(client, province, specimen_form("org", CITY, org), seal_png(size=150))
    after = await client.get(f"/agencies/{CITY}", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and f"/specimens/{newer['id']}/image.png" in after.text
    assert after.headers["etag"] != before.headers["etag"]


async def test_staff_see_their_links_and_never_a_cached_public_page(client, province, ca) -> None:
    await publish_city(client, province, ca)
    anonymous = await client.get(f"/agencies/{CITY}")
    assert "Dành cho cán bộ" not in anonymous.text and "Đăng nhập" in anonymous.text
    await sign_in(client, "city_clerk")
    staff = await client.get(f"/agencies/{CITY}")
    assert staff.status_code == 200 and "Dành cho cán bộ" in staff.text
    assert f"/specimens/new?kind=org&amp;agency={CITY}" in staff.text and "Đăng xuất" in staff.text
    assert staff.headers["cache-control"] == "no-store" and "etag" not in staff.headers
    client.cookies.clear()
    assert "Dành cho cán bộ" not in (await client.get(f"/agencies/{CITY}")).text


async def test_the_fast_path_answers_only_exact_repeats_with_every_header(client, province, ca) -> None:
    await publish_city(client, province, ca)
    first = await client.get(f"/agencies/{CITY}")
    repeat = await client.get(f"/agencies/{CITY}")
    assert repeat.content == first.content and repeat.headers["etag"] == first.headers["etag"]
    for header in ("content-security-policy", "x-content-type-options", "x-frame-options", "x-request-id"):
        assert repeat.headers[header], header
    assert repeat.headers["x-request-id"] != first.headers["x-request-id"]
    assert repeat.headers["content-type"] == "text/html; charset=utf-8"
    # A query that the checks refuse is refused, even when a similar one was answered before.
    assert (await client.get("/", params={"q": "ha long"})).status_code == 200
    assert (await client.get("/", params={"q": "ha\x01long"})).status_code == 422
    # A bearer token or a session always goes to the application.
    with_token = await client.get(f"/agencies/{CITY}", headers=province.auth("city_clerk"))
    assert "Dành cho cán bộ" in with_token.text


async def test_many_asking_at_once_build_a_page_once(client, province, ca, monkeypatch) -> None:
    import asyncio

    from registry.publish import service

    await publish_city(client, province, ca)
    calls = []
    real = service.public_agency

    async def counted(code, at=None):
        calls.append(code)
        await asyncio.sleep(0.05)  # long enough for the others to arrive while it is built
        return await real(code, at)

    monkeypatch.setattr(service, "public_agency", counted)
    answers = await asyncio.gather(*(client.get(f"/agencies/{CITY}") for _ in range(8)))
    assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1
    assert calls == [CITY]
    missing = await asyncio.gather(*(client.get("/agencies/999.99.99.Z99") for _ in range(3)))
    assert {a.status_code for a in missing} == {404}
