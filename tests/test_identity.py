"""A person is one person across the province (issue 8, point 1): citizen IDs are unique, a request's
subject is that one person, and a head never decides a request about someone who is, or cannot be told
apart from, themselves — whichever person record the request names."""

from __future__ import annotations

from typing import Any

from registry.people import service as people
from tests.helpers import CITY, CITY_FINANCE, SYSTEM, Province, recorded_queries

HEAD_ID_NUMBER = "022175009999"


def new_personal(agency: str, full_name: str, id_number: str, date_of_birth: str = "1975-03-02") -> dict[str, Any]:
    return {
        "kind": "new_personal", "agency_code": agency, "full_name": full_name, "date_of_birth": date_of_birth,
        "id_number": id_number, "id_issued_on": "2021-06-01", "id_issued_by": "Cục Cảnh sát QLHC về TTXH",
        "email": "someone@quangninh.gov.vn", "position": "Chủ tịch", "phone": "0912345678",
    }


async def file(client, province: Province, body: dict[str, Any]) -> Any:
    return await client.post("/api/v1/cert-requests", json=body, headers=province.auth("city_clerk"))


async def give_head_an_identity(province: Province, date_of_birth: str | None = "1975-03-02") -> dict[str, Any]:
    person_id = province.users["city_head"]["person_id"]
    changes: dict[str, Any] = {"id_number": HEAD_ID_NUMBER}
    if date_of_birth:
        changes["date_of_birth"] = date_of_birth
    return await people.update_person(SYSTEM, person_id, changes)


async def inbox_ids(client, province: Province, username: str) -> list[int]:
    response = await client.get("/api/v1/inbox", headers=province.auth(username))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


async def test_the_heads_citizen_id_names_the_head_himself(client, province) -> None:
    head = await give_head_an_identity(province)
    filed = await file(client, province, new_personal(CITY, head["full_name"], HEAD_ID_NUMBER))
    assert filed.status_code == 201, filed.text
    request = filed.json()
    # No second record of the head: the request is about him.
    assert request["subject"]["id"] == head["id"]
    single = await client.post(f"/api/v1/cert-requests/{request['id']}/approve", headers=province.auth("city_head"))
    assert single.status_code == 403 and single.json()["code"] == "own_request"
    bulk = await client.post("/api/v1/cert-requests/decisions", json={"approve": [request["id"]]},
                             headers=province.auth("city_head"))
    assert bulk.status_code == 403 and bulk.json()["results"][0]["code"] == "own_request"
    assert request["id"] not in await inbox_ids(client, province, "city_head")
    # The head above decides.
    assert request["id"] in await inbox_ids(client, province, "province_head")
    above = await client.post(f"/api/v1/cert-requests/{request['id']}/approve", headers=province.auth("province_head"))
    assert above.status_code == 200 and above.json()["state"] == "approved"


async def test_a_citizen_id_of_another_agency_is_refused(client, province) -> None:
    """Filed in a child unit, the head's citizen ID cannot create a second record of him there."""
    head = await give_head_an_identity(province)
    before = await people.Person.count()
    filed = await file(client, province, new_personal(CITY_FINANCE, head["full_name"], HEAD_ID_NUMBER))
    assert filed.status_code == 422, filed.text
    assert filed.json()["code"] == "id_number_elsewhere"
    assert await people.Person.count() == before


async def test_citizen_ids_are_unique_across_the_province(client, province) -> None:
    await give_head_an_identity(province)
    other = province.users["city_staff"]["person_id"]
    response = await client.patch(f"/api/v1/people/{other}", json={"id_number": HEAD_ID_NUMBER},
                                  headers=province.auth("admin"))
    assert response.status_code == 422 and response.json()["code"] == "id_number_taken"


async def test_a_record_that_cannot_be_told_apart_from_the_head_is_refused_to_him(client, province) -> None:
    """The head's own record has no citizen ID: a new record with his name (and no differing birth date)
    might be him, so he may not decide it; the head above may."""
    head = await people.get_row(province.users["city_head"]["person_id"])
    assert head["id_number"] == "" and head["date_of_birth"] is None
    filed = await file(client, province, new_personal(CITY_FINANCE, head["full_name"], "022175001111"))
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["subject"]["id"] != head["id"]
    refused = await client.post("/api/v1/inbox/decisions", json={"approve": [{"domain": "cert", "id": request["id"]}]},
                                headers=province.auth("city_head"))
    assert refused.status_code == 403 and refused.json()["results"][0]["code"] == "own_request"
    assert request["id"] not in await inbox_ids(client, province, "city_head")
    assert request["id"] in await inbox_ids(client, province, "province_head")


async def test_a_namesake_with_another_birth_date_is_someone_else(client, province) -> None:
    """Same name, different birth date: told apart, so the head decides as usual."""
    head = await give_head_an_identity(province, date_of_birth="1975-03-02")
    filed = await file(client, province, new_personal(CITY_FINANCE, head["full_name"], "022180002222",
                                                      date_of_birth="1980-07-09"))
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["id"] in await inbox_ids(client, province, "city_head")
    approved = await client.post(f"/api/v1/cert-requests/{request['id']}/approve", headers=province.auth("city_head"))
    assert approved.status_code == 200, approved.text


async def test_the_heads_identity_is_read_once_and_again_after_people_change(client, province, monkeypatch) -> None:
    """The person records that may be the head are read once while the data stays as it was (every inbox and
    every page's to-do count asks for them), and read again once it changes: a record with the head's name
    filed after his first look at the inbox still keeps that request out of it."""
    queries = recorded_queries(monkeypatch)

    def identity_reads() -> int:
        # Reading who may be the same human is the only read of people's birth dates an inbox makes.
        return sum('"date_of_birth"' in query for query in queries)

    await inbox_ids(client, province, "city_head")
    assert identity_reads() > 0
    queries.clear()
    await inbox_ids(client, province, "city_head")
    assert identity_reads() == 0

    head = await people.get_row(province.users["city_head"]["person_id"])
    filed = await file(client, province, new_personal(CITY_FINANCE, head["full_name"], "022175003333"))
    assert filed.status_code == 201, filed.text
    queries.clear()
    assert filed.json()["id"] not in await inbox_ids(client, province, "city_head")
    assert identity_reads() > 0
    assert filed.json()["id"] in await inbox_ids(client, province, "province_head")


async def test_a_list_tells_the_request_about_the_head_from_the_others(client, province) -> None:
    """The actions a list offers on each record are the head's own, record by record: a list answers each
    permission question once for the records it holds (`ListPermissions`), and a request about the head, in
    the same agency and state as another's, is still not his to decide."""
    head = await give_head_an_identity(province)
    about_head = await file(client, province, new_personal(CITY, head["full_name"], HEAD_ID_NUMBER))
    about_other = await file(client, province, new_personal(CITY, "Trần Thị Bình", "022199001234"))
    assert about_head.status_code == 201 and about_other.status_code == 201
    listed = await client.get("/api/v1/cert-requests", params={"state": "submitted"},
                              headers=province.auth("city_head"))
    assert listed.status_code == 200, listed.text
    actions = {item["id"]: item["actions"] for item in listed.json()}
    assert "approve" in actions[about_other.json()["id"]]
    assert "approve" not in actions[about_head.json()["id"]]
    # The same answers one record at a time.
    for request in (about_head.json(), about_other.json()):
        alone = await client.get(f"/api/v1/cert-requests/{request['id']}", headers=province.auth("city_head"))
        assert alone.json()["actions"] == actions[request["id"]]


async def test_the_inbox_condition_is_written_once_per_known_principal(client, province, monkeypatch) -> None:
    """The conditions of a head's inbox are written out once while the data stays as it was, and again once it
    changes (the principal is read anew): a request filed meanwhile shows at once."""
    from registry.workflow import engine

    written: list[str] = []
    original = engine._awaiting_condition

    def counted(actor, flow, identity):
        written.append(flow.name)
        return original(actor, flow, identity)

    monkeypatch.setattr(engine, "_awaiting_condition", counted)
    first = await inbox_ids(client, province, "city_head")
    assert written, "the first inbox writes its conditions"
    once = len(written)
    assert await inbox_ids(client, province, "city_head") == first
    assert len(written) == once
    filed = await file(client, province, new_personal(CITY, "Trần Thị Bình", "022199001234"))
    assert filed.status_code == 201, filed.text
    assert filed.json()["id"] in await inbox_ids(client, province, "city_head")
    assert len(written) == 2 * once


async def test_a_list_tells_the_requests_one_filed_from_the_others(client, province) -> None:
    """Who filed a record changes what may be done with it, record by record, in one list: the head's own
    request (same agency, same state as the clerk's) is his to withdraw and not his to decide; the clerk's is
    his to decide and not his to withdraw. A list works the actions out once per state, agency and
    involvement (`ListPermissions.derived`), and answers as the record's own page does."""
    by_clerk = await file(client, province, new_personal(CITY_FINANCE, "Trần Thị Bình", "022199001234"))
    by_head = await client.post("/api/v1/cert-requests", json=new_personal(CITY_FINANCE, "Lê Văn Cường", "022199005678"),
                                headers=province.auth("city_head"))
    assert by_clerk.status_code == 201 and by_head.status_code == 201, by_head.text
    for username, own, other in (("city_head", by_head.json()["id"], by_clerk.json()["id"]),
                                 ("city_clerk", by_clerk.json()["id"], by_head.json()["id"])):
        listed = await client.get("/api/v1/cert-requests", params={"state": "submitted"},
                                  headers=province.auth(username))
        assert listed.status_code == 200, listed.text
        actions = {item["id"]: item["actions"] for item in listed.json()}
        assert "withdraw" in actions[own] and "withdraw" not in actions[other], (username, actions)
        if username == "city_head":
            assert "approve" not in actions[own] and "approve" in actions[other], actions
        for record_id in (own, other):
            alone = await client.get(f"/api/v1/cert-requests/{record_id}", headers=province.auth(username))
            assert alone.json()["actions"] == actions[record_id]
