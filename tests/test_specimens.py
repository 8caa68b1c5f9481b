"""Signature specimens and mailboxes (issue 10, points 1-3): submitted by an agency, published or
rejected by DoIT through the workflow engine, superseded by a newer one, withdrawn automatically when
the certificate is revoked or the agency renamed; hostile images and wrong certificates refused with
nothing stored."""

from __future__ import annotations

import io

from PIL import Image

from registry.audit.tables import AuditEntry
from registry.certs import service as certs
from registry.specimens.tables import Mailbox, Specimen
from tests.helpers import CITY, FINANCE, SYSTEM, WARD, add_certificate, sign_in
from tests.specimen_helpers import (
    SVG,
    bomb_png,
    gif_named_png,
    jpeg_with_exif,
    published_specimen,
    seal_png,
    signature_png,
    specimen_form,
    submit,
    truncated_png,
)

LEADER = "Người dùng city_head"


async def org_fingerprint(ca, province, agency: str = CITY) -> str:
    return await add_certificate(ca, province, None, agency, days_left=700, name=f"Cơ quan {agency}")


async def leader_fingerprint(ca, province) -> str:
    return await add_certificate(ca, province, "city_head", CITY, days_left=700)


async def test_a_specimen_goes_from_submission_to_publication_and_is_superseded(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    created = await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint), seal_png())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "submitted" and body["domain"] == "specimen" and body["warnings"] == []
    assert body["certificate"] == fingerprint and len(body["image_sha256"]) == 64
    # DoIT sees it in the shared inbox, among what waits for its decision.
    inbox = await client.get("/api/v1/inbox", headers=province.auth("operator"))
    assert [(i["domain"], i["id"]) for i in inbox.json()] == [("specimen", body["id"])]
    # A clerk cannot publish; the operator can, once.
    assert (await client.post(f"/api/v1/specimens/{body['id']}/publish", headers=province.auth("city_clerk"))).status_code == 403
    published = await client.post(f"/api/v1/specimens/{body['id']}/publish", headers=province.auth("operator"))
    assert published.status_code == 200 and published.json()["state"] == "published"
    assert published.json()["published_at"] is not None
    again = await client.post(f"/api/v1/specimens/{body['id']}/publish", headers=province.auth("operator"))
    assert again.status_code == 409 and again.json()["code"] == "state_changed"
    # A new seal for the same agency supersedes the old one, which keeps its published period.
    second = await published_specimen(client, province, specimen_form("org", CITY, fingerprint), seal_png(size=140))
    old = (await client.get(f"/api/v1/specimens/{body['id']}", headers=province.auth("operator"))).json()
    assert old["state"] == "superseded" and old["ended_at"] is not None and str(second["id"]) in old["end_reason"]
    assert [h["transition"] for h in old["history"]] == ["submit", "publish", "supersede"]
    assert await Specimen.count() == 2


async def test_leaders_and_their_certificates(client, province, ca) -> None:
    fingerprint = await leader_fingerprint(ca, province)
    data = specimen_form("leader", CITY, fingerprint, full_name=LEADER, position="Chủ tịch")
    created = await submit(client, province, "city_clerk", data, signature_png())
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == LEADER and created.json()["subject"]["id"] == province.person_id("city_head")
    # The same certificate for someone else's name: refused, in Vietnamese, naming the field.
    other = await submit(client, province, "city_clerk", {**data, "full_name": "Trần Văn Khác"}, signature_png())
    assert other.status_code == 422 and other.json()["code"] == "certificate_of_another_person"
    error = other.json()["errors"][0]
    assert error["field"] == "certificate" and error["message"] == f"issued to {LEADER}, not to Trần Văn Khác"
    # An organisation certificate cannot be a leader's, nor a personal one an organisation's.
    org = await org_fingerprint(ca, province)
    wrong = await submit(client, province, "city_clerk", {**data, "certificate": org}, signature_png())
    assert wrong.status_code == 422 and wrong.json()["code"] == "certificate_wrong_kind"
    assert await Specimen.count() == 1


async def test_colour_and_background_give_warnings_not_refusals(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    blue_seal = await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint),
                             seal_png(colour=(20, 40, 200, 255), background=(255, 255, 255, 255)))
    assert blue_seal.status_code == 201
    warnings = " ".join(blue_seal.json()["warnings"])
    assert "màu đỏ" in warnings and "trong suốt" in warnings
    leader = await leader_fingerprint(ca, province)
    red_signature = await submit(client, province, "city_clerk",
                                 specimen_form("leader", CITY, leader, full_name=LEADER, position="Chủ tịch"),
                                 signature_png(colour=(200, 20, 20, 255)))
    assert red_signature.status_code == 201 and any("màu xanh" in w for w in red_signature.json()["warnings"])


async def test_images_are_re_encoded_without_metadata_keeping_the_original_hash(client, province, ca) -> None:
    import hashlib

    leader = await leader_fingerprint(ca, province)
    original = jpeg_with_exif()
    created = await submit(client, province, "city_clerk",
                           specimen_form("leader", CITY, leader, full_name=LEADER, position="Chủ tịch"),
                           original, filename="ky.jpg", content_type="image/jpeg")
    assert created.status_code == 201, created.text
    assert created.json()["image_sha256"] == hashlib.sha256(original).hexdigest()
    row = await Specimen.select(Specimen.image_png).where(Specimen.id == created.json()["id"]).first()
    stored = bytes(row["image_png"])
    assert stored.startswith(b"\x89PNG") and b"Camera of Secrets" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()
    tagged = await submit(client, province, "city_clerk", specimen_form("org", CITY, await org_fingerprint(ca, province)),
                          seal_png(text=b"secret comment"))
    row = await Specimen.select(Specimen.image_png).where(Specimen.id == tagged.json()["id"]).first()
    assert b"secret comment" not in bytes(row["image_png"])


async def test_bad_input_is_refused_with_a_reason_and_nothing_stored(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    form = specimen_form("org", CITY, fingerprint)
    leader = await leader_fingerprint(ca, province)
    finance = await org_fingerprint(ca, province, FINANCE)
    audit_before = await AuditEntry.count()
    cases = [
        (gif_named_png(), "image_format", 422),
        (truncated_png(), "image_corrupt", 422),
        (bomb_png(), ("image_too_big", "image_bomb"), 422),
        (SVG, "image_format", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), "image_too_large", 413),
    ]
    for image, code, status in cases:
        response = await submit(client, province, "city_clerk", form, image)
        assert response.status_code == status, (code, response.text)
        assert response.json()["code"] in (code if isinstance(code, tuple) else (code,)), response.text
    # 20 MB: refused before it is even read whole.
    huge = await submit(client, province, "city_clerk", form, b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024))
    assert huge.status_code == 413
    # A name carrying markup.
    script = await submit(client, province, "city_clerk",
                          specimen_form("leader", CITY, leader, full_name="<script>alert(1)</script>", position="Chủ tịch"),
                          signature_png())
    assert script.status_code == 422 and script.json()["errors"][0]["field"] == "full_name"
    # Another agency's certificate; an unknown one; an agency outside the clerk's reach.
    other = await submit(client, province, "city_clerk", specimen_form("org", CITY, finance), seal_png())
    assert other.status_code == 422 and other.json()["code"] == "certificate_of_another_agency"
    assert other.json()["errors"][0]["field"] == "certificate"
    unknown = await submit(client, province, "city_clerk", specimen_form("org", CITY, "ab" * 32), seal_png())
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "certificate"
    outside = await submit(client, province, "city_clerk", specimen_form("org", FINANCE, finance), seal_png())
    assert outside.status_code == 403
    staff = await submit(client, province, "city_staff", form, seal_png())
    assert staff.status_code == 403
    assert await Specimen.count() == 0 and await AuditEntry.count() == audit_before


async def test_an_invalid_certificate_is_refused_with_the_reason(client, province, ca) -> None:
    expired = await add_certificate(ca, province, None, CITY, days_left=-5, name="Cơ quan hết hạn")
    response = await submit(client, province, "city_clerk", specimen_form("org", CITY, expired), seal_png())
    assert response.status_code == 422 and response.json()["code"] == "certificate_expired"
    revoked = await org_fingerprint(ca, province)
    row = await certs.find_by_fingerprint(revoked)
    await certs.record_revocation(SYSTEM, row["id"], revoked_at="2026-01-02T00:00:00+07:00", reason="key_compromise")
    response = await submit(client, province, "city_clerk", specimen_form("org", CITY, revoked), seal_png())
    assert response.status_code == 422 and response.json()["code"] == "certificate_revoked"
    assert await Specimen.count() == 0


async def test_revocation_and_renaming_withdraw_published_specimens(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    seal = await published_specimen(client, province, specimen_form("org", CITY, fingerprint), seal_png())
    leader = await leader_fingerprint(ca, province)
    signature = await published_specimen(
        client, province, specimen_form("leader", CITY, leader, full_name=LEADER, position="Chủ tịch"), signature_png())
    row = await certs.find_by_fingerprint(leader)
    await certs.record_revocation(SYSTEM, row["id"], revoked_at="2026-11-01T00:00:00+07:00", reason="key_compromise")
    withdrawn = (await client.get(f"/api/v1/specimens/{signature['id']}", headers=province.auth("operator"))).json()
    assert withdrawn["state"] == "withdrawn" and "thu hồi từ 01/11/2026" in withdrawn["end_reason"]
    # The clerks are asked for a new one.
    await sign_in(client, "city_clerk")
    assert "Đề nghị gửi mẫu mới" in (await client.get("/me")).text
    client.cookies.clear()
    renamed = await client.patch(f"/api/v1/agencies/{CITY}", json={"name": "Ủy ban nhân dân thành phố Hạ Long mới"},
                                 headers=province.auth("admin"))
    assert renamed.status_code == 200, renamed.text
    seal_now = (await client.get(f"/api/v1/specimens/{seal['id']}", headers=province.auth("operator"))).json()
    assert seal_now["state"] == "withdrawn" and seal_now["end_reason"] == "Cơ quan, đơn vị đổi tên"


async def test_expired_certificates_withdraw_their_specimens(client, province, ca) -> None:
    from datetime import timedelta

    from registry.certs.tables import Certificate
    from registry.specimens import service
    from registry.timeutil import now

    fingerprint = await org_fingerprint(ca, province)
    seal = await published_specimen(client, province, specimen_form("org", CITY, fingerprint), seal_png())
    assert await service.withdraw_lapsed() == 0
    # Time passes: the certificate's validity ends (the only way to get there without waiting).
    await Certificate.update({Certificate.not_after: now() - timedelta(days=1)}).where(Certificate.fingerprint == fingerprint)
    assert await service.withdraw_lapsed() == 1
    after = (await client.get(f"/api/v1/specimens/{seal['id']}", headers=province.auth("operator"))).json()
    assert after["state"] == "withdrawn" and "hết hạn" in after["end_reason"]


async def test_reject_and_withdraw_rules(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    created = (await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint), seal_png())).json()
    # Withdrawing what is not published: 409; rejecting needs a reason.
    withdraw = await client.post(f"/api/v1/specimens/{created['id']}/withdraw", json={"reason": "x"},
                                 headers=province.auth("operator"))
    assert withdraw.status_code == 409
    no_reason = await client.post(f"/api/v1/specimens/{created['id']}/reject", json={"reason": " "},
                                  headers=province.auth("operator"))
    assert no_reason.status_code == 422
    rejected = await client.post(f"/api/v1/specimens/{created['id']}/reject", json={"reason": "Ảnh mờ"},
                                 headers=province.auth("operator"))
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert (await client.post(f"/api/v1/specimens/{created['id']}/publish", headers=province.auth("operator"))).status_code == 409


async def test_mailboxes_are_submitted_published_and_withdrawn_with_history(client, province) -> None:
    from registry.auth import service as auth
    from registry.specimens import service

    created = await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "VanThu@HaLong.gov.vn"},
                                headers=province.auth("city_clerk"))
    assert created.status_code == 201, created.text
    mailbox = created.json()
    assert mailbox["address"] == "vanthu@halong.gov.vn" and mailbox["state"] == "submitted"
    duplicate = await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "vanthu@halong.gov.vn"},
                                  headers=province.auth("city_clerk"))
    assert duplicate.status_code == 409
    bad = await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "không phải thư"},
                            headers=province.auth("city_clerk"))
    assert bad.status_code == 422
    outside = await client.post("/api/v1/mailboxes", json={"agency_code": WARD, "address": "a@b.vn"},
                                headers=province.auth("finance_head"))
    assert outside.status_code == 403
    withdraw_early = await client.post(f"/api/v1/mailboxes/{mailbox['id']}/withdraw", json={"reason": "x"},
                                       headers=province.auth("operator"))
    assert withdraw_early.status_code == 409
    published = await client.post(f"/api/v1/mailboxes/{mailbox['id']}/publish", headers=province.auth("operator"))
    assert published.status_code == 200 and published.json()["published_at"]
    assert (await client.post(f"/api/v1/mailboxes/{mailbox['id']}/publish", headers=province.auth("operator"))).status_code == 409
    withdrawn = await client.post(f"/api/v1/mailboxes/{mailbox['id']}/withdraw", json={"reason": "Không dùng nữa"},
                                  headers=province.auth("operator"))
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    history = (await client.get(f"/api/v1/mailboxes/{mailbox['id']}", headers=province.auth("operator"))).json()["history"]
    assert [h["transition"] for h in history] == ["submit", "publish", "withdraw"]
    # Another domain proposes one (an account request created a mail account).
    operator = await auth.principal_for_token(province.tokens["operator"])
    proposed = await service.propose_mailbox(operator, WARD, "honggai@quangninh.gov.vn", source="account_request")
    assert proposed["state"] == "submitted" and proposed["source"] == "account_request"
    assert await Mailbox.count() == 2


async def test_pages_submit_with_errors_beside_fields_and_review(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    csrf = await sign_in(client, "city_clerk")
    form = await client.get("/specimens/new?kind=org")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text and fingerprint in form.text
    # A GIF named .png and a name with markup: the same page, the errors beside the fields, the input kept.
    bad = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "leader", "agency_code": CITY,
                                                    "certificate": fingerprint, "full_name": "<script>x</script>",
                                                    "position": "Chủ tịch"},
                            files={"image": ("mau.png", gif_named_png(), "image/png")})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert 'id="f-image-error"' in bad.text and 'id="f-full_name-error"' in bad.text
    assert "Chỉ nhận ảnh PNG hoặc JPEG" in bad.text and 'value="Chủ tịch"' in bad.text
    assert "Không được chứa các ký tự đánh dấu" in bad.text and "not a PNG" not in bad.text
    assert "<script>x</script>" not in bad.text and "&lt;script&gt;x&lt;/script&gt;" in bad.text
    huge = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "org", "agency_code": CITY, "certificate": fingerprint},
                             files={"image": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024), "image/png")})
    assert huge.status_code == 413 and "Ảnh lớn hơn 2 MB" in huge.text
    huger = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "org", "agency_code": CITY, "certificate": fingerprint},
                              files={"image": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024), "image/png")})
    assert huger.status_code == 413 and huger.headers["content-type"].startswith("text/html")
    assert await Specimen.count() == 0
    good = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "org", "agency_code": CITY, "certificate": fingerprint},
                             files={"image": ("mau.png", seal_png(), "image/png")})
    assert good.status_code == 303
    detail = await client.get(good.headers["location"])
    assert "Đã gửi mẫu" in detail.text and "Chờ công bố" in detail.text
    specimen_id = int(good.headers["location"].split("/")[2].split("?")[0])
    # Not yet public: the image is for staff only.
    assert (await client.get(f"/specimens/{specimen_id}/image.png")).status_code == 200
    client.cookies.clear()
    assert (await client.get(f"/specimens/{specimen_id}/image.png")).status_code == 404
    # DoIT's review list publishes it.
    csrf = await sign_in(client, "operator")
    review = await client.get("/specimens")
    assert f"/specimens/{specimen_id}/publish" in review.text
    published = await client.post(f"/specimens/{specimen_id}/publish", data={"_csrf": csrf, "back": "list"})
    assert published.status_code == 303
    twice = await client.post(f"/specimens/{specimen_id}/publish", data={"_csrf": csrf})
    assert twice.status_code == 409 and "text/html" in twice.headers["content-type"]
    client.cookies.clear()
    image = await client.get(f"/specimens/{specimen_id}/image.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.headers["etag"]
    again = await client.get(f"/specimens/{specimen_id}/image.png", headers={"If-None-Match": image.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = await client.get(f"/specimens/{specimen_id}/image.png", headers={"If-Modified-Since": image.headers["last-modified"]})
    assert since.status_code == 304
    stale = await client.get(f"/specimens/{specimen_id}/image.png", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == image.content


async def test_the_shared_inbox_publishes_specimens_and_mailboxes_as_their_own_actions_do(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    first = await published_specimen(client, province, specimen_form("org", CITY, fingerprint), seal_png())
    second = (await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint), seal_png(size=150))).json()
    mailbox = (await client.post("/api/v1/mailboxes", json={"agency_code": CITY, "address": "hopthu@halong.gov.vn"},
                                 headers=province.auth("city_clerk"))).json()
    await sign_in(client, "operator")
    inbox_page = await client.get("/inbox")
    assert second["summary"] in inbox_page.text and "hopthu@halong.gov.vn" in inbox_page.text
    client.cookies.clear()
    decided = await client.post("/api/v1/inbox/decisions", headers=province.auth("operator"), json={
        "approve": [{"domain": "specimen", "id": second["id"]}, {"domain": "mailbox", "id": mailbox["id"]}]})
    assert decided.status_code == 200, decided.text
    now_second = (await client.get(f"/api/v1/specimens/{second['id']}", headers=province.auth("operator"))).json()
    now_first = (await client.get(f"/api/v1/specimens/{first['id']}", headers=province.auth("operator"))).json()
    assert now_second["state"] == "published" and now_second["published_at"]
    assert now_first["state"] == "superseded" and now_first["ended_at"]
    public = (await client.get(f"/api/v1/public/agencies/{CITY}")).json()
    assert [s["id"] for s in public["specimens"]] == [second["id"]]
    assert [m["address"] for m in public["mailboxes"]] == ["hopthu@halong.gov.vn"]
    # Heads decide certificate requests, not publications: nothing of this reaches their inbox.
    head_inbox = await client.get("/api/v1/inbox", headers=province.auth("city_head"))
    assert all(item["domain"] not in ("specimen", "mailbox") for item in head_inbox.json())


async def test_a_wrong_certificate_is_explained_in_vietnamese_beside_the_field(client, province, ca) -> None:
    leader = await leader_fingerprint(ca, province)
    finance = await org_fingerprint(ca, province, FINANCE)
    csrf = await sign_in(client, "city_clerk")
    page = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "leader", "agency_code": CITY,
                                                     "certificate": leader, "full_name": "Trần Văn Khác", "position": "Chủ tịch"},
                             files={"image": ("ky.png", signature_png(), "image/png")})
    assert page.status_code == 422 and 'id="f-certificate-error"' in page.text
    assert f"Chứng thư số này cấp cho {LEADER}, không phải Trần Văn Khác." in page.text
    other = await client.post("/specimens/new", data={"_csrf": csrf, "kind": "org", "agency_code": CITY, "certificate": finance},
                              files={"image": ("dau.png", seal_png(), "image/png")})
    assert "Chứng thư số này thuộc cơ quan, đơn vị khác." in other.text and "held by another agency" not in other.text
    assert await Specimen.count() == 0


async def test_the_public_verify_shows_the_specimens_published_for_a_certificate(client, province, ca) -> None:
    fingerprint = await org_fingerprint(ca, province)
    der = bytes((await certs.find_by_fingerprint(fingerprint))["der"])
    before = (await client.post("/api/v1/verify", content=der, headers={"Content-Type": "application/pkix-cert"})).json()
    assert before["specimens"] == []
    waiting = (await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint), seal_png())).json()
    # Submitted is not published: the public sees nothing yet.
    assert (await client.post("/api/v1/verify", content=der)).json()["specimens"] == []
    published = await published_specimen(client, province, specimen_form("org", CITY, fingerprint), seal_png(size=140))
    after = (await client.post("/api/v1/verify", content=der)).json()
    assert [s["id"] for s in after["specimens"]] == [published["id"]] and waiting["id"] != published["id"]
    page = await client.post("/verify", files={"file": ("seal.cer", der)})
    assert page.status_code == 200 and f'href="/agencies/{CITY}"' in page.text
