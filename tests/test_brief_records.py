"""The list pages (requests, accounts, the inbox, certificates) read each record in brief (`engine.brief_json`,
`certs.brief_json`): what their rows show, under the names the API uses, and nothing worked out for what they
do not show. The API's lists stay whole."""

from __future__ import annotations

import re

from registry.accounts.service import ACCOUNT_FLOW
from registry.app import PACKAGE_DIR, template_engine
from registry.auth import service as auth
from registry.certs import service as certs
from registry.certs.requests import CERT_FLOW
from registry.timeutil import now
from registry.workflow import engine
from tests.helpers import CITY, CITY_FINANCE, SYSTEM, add_certificate, new_personal, sign_in
from tests.test_accounts import account_request


async def test_brief_records_are_the_full_ones_cut_short_and_show_the_same(client, province, ca) -> None:
    filed = [
        await client.post("/api/v1/cert-requests", json=new_personal(), headers=province.auth("city_clerk")),
        await client.post("/api/v1/cert-requests", headers=province.auth("city_staff"), json={
            "kind": "revoke", "agency_code": CITY_FINANCE, "reason": "token_lost",
            "certificate": await add_certificate(ca, province, "city_staff", CITY_FINANCE)}),
        await client.post("/api/v1/account-requests", json=account_request(), headers=province.auth("city_staff")),
    ]
    assert all(response.status_code == 201 for response in filed), [response.text for response in filed]
    head = await auth.principal_for_token(province.tokens["city_head"])
    rows = template_engine(PACKAGE_DIR / "templates").get_template("requests/_rows.html")
    for flow in (CERT_FLOW, ACCOUNT_FLOW):
        brief = (await engine.list_records_page(head, flow, brief=True)).items
        full = (await engine.list_records_page(head, flow)).items
        assert brief and [record["id"] for record in brief] == [record["id"] for record in full]
        for short, whole in zip(brief, full, strict=True):
            assert short == {name: whole[name] for name in short}
            assert "actions" not in short and "details" not in short
        assert rows.render(rows=brief) == rows.render(rows=full)
    assert any(record["urgent"] for record in (await engine.list_records_page(head, CERT_FLOW, brief=True)).items)
    # The inbox page likewise: the same records, cut short.
    brief = (await engine.inbox_page(head, (CERT_FLOW, ACCOUNT_FLOW), brief=True)).items
    full = (await engine.inbox_page(head, (CERT_FLOW, ACCOUNT_FLOW))).items
    assert len(brief) == 3 and [(r["domain"], r["id"]) for r in brief] == [(r["domain"], r["id"]) for r in full]
    assert all(short == {name: whole[name] for name in short} for short, whole in zip(brief, full, strict=True))
    # Every field the two list templates read of a record is one a brief record holds.
    for template in ("requests/_rows.html", "workflow/inbox.html"):
        read = set(re.findall(r"\br\.([a-z_]+)", (PACKAGE_DIR / "templates" / template).read_text()))
        assert read and read <= set(brief[0]), (template, read - set(brief[0]))


async def test_the_requests_page_lists_the_records(client, province) -> None:
    filed = await client.post("/api/v1/cert-requests", json=new_personal(), headers=province.auth("city_clerk"))
    assert filed.status_code == 201, filed.text
    await sign_in(client, "city_head")
    page = await client.get("/requests")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    record = filed.json()
    assert f'<a href="/requests/{record["id"]}">#{record["id"]}</a>' in page.text
    assert record["state_label"] in page.text and record["agency_name"] in page.text


async def test_brief_certificates_are_the_full_ones_cut_short(province, ca) -> None:
    """The certificates page reads its rows in brief (`certs.brief_json`), whatever path the list takes: every
    status, a holder or a custodian, a search, a status filter."""
    held = await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=700)
    await add_certificate(ca, province, None, CITY_FINANCE, days_left=10)  # an organisation's, nobody holding it
    await add_certificate(ca, province, "city_clerk", CITY, days_left=300, name="Nguyễn Văn Tìm")
    pending = await certs.find_by_fingerprint(held)
    await certs.set_revocation_pending(pending["id"])
    revoked = await certs.find_by_fingerprint(await add_certificate(ca, province, "city_head", CITY))
    await certs.record_revocation(SYSTEM, revoked["id"], revoked_at=now(), reason="other")
    operator = await auth.principal_for_token(province.tokens["operator"])
    statuses = set()
    for filters in ({}, {"status": "active"}, {"q": "nguyen van"}, {"expiring_within_days": 30}):
        brief = (await certs.list_certificates_page(operator, brief=True, **filters)).items
        full = (await certs.list_certificates_page(operator, **filters)).items
        assert brief and [c["id"] for c in brief] == [c["id"] for c in full], filters
        assert all(short == {name: whole[name] for name in short} for short, whole in zip(brief, full, strict=True))
        statuses |= {c["status"] for c in brief} | {"pending" for c in brief if c["revocation_pending"]}
    assert {"active", "revoked", "pending"} <= statuses
    read = set(re.findall(r"\bc\.([a-z_]+)", (PACKAGE_DIR / "templates" / "certs" / "_table.html").read_text()))
    assert read and read <= set(brief[0]), read - set(brief[0])
