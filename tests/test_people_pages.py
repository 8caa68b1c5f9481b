"""People managed from pages (issue 11, point 1), their CSV import, and leaving staff (point 6): the
departure prepares the revocations and cancellations for a head and ends the user account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from registry.accounts.tables import AccountRequest
from registry.auth.principal import system_principal
from registry.certs import service as certs
from registry.certs.tables import CertRequest
from registry.people.tables import Person
from tests import certgen
from tests.helpers import CITY, CITY_FINANCE, WARD, Province, sign_in

SYSTEM = system_principal("tests")


async def test_clerk_lists_and_searches_people_without_diacritics(client, province) -> None:
    await client.patch(f"/api/v1/people/{province.users['city_staff']['person_id']}",
                       json={"full_name": "Hoàng Văn Bình"}, headers=province.auth("admin"))
    await sign_in(client, "city_clerk")
    found = await client.get("/people?q=hoang van binh")
    assert found.status_code == 200 and "Hoàng Văn Bình" in found.text
    missing = await client.get("/people?q=nguyen thi khong co")
    assert "Hoàng Văn Bình" not in missing.text and "Không tìm thấy ai" in missing.text


async def test_a_head_of_a_ward_sees_only_the_ward(client, province) -> None:
    await sign_in(client, "ward_head")
    page = await client.get("/people")
    assert "Người dùng ward_head" in page.text and "Người dùng city_staff" not in page.text
    other = await client.get(f"/people/{province.users['city_staff']['person_id']}")
    assert other.status_code == 404


async def test_clerk_adds_a_person_and_a_mistake_comes_back_as_the_page(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    form = {"_csrf": csrf, "full_name": "Trần Thị Hoa", "agency_code": CITY_FINANCE, "position": "Kế toán",
            "email": "hoa.tt@quangninh.gov.vn", "id_number": "0221", "date_of_birth": "1990-02-03", "phone": "0912000222"}
    bad = await client.post("/people/new", data=form)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert 'value="Trần Thị Hoa"' in bad.text and 'aria-invalid="true"' in bad.text
    assert await Person.count().where(Person.full_name == "Trần Thị Hoa") == 0
    good = await client.post("/people/new", data={**form, "id_number": "022190003333"})
    assert good.status_code == 303
    page = await client.get(good.headers["location"])
    assert "Trần Thị Hoa" in page.text and "022190003333" in page.text  # the clerk sees restricted data
    assert "Chứng thư số" in page.text and "Tài khoản QLVB" in page.text


async def test_staff_do_not_reach_the_people_pages(client, province) -> None:
    await sign_in(client, "city_staff")
    assert (await client.get("/people")).status_code == 403


async def test_csv_import_is_all_or_nothing_with_line_and_field(client, province) -> None:
    good = ("full_name,agency_code,position,email,id_number,date_of_birth,phone\n"
            f"Phạm Văn A,{CITY_FINANCE},Chuyên viên,a@quangninh.gov.vn,022190004444,1990-01-01,0912000333\n"
            f"Lê Thị B,{CITY},,,,,\n").encode()
    bad = good + f"Vũ Văn C,{CITY_FINANCE},,not-an-email,123,,\n".encode()
    before = await Person.count()
    refused = await client.post("/api/v1/people/import", content=bad, headers=province.auth("city_clerk"))
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert any(p.startswith("line 4, email") for p in problems) and any(p.startswith("line 4, id_number") for p in problems)
    assert await Person.count() == before
    outside = f"full_name,agency_code\nNgười ngoài,{WARD}\n".encode()
    assert (await client.post("/api/v1/people/import", content=outside, headers=province.auth("finance_head"))).status_code == 403
    broken = await client.post("/api/v1/people/import", content=b"\xff\xfe\x00", headers=province.auth("city_clerk"))
    assert broken.status_code == 422
    accepted = await client.post("/api/v1/people/import", content=good, headers=province.auth("city_clerk"))
    assert accepted.status_code == 201 and accepted.json()["created"] == 2
    assert await Person.count() == before + 2
    again = await client.post("/api/v1/people/import", content=good, headers=province.auth("city_clerk"))
    assert again.status_code == 422 and "already in the registry" in " ".join(again.json()["problems"])


async def test_csv_import_page_lists_the_problems(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    content = f"full_name,agency_code\n,{CITY}\n".encode()
    response = await client.post("/people/import", data={"_csrf": csrf}, files={"file": ("people.csv", content, "text/csv")})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    # Each line's mistake, in Vietnamese (the API keeps its English `problems`).
    assert "Dòng 2, Họ và tên: Bắt buộc nhập." in response.text
    assert "line 2" not in response.text and "is required" not in response.text


async def _certificate_for(province: Province, username: str, agency: str) -> str:
    ca = certgen.shared_ca()
    cert = ca.issue(f"Người dùng {username}", email=f"{username}@quangninh.gov.vn",
                    not_before=datetime.now(UTC) - timedelta(days=10), days=700)
    created, _ = await certs.import_certificate(SYSTEM, certgen.pem(cert), holder_person_id=province.users[username]["person_id"],
                                                agency_code=agency, kind="personal")
    return created["fingerprint"]


async def _account_for(client, province: Province, username: str) -> None:
    body = {"kind": "new", "system": "mail", "agency_code": CITY_FINANCE, "full_name": f"Người dùng {username}",
            "email": f"{username}@quangninh.gov.vn", "account_name": f"{username}@quangninh.gov.vn"}
    created = (await client.post("/api/v1/account-requests", json=body, headers=province.auth(username))).json()
    await client.post(f"/api/v1/account-requests/{created['id']}/approve", headers=province.auth("city_head"))
    done = await client.post(f"/api/v1/account-requests/{created['id']}/fulfil", json={}, headers=province.auth("operator"))
    assert done.json()["state"] == "fulfilled", done.text


async def test_departure_prepares_revocations_and_cancellations_and_ends_the_user(client, province) -> None:
    fingerprint = await _certificate_for(province, "city_staff", CITY_FINANCE)
    await _account_for(client, province, "city_staff")
    person_id = province.users["city_staff"]["person_id"]
    assert (await client.get("/api/v1/me", headers=province.auth("city_staff"))).status_code == 200

    bad = await client.post(f"/api/v1/people/{person_id}/departure", json={"reason": "fired", "date": "2026-11-30"},
                            headers=province.auth("city_clerk"))
    assert bad.status_code in (400, 422)
    by_staff = await client.post(f"/api/v1/people/{person_id}/departure", json={"reason": "left", "date": "2026-11-30"},
                                 headers=province.auth("city_staff"))
    assert by_staff.status_code == 403
    today = datetime.now(timezone(timedelta(hours=7))).date().isoformat()
    response = await client.post(f"/api/v1/people/{person_id}/departure", json={"reason": "left", "date": today},
                                 headers=province.auth("city_clerk"))
    assert response.status_code == 200, response.text
    prepared = response.json()["prepared"]
    assert sorted((r["domain"], r["kind"]) for r in prepared) == [("account", "cancel"), ("cert", "revoke")]
    revoke = next(r for r in prepared if r["domain"] == "cert")
    assert revoke["reason"] == "left" and revoke["target_certificate"] == fingerprint and revoke["state"] == "submitted"
    assert response.json()["person"]["left_at"] is not None
    # Each waits for the head, in the shared inbox.
    inbox = {(i["domain"], i["id"]) for i in (await client.get("/api/v1/inbox", headers=province.auth("city_head"))).json()}
    assert {(r["domain"], r["id"]) for r in prepared} <= inbox
    # The user account ended today.
    assert (await client.get("/api/v1/me", headers=province.auth("city_staff"))).status_code == 401
    again = await client.post(f"/api/v1/people/{person_id}/departure", json={"reason": "left", "date": today},
                              headers=province.auth("city_clerk"))
    assert again.status_code == 409
    assert await CertRequest.count() == 1 and await AccountRequest.count().where(AccountRequest.kind == "cancel") == 1


async def test_a_departure_ahead_of_time_ends_the_user_only_then(client, province) -> None:
    person_id = province.users["city_staff"]["person_id"]
    later = (datetime.now(timezone(timedelta(hours=7))).date() + timedelta(days=30)).isoformat()
    response = await client.post(f"/api/v1/people/{person_id}/departure", json={"reason": "retired", "date": later},
                                 headers=province.auth("city_clerk"))
    assert response.status_code == 200 and response.json()["prepared"] == []
    assert (await client.get("/api/v1/me", headers=province.auth("city_staff"))).status_code == 200


async def test_departure_from_the_person_page(client, province) -> None:
    await _certificate_for(province, "city_staff", CITY_FINANCE)
    csrf = await sign_in(client, "city_clerk")
    person_id = province.users["city_staff"]["person_id"]
    missing = await client.post(f"/people/{person_id}/departure", data={"_csrf": csrf, "reason": "", "date": ""})
    assert missing.status_code == 422 and missing.headers["content-type"].startswith("text/html")
    assert await CertRequest.count() == 0
    done = await client.post(f"/people/{person_id}/departure", data={"_csrf": csrf, "reason": "moved", "date": "2026-11-30"})
    assert done.status_code == 200 and "Hệ thống đã lập 1 yêu cầu" in done.text
    assert (await CertRequest.select(CertRequest.reason).first())["reason"] == "position_changed"
