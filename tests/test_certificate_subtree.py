"""The certificate list of an agency's subtree reads the same rows in the same order whichever way it reads
them: walking the name order, or (a small subtree, on SQLite) taking the subtree's rows through the agency
index and sorting them. On generated data, every page of every agency's list, both ways, against a plain
Python filter of all rows."""

from __future__ import annotations

import json

import pytest

from registry import subtree
from registry.agencies.tables import Agency
from registry.auth.principal import system_principal
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.generate import Size, generate

SIZE = Size(agencies=60, people=120, certificates=600, requests=20)


@pytest.fixture
async def generated(migrated: str) -> tuple[list[dict], list[dict]]:
    await generate(SIZE, seed=11)
    subtree.forget_agency_paths()
    agencies = await Agency.select(Agency.id, Agency.code, Agency.path)
    rows = await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after,
                                    Certificate.agency.path.as_alias("path"))
    return agencies, rows


def expected(rows: list[dict], path: str) -> list[int]:
    inside = [row for row in rows if row["path"] is not None and row["path"].startswith(path)]
    inside.sort(key=lambda row: row["id"])
    inside.sort(key=lambda row: row["not_after"], reverse=True)
    inside.sort(key=lambda row: row["search_key"])
    return [row["id"] for row in inside]


async def every_page(code: str, limit: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = await certs.list_certificates_page(system_principal("test"), agency_code=code, limit=limit, cursor=cursor)
        ids.extend(row["id"] for row in page.items)
        if page.next_cursor is None:
            return ids
        assert len(page.items) == limit
        cursor = page.next_cursor


@pytest.mark.parametrize("small", [False, True], ids=["name order walked", "subtree read and sorted"])
async def test_subtree_pages_match_a_plain_filter_either_way(generated, monkeypatch, small: bool) -> None:
    agencies, rows = generated
    monkeypatch.setattr(certs, "is_small_subtree", lambda path: small)
    checked = 0
    for agency in agencies:
        want = expected(rows, agency["path"])
        checked += len(want) > 7
        assert await every_page(agency["code"], 7) == want, agency["code"]
    assert checked >= 3  # some lists run over several pages


async def test_a_leaf_is_a_small_subtree_and_the_root_is_not(generated) -> None:
    agencies, _rows = generated
    await subtree.refresh_agency_paths()
    root = min(agencies, key=lambda agency: len(agency["path"]))
    leaf = next(agency for agency in agencies
                if not any(other["path"].startswith(agency["path"]) and other is not agency for other in agencies))
    assert subtree.is_small_subtree(leaf["path"]) is True
    assert subtree.is_small_subtree(root["path"]) is False
    subtree.forget_agency_paths()
    assert subtree.is_small_subtree(leaf["path"]) is False  # unknown until the paths are read


async def test_requests_arriving_while_the_agency_paths_are_read_wait_for_them(generated, monkeypatch) -> None:
    """A worker's first requests arrive together: each must choose its plan knowing the tree (told "no paths",
    the province's list was read agency by agency, seconds at national scale), and the paths are read once."""
    import asyncio

    agencies, _rows = generated
    subtree.forget_agency_paths()
    reads = []
    real_raw = Agency.raw

    def counted_raw(sql, *args):
        if sql == "SELECT path FROM agency":
            reads.append(sql)
        return real_raw(sql, *args)

    monkeypatch.setattr(Agency, "raw", counted_raw)

    async def known_agencies() -> int | None:
        await subtree.refresh_agency_paths()
        return subtree.agencies_within(None)

    seen = await asyncio.gather(*(known_agencies() for _ in range(6)))
    assert seen == [len(agencies)] * 6
    assert len(reads) == 1


async def test_while_the_paths_are_read_again_requests_go_on_with_those_read_before(generated, monkeypatch) -> None:
    import asyncio

    agencies, _rows = generated
    await subtree.refresh_agency_paths()
    monkeypatch.setattr(subtree, "_agency_paths_loaded", subtree._agency_paths_loaded - subtree.AGENCY_PATHS_MAX_AGE)
    release = asyncio.Event()
    real_raw = Agency.raw

    async def slow_paths(sql, *args):
        await release.wait()
        return await real_raw(sql, *args)

    monkeypatch.setattr(Agency, "raw", slow_paths)
    reading = asyncio.ensure_future(subtree.refresh_agency_paths())
    await asyncio.sleep(0)
    # Another request meanwhile: answered with the paths read before, without waiting for the read.
    await asyncio.wait_for(subtree.refresh_agency_paths(), timeout=5)
    assert subtree.agencies_within(None) == len(agencies)
    assert not reading.done()
    release.set()
    await reading
    assert subtree.agencies_within(None) == len(agencies)


@pytest.mark.parametrize("wide_share", [0.0, 1.0], ids=["every subtree wide", "every subtree narrow"])
async def test_wide_and_narrow_subtree_conditions_read_the_same_pages(generated, monkeypatch, wide_share: float) -> None:
    """A wide subtree (more than WIDE_SHARE of the agencies) is tested row by row as the list is read in its
    order: on PostgreSQL its IN is wrapped (`IS TRUE`) so that the planner keeps it a condition, a hashed
    set of the subtree's agencies, instead of joining each row to its agency; on SQLite `+` keeps the agency
    index out. A narrow one is a plain IN. The pages are the same either way."""
    from registry import db

    agencies, rows = generated
    monkeypatch.setattr(subtree, "WIDE_SHARE", wide_share)
    await subtree.refresh_agency_paths()
    department = next(agency for agency in agencies if agency["path"].count("/") == 3)
    assert subtree.share_of_agencies([department["path"]]) < subtree.MOST_OF_THE_TREE
    sql = str(subtree.within_subtrees(Certificate.agency.path, [department["path"]]).querystring)
    wide = wide_share == 0.0
    assert ("IS TRUE" in sql) == (wide and not db.is_sqlite())
    assert sql.startswith("+") == (wide and db.is_sqlite())
    for agency in agencies:
        assert await every_page(agency["code"], 7) == expected(rows, agency["path"]), agency["code"]


async def test_a_subtree_s_agencies_come_from_the_path_index_alone_on_postgresql(generated) -> None:
    """PostgreSQL gathers a wide subtree's agencies into a hashed set (subtree.py); the path index carries the
    ids (migration 2026-12-03T09:00), so that set is read from the index, not from the agency table's pages."""
    from registry import db

    if db.is_sqlite():
        pytest.skip("SQLite's path index carries the rowid, the agency's id")
    agencies, _rows = generated
    department = min((agency for agency in agencies if agency["path"].count("/") == 3), key=lambda a: a["id"])
    async with db.transaction():
        # Vacuumed, as the generator leaves the table, so that its pages are known to be all visible.
        await Agency.raw("SET LOCAL enable_seqscan = off")
        await Agency.raw("SET LOCAL enable_bitmapscan = off")
        plan = await Agency.raw(f"EXPLAIN (FORMAT JSON) SELECT id FROM agency WHERE path LIKE '{department['path']}%'")
    explained = plan[0]["QUERY PLAN"]
    node = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    assert (node["Node Type"], node["Index Name"]) == ("Index Only Scan", "agency_path_ids")
    names = {row["indexname"] for row in await Agency.raw("SELECT indexname FROM pg_indexes WHERE tablename = 'agency'")}
    assert "agency_path_prefix" not in names  # replaced: one index on the path serves every prefix
