"""DoIT's batches to the CA (issue 9, point 1): approved requests into a batch (one batch each, taken out
before sending), exports in the CA's forms (XLSX a sheet per form, CSV that Excel reads, JSON) with a
manifest of SHA-256 digests, no cell a formula, and the batch marked sent with its files kept."""

from __future__ import annotations

import csv
import hashlib
import io

from openpyxl import load_workbook

from registry.batches.tables import Batch, BatchFile
from registry.certs.tables import CertRequest
from tests.helpers import approved_cert_request as approved
from tests.helpers import approved_revocation, new_personal, sign_in


async def test_operator_batches_exports_and_sends(client, province, ca) -> None:
    hostile = await approved(client, province, new_personal(full_name="=cmd|' /C calc'!A0", id_number="022188009999",
                                                             position="+SUM(1,2)"))
    ordinary = await approved(client, province, new_personal())
    urgent = await approved_revocation(client, province, ca)

    queue = (await client.get("/api/v1/cert-requests?state=approved", headers=province.auth("operator"))).json()
    assert [r["id"] for r in queue][0] == urgent  # urgent first
    refused = await client.post("/api/v1/batches", json={"request_ids": [ordinary]}, headers=province.auth("city_head"))
    assert refused.status_code == 403

    created = await client.post("/api/v1/batches", json={"request_ids": [hostile, ordinary, urgent]},
                                headers=province.auth("operator"))
    assert created.status_code == 201, created.text
    batch = created.json()
    assert batch["state"] == "draft" and len(batch["requests"]) == 3
    assert {r["state"] for r in batch["requests"]} == {"batched"}
    # One batch each.
    twice = await client.post("/api/v1/batches", json={"request_ids": [ordinary]}, headers=province.auth("operator"))
    assert twice.status_code == 409
    assert await Batch.count() == 1

    # Taken out before sending: approved again, ready for another batch.
    removed = await client.post(f"/api/v1/batches/{batch['id']}/requests/{ordinary}/remove", headers=province.auth("operator"))
    assert removed.status_code == 200 and len(removed.json()["requests"]) == 2
    assert (await CertRequest.select(CertRequest.state, CertRequest.batch_id).where(CertRequest.id == ordinary).first()) == {
        "state": "approved", "batch_id": None}
    added = await client.post(f"/api/v1/batches/{batch['id']}/requests", json={"request_ids": [ordinary]},
                              headers=province.auth("operator"))
    assert added.status_code == 200 and len(added.json()["requests"]) == 3

    xlsx = await client.get(f"/api/v1/batches/{batch['id']}/export?format=xlsx", headers=province.auth("operator"))
    assert xlsx.status_code == 200
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames == ["Mẫu 01 - Cấp mới cá nhân", "Mẫu 05 - Thu hồi"]
    sheet = workbook["Mẫu 01 - Cấp mới cá nhân"]
    headers = [c.value for c in sheet[1]]
    rows = [{headers[i]: c.value for i, c in enumerate(row)} for row in sheet.iter_rows(min_row=2)]
    names = {r["Họ và tên"] for r in rows}
    assert "Nguyễn Thị Lan" in names and "'=cmd|' /C calc'!A0" in names
    assert any(r["Chức vụ"] == "'+SUM(1,2)" for r in rows)
    assert {r["Số CCCD"] for r in rows} == {"022188001234", "022188009999"}
    assert all(cell.data_type != "f" for ws in workbook.worksheets for row in ws.iter_rows() for cell in row)
    revoke_row = [c.value for c in workbook["Mẫu 05 - Thu hồi"][2]]
    assert "Mất hoặc hỏng thiết bị lưu khóa" in revoke_row and "Khẩn" in revoke_row

    csv_response = await client.get(f"/api/v1/batches/{batch['id']}/export?format=csv", headers=province.auth("operator"))
    text = csv_response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    records = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["Mẫu"] for r in records} == {"Mẫu 01 - Cấp mới cá nhân", "Mẫu 05 - Thu hồi"}
    assert all(not (v or "").startswith(("=", "+", "-", "@")) for r in records for v in r.values())
    as_json = (await client.get(f"/api/v1/batches/{batch['id']}/export?format=json", headers=province.auth("operator"))).json()
    assert len(as_json["requests"]) == 3

    # Sent: its files are frozen, and the manifest names their SHA-256.
    bad = await client.post(f"/api/v1/batches/{batch['id']}/sent", json={"dispatch_no": ""}, headers=province.auth("operator"))
    assert bad.status_code == 422
    sent = await client.post(f"/api/v1/batches/{batch['id']}/sent", json={"dispatch_no": "123/STTTT-CĐS"},
                             headers=province.auth("operator"))
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "sent" and sent.json()["dispatch_no"] == "123/STTTT-CĐS"
    assert {r["state"] for r in sent.json()["requests"]} == {"sent"}
    manifest = (await client.get(f"/api/v1/batches/{batch['id']}/export?format=manifest", headers=province.auth("operator"))).json()
    for entry in manifest["files"]:
        fmt = entry["name"].rsplit(".", 1)[1]
        content = (await client.get(f"/api/v1/batches/{batch['id']}/export?format={fmt}", headers=province.auth("operator"))).content
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["name"]
    assert await BatchFile.count() == 4
    again = await client.post(f"/api/v1/batches/{batch['id']}/sent", json={"dispatch_no": "x"}, headers=province.auth("operator"))
    assert again.status_code == 409
    late = await client.post(f"/api/v1/batches/{batch['id']}/requests/{ordinary}/remove", headers=province.auth("operator"))
    assert late.status_code == 409


async def test_bad_lists_change_nothing(client, province) -> None:
    good = await approved(client, province, new_personal())
    waiting = (await client.post("/api/v1/cert-requests", json=new_personal(id_number="022188005555"),
                                 headers=province.auth("city_clerk"))).json()["id"]
    for body in ({"request_ids": []}, {"request_ids": [good, good]}, {"request_ids": [good, waiting]},
                 {"request_ids": [good, 99999]}, {"request_ids": ["x"]}, {"request_ids": [2**40]}):
        response = await client.post("/api/v1/batches", json=body, headers=province.auth("operator"))
        assert 400 <= response.status_code < 500, (body, response.text)
    assert await Batch.count() == 0
    assert (await CertRequest.select(CertRequest.state).where(CertRequest.id == good).first())["state"] == "approved"


async def test_operator_pages(client, province) -> None:
    first = await approved(client, province, new_personal())
    csrf = await sign_in(client, "operator")
    page = await client.get("/batches")
    assert page.status_code == 200 and f'value="{first}"' in page.text and "Mẫu 01" in page.text
    nothing = await client.post("/batches", data={"_csrf": csrf})
    assert nothing.status_code == 422 and nothing.headers["content-type"].startswith("text/html")
    created = await client.post("/batches", data={"_csrf": csrf, "selected": [str(first)]})
    assert created.status_code == 303
    detail = await client.get(created.headers["location"])
    assert "Đang lập" in detail.text and "Nguyễn Thị Lan" in detail.text
    batch_id = int(created.headers["location"].rsplit("/", 1)[1])
    no_number = await client.post(f"/batches/{batch_id}/sent", data={"_csrf": csrf, "dispatch_no": ""})
    assert no_number.status_code == 422 and "text/html" in no_number.headers["content-type"]
    sent = await client.post(f"/batches/{batch_id}/sent", data={"_csrf": csrf, "dispatch_no": "45/SKHCN"})
    assert sent.status_code == 303
    assert "Đã gửi CA" in (await client.get(f"/batches/{batch_id}")).text
    client.cookies.clear()
    await sign_in(client, "city_head")
    assert (await client.get("/batches")).status_code == 403
