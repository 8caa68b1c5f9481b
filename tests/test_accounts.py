"""Account requests (Đ22.1.h), the second domain on the workflow engine: filed by staff for themselves or
by clerks, decided by heads in the same inbox and the same bulk action as certificate requests, exported
for the systems' administrators, fulfilled into the account register and handed over."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from registry.accounts.tables import Account, AccountRequest
from registry.audit.tables import AuditEntry
from registry.certs.tables import CertRequest
from tests.helpers import CITY, CITY_FINANCE, Province, sign_in


def account_request(kind: str = "new", system: str = "qlvb", agency: str = CITY_FINANCE, **fields: Any) -> dict[str, Any]:
    body = {"kind": kind, "system": system, "agency_code": agency, "full_name": "Hoàng Văn Bình",
            "email": "binh.hv@quangninh.gov.vn"}
    if kind == "new":
        body.update(position="Chuyên viên", unit="Phòng Tổng hợp", phone="0912000111")
    body.update(fields)
    return body


def cert_request(agency: str = CITY_FINANCE, id_number: str = "022188001234") -> dict[str, Any]:
    return {
        "kind": "new_personal", "agency_code": agency, "full_name": "Nguyễn Thị Lan", "date_of_birth": "1988-04-12",
        "id_number": id_number, "id_issued_on": "2021-06-01", "id_issued_by": "Cục Cảnh sát QLHC về TTXH",
        "email": "lan.nt@quangninh.gov.vn", "position": "Chuyên viên", "phone": "0912345678",
    }


async def file_account(client, province: Province, username: str, body: dict[str, Any]):
    return await client.post("/api/v1/account-requests", json=body, headers=province.auth(username))


async def test_staff_files_for_themselves_and_the_head_decides_two_domains_at_once(client, province) -> None:
    account = await file_account(client, province, "city_staff", account_request())
    assert account.status_code == 201, account.text
    body = account.json()
    assert body["state"] == "submitted" and body["domain"] == "account" and body["system"] == "qlvb"
    assert body["subject"]["id"] == province.users["city_staff"]["person_id"]
    cert = await client.post("/api/v1/cert-requests", json=cert_request(), headers=province.auth("city_clerk"))
    assert cert.status_code == 201, cert.text

    inbox = (await client.get("/api/v1/inbox", headers=province.auth("city_head"))).json()
    assert {(item["domain"], item["id"]) for item in inbox} >= {("account", body["id"]), ("cert", cert.json()["id"])}

    decided = await client.post("/api/v1/inbox/decisions", headers=province.auth("city_head"), json={
        "approve": [{"domain": "account", "id": body["id"]}, {"domain": "cert", "id": cert.json()["id"]}],
    })
    assert decided.status_code == 200, decided.text
    assert [(r["domain"], r["state"]) for r in decided.json()["results"]] == [("account", "approved"), ("cert", "approved")]
    assert (await AccountRequest.select(AccountRequest.state).first())["state"] == "approved"
    assert (await CertRequest.select(CertRequest.state).first())["state"] == "approved"
    assert await AuditEntry.count().where(AuditEntry.action == "account_request.approve") == 1


async def test_a_mixed_list_with_one_bad_item_changes_nothing(client, province) -> None:
    account = (await file_account(client, province, "city_staff", account_request())).json()
    own = (await file_account(client, province, "city_head", account_request(agency=CITY, full_name="Người dùng city_head",
                                                                           email="city_head@quangninh.gov.vn"))).json()
    response = await client.post("/api/v1/inbox/decisions", headers=province.auth("city_head"), json={
        "approve": [{"domain": "account", "id": account["id"]}, {"domain": "account", "id": own["id"]}],
    })
    assert response.status_code == 403
    results = {r["id"]: r for r in response.json()["results"]}
    assert results[account["id"]]["ok"] is True and results[own["id"]]["code"] == "own_request"
    assert {r["state"] for r in await AccountRequest.select(AccountRequest.state)} == {"submitted"}
    unknown = await client.post("/api/v1/inbox/decisions", headers=province.auth("city_head"),
                                json={"approve": [{"domain": "nope", "id": account["id"]}]})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_domain"


async def test_the_inbox_page_decides_both_domains_in_one_action(client, province) -> None:
    account = (await file_account(client, province, "city_staff", account_request())).json()
    cert = (await client.post("/api/v1/cert-requests", json=cert_request(), headers=province.auth("city_clerk"))).json()
    csrf = await sign_in(client, "city_head")
    page = await client.get("/inbox")
    assert f'value="account:{account["id"]}"' in page.text and f'value="cert:{cert["id"]}"' in page.text
    response = await client.post("/inbox", data={
        "_csrf": csrf, "action": "reject", "reason": "Hồ sơ thiếu",
        "selected": [f"account:{account['id']}", f"cert:{cert['id']}"],
    })
    assert response.status_code == 303 and response.headers["location"] == "/inbox?done=2"
    assert (await AccountRequest.select(AccountRequest.state, AccountRequest.decision_note).first()) == {
        "state": "rejected", "decision_note": "Hồ sơ thiếu"}
    assert (await CertRequest.select(CertRequest.state).first())["state"] == "rejected"


async def test_who_may_file_what(client, province) -> None:
    # Staff only for themselves; clerks for their subtree; nobody outside it.
    other = await file_account(client, province, "city_staff",
                               account_request(person_id=province.users["city_head"]["person_id"]))
    assert other.status_code == 403
    elsewhere = await file_account(client, province, "ward_head", account_request(agency=CITY_FINANCE))
    assert elsewhere.status_code == 403
    by_clerk = await file_account(client, province, "city_clerk",
                                  account_request(person_id=province.users["city_staff"]["person_id"]))
    assert by_clerk.status_code == 201
    assert await AccountRequest.count() == 1
    unauthenticated = await client.post("/api/v1/account-requests", json=account_request())
    assert unauthenticated.status_code == 401


async def test_bad_input_is_refused_with_reasons_and_nothing_written(client, province) -> None:
    cases = [
        (account_request(system="fax"), 400),
        (account_request(kind="cancel"), 422),  # no account name, no reason
        (account_request(kind="cancel", account_name="binh.hv", reason="other"), 422),  # "other" needs a detail
        (account_request(system="mail", account_name="not an address"), 422),
        (account_request(email="nope"), 422),
        (account_request(kind="change", account_name="binh.hv", changes={"password": "x"}), 422),
        (account_request(full_name="x" * 201), 422),
    ]
    for body, _expected in cases:
        response = await file_account(client, province, "city_clerk", body)
        assert response.status_code in (400, 422), (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await AccountRequest.count() == 0 and await AuditEntry.count().where(AuditEntry.action.like("account%")) == 0


async def test_doit_exports_fulfils_and_hands_over_into_the_register(client, province) -> None:
    hostile = account_request(unit="=HYPERLINK(\"http://evil\")", account_name="binh.hv")
    created = (await file_account(client, province, "city_clerk",
                                  {**hostile, "person_id": province.users["city_staff"]["person_id"]})).json()
    mail = (await file_account(client, province, "city_clerk", account_request(
        system="mail", account_name="binh.hv@quangninh.gov.vn", person_id=province.users["city_staff"]["person_id"]))).json()
    for request_id in (created["id"], mail["id"]):
        approved = await client.post(f"/api/v1/account-requests/{request_id}/approve", headers=province.auth("city_head"))
        assert approved.status_code == 200

    refused = await client.get("/api/v1/account-requests/export?format=xlsx", headers=province.auth("city_clerk"))
    assert refused.status_code == 403
    workbook_response = await client.get("/api/v1/account-requests/export?format=xlsx", headers=province.auth("operator"))
    assert workbook_response.status_code == 200
    workbook = load_workbook(io.BytesIO(workbook_response.content))
    qlvb = workbook.worksheets[0]
    headers = [cell.value for cell in qlvb[1]]
    assert "Họ và tên" in headers and "Tên tài khoản" in headers
    row = {headers[i]: cell.value for i, cell in enumerate(qlvb[2])}
    assert row["Họ và tên"] == "Hoàng Văn Bình" and row["Tên tài khoản"] == "binh.hv"
    # What a requester typed never becomes a formula.
    assert row["Phòng, ban"] == "'=HYPERLINK(\"http://evil\")"
    assert all(cell.data_type != "f" for sheet in workbook.worksheets for cells in sheet.iter_rows() for cell in cells)
    assert workbook.worksheets[1].cell(row=2, column=9).value == "binh.hv@quangninh.gov.vn"
    csv_response = await client.get("/api/v1/account-requests/export?format=csv", headers=province.auth("operator"))
    text = csv_response.content.decode("utf-8")
    assert text.startswith("\ufeff") and "Hoàng Văn Bình" in text and "'=HYPERLINK" in text

    not_yet = await client.post(f"/api/v1/account-requests/{created['id']}/deliver", headers=province.auth("operator"))
    assert not_yet.status_code == 409
    by_head = await client.post(f"/api/v1/account-requests/{created['id']}/fulfil", json={},
                                headers=province.auth("city_head"))
    assert by_head.status_code == 403
    done = await client.post(f"/api/v1/account-requests/{created['id']}/fulfil",
                             json={"account_name": "binh.hv", "note": "Mật khẩu gửi qua thư"},
                             headers=province.auth("operator"))
    assert done.status_code == 200 and done.json()["state"] == "fulfilled", done.text
    failed = await client.post(f"/api/v1/account-requests/{mail['id']}/fail", json={"reason": ""},
                               headers=province.auth("operator"))
    assert failed.status_code == 422
    delivered = await client.post(f"/api/v1/account-requests/{created['id']}/deliver", headers=province.auth("operator"))
    assert delivered.json()["state"] == "delivered"

    person_id = province.users["city_staff"]["person_id"]
    accounts = (await client.get(f"/api/v1/accounts?person_id={person_id}", headers=province.auth("city_staff"))).json()
    assert [(a["system"], a["name"], a["status"]) for a in accounts] == [("qlvb", "binh.hv", "active")]
    # A second "new" for an existing account is refused.
    again = await file_account(client, province, "city_clerk", account_request(account_name="binh.hv"))
    assert again.status_code == 409 and again.json()["code"] == "account_exists"

    # Cancelled later: the register keeps the account with its end date; its history lists both requests.
    cancel = (await file_account(client, province, "city_staff", account_request(
        kind="cancel", account_name="binh.hv", reason="moved"))).json()
    await client.post(f"/api/v1/account-requests/{cancel['id']}/approve", headers=province.auth("city_head"))
    await client.post(f"/api/v1/account-requests/{cancel['id']}/fulfil", json={}, headers=province.auth("operator"))
    account = (await client.get(f"/api/v1/accounts/{accounts[0]['id']}", headers=province.auth("city_staff"))).json()
    assert account["status"] == "cancelled" and account["cancel_reason"] == "moved" and account["cancelled_at"]
    assert {r["id"] for r in account["requests"]} == {created["id"], cancel["id"]}
    assert await Account.count() == 1
    # Nobody outside the subtree sees it.
    hidden = await client.get(f"/api/v1/accounts/{accounts[0]['id']}", headers=province.auth("ward_head"))
    assert hidden.status_code == 404


async def test_clerk_uses_the_pages_and_a_mistake_comes_back_as_the_page(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    form = {"_csrf": csrf, "system": "mail", "agency_code": CITY_FINANCE, "full_name": "Trần Văn Nam",
            "email": "nam@quangninh", "account_name": "nam.tv@quangninh.gov.vn"}
    bad = await client.post("/accounts/requests/new?kind=new", data=form)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html"), (bad.headers, bad.text[:500])
    assert 'value="Trần Văn Nam"' in bad.text and 'aria-invalid="true"' in bad.text
    good = await client.post("/accounts/requests/new?kind=new", data={**form, "email": "nam.tv@quangninh.gov.vn"})
    assert good.status_code == 303, good.text
    detail = await client.get(good.headers["location"])
    assert "Chờ phê duyệt" in detail.text and "Trần Văn Nam" in detail.text
    listing = await client.get("/accounts")
    assert "Trần Văn Nam" in listing.text
    me = await client.get("/me")
    assert "Tài khoản của tôi" in me.text


async def test_an_agency_mailbox_in_the_register_is_proposed_for_publication(client, province) -> None:
    from registry.accounts.tables import Account
    from tests.helpers import form_csrf, sign_in

    async def fulfilled(body: dict[str, Any], account_name: str) -> int:
        created = (await file_account(client, province, "city_clerk", body)).json()
        await client.post(f"/api/v1/account-requests/{created['id']}/approve", headers=province.auth("city_head"))
        done = await client.post(f"/api/v1/account-requests/{created['id']}/fulfil", json={"account_name": account_name},
                                 headers=province.auth("operator"))
        assert done.status_code == 200, done.text
        return (await Account.select(Account.id).where(Account.name == account_name).first())["id"]

    # The agency's own mailbox (no person), and a staff member's login on the document system.
    mailbox_account = await fulfilled(account_request(system="mail", account_name="tckh@halong.gov.vn"), "tckh@halong.gov.vn")
    login = await fulfilled(account_request(account_name="binh.hv", person_id=province.users["city_staff"]["person_id"]),
                            "binh.hv")

    refused = await client.post(f"/api/v1/accounts/{login}/propose-mailbox", headers=province.auth("city_clerk"))
    assert refused.status_code == 409 and refused.json()["code"] == "not_an_active_mailbox"
    staff = await client.post(f"/api/v1/accounts/{mailbox_account}/propose-mailbox", headers=province.auth("city_staff"))
    assert staff.status_code in (403, 404)
    proposed = await client.post(f"/api/v1/accounts/{mailbox_account}/propose-mailbox", headers=province.auth("city_clerk"))
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["state"] == "submitted" and proposed.json()["source"] == "account_register"
    assert proposed.json()["address"] == "tckh@halong.gov.vn" and proposed.json()["agency_code"] == CITY_FINANCE
    twice = await client.post(f"/api/v1/accounts/{mailbox_account}/propose-mailbox", headers=province.auth("city_clerk"))
    assert twice.status_code == 409

    published = await client.post(f"/api/v1/mailboxes/{proposed.json()['id']}/publish", headers=province.auth("operator"))
    assert published.status_code == 200, published.text
    public = (await client.get(f"/api/v1/public/agencies/{CITY_FINANCE}")).json()
    assert [m["address"] for m in public["mailboxes"]] == ["tckh@halong.gov.vn"]

    # From the page: the button, and a second proposal comes back as the page with the reason.
    await sign_in(client, "city_clerk")
    page = await client.get(f"/accounts/{mailbox_account}")
    assert "Đề nghị công bố là hộp thư công vụ" in page.text
    again = await client.post(f"/accounts/{mailbox_account}/propose-mailbox", data={"_csrf": form_csrf(page.text)})
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")
    assert "tckh@halong.gov.vn" in again.text
