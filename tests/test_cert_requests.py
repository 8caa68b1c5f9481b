"""Certificate requests: filing every kind with the CA clerk's checks, who may file and decide what,
bulk decisions, stale and concurrent transitions, urgent revocations, the inbox and the outbox."""

from __future__ import annotations

import asyncio

import pytest

from registry.audit.tables import AuditEntry
from registry.auth import service as auth
from registry.certs.requests import CERT_FLOW
from registry.certs.tables import CertRequest as Request
from registry.errors import Conflict
from registry.notify.tables import Notification, OutboxMessage
from registry.people.tables import Person
from registry.workflow import engine
from registry.workflow.tables import WorkflowEvent
from tests.helpers import CITY, CITY_FINANCE, FINANCE, WARD, add_certificate, new_personal, sign_in
from tests.helpers import file_cert_request as file

NEW_ORG = {
    "kind": "new_org", "agency_code": CITY, "org_name": "Ủy ban nhân dân thành phố Hạ Long", "address": "Phường Hồng Hà",
    "tax_code": "5700100256", "budget_code": "1053438", "email": "halong@quangninh.gov.vn",
    "receiver": {"full_name": "Lê Thị Thư", "id_number": "022190004321", "position": "Văn thư",
                 "phone": "0987654321", "email": "vanthu@quangninh.gov.vn"},
}


async def counts() -> tuple[int, int, int]:
    return await Request.count(), await AuditEntry.count(), await Person.count()


# --- filing -------------------------------------------------------------------------------------


async def test_clerk_files_every_kind(client, province, ca) -> None:
    staff_cert = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    bodies = [
        new_personal(),
        NEW_ORG,
        {"kind": "renew", "agency_code": CITY, "certificate": staff_cert, "validity_years": 3},
        {"kind": "unlock", "agency_code": CITY, "certificate": staff_cert, "detail": "Nhập sai mật khẩu 10 lần"},
        {"kind": "revoke", "agency_code": CITY, "certificate": await add_certificate(ca, province, "city_staff", CITY_FINANCE),
         "reason": "retired"},
        {"kind": "change", "agency_code": CITY, "certificate": await add_certificate(ca, province, "city_staff", CITY_FINANCE),
         "changes": {"email": "binh.hv@quangninh.gov.vn", "position": "Phó Trưởng phòng"}},
    ]
    for body in bodies:
        response = await file(client, province, "city_clerk", body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["kind"] == body["kind"] and created["state"] == "submitted"
        fetched = (await client.get(f"/api/v1/cert-requests/{created['id']}", headers=province.auth("city_clerk"))).json()
        assert [event["to_state"] for event in fetched["history"]] == ["submitted"]
        assert fetched["history"][0]["actor"] == "city_clerk"
        if body.get("certificate"):
            assert fetched["certificate"] == body["certificate"]
    assert await AuditEntry.count().where(AuditEntry.action == "cert_request.submit") == len(bodies)


async def test_new_personal_creates_the_person_once(client, province) -> None:
    first = await file(client, province, "city_clerk", new_personal())
    assert first.status_code == 201
    person_id = first.json()["subject"]["id"]
    await client.post(f"/api/v1/cert-requests/{first.json()['id']}/withdraw", headers=province.auth("city_clerk"))
    again = await file(client, province, "city_clerk", new_personal())
    assert again.json()["subject"]["id"] == person_id


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"id_number": "02218800123"}, ["id_number"]),
        ({"date_of_birth": "2020-01-01"}, ["date_of_birth"]),
        ({"date_of_birth": "1900-01-01"}, ["date_of_birth"]),
        ({"email": "lan@"}, ["email"]),
        ({"position": ""}, ["position"]),
        ({"phone": "12345"}, ["phone"]),
        ({"id_issued_on": "2099-01-01"}, ["id_issued_on"]),
        ({"validity_years": 6}, ["validity_years"]),
        ({"id_number": "abc", "email": "x", "full_name": ""}, ["id_number", "email", "full_name"]),
    ],
)
async def test_new_personal_checks_fields_and_writes_nothing(client, province, changes, fields) -> None:
    before = await counts()
    response = await file(client, province, "city_clerk", new_personal(**changes))
    assert response.status_code == 422, response.text
    named = [error["field"] for error in response.json()["errors"]]
    assert sorted(named) == sorted(fields)
    assert await counts() == before


async def test_new_org_checks_budget_code_and_receiver(client, province) -> None:
    body = {**NEW_ORG, "budget_code": "123456", "receiver": {**NEW_ORG["receiver"], "id_number": "1"}}
    response = await file(client, province, "city_clerk", body)
    assert response.status_code == 422
    assert {"budget_code", "receiver.id_number"} <= {e["field"] for e in response.json()["errors"]}
    missing = await file(client, province, "city_clerk", {k: v for k, v in NEW_ORG.items() if k != "receiver"})
    assert missing.status_code == 422 and "receiver" in {e["field"] for e in missing.json()["errors"]}


@pytest.mark.parametrize("kind", ["renew", "change", "unlock", "revoke"])
async def test_unknown_certificates_are_refused(client, province, kind) -> None:
    before = await counts()
    body = {"kind": kind, "agency_code": CITY, "certificate": "ab" * 32, "reason": "retired", "changes": {"email": "a@b.vn"}}
    response = await file(client, province, "city_clerk", body)
    assert response.status_code == 422
    assert "certificate" in {e["field"] for e in response.json()["errors"]}
    assert await counts() == before


async def test_foreign_certificates_are_refused(client, province, ca) -> None:
    finance_cert = await add_certificate(ca, province, "finance_head", FINANCE)
    response = await file(client, province, "city_clerk", {"kind": "unlock", "agency_code": CITY, "certificate": finance_cert})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "certificate"


async def test_filing_outside_ones_scope_is_forbidden(client, province) -> None:
    before = await counts()
    assert (await file(client, province, "city_clerk", new_personal(agency=FINANCE))).status_code == 403
    assert (await file(client, province, "ward_head", new_personal(agency=CITY_FINANCE))).status_code == 403
    assert (await file(client, province, "operator", new_personal())).status_code == 403
    assert (await client.post("/api/v1/cert-requests", json=new_personal())).status_code == 401
    assert await counts() == before


async def test_staff_file_only_for_their_own_certificate(client, province, ca) -> None:
    own = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    colleague = await add_certificate(ca, province, None, CITY_FINANCE, kind="personal", name="Đồng nghiệp")
    ok = await file(client, province, "city_staff", {"kind": "unlock", "agency_code": CITY_FINANCE, "certificate": own})
    assert ok.status_code == 201, ok.text
    assert ok.json()["subject"]["id"] == province.person_id("city_staff")
    other = await file(client, province, "city_staff", {"kind": "unlock", "agency_code": CITY_FINANCE, "certificate": colleague})
    assert other.status_code == 403
    org = await file(client, province, "city_staff", {**NEW_ORG, "agency_code": CITY_FINANCE})
    assert org.status_code == 403
    for_someone_else = await file(client, province, "city_staff", new_personal(person_id=province.person_id("city_clerk")))
    assert for_someone_else.status_code == 403


async def test_renewal_respects_the_window_and_limits(client, province, ca) -> None:
    far = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=400)
    early = await file(client, province, "city_clerk", {"kind": "renew", "agency_code": CITY, "certificate": far})
    assert early.status_code == 422
    assert "renewal opens" in early.json()["detail"]
    near = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=30)
    too_long = await file(client, province, "city_clerk", {"kind": "renew", "agency_code": CITY, "certificate": near, "validity_years": 4})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "validity_years"
    expired = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=-5)
    late = await file(client, province, "city_clerk", {"kind": "renew", "agency_code": CITY, "certificate": expired})
    assert late.status_code == 422 and "expired" in late.json()["detail"]


async def test_revocation_needs_a_listed_reason(client, province, ca) -> None:
    cert = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    for body, field in (
        ({"reason": "bored"}, "reason"),
        ({}, "reason"),
        ({"reason": "other"}, "detail"),
    ):
        response = await file(client, province, "city_clerk", {"kind": "revoke", "agency_code": CITY, "certificate": cert, **body})
        assert response.status_code == 422
        assert field in {e["field"] for e in response.json()["errors"]}


async def test_one_open_request_per_certificate_and_kind(client, province, ca) -> None:
    cert = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    first = await file(client, province, "city_clerk", {"kind": "unlock", "agency_code": CITY, "certificate": cert})
    assert first.status_code == 201
    second = await file(client, province, "city_clerk", {"kind": "unlock", "agency_code": CITY, "certificate": cert})
    assert second.status_code == 409


# --- deciding -----------------------------------------------------------------------------------


async def test_the_right_head_approves_and_the_wrong_ones_cannot(client, province) -> None:
    created = (await file(client, province, "city_clerk", new_personal())).json()
    path = f"/api/v1/cert-requests/{created['id']}/approve"
    assert (await client.post(path, headers=province.auth("ward_head"))).status_code == 404
    assert (await client.post(path, headers=province.auth("finance_head"))).status_code == 404
    assert (await client.post(path, headers=province.auth("city_clerk"))).status_code == 403
    assert (await client.post(path, headers=province.auth("operator"))).status_code == 403
    approved = await client.post(path, headers=province.auth("city_head"))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["state"] == "approved" and body["decided_by"] == "city_head"
    assert [e["to_state"] for e in body["history"]] == ["submitted", "approved"]
    again = await client.post(path, headers=province.auth("province_head"))
    assert again.status_code == 409


async def test_a_head_of_an_ancestor_agency_decides_too(client, province) -> None:
    created = (await file(client, province, "city_clerk", new_personal())).json()
    response = await client.post(f"/api/v1/cert-requests/{created['id']}/approve", headers=province.auth("province_head"))
    assert response.status_code == 200


async def test_a_heads_own_request_goes_to_the_head_above(client, province, ca) -> None:
    own = await add_certificate(ca, province, "city_head", CITY)
    by_head = (await file(client, province, "city_head", {"kind": "unlock", "agency_code": CITY, "certificate": own})).json()
    refused = await client.post(f"/api/v1/cert-requests/{by_head['id']}/approve", headers=province.auth("city_head"))
    assert refused.status_code == 403
    assert "head above" in refused.json()["detail"]
    inbox = (await client.get("/api/v1/cert-requests/inbox", headers=province.auth("city_head"))).json()
    assert by_head["id"] not in [r["id"] for r in inbox]
    above = (await client.get("/api/v1/cert-requests/inbox", headers=province.auth("province_head"))).json()
    assert by_head["id"] in [r["id"] for r in above]
    # Filed by the clerk about the head's certificate: still not the head's to decide.
    by_clerk = (await file(client, province, "city_clerk", {"kind": "revoke", "agency_code": CITY, "certificate": own,
                                                           "reason": "position_changed"})).json()
    assert (await client.post(f"/api/v1/cert-requests/{by_clerk['id']}/approve", headers=province.auth("city_head"))).status_code == 403
    assert (await client.post(f"/api/v1/cert-requests/{by_clerk['id']}/approve", headers=province.auth("province_head"))).status_code == 200


async def test_rejection_needs_a_reason(client, province) -> None:
    created = (await file(client, province, "city_clerk", new_personal())).json()
    path = f"/api/v1/cert-requests/{created['id']}/reject"
    no_reason = await client.post(path, json={"reason": "  "}, headers=province.auth("city_head"))
    assert no_reason.status_code == 422
    assert (await Request.select(Request.state).where(Request.id == created["id"]).first())["state"] == "submitted"
    rejected = await client.post(path, json={"reason": "Sai số CCCD"}, headers=province.auth("city_head"))
    assert rejected.status_code == 200
    history = rejected.json()["history"]
    assert history[-1]["to_state"] == "rejected" and history[-1]["note"] == "Sai số CCCD" and history[-1]["actor"] == "city_head"


async def test_withdraw_only_by_the_requester_before_a_decision(client, province) -> None:
    created = (await file(client, province, "city_clerk", new_personal())).json()
    path = f"/api/v1/cert-requests/{created['id']}/withdraw"
    assert (await client.post(path, headers=province.auth("city_head"))).status_code == 403
    assert (await client.post(path, headers=province.auth("city_clerk"))).json()["state"] == "withdrawn"
    assert (await client.post(path, headers=province.auth("city_clerk"))).status_code == 409
    decided = (await file(client, province, "city_clerk", new_personal(id_number="022188009999"))).json()
    await client.post(f"/api/v1/cert-requests/{decided['id']}/approve", headers=province.auth("city_head"))
    late = await client.post(f"/api/v1/cert-requests/{decided['id']}/withdraw", headers=province.auth("city_clerk"))
    assert late.status_code == 409


async def test_decisions_approve_and_reject_a_list_at_once(client, province) -> None:
    ids = []
    for index in range(4):
        response = await file(client, province, "city_clerk", new_personal(id_number=f"02218800{index:04d}"))
        ids.append(response.json()["id"])
    response = await client.post(
        "/api/v1/cert-requests/decisions",
        json={"approve": ids[:3], "reject": [{"id": ids[3], "reason": "Trùng hồ sơ"}]},
        headers=province.auth("city_head"),
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["id"], r["state"]) for r in results] == [(ids[0], "approved"), (ids[1], "approved"), (ids[2], "approved"), (ids[3], "rejected")]
    states = {r["id"]: r["state"] for r in await Request.select(Request.id, Request.state)}
    assert [states[i] for i in ids] == ["approved", "approved", "approved", "rejected"]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda ids: {"approve": ids + [999999]}, 404),
        (lambda ids: {"approve": ids[:2], "reject": [{"id": ids[2], "reason": ""}]}, 422),
        (lambda ids: {"approve": ids + [ids[0]]}, 422),
        (lambda ids: {"approve": ["x"]}, 422),
        (lambda ids: {}, 422),
    ],
)
async def test_decisions_are_judged_whole_before_writing(client, province, mutate, status) -> None:
    ids = [(await file(client, province, "city_clerk", new_personal(id_number=f"02218800{i:04d}"))).json()["id"] for i in range(3)]
    audit_before = await AuditEntry.count()
    response = await client.post("/api/v1/cert-requests/decisions", json=mutate(ids), headers=province.auth("city_head"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {r["state"] for r in await Request.select(Request.state)} == {"submitted"}
    assert await AuditEntry.count() == audit_before


async def test_decisions_refuse_a_list_holding_a_stale_request(client, province) -> None:
    ids = [(await file(client, province, "city_clerk", new_personal(id_number=f"02218800{i:04d}"))).json()["id"] for i in range(2)]
    await client.post(f"/api/v1/cert-requests/{ids[0]}/approve", headers=province.auth("province_head"))
    response = await client.post("/api/v1/cert-requests/decisions", json={"approve": ids}, headers=province.auth("city_head"))
    assert response.status_code == 409
    results = {r["id"]: r for r in response.json()["results"]}
    assert results[ids[0]]["ok"] is False and results[ids[1]]["ok"] is True
    assert (await Request.select(Request.state).where(Request.id == ids[1]).first())["state"] == "submitted"


async def test_two_heads_deciding_at_once_one_wins(client, province) -> None:
    """Both heads may decide; run their approvals concurrently: one wins, the other gets 409, and the
    history shows one decision (on PostgreSQL the row lock and version check settle it)."""
    created = (await file(client, province, "city_clerk", new_personal())).json()
    heads = []
    for username in ("city_head", "province_head"):
        user = await auth.find_user(username)
        heads.append(await auth.load_principal(user["id"], via="token"))
    outcomes = await asyncio.gather(
        *(engine.take(head, CERT_FLOW, created["id"], "approve") for head in heads), return_exceptions=True
    )
    wins = [o for o in outcomes if isinstance(o, dict)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1 and len(conflicts) == 1, outcomes
    events = await WorkflowEvent.select().where(
        (WorkflowEvent.flow == "cert") & (WorkflowEvent.record_id == created["id"]) & (WorkflowEvent.transition == "approve")
    )
    assert len(events) == 1
    assert await AuditEntry.count().where(AuditEntry.action == "cert_request.approve") == 1


# --- urgent revocations, inbox and outbox -------------------------------------------------------


async def test_urgent_revocation_marks_the_certificate_at_once_and_comes_first(client, province, ca) -> None:
    ordinary = (await file(client, province, "city_clerk", new_personal())).json()
    cert = await add_certificate(ca, province, "city_staff", CITY_FINANCE)
    urgent = (await file(client, province, "city_staff", {"kind": "revoke", "agency_code": CITY_FINANCE, "certificate": cert,
                                                         "reason": "token_lost"})).json()
    assert urgent["urgent"] is True
    shown = (await client.get(f"/api/v1/certificates/{cert}", headers=province.auth("city_staff"))).json()
    assert shown["revocation_pending"] is True and shown["status"] == "active"
    inbox = (await client.get("/api/v1/cert-requests/inbox", headers=province.auth("city_head"))).json()
    assert [r["id"] for r in inbox][:2] == [urgent["id"], ordinary["id"]]
    for_doit = (await client.get("/api/v1/cert-requests", headers=province.auth("operator"))).json()
    assert for_doit[0]["id"] == urgent["id"]
    # Withdrawn: the mark goes away.
    await client.post(f"/api/v1/cert-requests/{urgent['id']}/withdraw", headers=province.auth("city_staff"))
    shown = (await client.get(f"/api/v1/certificates/{cert}", headers=province.auth("city_staff"))).json()
    assert shown["revocation_pending"] is False


async def test_events_reach_the_outbox_in_the_same_transaction(client, province) -> None:
    created = (await file(client, province, "city_staff", new_personal(agency=CITY_FINANCE, person_id=None))).json()
    head_id = province.users["city_head"]["id"]
    mails = await OutboxMessage.select().where(OutboxMessage.recipient == head_id)
    assert len(mails) == 1 and str(created["id"]) in mails[0]["subject"] and mails[0]["sent_at"] is None
    # The province head is above the city head, so the city head (nearest) is told, not them.
    assert await OutboxMessage.count().where(OutboxMessage.recipient == province.users["province_head"]["id"]) == 0
    await client.post(f"/api/v1/cert-requests/{created['id']}/reject", json={"reason": "Thiếu ảnh"}, headers=province.auth("city_head"))
    note = await Notification.select().where(
        (Notification.user == province.users["city_staff"]["id"]) & (Notification.kind == "request_decided")
    ).first()
    assert note is not None and "Thiếu ảnh" in note["message"]


async def test_a_refused_request_leaves_no_outbox_message(client, province) -> None:
    await file(client, province, "city_clerk", new_personal(email="bad"))
    assert await OutboxMessage.count() == 0 and await Notification.count() == 0


async def test_requesters_see_theirs_and_others_see_nothing(client, province) -> None:
    created = (await file(client, province, "city_staff", new_personal(agency=CITY_FINANCE))).json()
    path = f"/api/v1/cert-requests/{created['id']}"
    for username, status in (("city_staff", 200), ("city_clerk", 200), ("city_head", 200), ("operator", 200),
                             ("ward_head", 404), ("finance_head", 404)):
        assert (await client.get(path, headers=province.auth(username))).status_code == status, username
    mine = (await client.get("/api/v1/cert-requests", params={"mine": "true"}, headers=province.auth("city_staff"))).json()
    assert [r["id"] for r in mine] == [created["id"]]
    assert (await client.get("/api/v1/cert-requests", headers=province.auth("finance_head"))).json() == []


# --- the permission matrix ----------------------------------------------------------------------

# (role user, agency of the request) → may file, may decide
MATRIX = [
    ("city_clerk", CITY, True, False),
    ("city_clerk", CITY_FINANCE, True, False),
    ("city_clerk", FINANCE, False, False),
    ("city_head", CITY, True, True),
    ("city_head", WARD, True, True),
    ("city_head", FINANCE, False, False),
    ("ward_head", WARD, True, True),
    ("ward_head", CITY, False, False),
    ("city_staff", CITY_FINANCE, True, False),
    ("city_staff", CITY, False, False),
    ("operator", CITY, False, False),
    ("admin", CITY, False, False),
]


@pytest.mark.parametrize(("username", "agency", "may_file", "may_decide"), MATRIX)
async def test_permission_matrix(client, province, username, agency, may_file, may_decide) -> None:
    filed = await file(client, province, username, new_personal(agency=agency, id_number="022188007777"))
    assert (filed.status_code == 201) is may_file, filed.text
    assert filed.status_code in (201, 403)
    # A request by the province head's clerk-equivalent (system) in that agency, for deciding.
    other = await file(client, province, "province_head", new_personal(agency=agency, id_number="022188008888"))
    assert other.status_code == 201, other.text
    decided = await client.post(f"/api/v1/cert-requests/{other.json()['id']}/approve", headers=province.auth(username))
    assert (decided.status_code == 200) is may_decide, decided.text
    assert decided.status_code in (200, 403, 404)


# --- pages --------------------------------------------------------------------------------------


async def test_clerk_files_through_the_form_and_sees_vietnamese_errors(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    form = {"_csrf": csrf, **{k: v for k, v in new_personal(agency=CITY).items() if k != "kind"}}
    bad = await client.post("/requests/new/new_personal", data={**form, "id_number": "123"})
    # The same page, as a page: a browser never receives JSON (issue 8, point 9).
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "Số CCCD gồm đúng 12 chữ số" in bad.text and 'aria-invalid="true"' in bad.text
    assert await Request.count() == 0
    good = await client.post("/requests/new/new_personal", data=form)
    assert good.status_code == 303
    detail = await client.get(good.headers["location"])
    assert "Chờ phê duyệt" in detail.text and "Cấp mới chứng thư số cá nhân" in detail.text
    no_csrf = await client.post("/requests/new/new_personal", data={k: v for k, v in form.items() if k != "_csrf"})
    assert no_csrf.status_code == 403
    assert await Request.count() == 1


async def test_head_clears_the_inbox_with_checkboxes(client, province) -> None:
    ids = [(await file(client, province, "city_clerk", new_personal(id_number=f"02218800{i:04d}"))).json()["id"] for i in range(5)]
    csrf = await sign_in(client, "city_head")
    page = await client.get("/inbox")
    assert page.status_code == 200 and all(f'value="cert:{i}"' in page.text for i in ids)
    assert "5 việc cần xử lý" in page.text
    response = await client.post("/inbox", data={"_csrf": csrf, "action": "approve", "selected": [f"cert:{i}" for i in ids[:4]]})
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox?done=4"
    after = await client.get("/inbox?done=4")
    assert "Đã ghi nhận quyết định cho 4 yêu cầu" in after.text and "1 việc cần xử lý" in after.text
    no_reason = await client.post("/inbox", data={"_csrf": csrf, "action": "reject", "selected": [f"cert:{ids[4]}"]})
    assert no_reason.status_code == 422 and "Chưa ghi nhận quyết định nào" in no_reason.text
    rejected = await client.post("/inbox", data={"_csrf": csrf, "action": "reject", "selected": [f"cert:{ids[4]}"], "reason": "Hồ sơ thiếu"})
    assert rejected.status_code == 303
    states = [r["state"] for r in await Request.select(Request.state).order_by(Request.id)]
    assert states == ["approved"] * 4 + ["rejected"]


async def test_clerk_files_every_kind_through_the_forms(client, province, ca) -> None:
    certificates = [await add_certificate(ca, province, "city_staff", CITY_FINANCE, name=f"Hoàng Văn Bình {i}") for i in range(4)]
    csrf = await sign_in(client, "city_clerk")
    chooser = await client.get("/requests/new")
    assert all(f'href="/requests/new/{kind}"' in chooser.text for kind in ("new_personal", "new_org", "renew", "change", "unlock", "revoke"))
    forms = {
        "new_personal": {k: v for k, v in new_personal(agency=CITY).items() if k != "kind"},
        "new_org": {**{k: v for k, v in NEW_ORG.items() if k not in ("kind", "receiver")},
                    **{f"receiver.{k}": v for k, v in NEW_ORG["receiver"].items()}},
        "renew": {"agency_code": CITY, "certificate": certificates[0], "validity_years": "2"},
        "change": {"agency_code": CITY, "certificate": certificates[1], "changes.email": "moi@quangninh.gov.vn", "changes.position": ""},
        "unlock": {"agency_code": CITY, "certificate": certificates[2], "detail": "Khóa thiết bị"},
        "revoke": {"agency_code": CITY, "certificate": certificates[3], "reason": "key_compromise"},
    }
    for kind, fields in forms.items():
        page = await client.get(f"/requests/new/{kind}")
        assert page.status_code == 200 and 'name="_csrf"' in page.text
        if kind in ("renew", "change", "unlock", "revoke"):
            assert certificates[0] in page.text, "the clerk's certificates are offered"
        response = await client.post(f"/requests/new/{kind}", data={"_csrf": csrf, **fields})
        assert response.status_code == 303, (kind, response.text[:2000])
    rows = await Request.select(Request.kind, Request.state, Request.urgent, Request.details).order_by(Request.id)
    assert [row["kind"] for row in rows] == list(forms)
    assert {row["state"] for row in rows} == {"submitted"}
    assert [row["urgent"] for row in rows] == [False] * 5 + [True]
    # Only the filled change fields are requested.
    assert '"changes": {"email": "moi@quangninh.gov.vn"}' in rows[3]["details"]


async def test_staff_see_their_certificates_and_requests_on_one_page(client, province, ca) -> None:
    cert = await add_certificate(ca, province, "city_staff", CITY_FINANCE, name="Chứng thư của Bình")
    other = await add_certificate(ca, province, "city_clerk", CITY, name="Chứng thư của Thư")
    filed = (await file(client, province, "city_staff", {"kind": "unlock", "agency_code": CITY_FINANCE, "certificate": cert})).json()
    await client.post(f"/api/v1/cert-requests/{filed['id']}/reject", json={"reason": "Không cần"}, headers=province.auth("city_head"))
    await sign_in(client, "city_staff")
    page = await client.get("/me")
    assert page.status_code == 200
    assert "Chứng thư của Bình" in page.text and f"/certificates/{cert}" in page.text
    assert "Chứng thư của Thư" not in page.text and other not in page.text
    assert f'href="/requests/{filed["id"]}"' in page.text and "Bị từ chối" in page.text
    assert "1 việc cần xử lý" in page.text  # the unread decision
    await client.get(f"/requests/{filed['id']}")
    assert "việc cần xử lý" not in (await client.get("/me")).text
