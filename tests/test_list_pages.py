"""Keyset pagination of the certificate and request lists (API and pages): walking every page gives the
whole list once, in its order, with the filters kept; a cursor that is not the list's is refused."""

from __future__ import annotations

import asyncio
import base64
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from registry.auth import service as auth
from registry.pagination import encode_cursor
from tests.helpers import CITY, CITY_FINANCE, add_certificate, new_personal, sign_in
from tests.helpers import file_cert_request as file


async def walk(client, path: str, headers: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Every item of a list, following the `Link` rel="next" headers; and the addresses followed."""
    items, followed = [], []
    address: str | None = path
    while address is not None:
        response = await client.get(address, headers=headers)
        assert response.status_code == 200, response.text
        items.extend(response.json())
        followed.append(address)
        link = response.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in response.headers
            address = None
        else:
            address = link.split(">", 1)[0].lstrip("<")
            assert link.endswith('; rel="next"')
            assert parse_qs(urlsplit(address).query)["cursor"] == [response.headers["x-next-cursor"]]
        assert len(followed) < 50, "the pages never end"
    return items, followed


async def file_requests(client, province, count: int) -> list[int]:
    ids = []
    for index in range(count):
        response = await file(client, province, "city_clerk", new_personal(id_number=f"02218870{index:04d}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_request_pages_walk_the_whole_list_once_in_order(client, province) -> None:
    ids = await file_requests(client, province, 7)
    # One of them urgent would reorder; a rejection makes a second state to filter on.
    rejected = await client.post(f"/api/v1/cert-requests/{ids[2]}/reject", json={"reason": "Trùng hồ sơ"},
                                 headers=province.auth("city_head"))
    assert rejected.status_code == 200, rejected.text
    headers = province.auth("operator")
    whole = (await client.get("/api/v1/cert-requests?limit=1000", headers=headers)).json()
    assert len(whole) >= 7
    items, followed = await walk(client, "/api/v1/cert-requests?limit=2", headers)
    assert [item["id"] for item in items] == [item["id"] for item in whole]
    assert len(followed) == -(-len(whole) // 2)  # two a page, and no empty page at the end

    submitted, followed = await walk(client, f"/api/v1/cert-requests?state=submitted&agency={CITY_FINANCE}&limit=3",
                                     headers)
    assert [item["id"] for item in submitted] == [i for i in ids if i != ids[2]]
    assert all("state=submitted" in address and f"agency={CITY_FINANCE}" in address for address in followed)
    assert len(followed) == 2  # six rows at three a page: the second page is the last


async def test_the_last_full_page_has_no_next_page(client, province) -> None:
    ids = await file_requests(client, province, 4)
    response = await client.get(f"/api/v1/cert-requests?agency={CITY_FINANCE}&limit=4", headers=province.auth("operator"))
    assert [item["id"] for item in response.json()] == ids
    assert "link" not in response.headers and "x-next-cursor" not in response.headers


@pytest.mark.parametrize("cursor", [
    "garbage!", "%00", base64.urlsafe_b64encode(b"{}").decode(), encode_cursor([1, 2]),
    encode_cursor([True, "not a time", 3]), encode_cursor([True, "2026-01-01T00:00:00", 3]),
    encode_cursor(["yes", "2026-01-01T00:00:00+00:00", 3]), encode_cursor([True, "2026-01-01T00:00:00+00:00", 2**70]),
    encode_cursor([True, "2026-01-01T00:00:00+00:00", 2**31]), encode_cursor([True, "9999-12-31T23:59:59+00:00", 1]),
    encode_cursor([True, "0001-01-01T00:00:00+07:00", 1]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(), "A" * 999,
])
async def test_a_cursor_that_is_not_the_lists_is_refused(client, province, cursor) -> None:
    await file_requests(client, province, 1)
    response = await client.get("/api/v1/cert-requests", params={"cursor": cursor}, headers=province.auth("operator"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_cursor"


async def test_a_too_long_cursor_is_refused(client, province) -> None:
    response = await client.get("/api/v1/cert-requests", params={"cursor": "A" * 1001}, headers=province.auth("operator"))
    assert response.status_code == 422, response.text
    assert "cursor" in response.text


async def test_a_head_pages_only_through_their_subtree(client, province) -> None:
    ids = await file_requests(client, province, 3)
    items, _ = await walk(client, "/api/v1/cert-requests?limit=1", province.auth("city_head"))
    assert [item["id"] for item in items] == ids
    items, _ = await walk(client, "/api/v1/cert-requests?limit=1", province.auth("finance_head"))
    assert items == []


async def add_certificates(ca, province) -> None:
    # Same names (the list's first key) with several expiries, and two at the very same expiry: the order
    # is total only with the id at its end.
    for name, days_left in [("Trần Văn An", 20), ("Trần Văn An", 80), ("Trần Văn An", 20), ("Lê Thị Bình", 10),
                            ("Lê Thị Bình", 200), ("Đỗ Minh Châu", 25), ("Phạm Hà", 5)]:
        await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=days_left, name=name)


@pytest.mark.parametrize("query", ["", "&status=active", "&expiring_within=30", "&q=tran%20van", f"&agency={CITY}"])
async def test_certificate_pages_walk_the_whole_list_once_in_order(client, province, ca, query) -> None:
    await add_certificates(ca, province)
    headers = province.auth("operator")
    whole = (await client.get(f"/api/v1/certificates?limit=1000{query}", headers=headers)).json()
    assert len(whole) >= 3
    items, followed = await walk(client, f"/api/v1/certificates?limit=2{query}", headers)
    assert [item["fingerprint"] for item in items] == [item["fingerprint"] for item in whole]
    assert len(followed) == -(-len(whole) // 2)
    asked = parse_qs(query.lstrip("&"))
    assert all(parse_qs(urlsplit(address).query).items() >= asked.items() for address in followed)


async def test_a_certificate_cursor_of_the_other_order_is_refused(client, province, ca) -> None:
    await add_certificates(ca, province)
    headers = province.auth("operator")
    by_name = await client.get("/api/v1/certificates?limit=1", headers=headers)
    cursor = by_name.headers["x-next-cursor"]
    response = await client.get(f"/api/v1/certificates?limit=1&expiring_within=30&cursor={cursor}", headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_cursor"


async def test_the_certificates_page_goes_on_page_by_page(client, province, ca, monkeypatch) -> None:
    from registry.certs import pages

    monkeypatch.setattr(pages, "PAGE_LIMIT", 3)
    await add_certificates(ca, province)
    await sign_in(client, "operator")
    seen: list[str] = []
    address: str | None = "/certificates?status=active"
    first = await client.get(address)
    assert "Trang đầu" not in first.text
    while address:
        page = await client.get(address)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        seen.extend(re.findall(r'href="/certificates/([0-9a-f]{64})"', page.text))
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        address = html.unescape(found.group(1)) if found else None
        if address:
            assert "status=active" in address
            assert "Trang đầu" in (await client.get(address)).text
    listed = (await client.get("/api/v1/certificates?status=active&limit=1000", headers=province.auth("operator"))).json()
    assert list(dict.fromkeys(seen)) == [item["fingerprint"] for item in listed]


async def test_a_bad_cursor_on_the_page_answers_as_a_page(client, province) -> None:
    await sign_in(client, "operator")
    page = await client.get("/certificates?cursor=not-a-cursor")
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "Liên kết trang không hợp lệ" in page.text


async def test_the_requests_page_goes_on_page_by_page(client, province, monkeypatch) -> None:
    from registry.certs import requests_pages

    monkeypatch.setattr(requests_pages, "PAGE_LIMIT", 2)
    ids = await file_requests(client, province, 5)
    await sign_in(client, "city_head")
    seen: list[int] = []
    address: str | None = f"/requests?state=submitted&agency={CITY_FINANCE}"
    while address:
        page = await client.get(address)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        seen.extend(int(found) for found in re.findall(r'href="/requests/(\d+)"', page.text))
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        address = html.unescape(found.group(1)) if found else None
    assert list(dict.fromkeys(seen)) == ids


async def file_accounts(client, province, count: int) -> list[int]:
    from tests.test_accounts import account_request, file_account

    ids = []
    for index in range(count):
        response = await file_account(client, province, "city_staff", account_request(
            full_name=f"Hoàng Văn Bình {index}", email=f"binh{index}@quangninh.gov.vn"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


@pytest.mark.parametrize("same_moment", [False, True])
async def test_the_inbox_pages_through_every_domain(client, province, same_moment) -> None:
    from registry.accounts.tables import AccountRequest
    from registry.certs.tables import CertRequest

    await file_requests(client, province, 3)
    await file_accounts(client, province, 3)
    if same_moment:
        # Every request filed at one moment: the order rests on the domain and the id alone.
        moment = (await CertRequest.select(CertRequest.created_at).first())["created_at"]
        await CertRequest.update({CertRequest.created_at: moment}, force=True)
        await AccountRequest.update({AccountRequest.created_at: moment}, force=True)
    headers = province.auth("city_head")
    whole = (await client.get("/api/v1/inbox", headers=headers)).json()
    assert {item["domain"] for item in whole} == {"account", "cert"} and len(whole) == 6
    items, followed = await walk(client, "/api/v1/inbox?limit=4", headers)
    assert [(item["domain"], item["id"]) for item in items] == [(item["domain"], item["id"]) for item in whole]
    assert len(followed) == 2


async def test_the_inbox_page_shows_fifty_and_the_next_page_the_rest(client, province, monkeypatch) -> None:
    from registry.workflow import pages

    monkeypatch.setattr(pages, "PAGE_LIMIT", 2)
    ids = await file_requests(client, province, 3)
    await sign_in(client, "city_head")
    first = await client.get("/inbox")
    assert [int(found) for found in re.findall(r'href="/requests/(\d+)"', first.text)] == ids[:2]
    found = re.search(r'href="([^"]+)" rel="next"', first.text)
    second = await client.get(html.unescape(found.group(1)))
    assert [int(found) for found in re.findall(r'href="/requests/(\d+)"', second.text)] == ids[2:]
    assert "Trang đầu" in second.text and 'rel="next"' not in second.text
    # A decision from the second page with nothing chosen answers with that same page.
    csrf = re.search(r'name="_csrf" value="([^"]+)"', second.text).group(1)
    cursor = re.search(r'name="cursor" value="([^"]+)"', second.text).group(1)
    refused = await client.post("/inbox", data={"_csrf": csrf, "cursor": cursor, "action": "approve"})
    assert refused.status_code == 422
    assert [int(found) for found in re.findall(r'href="/requests/(\d+)"', refused.text)] == ids[2:]


async def test_the_todo_count_is_counted_once_for_many_pages_at_once_and_again_after_a_write(client, province) -> None:
    """A domain's to-do counter (what the menu's badge sums) runs once for concurrent pages of one user;
    after a write it counts again, so that the user's own decision shows at once."""
    from registry import db, web
    from registry.domains import Domain, Domains

    calls = []

    async def slow_counter(principal, domains) -> int:
        calls.append(principal.user_id)
        await asyncio.sleep(0.05)
        return 7

    domains = Domains((Domain(name="counting", todo_counters=[slow_counter]),))
    principal = await auth.load_principal(province.users["city_head"]["id"], via="token")
    assert principal is not None
    counts = await asyncio.gather(*(web.todo_count(domains, principal) for _ in range(20)))
    assert counts == [7] * 20 and len(calls) == 1
    assert await web.todo_count(domains, principal) == 7 and len(calls) == 1
    db.note_write()
    assert await web.todo_count(domains, principal) == 7 and len(calls) == 2


async def test_a_second_tree_stays_outside_the_province_wide_lists(client, province, ca) -> None:
    """Operators reach the root of their own tree: another root's certificates stay out of their lists,
    however the subtree condition is written for a subtree holding most of the agencies."""
    from registry import subtree
    from registry.agencies import service as agencies
    from registry.auth.principal import system_principal

    other = await agencies.create_agency(system_principal("tests"), {"code": "000.00.00.G01", "name": "Tỉnh khác"})
    assert other["parent_code"] is None
    subtree._agency_paths_loaded = -subtree.AGENCY_PATHS_MAX_AGE  # the new root counted at once
    inside = await add_certificate(ca, province, None, CITY, name="Trong tỉnh")
    outside = await add_certificate(ca, province, None, "000.00.00.G01", name="Ngoài tỉnh")
    await subtree.refresh_agency_paths()
    assert subtree.share_of_agencies([(await agencies.find_row("000.00.00.H49"))["path"]]) > subtree.MOST_OF_THE_TREE
    for role in ("operator", "province_head"):
        listed = {item["fingerprint"] for item in
                  (await client.get("/api/v1/certificates?limit=1000", headers=province.auth(role))).json()}
        assert inside in listed and outside not in listed, role


async def test_the_agency_filter_lists_agencies_up_to_its_limit_then_takes_a_code(client, province, monkeypatch) -> None:
    """The certificates page offers the agencies in reach as a list while they are few, and a code to type
    beyond MAX_AGENCY_OPTIONS; far beyond (twice), the agency paths kept in memory tell it without a query."""
    from registry import subtree
    from registry.agencies import service as agencies
    from registry.certs import pages as cert_pages

    await sign_in(client, "operator")
    every = await agencies.tree(None)
    assert every is not None and len(every) > 4

    def agency_filter(page: str) -> str:
        field = re.search(r'<(select|input)[^>]*id="f-agency"', page)
        assert field is not None
        return field.group(1)

    assert agency_filter((await client.get("/certificates")).text) == "select"
    assert await agencies.tree(None, at_most=len(every)) == every
    # Just over: the rows are read and counted.
    assert await agencies.tree(None, at_most=len(every) - 1) is None
    # Far over: the kept paths answer alone; forgotten, they are read again first.
    subtree.forget_agency_paths()
    with monkeypatch.context() as no_rows:
        no_rows.setattr(agencies.Agency, "select", lambda *columns: pytest.fail("agency rows were read"))
        assert await agencies.tree(None, at_most=1) is None
    assert subtree.agencies_within(None) == len(every)
    monkeypatch.setattr(cert_pages, "MAX_AGENCY_OPTIONS", 1)
    page = (await client.get("/certificates")).text
    assert agency_filter(page) == "input" and 'name="agency"' in page


async def test_the_agency_filter_is_read_once_and_follows_new_agencies(client, province, monkeypatch) -> None:
    """The agencies offered are read once for a signed-in user, and again once the data has changed."""
    from registry.agencies import service as agencies
    from registry.auth.principal import system_principal

    reads = 0
    tree = agencies.tree

    async def counted(*args, **kwargs):
        nonlocal reads
        reads += 1
        return await tree(*args, **kwargs)

    monkeypatch.setattr(agencies, "tree", counted)
    await sign_in(client, "operator")
    first = (await client.get("/certificates")).text
    assert (await client.get("/certificates")).text.count("<option") == first.count("<option")
    assert reads == 1
    await agencies.create_agency(system_principal("test"), {"code": "000.99.01.H49", "name": "Phòng Mới Lập",
                                                            "parent_code": CITY})
    page = (await client.get("/certificates")).text
    assert reads == 2 and "Phòng Mới Lập" in page and "Phòng Mới Lập" not in first
