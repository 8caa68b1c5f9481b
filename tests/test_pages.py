"""What a new user met (issue 8, points 10, 11, 14, 15): pages name people and agencies, show dates
dd/mm/yyyy and Vietnamese field names, offer only what applies, lead somewhere, and say which open
request blocks a duplicate."""

from __future__ import annotations

from registry.certs.tables import CertRequest
from tests.helpers import CITY, CITY_FINANCE, SYSTEM, add_certificate, new_personal, sign_in
from tests.helpers import file_cert_request as file


async def test_a_duplicate_request_names_the_open_one_and_keeps_the_input(client, province, ca) -> None:
    fingerprint = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    first = await file(client, province, "city_clerk", {"kind": "unlock", "agency_code": CITY_FINANCE, "certificate": fingerprint})
    assert first.status_code == 201
    csrf = await sign_in(client, "city_clerk")
    form = {"_csrf": csrf, "agency_code": CITY_FINANCE, "certificate": fingerprint, "detail": "Nhập sai mã PIN nhiều lần"}
    again = await client.post("/requests/new/unlock", data=form)
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")
    assert f'href="/requests/{first.json()["id"]}"' in again.text and "Nhập sai mã PIN nhiều lần" in again.text
    assert "đang xử lý" in again.text
    # The form offers only certificates the request can apply to: this one is taken for unlocking.
    page = await client.get("/requests/new/unlock")
    assert fingerprint not in page.text
    assert fingerprint in (await client.get("/requests/new/revoke")).text
    assert await CertRequest.count() == 1


async def test_request_details_read_in_vietnamese(client, province) -> None:
    created = (await file(client, province, "city_clerk", new_personal())).json()
    await sign_in(client, "city_clerk")
    page = await client.get(f"/requests/{created['id']}")
    assert "Ngày sinh" in page.text and "12/04/1988" in page.text
    for raw in ("full_name", "date_of_birth", "1988-04-12", "id_issued_on"):
        assert raw not in page.text, raw


async def test_the_certificate_page_offers_its_requests_and_leads_somewhere(client, province, ca) -> None:
    fingerprint = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=30)
    await sign_in(client, "city_staff")
    page = await client.get(f"/certificates/{fingerprint}")
    assert page.status_code == 200
    for kind in ("renew", "change", "unlock", "revoke"):
        assert f'href="/requests/new/{kind}?certificate={fingerprint}"' in page.text, kind
    # Staff cannot list every certificate: the breadcrumb leads to their own page, not to a 403.
    assert 'href="/certificates"' not in page.text and 'href="/me#my-certificates"' in page.text
    assert (await client.get("/certificates")).status_code == 403
    form = await client.get(f"/requests/new/renew?certificate={fingerprint}")
    assert form.status_code == 200 and f'value="{fingerprint}" selected' in form.text


async def test_the_clerk_sees_the_seal_she_keeps_and_names_not_codes(client, province, ca) -> None:
    await add_certificate(ca, province, None, CITY, kind="org", name="ỦY BAN NHÂN DÂN THÀNH PHỐ HẠ LONG")
    from registry.certs import service as certs
    from registry.certs.tables import Certificate

    row = await Certificate.select(Certificate.fingerprint).first()
    await certs.link_holder(SYSTEM, row["fingerprint"], agency_code=CITY,
                            custodian_person_id=province.users["city_clerk"]["person_id"], kind="org")
    await sign_in(client, "city_clerk")
    me = await client.get("/me")
    assert "ỦY BAN NHÂN DÂN THÀNH PHỐ HẠ LONG" in me.text
    assert "Ủy ban nhân dân thành phố Hạ Long" in me.text  # the agency by name


async def test_landing_pages_and_favicon(client, province) -> None:
    for username, landing in (("city_head", "/inbox"), ("operator", "/batches"), ("city_staff", "/me"),
                              ("city_clerk", "/me"), ("admin", "/admin/users")):
        client.cookies.clear()
        await sign_in(client, username)
        response = await client.get("/start")
        assert response.status_code == 303 and response.headers["location"] == landing, username
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 301 and icon.headers["location"] == "/static/favicon.svg"
    assert (await client.get("/static/favicon.svg")).status_code == 200


async def test_the_tree_claims_no_folding(client, province) -> None:
    page = await client.get("/agencies")
    assert 'role="treeitem"' not in page.text and "aria-expanded" not in page.text
