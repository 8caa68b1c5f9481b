"""People: restricted personal data (Decree 13/2023) only for the person and those in scope who
approve or file for them; validation of citizen IDs, birth dates and phone numbers."""

from __future__ import annotations

from datetime import date

import pytest

from registry.audit.tables import AuditEntry
from registry.auth import service as auth_service
from registry.auth.principal import system_principal
from registry.people.service import RESTRICTED_FIELDS
from registry.people.tables import Person
from registry.timeutil import today
from tests.helpers import CITY, CITY_FINANCE, WARD, sign_in

PERSONAL = {"id_number": "022190001234", "date_of_birth": "1985-04-30", "phone": "0912345678"}


@pytest.fixture
async def staff_person(client, province) -> int:
    """city_staff's own person record, with restricted data filled in by the city's clerk."""
    person_id = province.person_id("city_staff")
    response = await client.patch(f"/api/v1/people/{person_id}", json=PERSONAL, headers=province.auth("city_clerk"))
    assert response.status_code == 200, response.text
    return person_id


# Who sees city_staff's record (their agency is the city's finance office, under the city).
SEES_RESTRICTED = ["city_staff", "city_clerk", "city_head", "operator", "admin", "province_head"]
# Heads of other branches: the person is outside their scope, so does not exist for them.
OUT_OF_SCOPE = ["ward_head", "finance_head"]


@pytest.mark.parametrize("viewer", SEES_RESTRICTED)
async def test_restricted_fields_for_the_person_and_those_in_scope(client, province, staff_person, viewer) -> None:
    response = await client.get(f"/api/v1/people/{staff_person}", headers=province.auth(viewer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert {name: body[name] for name in RESTRICTED_FIELDS} == PERSONAL
    assert body["agency_code"] == CITY_FINANCE


@pytest.mark.parametrize("viewer", OUT_OF_SCOPE)
async def test_others_get_nothing(client, province, staff_person, viewer) -> None:
    response = await client.get(f"/api/v1/people/{staff_person}", headers=province.auth(viewer))
    assert response.status_code == 404
    text = response.text
    assert all(value not in text for value in PERSONAL.values())
    listed = await client.get("/api/v1/people", headers=province.auth(viewer))
    assert listed.status_code == 200
    assert staff_person not in [person["id"] for person in listed.json()]


async def test_lists_carry_restricted_fields_only_where_allowed(client, province, staff_person) -> None:
    listed = await client.get("/api/v1/people", params={"agency": CITY}, headers=province.auth("city_head"))
    assert listed.status_code == 200
    mine = [person for person in listed.json() if person["id"] == staff_person]
    assert len(mine) == 1 and mine[0]["id_number"] == PERSONAL["id_number"]
    for person in listed.json():
        assert set(RESTRICTED_FIELDS) <= set(person)


async def test_a_colleague_without_an_approving_role_sees_nothing(client, province, staff_person) -> None:
    """Another staff member of the same office: not even the person's existence, let alone the data."""
    created = await client.post(
        "/api/v1/users",
        json={"username": "colleague", "full_name": "Bạn Cùng Phòng", "agency_code": CITY_FINANCE,
              "roles": ["staff"], "password": "correct horse battery"},
        headers=province.auth("admin"),
    )
    assert created.status_code == 201
    # Admins mint tokens only for themselves; the installation's operator (as `registry token create`) may.
    token, _row = await auth_service.create_token(system_principal("tests"), "colleague", name="x")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/v1/people/{staff_person}", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/people", headers=headers)).status_code == 403
    own = await client.get(f"/api/v1/people/{created.json()['person_id']}", headers=headers)
    assert own.status_code == 200 and set(RESTRICTED_FIELDS) <= set(own.json())


async def test_public_pages_never_show_personal_data(client, province, staff_person) -> None:
    for path in ("/", f"/agencies/{CITY_FINANCE}", "/agencies", "/?q=tai chinh"):
        page = await client.get(path)
        assert page.status_code == 200
        assert all(value not in page.text for value in PERSONAL.values()), path
    await sign_in(client, "city_staff")
    me = await client.get("/me")
    assert PERSONAL["id_number"] not in me.text  # the account page shows no restricted data either


async def test_restricted_values_are_stored_normalised(client, province) -> None:
    response = await client.post(
        "/api/v1/people",
        json={"full_name": "  Trịnh   Văn  An ", "agency_code": WARD, "id_number": " 022190001235 ",
              "date_of_birth": "1990-01-02", "phone": "+84 912.345.679", "email": "An.TV@QuangNinh.gov.vn"},
        headers=province.auth("city_clerk"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["full_name"], body["id_number"], body["date_of_birth"], body["phone"], body["email"]) == (
        "Trịnh Văn An", "022190001235", "1990-01-02", "0912345679", "an.tv@quangninh.gov.vn",
    )
    row = await Person.select().where(Person.id == body["id"]).first()
    assert row["date_of_birth"] == date(1990, 1, 2) and row["search_key"] == "trinh van an"


# --- validation ---------------------------------------------------------------------------------


def years_ago(years: int) -> str:
    current = today()
    return current.replace(year=current.year - years, day=min(current.day, 28)).isoformat()


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"id_number": "12345"}, {"id_number"}),
        ({"id_number": "0221900012345"}, {"id_number"}),
        ({"id_number": "02219000123A"}, {"id_number"}),
        ({"date_of_birth": "30/04/1985"}, {"date_of_birth"}),
        ({"date_of_birth": "1985-02-30"}, {"date_of_birth"}),
        ({"date_of_birth": years_ago(10)}, {"date_of_birth"}),
        ({"date_of_birth": years_ago(101)}, {"date_of_birth"}),
        ({"date_of_birth": "2999-01-01"}, {"date_of_birth"}),
        ({"phone": "12345"}, {"phone"}),
        ({"phone": "091234567"}, {"phone"}),
        ({"phone": "1912345678"}, {"phone"}),
        ({"email": "not-an-address"}, {"email"}),
        ({"full_name": ""}, {"full_name"}),
        ({"id_number": "1", "date_of_birth": "x", "phone": "y"}, {"id_number", "date_of_birth", "phone"}),
    ],
)
async def test_invalid_personal_data_is_422_naming_the_fields(client, province, changes, fields) -> None:
    audit_before, people_before = await AuditEntry.count(), await Person.count()
    created = await client.post(
        "/api/v1/people", json={"full_name": "Người Thử", "agency_code": WARD, **changes}, headers=province.auth("city_clerk")
    )
    assert created.status_code == 422, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert {error["field"] for error in created.json()["errors"]} == fields
    assert all(field in created.json()["detail"] for field in fields)

    person_id = province.person_id("city_staff")
    before = await Person.select().where(Person.id == person_id).first()
    updated = await client.patch(f"/api/v1/people/{person_id}", json=changes, headers=province.auth("city_clerk"))
    assert updated.status_code == 422
    assert {error["field"] for error in updated.json()["errors"]} == fields
    assert await Person.select().where(Person.id == person_id).first() == before
    assert (await AuditEntry.count(), await Person.count()) == (audit_before, people_before)


@pytest.mark.parametrize("birth", [years_ago(16), years_ago(99), "1970-12-31"])
async def test_plausible_birth_dates_pass(client, province, birth: str) -> None:
    response = await client.post(
        "/api/v1/people", json={"full_name": "Người Thử", "agency_code": WARD, "date_of_birth": birth},
        headers=province.auth("city_clerk"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["date_of_birth"] == birth


async def test_other_fields_cannot_be_patched(client, province) -> None:
    person_id = province.person_id("city_staff")
    response = await client.patch(f"/api/v1/people/{person_id}", json={"agency_code": WARD, "id": 5}, headers=province.auth("admin"))
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"agency_code", "id"}


async def test_unknown_agency_is_422(client, province) -> None:
    for code in ("000.99.21.H49", "", None):
        response = await client.post("/api/v1/people", json={"full_name": "X", "agency_code": code}, headers=province.auth("admin"))
        assert response.status_code == 422, code
        assert "agency_code" in [error["field"] for error in response.json()["errors"]]
    assert await Person.count() == len(province.users)
