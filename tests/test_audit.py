"""The audit log: one entry per change in the change's own transaction, a hash chain that shows any edit,
deletion or reordering, concurrent appends, and the admin's API and page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from registry import db
from registry.agencies import service as agencies
from registry.agencies.tables import RegistrySetting
from registry.audit import service as audit
from registry.audit.tables import AuditEntry, AuditHead
from registry.timeutil import now
from tests.helpers import CITY, PASSWORD, ROOT, SYSTEM, WARD, postgres_only, sign_in


async def entries_after(seq: int) -> list[dict[str, Any]]:
    rows = await AuditEntry.select().where(AuditEntry.seq > seq).order_by(AuditEntry.seq)
    for row in rows:
        row["before"] = audit.json.loads(row["before"]) if row["before"] else None
        row["after"] = audit.json.loads(row["after"]) if row["after"] else None
    return rows


async def last_seq() -> int:
    row = await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq, ascending=False).first()
    return row["seq"] if row else 0


# --- what gets written --------------------------------------------------------------------------


async def test_each_change_writes_exactly_its_entries(client, province) -> None:
    admin, clerk = province.auth("admin"), province.auth("city_clerk")
    start = await last_seq()

    created = await client.post("/api/v1/agencies", json={"code": "000.11.21.H49", "name": "UBND phường Bãi Cháy", "parent_code": CITY}, headers=admin)
    assert created.status_code == 201
    [entry] = await entries_after(start)
    assert (entry["action"], entry["actor"], entry["object_type"], entry["object_id"]) == ("agency.create", "admin", "agency", "000.11.21.H49")
    assert entry["actor_id"] == province.users["admin"]["id"]
    assert entry["before"] is None and entry["after"]["name"] == "UBND phường Bãi Cháy" and entry["after"]["parent_code"] == CITY

    start = await last_seq()
    renamed = await client.patch("/api/v1/agencies/000.11.21.H49", json={"name": "UBND phường Bãi Cháy mới", "address": "Bãi Cháy"}, headers=admin)
    assert renamed.status_code == 200
    [entry] = await entries_after(start)
    assert entry["action"] == "agency.rename"
    assert entry["before"] == {"name": "UBND phường Bãi Cháy", "address": ""}
    assert entry["after"] == {"name": "UBND phường Bãi Cháy mới", "address": "Bãi Cháy"}

    start = await last_seq()
    unchanged = await client.patch("/api/v1/agencies/000.11.21.H49", json={"address": "Bãi Cháy"}, headers=admin)
    assert unchanged.status_code == 200
    assert await entries_after(start) == []  # no change, no entry

    start = await last_seq()
    person = await client.post("/api/v1/people", json={"full_name": "Đỗ Văn Mới", "agency_code": WARD, "phone": "0912345678"}, headers=clerk)
    assert person.status_code == 201
    person_id = person.json()["id"]
    updated = await client.patch(f"/api/v1/people/{person_id}", json={"position": "Phó Chủ tịch"}, headers=clerk)
    assert updated.status_code == 200
    create_entry, update_entry = await entries_after(start)
    assert (create_entry["action"], create_entry["object_id"], create_entry["actor"]) == ("person.create", str(person_id), "city_clerk")
    assert create_entry["after"]["agency_code"] == WARD
    assert (update_entry["action"], update_entry["before"], update_entry["after"]) == (
        "person.update", {"position": ""}, {"position": "Phó Chủ tịch"},
    )

    start = await last_seq()
    csv = f"code,name,parent_code\n000.12.21.H49,UBND phường Hà Tu,{CITY}\n000.13.21.H49,UBND phường Hà Phong,{CITY}\n"
    imported = await client.post("/api/v1/agencies/import", content=csv.encode(), headers=admin)
    assert imported.status_code == 200
    assert [(e["action"], e["object_id"]) for e in await entries_after(start)] == [
        ("agency.create", "000.12.21.H49"), ("agency.create", "000.13.21.H49"),
    ]

    start = await last_seq()
    user = await client.post("/api/v1/users", json={"username": "ward.clerk", "full_name": "Vũ Thị Phường", "agency_code": WARD, "roles": ["clerk"], "password": PASSWORD}, headers=admin)
    assert user.status_code == 201
    [entry] = await entries_after(start)
    assert (entry["action"], entry["object_id"]) == ("user.create", "ward.clerk")
    assert entry["after"]["roles"] == [{"role": "clerk", "agency_code": WARD}]
    assert PASSWORD not in str(entry)

    start = await last_seq()
    token = await client.post("/api/v1/tokens", json={"name": "QLVB"}, headers=clerk)
    revoked = await client.post(f"/api/v1/tokens/{token.json()['id']}/revoke", headers=clerk)
    assert revoked.status_code == 200
    made, unmade = await entries_after(start)
    assert (made["action"], made["after"]) == ("token.create", {"token_id": token.json()["id"], "name": "QLVB"})
    assert (unmade["action"], unmade["after"]) == ("token.revoke", {"token_id": token.json()["id"]})
    assert token.json()["token"] not in str(made)

    start = await last_seq()
    csrf = await sign_in(client, "city_head")
    await client.post("/logout", data={"_csrf": csrf})
    assert [(e["action"], e["actor"], e["object_id"]) for e in await entries_after(start)] == [
        ("auth.login", "city_head", "city_head"), ("auth.logout", "city_head", "city_head"),
    ]
    assert (await audit.verify()).ok


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status"),
    [
        ("post", "/api/v1/agencies", {"code": "000.11.21.H49", "name": "X", "parent_code": CITY}, "city_head", 403),
        ("post", "/api/v1/agencies", {"code": CITY, "name": "Trùng", "parent_code": ROOT}, "admin", 409),
        ("post", "/api/v1/agencies", {"code": "000.11.21.H49", "name": "X", "parent_code": "000.99.21.H49"}, "admin", 422),
        ("patch", f"/api/v1/agencies/{CITY}", {"budget_code": "12"}, "admin", 422),
        ("post", "/api/v1/people", {"full_name": "X", "agency_code": WARD, "id_number": "123"}, "city_clerk", 422),
        ("post", "/api/v1/people", {"full_name": "X", "agency_code": "000.00.05.H49"}, "city_clerk", 403),
        ("post", "/api/v1/users", {"username": "admin", "full_name": "X", "agency_code": WARD, "roles": ["staff"], "password": PASSWORD}, "admin", 409),
        ("post", "/api/v1/agencies/import", "code,name,parent_code\n000.11.21.H49,A,000.00.21.H49\nbad,B,\n", "admin", 422),
    ],
)
async def test_refused_changes_write_no_entries(client, province, method, path, body, who, status) -> None:
    head_before = await AuditHead.select().first()
    count_before = await AuditEntry.count()
    kwargs = {"content": body.encode()} if isinstance(body, str) else {"json": body}
    response = await getattr(client, method)(path, headers=province.auth(who), **kwargs)
    assert response.status_code == status, response.text
    assert await AuditEntry.count() == count_before
    assert await AuditHead.select().first() == head_before


async def test_entries_roll_back_with_their_change(migrated: str) -> None:
    await agencies.import_csv(SYSTEM, f"code,name,parent_code\n{ROOT},UBND tỉnh,\n".encode())
    head_before = await AuditHead.select().first()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await agencies.update_agency(SYSTEM, ROOT, {"name": "Tên tạm"})
            audit.record(SYSTEM, "test.extra", "agency", ROOT, after={"n": 1})
            raise RuntimeError("the change fails after recording")
    assert await AuditEntry.count() == 1
    assert await AuditHead.select().first() == head_before
    assert (await agencies.get_agency(ROOT))["name"] == "UBND tỉnh"
    assert (await audit.verify()).ok


async def test_record_outside_a_transaction_is_a_programming_error(migrated: str) -> None:
    with pytest.raises(RuntimeError, match="inside db.transaction"):
        audit.record(SYSTEM, "test.nowhere", "thing", 1)


# --- the chain ----------------------------------------------------------------------------------


async def make_chain(length: int = 5) -> None:
    """`length` entries, one transaction each."""
    for index in range(length):
        async with db.transaction():
            audit.record(SYSTEM, "test.step", "thing", index, before={"n": index}, after={"n": index + 1, "text": "Quảng Ninh"})


async def test_an_intact_chain_verifies(migrated: str) -> None:
    assert await audit.verify() == audit.VerifyResult(True, 0)
    await make_chain(5)
    async with db.transaction():  # several entries in one transaction chain too
        for index in range(3):
            audit.record(SYSTEM, "test.batch", "thing", index)
    result = await audit.verify(batch_size=2)  # pages through the chain
    assert result.ok and result.count == 8
    rows = await AuditEntry.select().order_by(AuditEntry.seq)
    assert [row["seq"] for row in rows] == list(range(1, 9))
    assert rows[0]["prev_hash"] == ""
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(rows, rows[1:], strict=False))
    head = await AuditHead.select().first()
    assert (head["seq"], head["hash"]) == (8, rows[-1]["hash"])


async def test_an_edited_entry_is_named(migrated: str) -> None:
    await make_chain(5)
    await AuditEntry.update({AuditEntry.after: '{"n":99}'}).where(AuditEntry.seq == 3)
    result = await audit.verify()
    assert not result.ok
    assert result.problem == "entry 3 (test.step) was altered"
    assert result.count == 2


@pytest.mark.parametrize("column", ["actor", "action", "object_id", "before", "at"])
async def test_an_edit_of_any_field_is_caught(migrated: str, column: str) -> None:
    await make_chain(3)
    value: Any = now() if column == "at" else ('{"n":7}' if column == "before" else "forged")
    await AuditEntry.update({getattr(AuditEntry, column): value}).where(AuditEntry.seq == 2)
    result = await audit.verify()
    assert not result.ok and result.problem.startswith("entry 2 ")


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(migrated: str) -> None:
    await make_chain(5)
    row = await AuditEntry.select().where(AuditEntry.seq == 3).first()
    row["after"] = '{"n":99}'
    forged = audit.entry_hash(row["prev_hash"], 3, row)
    await AuditEntry.update({AuditEntry.after: row["after"], AuditEntry.hash: forged}).where(AuditEntry.seq == 3)
    result = await audit.verify()
    assert not result.ok and result.problem == "entry 4 does not follow entry 3"


async def test_a_deleted_middle_entry_is_named(migrated: str) -> None:
    await make_chain(5)
    await AuditEntry.delete().where(AuditEntry.seq == 3)
    result = await audit.verify()
    assert not result.ok and result.problem == "entry 3 is missing (next is 4)"


async def test_a_deleted_last_entry_is_caught(migrated: str) -> None:
    await make_chain(5)
    await AuditEntry.delete().where(AuditEntry.seq == 5)
    result = await audit.verify()
    assert not result.ok
    assert result.problem == "entries after 4 are missing (the chain ends at 5)"


async def test_swapped_entries_are_caught(migrated: str) -> None:
    await make_chain(5)
    # Exchange the positions of entries 2 and 3 (seq is unique: go through a free number).
    await AuditEntry.update({AuditEntry.seq: -1}).where(AuditEntry.seq == 2)
    await AuditEntry.update({AuditEntry.seq: 2}).where(AuditEntry.seq == 3)
    await AuditEntry.update({AuditEntry.seq: 3}).where(AuditEntry.seq == -1)
    result = await audit.verify()
    assert not result.ok and result.problem == "entry 2 does not follow entry 1"


async def test_renumbered_entries_are_caught(migrated: str) -> None:
    """Deleting entry 3 and renumbering the rest to close the gap still breaks the chain."""
    await make_chain(5)
    await AuditEntry.delete().where(AuditEntry.seq == 3)
    for seq in (4, 5):
        await AuditEntry.update({AuditEntry.seq: seq - 1}).where(AuditEntry.seq == seq)
    await AuditHead.update({AuditHead.seq: 4}).where(AuditHead.id == 1)
    result = await audit.verify()
    assert not result.ok and result.problem.startswith("entry 3 ")


async def test_appends_after_verification_keep_the_chain(client, province) -> None:
    assert (await audit.verify()).ok
    response = await client.post("/api/v1/agencies", json={"code": "000.11.21.H49", "name": "Phường mới", "parent_code": CITY}, headers=province.auth("operator"))
    assert response.status_code == 201
    result = await audit.verify()
    assert result.ok and result.count == await AuditEntry.count()


@postgres_only
async def test_concurrent_appends_keep_a_contiguous_chain(migrated: str) -> None:
    """Fifty transactions on their own connections, appending at the same time."""
    engine = db.current_engine()
    own_pool = engine.pool is None
    if own_pool:
        await engine.start_connection_pool(min_size=5, max_size=20)
    try:
        async def writer(index: int) -> None:
            async with db.transaction():
                await RegistrySetting.insert(RegistrySetting(key=f"concurrent-{index}", value=str(index), updated_at=now()))
                await asyncio.sleep(0)
                for part in range(3):
                    audit.record(SYSTEM, "test.concurrent", "setting", f"{index}.{part}", after={"i": index, "p": part})

        await asyncio.gather(*(writer(index) for index in range(50)))
    finally:
        if own_pool:
            await engine.close_connection_pool()
    rows = await AuditEntry.select(AuditEntry.seq, AuditEntry.object_id).order_by(AuditEntry.seq)
    assert [row["seq"] for row in rows] == list(range(1, 151))
    assert sorted(row["object_id"] for row in rows) == sorted(f"{i}.{p}" for i in range(50) for p in range(3))
    # The three entries of one transaction stay together.
    for first in range(0, 150, 3):
        assert len({rows[first + k]["object_id"].split(".")[0] for k in range(3)}) == 1
    result = await audit.verify()
    assert result.ok and result.count == 150


# --- browsing the log ---------------------------------------------------------------------------


@pytest.fixture
async def history(client, province) -> dict[str, Any]:
    """Province set-up entries, then a moment, then changes by the operator and the admin."""
    await asyncio.sleep(0.01)
    mark = now()
    await asyncio.sleep(0.01)
    for code, name in (("000.11.21.H49", "Phường Bãi Cháy"), ("000.12.21.H49", "Phường Hà Tu")):
        response = await client.post("/api/v1/agencies", json={"code": code, "name": name, "parent_code": CITY}, headers=province.auth("operator"))
        assert response.status_code == 201
    response = await client.patch("/api/v1/agencies/000.11.21.H49", json={"name": "Phường Bãi Cháy (mới)"}, headers=province.auth("admin"))
    assert response.status_code == 200
    return {"mark": mark, "total": await AuditEntry.count()}


async def api_entries(client, province, **params) -> dict[str, Any]:
    response = await client.get("/api/v1/audit", params=params, headers=province.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_api_lists_newest_first_in_vietnam_time(client, province, history) -> None:
    body = await api_entries(client, province)
    seqs = [entry["seq"] for entry in body["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == history["total"]
    assert body["next_before_seq"] is None
    newest = body["entries"][0]
    assert newest["action"] == "agency.rename" and newest["actor"] == "admin"
    assert newest["before"] == {"name": "Phường Bãi Cháy"} and newest["after"] == {"name": "Phường Bãi Cháy (mới)"}
    assert newest["at"].endswith("+07:00") and len(newest["hash"]) == 64


async def test_the_api_filters(client, province, history) -> None:
    by_action = (await api_entries(client, province, action="agency."))["entries"]
    assert by_action and all(entry["action"].startswith("agency.") for entry in by_action)
    assert {entry["action"] for entry in (await api_entries(client, province, action="user."))["entries"]} == {"user.create"}

    by_actor = (await api_entries(client, province, actor="operator"))["entries"]
    assert [entry["object_id"] for entry in by_actor] == ["000.12.21.H49", "000.11.21.H49"]

    by_object = (await api_entries(client, province, object_type="agency", object_id="000.11.21.H49"))["entries"]
    assert [entry["action"] for entry in by_object] == ["agency.rename", "agency.create"]

    mark = history["mark"]
    since = (await api_entries(client, province, since=mark.isoformat()))["entries"]
    assert [entry["actor"] for entry in since] == ["admin", "operator", "operator"]
    until = (await api_entries(client, province, until=mark.isoformat()))["entries"]
    assert len(until) == history["total"] - 3 and all(entry["actor"] == "tests" for entry in until)
    # Without an offset a bound is Vietnam time.
    naive = mark.replace(tzinfo=None).isoformat()
    assert len((await api_entries(client, province, since=naive))["entries"]) == 3

    combined = (await api_entries(client, province, action="agency.create", actor="operator", since=mark.isoformat()))["entries"]
    assert len(combined) == 2
    assert (await api_entries(client, province, actor="nobody"))["entries"] == []


async def test_the_api_pages_with_before_seq(client, province, history) -> None:
    seen: list[int] = []
    before_seq = None
    for _page in range(100):
        params: dict[str, Any] = {"limit": 4}
        if before_seq is not None:
            params["before_seq"] = before_seq
        body = await api_entries(client, province, **params)
        assert len(body["entries"]) <= 4
        seen.extend(entry["seq"] for entry in body["entries"])
        before_seq = body["next_before_seq"]
        if before_seq is None:
            break
    assert seen == list(range(history["total"], 0, -1))


async def test_bad_filters_are_422(client, province) -> None:
    for params in ({"since": "yesterday"}, {"limit": 0}, {"limit": 501}, {"before_seq": "x"}):
        response = await client.get("/api/v1/audit", params=params, headers=province.auth("admin"))
        assert response.status_code == 422, params
        assert response.json()["errors"]


@pytest.mark.parametrize("username", ["operator", "city_head", "city_clerk", "city_staff", "province_head"])
async def test_only_admins_read_the_log(client, province, username: str) -> None:
    response = await client.get("/api/v1/audit", headers=province.auth(username))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    await sign_in(client, username)
    page = await client.get("/admin/audit")
    assert page.status_code == 403 and "Không có quyền" in page.text
    assert 'href="/admin/audit"' not in page.text  # not in their menu either


async def test_the_log_needs_credentials(client, province) -> None:
    assert (await client.get("/api/v1/audit")).status_code == 401
    page = await client.get("/admin/audit")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/admin/audit"


async def test_the_admin_page_shows_and_filters(client, province, history) -> None:
    await sign_in(client, "admin")
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    assert "Nhật ký thay đổi" in page.text and 'href="/admin/audit"' in page.text
    # Vietnamese action names, and what changed field by field (issue 8, points 11 and 12).
    assert "Đổi tên cơ quan, đơn vị" in page.text and "Phường Bãi Cháy (mới)" in page.text
    assert "agency.rename" not in page.text and '<th scope="row" data-label="Thông tin">Tên</th>' in page.text
    filtered = await client.get("/admin/audit", params={"action": "user.", "actor": "tests"})
    assert filtered.status_code == 200
    assert "Tạo tài khoản đăng nhập" in filtered.text and "Đổi tên cơ quan, đơn vị" not in filtered.text
    assert 'value="user."' in filtered.text  # the filter stays in the form
    today = now().date().isoformat()
    dated = await client.get("/admin/audit", params={"since": today, "until": today, "actor": "operator"})
    assert dated.status_code == 200 and "000.12.21.H49" in dated.text
    none = await client.get("/admin/audit", params={"actor": "nobody"})
    assert "Không có bản ghi phù hợp." in none.text
    bad = await client.get("/admin/audit", params={"since": "24/11/2026"})
    assert bad.status_code == 422 and "Từ: Nhập ngày theo dạng năm-tháng-ngày." in bad.text


async def test_the_admin_page_pages(client, province, history) -> None:
    from registry.audit import pages

    await sign_in(client, "admin")
    async with db.transaction():
        for index in range(pages.PAGE_SIZE):
            audit.record(SYSTEM, "test.bulk", "thing", index)
    first = await client.get("/admin/audit", params={"action": "test."})
    assert first.text.count('<li class="panel audit-entry">') == pages.PAGE_SIZE
    assert "Trang sau" in first.text
    link = first.text.split('class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "action=test." in link  # the filters stay
    second = await client.get(link)
    assert second.status_code == 200 and "audit-entry" not in second.text
    assert "Không có bản ghi phù hợp." in second.text
