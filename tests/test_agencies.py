"""The agency tree: codes, parents, renames with history, CSV import, API and pages."""

from __future__ import annotations

import pytest

from registry.agencies import service
from registry.agencies.codes import parse_code
from registry.agencies.tables import Agency, AgencyName
from registry.audit.tables import AuditEntry
from registry.errors import Invalid
from tests.helpers import CITY, DOIT, ROOT, SYSTEM, WARD


@pytest.mark.parametrize(
    ("code", "level"),
    [("000.00.00.H49", 1), ("000.00.05.H49", 2), ("000.10.21.H49", 3), ("001.10.21.H49", 4), ("000.00.00.h49", 1)],
)
def test_codes_parse_with_their_level(code: str, level: int) -> None:
    assert parse_code(code).level == level
    assert parse_code(code).text == code.upper()


@pytest.mark.parametrize("code", ["", "H49", "000.00.00.49", "00.00.00.H49", "000.00.00.H4", "000-00-00-H49", "000.0A.00.H49"])
def test_malformed_codes_are_rejected(code: str) -> None:
    with pytest.raises(Invalid, match="malformed agency code"):
        parse_code(code)


async def test_create_and_read_through_the_api(client, province) -> None:
    response = await client.post(
        "/api/v1/agencies",
        json={"code": "000.00.07.H49", "name": "Sở Xây dựng", "parent_code": ROOT, "budget_code": "1234567"},
        headers=province.auth("admin"),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == "000.00.07.H49" and created["parent_code"] == ROOT and created["level"] == 2
    assert created["created_at"].endswith("+07:00")

    fetched = await client.get("/api/v1/agencies/000.00.07.H49", headers=province.auth("city_staff"))
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "Sở Xây dựng"
    assert fetched.json()["names"][0]["valid_to"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"code": "bad", "name": "X", "parent_code": ROOT}, 422, "code"),
        ({"code": "000.00.07.H49", "name": "X", "parent_code": "000.00.99.H49"}, 422, "parent_code"),
        ({"code": "000.00.07.H22", "name": "X", "parent_code": ROOT}, 422, "code"),
        ({"code": "000.00.07.H49", "name": "", "parent_code": ROOT}, 422, "name"),
        ({"code": "000.00.07.H49", "name": "X", "parent_code": ROOT, "budget_code": "12"}, 422, "budget_code"),
        ({"code": "000.00.07.H49", "name": "X", "parent_code": ROOT, "email": "nope"}, 422, "email"),
        ({"code": CITY, "name": "Trùng mã", "parent_code": ROOT}, 409, None),
        ({"code": "000.00.07.H49", "parent_code": ROOT}, 422, "name"),
    ],
)
async def test_bad_agencies_are_refused_and_nothing_is_written(client, province, body, status, field) -> None:
    agencies_before, audit_before = await Agency.count(), await AuditEntry.count()
    response = await client.post("/api/v1/agencies", json=body, headers=province.auth("admin"))
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["detail"]
    if field:
        assert field in [error["field"] for error in problem["errors"]]
    assert await Agency.count() == agencies_before
    assert await AuditEntry.count() == audit_before


async def test_roles_and_scope_decide_who_creates(client, province) -> None:
    body = {"code": "000.11.21.H49", "name": "UBND phường Bãi Cháy", "parent_code": CITY}
    for username in ("city_head", "city_clerk", "city_staff"):
        response = await client.post("/api/v1/agencies", json=body, headers=province.auth(username))
        assert response.status_code == 403, username
    no_credentials = await client.post("/api/v1/agencies", json=body)
    assert no_credentials.status_code == 401
    created = await client.post("/api/v1/agencies", json=body, headers=province.auth("operator"))
    assert created.status_code == 201


async def test_rename_keeps_the_old_name_with_its_dates(client, province) -> None:
    response = await client.patch(
        f"/api/v1/agencies/{DOIT}", json={"name": "Sở Khoa học, Công nghệ và Chuyển đổi số"}, headers=province.auth("admin")
    )
    assert response.status_code == 200, response.text
    names = response.json()["names"]
    assert [n["name"] for n in names] == ["Sở Khoa học và Công nghệ", "Sở Khoa học, Công nghệ và Chuyển đổi số"]
    assert names[0]["valid_to"] == names[1]["valid_from"]
    assert names[1]["valid_to"] is None
    entry = await AuditEntry.select().where(AuditEntry.action == "agency.rename").first()
    assert entry is not None and "Sở Khoa học và Công nghệ" in entry["before"]


async def test_unknown_fields_cannot_be_patched(client, province) -> None:
    response = await client.patch(f"/api/v1/agencies/{CITY}", json={"code": "000.00.99.H49"}, headers=province.auth("admin"))
    assert response.status_code == 422
    assert await AgencyName.count().where(AgencyName.valid_to.is_not_null()) == 0


async def test_search_ignores_case_and_diacritics(client, province) -> None:
    response = await client.get("/api/v1/agencies", params={"q": "ha long"}, headers=province.auth("city_staff"))
    codes = [agency["code"] for agency in response.json()]
    assert CITY in codes and ROOT not in codes
    page = await client.get("/agencies", params={"q": "HONG GAI"})
    assert "Ủy ban nhân dân phường Hồng Gai" in page.text


async def test_tree_page_lists_every_agency_in_order(client, province) -> None:
    page = await client.get("/agencies")
    assert page.status_code == 200
    text = page.text
    assert text.index("Ủy ban nhân dân tỉnh Quảng Ninh") < text.index("Ủy ban nhân dân thành phố Hạ Long") < text.index(
        "Ủy ban nhân dân phường Hồng Gai"
    )


async def test_agency_page_shows_children(client, province) -> None:
    page = await client.get(f"/agencies/{CITY}")
    assert page.status_code == 200
    assert WARD in page.text and "Đơn vị trực thuộc" in page.text


# --- CSV import -------------------------------------------------------------------------------


async def test_import_creates_parents_before_children_in_any_order(migrated: str) -> None:
    csv = (
        "code,name,parent_code\n"
        "000.01.05.H49,Phòng Ngân sách,000.00.05.H49\n"
        "000.00.05.H49,Sở Tài chính,000.00.00.H49\n"
        "000.00.00.H49,UBND tỉnh Quảng Ninh,\n"
    )
    summary = await service.import_csv(SYSTEM, csv.encode())
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    child = await service.get_agency("000.01.05.H49")
    assert child["parent_code"] == "000.00.05.H49"
    again = await service.import_csv(SYSTEM, csv.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


async def test_import_is_all_or_nothing_and_names_every_error(migrated: str) -> None:
    csv = (
        "code,name,parent_code\n"
        "000.00.00.H49,UBND tỉnh,\n"
        "000.00.05.H49,Sở Tài chính,000.00.00.H49\n"
        "000.00.0X.H49,Mã hỏng,000.00.00.H49\n"
        "000.00.06.H49,Cha không có,000.00.77.H49\n"
        "000.00.08.H49,,000.00.00.H49\n"
    )
    with pytest.raises(Invalid) as raised:
        await service.import_csv(SYSTEM, csv.encode())
    message = str(raised.value)
    assert "line 4 code" in message
    assert "line 5 parent_code: unknown agency 000.00.77.H49" in message
    assert "line 6 name" in message
    assert await Agency.count() == 0
    assert await AuditEntry.count() == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"name,code\nX,000.00.00.H49\n", "header lacks parent_code"),
        (b"code,name,parent_code\n", "no agency rows"),
        ("code,name,parent_code\n000.00.00.H49,Tỉnh,\n".encode("utf-16"), "not UTF-8"),
        (b'code,name,parent_code\n000.00.00.H49,"unterminated,\n', "line"),
        (b"code,name,parent_code\n000.00.00.H49,A,,extra\n", "more values than header"),
        (b"code,name,parent_code\n000.00.00.H49,A,\n000.00.00.H49,B,\n", "duplicate of line 2"),
        (b"code,name,parent_code\n000.00.01.H49,A,000.00.02.H49\n000.00.02.H49,B,000.00.01.H49\n", "cycle"),
    ],
)
async def test_broken_files_are_rejected(migrated: str, content: bytes, fragment: str) -> None:
    with pytest.raises(Invalid, match=fragment):
        await service.import_csv(SYSTEM, content)
    assert await Agency.count() == 0


async def test_import_renames_existing_agencies_and_refuses_moves(migrated: str) -> None:
    await service.import_csv(SYSTEM, "code,name,parent_code\n000.00.00.H49,Tỉnh,\n000.00.05.H49,Sở TC,000.00.00.H49\n000.00.06.H49,Sở KH,000.00.00.H49\n".encode())
    renamed = await service.import_csv(SYSTEM, "code,name,parent_code\n000.00.05.H49,Sở Tài chính,000.00.00.H49\n".encode())
    assert renamed.updated == 1
    assert len((await service.get_agency("000.00.05.H49"))["names"]) == 2
    with pytest.raises(Invalid, match="reorganisation"):
        await service.import_csv(SYSTEM, "code,name,parent_code\n000.01.05.H49,Phòng,000.00.05.H49\n000.00.05.H49,Sở Tài chính,000.00.06.H49\n".encode())
    assert await Agency.count() == 3


async def test_api_import_stays_inside_the_operators_province(client, province) -> None:
    csv = "code,name,parent_code\n000.00.00.H22,Tỉnh khác,\n"
    response = await client.post("/api/v1/agencies/import", content=csv.encode(), headers=province.auth("operator"))
    assert response.status_code == 422
    assert "only the command line creates a root" in response.json()["detail"]
    ok = await client.post(
        "/api/v1/agencies/import",
        files={"file": ("a.csv", "code,name,parent_code\n000.00.09.H49,Sở Y tế,000.00.00.H49\n".encode(), "text/csv")},
        headers=province.auth("operator"),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["created"] == 1


async def test_the_agency_pages_queries_built_once_answer_as_the_query_builder_does(client, province) -> None:
    """The agency page's parents, children and names come from queries built once (compiled.py) or written
    as plain SQL: the same rows, in the same order, as the query builder's own queries give."""
    renamed = await client.patch(f"/api/v1/agencies/{CITY}", json={"name": "Ủy ban nhân dân thành phố Hạ Long mới"},
                                 headers=province.auth("admin"))
    assert renamed.status_code == 200, renamed.text
    for code in (ROOT, CITY, WARD, DOIT):
        row = await service.find_row(code)
        assert row is not None
        children = await service.children_of(row, limit=1)
        assert children == (await service.agencies_page(parent_id=row["id"], limit=1)).items
        assert await service.children_of(row) == (await service.agencies_page(parent_id=row["id"])).items
        ids = [int(part) for part in row["path"].strip("/").split("/")[:-1]]
        expected_parents = await Agency.select(Agency.code, Agency.name).where(Agency.id.is_in(ids or [0])).order_by(
            Agency.depth)
        assert await service.ancestors_of(row) == expected_parents
        names = await AgencyName.select().where(AgencyName.agency == row["id"]).order_by(AgencyName.valid_from)
        assert (await service.agency_with_names(row))["names"] == service.agency_json(row, names)["names"]
    city = await service.find_row(CITY)
    assert [child["code"] for child in await service.children_of(city)] == ["000.02.21.H49", WARD]
    assert [parent["code"] for parent in await service.ancestors_of(await service.find_row(WARD))] == [ROOT, CITY]
    assert [name["name"] for name in (await service.agency_with_names(city))["names"]][-1] == (
        "Ủy ban nhân dân thành phố Hạ Long mới")
