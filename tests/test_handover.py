"""Handing over what the CA returned (issue 9, point 3): printable minutes per unit, the unit confirms
receipt (delivered), records handing to the holder; a revoked certificate's token is due back in five
working days and its return is recorded."""

from __future__ import annotations

from datetime import date

from registry.auth import service as auth
from registry.certs.requests import CERT_FLOW, add_working_days
from registry.timeutil import today
from registry.workflow import engine
from tests.helpers import CITY_FINANCE, approved_revocation, new_personal, sign_in
from tests.helpers import approved_cert_request as approved


def test_working_days_skip_weekends() -> None:
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 5) == date(2026, 12, 4)
    assert add_working_days(date(2026, 11, 30), 5) == date(2026, 12, 7)


async def _fulfilled_batch(client, province, ca) -> tuple[int, int, int]:
    new = await approved(client, province, new_personal())
    revoke = await approved_revocation(client, province, ca)
    batch = (await client.post("/api/v1/batches", json={"request_ids": [new, revoke]}, headers=province.auth("operator"))).json()
    await client.post(f"/api/v1/batches/{batch['id']}/sent", json={"dispatch_no": "9/SKHCN"}, headers=province.auth("operator"))
    operator = await auth.load_principal((await auth.find_user("operator"))["id"], via="token")
    for request_id in (new, revoke):
        await engine.take(operator, CERT_FLOW, request_id, "fulfil")
    return batch["id"], new, revoke


async def test_the_unit_confirms_receipt_and_hands_over(client, province, ca) -> None:
    batch_id, new, revoke = await _fulfilled_batch(client, province, ca)
    record = (await client.get(f"/api/v1/cert-requests/{revoke}", headers=province.auth("operator"))).json()
    assert record["token_return_due"] == add_working_days(today(), 5).isoformat()

    lists = (await client.get("/api/v1/handover", headers=province.auth("city_clerk"))).json()
    assert {r["id"] for r in lists["awaiting_receipt"]} == {new, revoke}
    assert [r["id"] for r in lists["tokens_to_return"]] == [revoke]
    assert (await client.get("/api/v1/handover", headers=province.auth("ward_head"))).json()["awaiting_receipt"] == []

    by_staff = await client.post("/api/v1/handover/receipts", json={"request_ids": [new]}, headers=province.auth("city_staff"))
    assert by_staff.status_code in (403, 404)
    by_operator = await client.post("/api/v1/handover/receipts", json={"request_ids": [new]}, headers=province.auth("operator"))
    assert by_operator.status_code == 403
    confirmed = await client.post("/api/v1/handover/receipts", json={"request_ids": [new, revoke]},
                                  headers=province.auth("city_clerk"))
    assert confirmed.status_code == 200, confirmed.text
    assert {r["state"] for r in confirmed.json()} == {"delivered"}
    again = await client.post("/api/v1/handover/receipts", json={"request_ids": [new]}, headers=province.auth("city_clerk"))
    assert again.status_code == 409

    future = await client.post(f"/api/v1/handover/{new}/holder", json={"date": "2999-01-01"}, headers=province.auth("city_clerk"))
    assert future.status_code == 422
    handed = await client.post(f"/api/v1/handover/{new}/holder", json={}, headers=province.auth("city_clerk"))
    assert handed.status_code == 200 and handed.json()["handed_to_holder_at"]
    twice = await client.post(f"/api/v1/handover/{new}/holder", json={}, headers=province.auth("city_clerk"))
    assert twice.status_code == 409
    not_a_token = await client.post(f"/api/v1/handover/{revoke}/holder", json={}, headers=province.auth("city_clerk"))
    assert not_a_token.status_code == 409

    by_clerk = await client.post(f"/api/v1/handover/{revoke}/token-returned", json={}, headers=province.auth("city_clerk"))
    assert by_clerk.status_code == 403
    returned = await client.post(f"/api/v1/handover/{revoke}/token-returned", json={}, headers=province.auth("operator"))
    assert returned.status_code == 200 and returned.json()["token_returned_at"]
    assert (await client.get("/api/v1/handover", headers=province.auth("city_clerk"))).json()["tokens_to_return"] == []


async def test_printable_minutes_per_unit(client, province, ca) -> None:
    batch_id, new, revoke = await _fulfilled_batch(client, province, ca)
    await sign_in(client, "operator")
    detail = await client.get(f"/batches/{batch_id}")
    assert f"/batches/{batch_id}/handover/{CITY_FINANCE}" in detail.text
    minutes = await client.get(f"/batches/{batch_id}/handover/{CITY_FINANCE}")
    assert minutes.status_code == 200
    assert "BIÊN BẢN BÀN GIAO" in minutes.text and "Nguyễn Thị Lan" in minutes.text and "9/SKHCN" in minutes.text
    assert "Trả thiết bị trước ngày" in minutes.text
    nothing = await client.get(f"/batches/{batch_id}/handover/000.10.21.H49")
    assert nothing.status_code == 404


async def test_the_unit_confirms_from_its_page(client, province, ca) -> None:
    _batch_id, new, revoke = await _fulfilled_batch(client, province, ca)
    csrf = await sign_in(client, "city_clerk")
    page = await client.get("/handover")
    assert page.status_code == 200 and f'value="{new}"' in page.text and "Hạn trả" in page.text
    done = await client.post("/handover/receipts", data={"_csrf": csrf, "selected": [str(new), str(revoke)]})
    assert done.status_code == 200 and "Đã xác nhận nhận bàn giao 2 yêu cầu" in done.text
    holder = await client.post(f"/handover/{new}/holder", data={"_csrf": csrf, "date": ""})
    assert holder.status_code == 200 and "Đã ghi nhận giao" in holder.text
