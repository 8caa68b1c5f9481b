"""Keyset pagination of the lists (issue 12, point 3): walking every page with a small limit gives the
unpaged list, in the same order, with no row twice; ties on the sort key are broken by id; the filters
travel in the next page's address; a cursor that is not the list's is refused (422 `invalid_cursor`), on
pages as a page in Vietnamese; pages lead on with "Trang sau" and back with "Trang đầu"."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from registry.accounts.tables import AccountRequest
from registry.agencies.tables import Agency
from registry.batches.tables import Batch
from registry.pagination import encode_cursor
from registry.people import service as people
from registry.specimens import service as specimens
from registry.specimens.tables import Mailbox, Specimen
from tests.helpers import CITY, CITY_FINANCE, DOIT, SYSTEM, sign_in
from tests.specimen_helpers import seal_png, specimen_form, submit
from tests.test_accounts import account_request
from tests.test_specimens import org_fingerprint

LINK = re.compile(r'^<([^>]+)>; rel="next"$')


async def walk(client, url: str, headers: dict[str, str]) -> tuple[list[Any], list[str]]:
    """Every page of a list from `url` on, following `Link: rel="next"`: the items, and the addresses."""
    items: list[Any] = []
    addresses = [url]
    while True:
        response = await client.get(addresses[-1], headers=headers)
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)
        items.extend(response.json())
        link = response.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in response.headers
            return items, addresses
        target = LINK.match(link).group(1)
        assert parse_qs(urlsplit(target).query)["cursor"] == [response.headers["x-next-cursor"]]
        assert len(response.json()) > 0
        addresses.append(target)


async def assert_walk_matches(client, path: str, headers: dict[str, str], limit: int, **filters: str) -> list[Any]:
    query = urlencode(filters)
    separator = "&" if query else ""
    whole = await client.get(f"{path}?{query}{separator}limit=1000", headers=headers)
    assert whole.status_code == 200, whole.text
    assert "link" not in whole.headers
    expected = whole.json()
    items, addresses = await walk(client, f"{path}?{query}{separator}limit={limit}", headers)
    ids = [item.get("id", item.get("code")) for item in items]
    assert ids == [item.get("id", item.get("code")) for item in expected]
    assert len(set(ids)) == len(ids)
    assert len(addresses) == max(1, -(-len(expected) // limit))
    for address in addresses[1:]:
        kept = parse_qs(urlsplit(address).query)
        assert urlsplit(address).path == path
        assert kept["limit"] == [str(limit)]
        for name, value in filters.items():
            assert kept[name] == [value]
    return items


async def clone(table: Any, record_id: int, changes: list[dict[str, Any]]) -> None:
    """Copies of a record with some columns changed (ties on the sort key that only the id breaks)."""
    row = await table.select().where(table.id == record_id).first()
    row.pop("id")
    await table.insert(*[table(**{**row, **change}) for change in changes])


# Several records at one moment (one of them a whole second, which SQLite keeps without a fraction), some
# urgent: the order is urgent first, oldest first, and then only the id tells them apart.
MOMENT = datetime(2031, 5, 1, 8, 0, 0, tzinfo=UTC)
TIES = [{"created_at": MOMENT + timedelta(microseconds=step % 2), "urgent": step % 3 == 0} for step in range(7)]


async def test_agencies_walk_in_tree_order_with_their_filters(client, province) -> None:
    headers = province.auth("city_staff")
    everything = await assert_walk_matches(client, "/api/v1/agencies", headers, 2)
    assert len(everything) == 6
    assert [a["code"] for a in everything] == [a["code"] for a in
                                               (await client.get("/api/v1/agencies", headers=headers)).json()]
    found = await assert_walk_matches(client, "/api/v1/agencies", headers, 1, q="uy ban")
    assert len(found) == 3
    children = await assert_walk_matches(client, "/api/v1/agencies", headers, 1, parent=CITY)
    assert {a["parent_code"] for a in children} == {CITY} and len(children) == 2


async def test_people_walk_by_name_with_ties_broken_by_id(client, province) -> None:
    csv = "full_name,agency_code\n" + "".join(f"Trần Thị Bình,{CITY_FINANCE}\n" for _ in range(5))
    csv += f"Lê Văn An,{CITY}\nNguyễn Văn Cường,{CITY_FINANCE}\n"
    await people.import_csv(SYSTEM, csv.encode())
    headers = province.auth("city_head")
    everything = await assert_walk_matches(client, "/api/v1/people", headers, 2)
    assert len(everything) >= 7
    binh = await assert_walk_matches(client, "/api/v1/people", headers, 2, q="binh", agency=CITY_FINANCE)
    assert len(binh) == 5 and [p["id"] for p in binh] == sorted(p["id"] for p in binh)


async def test_account_requests_walk_urgent_first_then_oldest(client, province) -> None:
    filed = await client.post("/api/v1/account-requests", json=account_request(), headers=province.auth("city_staff"))
    assert filed.status_code == 201, filed.text
    await clone(AccountRequest, filed.json()["id"], TIES)
    headers = province.auth("city_head")
    items = await assert_walk_matches(client, "/api/v1/account-requests", headers, 2)
    assert len(items) == 8
    assert [item["urgent"] for item in items] == sorted((item["urgent"] for item in items), reverse=True)
    await assert_walk_matches(client, "/api/v1/account-requests", headers, 3, state="submitted", agency=CITY_FINANCE,
                              kind="new")
    mine = await assert_walk_matches(client, "/api/v1/account-requests", province.auth("city_staff"), 2, mine="true")
    assert len(mine) == 8


async def test_mailboxes_and_specimens_walk(client, province, ca) -> None:
    mailbox = await specimens.propose_mailbox(SYSTEM, CITY, "vanthu@halong.gov.vn")
    await clone(Mailbox, mailbox["id"], [{**tie, "address": f"hop{n}@halong.gov.vn"} for n, tie in enumerate(TIES)])
    headers = province.auth("operator")
    assert len(await assert_walk_matches(client, "/api/v1/mailboxes", headers, 3)) == 8
    assert len(await assert_walk_matches(client, "/api/v1/mailboxes", headers, 2, state="submitted", agency=CITY)) == 8

    fingerprint = await org_fingerprint(ca, province)
    created = await submit(client, province, "city_clerk", specimen_form("org", CITY, fingerprint), seal_png())
    assert created.status_code == 201, created.text
    await clone(Specimen, created.json()["id"], TIES)
    assert len(await assert_walk_matches(client, "/api/v1/specimens", headers, 3)) == 8
    assert len(await assert_walk_matches(client, "/api/v1/specimens", headers, 2, state="submitted")) == 8


async def test_batches_walk_newest_first(client, province) -> None:
    doit = await Agency.select(Agency.id).where(Agency.code == DOIT).first()
    first = Batch(kind="ca", state="draft", agency=doit["id"], summary="Danh sách", details="{}",
                  created_at=MOMENT - timedelta(days=1), updated_at=MOMENT)
    await first.save()
    await clone(Batch, first.id, TIES)
    items = await assert_walk_matches(client, "/api/v1/batches", province.auth("operator"), 3)
    assert len(items) == 8 and items[-1]["id"] == first.id
    moments = [item["created_at"] for item in items]
    assert moments == sorted(moments, reverse=True)


LISTS = ["/api/v1/agencies", "/api/v1/people", "/api/v1/account-requests", "/api/v1/specimens",
         "/api/v1/mailboxes", "/api/v1/batches"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


BAD_CURSORS = [
    "garbage!!",
    "%%%",
    _b64(b"not json"),
    _b64(b'{"a": 1}'),
    _b64(b'"a string"'),
    encode_cursor([]),
    encode_cursor(["/1/", 1, 2, 3, 4]),
    encode_cursor(["a\x00", 1]),
    encode_cursor([1, "x"]),
    encode_cursor([True, "2030-01-01T00:00:00", 1]),
    encode_cursor([0, "2030-01-01T00:00:00", 1]),
    encode_cursor([2**70, 2**70, 2**70]),
    "é" * 10,
]


@pytest.mark.parametrize("path", LISTS)
async def test_a_cursor_that_is_not_the_lists_is_refused(client, province, path) -> None:
    for cursor in BAD_CURSORS:
        response = await client.get(path, params={"cursor": cursor}, headers=province.auth("operator"))
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["code"] == "invalid_cursor", (cursor, response.json())
    nul = await client.get(path, params={"cursor": "a\x00b"}, headers=province.auth("operator"))
    assert nul.status_code == 422
    too_long = await client.get(path, params={"cursor": "A" * 1001}, headers=province.auth("operator"))
    assert too_long.status_code == 422


def _next_link(html: str, testid: str = "next-page") -> str | None:
    found = re.search(rf'<a class="button" href="([^"]+)"[^>]*data-testid="{testid}"', html)
    return unescape(found.group(1)) if found else None


async def test_the_people_page_leads_on_with_trang_sau_keeping_the_search(client, province) -> None:
    csv = "full_name,agency_code\n" + "".join(f"Phạm Thị Hoa,{CITY_FINANCE}\n" for _ in range(230))
    await people.import_csv(SYSTEM, csv.encode())
    await sign_in(client, "city_head")
    address: str | None = "/people?q=hoa"
    seen: list[str] = []
    pages = 0
    while address:
        response = await client.get(address)
        assert response.status_code == 200, response.text
        html = response.text
        seen.extend(re.findall(r'<a href="/people/(\d+)">', html))
        if pages:
            assert _next_link(html, "first-page") == "/people?q=hoa" and "Trang đầu" in html
        else:
            assert "Trang đầu" not in html
        address = _next_link(html)
        if address:
            assert "Trang sau" in html and parse_qs(urlsplit(address).query)["q"] == ["hoa"]
        pages += 1
    assert pages == 2 and len(seen) == 230 and len(set(seen)) == 230

    refused = await client.get("/people?q=hoa&cursor=garbage")
    assert refused.status_code == 422
    assert "Liên kết trang không hợp lệ" in refused.text and "Liên kết trang:" in refused.text
    assert "cursor" not in refused.text.replace("cursor=garbage", "")


async def test_the_other_pages_take_their_cursors(client, province) -> None:
    """Each staff page reads its cursor (a foreign one is refused as a page) and has no pager when one
    page holds everything."""
    await sign_in(client, "operator")
    for address in ("/accounts", "/specimens", "/batches", "/agencies?q=uy+ban"):
        response = await client.get(address)
        assert response.status_code == 200, (address, response.text)
        assert "Trang sau" not in response.text and "Trang đầu" not in response.text
    for address in ("/accounts?cursor=x", "/specimens?specimen_cursor=x", "/specimens?mailbox_cursor=x",
                    "/batches?cursor=x", "/agencies?q=uy+ban&cursor=x"):
        response = await client.get(address)
        assert response.status_code == 422 and "Liên kết trang không hợp lệ" in response.text, address
