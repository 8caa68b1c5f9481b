"""A list offers on each record the actions its reader may take on that record (issue 12: worked out once per
kind of record, never at the cost of a wrong answer). A record's agency counts through the reader's grants
that reach it: agencies reached by the same grants share their answers, agencies reached by others do not."""

from __future__ import annotations

from registry.auth import service as auth
from registry.workflow import engine
from tests.helpers import CITY_FINANCE, FINANCE, SYSTEM, WARD, new_personal


async def test_agencies_reached_by_other_grants_get_their_own_actions(client, province, monkeypatch) -> None:
    # The city's head is also a clerk of the provincial finance department: a head's grant reaches the city's
    # finance office and its ward, a clerk's (which decides nothing) the finance department.
    await auth.grant_role(SYSTEM, "city_head", "clerk", agency_code=FINANCE)
    filed = {}
    for name, agency, filer, id_number in (("finance office", CITY_FINANCE, "city_clerk", "022188001201"),
                                           ("ward", WARD, "ward_head", "022188001202"),
                                           ("department", FINANCE, "finance_head", "022188001203")):
        response = await client.post("/api/v1/cert-requests", json=new_personal(agency, id_number=id_number),
                                     headers=province.auth(filer))
        assert response.status_code == 201, response.text
        filed[name] = response.json()["id"]

    worked_out: list[int] = []
    original = engine.involvement

    def counted(row, identities=None):
        worked_out.append(row["id"])
        return original(row, identities)

    monkeypatch.setattr(engine, "involvement", counted)
    listed = await client.get("/api/v1/cert-requests", params={"state": "submitted"},
                              headers=province.auth("city_head"))
    assert listed.status_code == 200, listed.text
    actions = {item["id"]: item["actions"] for item in listed.json()}
    assert set(filed.values()) <= set(actions)
    assert "approve" in actions[filed["finance office"]] and "approve" in actions[filed["ward"]]
    assert "approve" not in actions[filed["department"]], actions
    # Once for the head's grant (the finance office and the ward), once for the clerk's (the department).
    assert len(worked_out) == 2, worked_out
    monkeypatch.setattr(engine, "involvement", original)
    # The same answers one record at a time.
    for record_id in filed.values():
        alone = await client.get(f"/api/v1/cert-requests/{record_id}", headers=province.auth("city_head"))
        assert alone.status_code == 200 and alone.json()["actions"] == actions[record_id]
