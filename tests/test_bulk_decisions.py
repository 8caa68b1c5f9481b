"""A bulk decision (`decisions`) is written set-based, and writes what the same decisions taken one by one
write: the records' states and decisions, their history, their audit entries (the chain intact) and the
notices to the requester and the person concerned."""

from __future__ import annotations

import re
from typing import Any

import pytest

from registry.audit import service as audit
from registry.audit.tables import AuditEntry
from registry.certs.tables import CertRequest as Request
from registry.notify.tables import Notification, OutboxMessage
from registry.workflow.tables import WorkflowEvent
from tests.helpers import file_cert_request as file
from tests.helpers import new_personal, recorded_queries


async def filed(client, province, count: int, first: int) -> list[int]:
    ids = []
    for index in range(first, first + count):
        response = await file(client, province, "city_clerk", new_personal(id_number=f"02218801{index:04d}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def written_for(ids: list[int]) -> list[dict[str, Any]]:
    """What deciding wrote about each record, without ids, times and the record's own id."""
    result = []
    for record_id in ids:
        row = await Request.select(Request.state, Request.version, Request.decided_by, Request.decision_note).where(
            Request.id == record_id).first()
        events = await WorkflowEvent.select(WorkflowEvent.transition, WorkflowEvent.from_state, WorkflowEvent.to_state,
                                            WorkflowEvent.actor, WorkflowEvent.actor_id, WorkflowEvent.note).where(
            WorkflowEvent.record_id == record_id).order_by(WorkflowEvent.id)
        entries = await AuditEntry.select(AuditEntry.action, AuditEntry.actor, AuditEntry.before, AuditEntry.after).where(
            (AuditEntry.object_type == "cert_request") & (AuditEntry.object_id == str(record_id))).order_by(AuditEntry.seq)
        notices = await Notification.select(Notification.user, Notification.kind, Notification.message).where(
            (Notification.request_id == record_id) & (Notification.kind == "request_decided"))
        for notice in notices:
            notice["message"] = notice["message"].replace(f"#{record_id}", "#N")
        mails = await OutboxMessage.count().where(OutboxMessage.body.like(f"%#{record_id} %"))
        result.append({"row": row, "events": events, "audit": entries,
                       "notices": sorted(notices, key=lambda n: n["user"]), "mails": mails})
    return result


async def test_bulk_writes_what_single_decisions_write(client, province) -> None:
    singles = await filed(client, province, 3, 0)
    for record_id in singles[:2]:
        response = await client.post(f"/api/v1/cert-requests/{record_id}/approve", headers=province.auth("city_head"))
        assert response.status_code == 200, response.text
    response = await client.post(f"/api/v1/cert-requests/{singles[2]}/reject", json={"reason": "Trùng hồ sơ"},
                                 headers=province.auth("city_head"))
    assert response.status_code == 200, response.text

    bulk = await filed(client, province, 3, 10)
    response = await client.post("/api/v1/cert-requests/decisions",
                                 json={"approve": bulk[:2], "reject": [{"id": bulk[2], "reason": "Trùng hồ sơ"}]},
                                 headers=province.auth("city_head"))
    assert response.status_code == 200, response.text
    assert [r["state"] for r in response.json()["results"]] == ["approved", "approved", "rejected"]

    one_by_one, at_once = await written_for(singles), await written_for(bulk)
    assert at_once == one_by_one
    assert at_once[0]["notices"] and at_once[0]["mails"] and at_once[0]["events"][-1]["transition"] == "approve"
    verified = await audit.verify()
    assert verified.ok, verified.problem


async def test_a_long_list_is_decided_whole(client, province) -> None:
    ids = await filed(client, province, 30, 100)
    response = await client.post("/api/v1/cert-requests/decisions", json={"approve": ids},
                                 headers=province.auth("city_head"))
    assert response.status_code == 200, response.text
    states = {row["state"] for row in await Request.select(Request.state).where(Request.id.is_in(ids))}
    assert states == {"approved"}
    assert await WorkflowEvent.count().where(WorkflowEvent.record_id.is_in(ids) & (WorkflowEvent.transition == "approve")) == 30
    assert (await audit.verify()).ok


# A read of the table named, as a join or a lookup (`LEFT JOIN "person" …`, `(SELECT … FROM person lookup_2 …)`).
_READS_OF = r'\b(?:FROM|JOIN)\s+"?{}"?[\s)]'


async def test_deciding_reads_the_records_without_names(client, province, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deciding reads the records' own columns and their agencies only. The names of people and certificates
    are for pages: at a million certificates, reading them from pages no recent request had touched was most
    of a 500-item decision's reading on PostgreSQL."""
    ids = await filed(client, province, 3, 200)
    queries = recorded_queries(monkeypatch)
    response = await client.post("/api/v1/cert-requests/decisions", json={"approve": ids},
                                 headers=province.auth("city_head"))
    assert response.status_code == 200, response.text
    records_read = [query for query in queries if query.startswith("SELECT") and re.search(_READS_OF.format("cert_request"), query)]
    assert records_read, queries
    for query in records_read:
        assert '"agency_path"' in query
        for table in ("person", "user_account", "certificate"):
            assert not re.search(_READS_OF.format(table), query), query
    states = {row["state"] for row in await Request.select(Request.state).where(Request.id.is_in(ids))}
    assert states == {"approved"}
