"""The certificate search reads the same rows in the same order whichever way it reads them: walking the name
index in order; taking the few matches from PostgreSQL's trigram index and sorting them; or reading them from
SQLite's FTS5 table in the name order (its rowid is each certificate's rank in that order). On generated data,
every page of a set of searches, each way, against a plain Python filter of all rows; and SQLite's ranks and
text table kept in step with the certificates, including where the ranks leave no room."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from registry import db
from registry.auth.principal import system_principal
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.generate import Size, generate
from registry.text import search_words
from tests import certgen

SIZE = Size(agencies=30, people=120, certificates=600, requests=40)
QUERIES = ["nguyen van", "nguyen", "van", "a", "thu", "Nguyễn Thị", "tran thu ha", "hai yen", "gov.vn", "xyz khong co",
           "nguyenvan", "le  minh", "@", "đức"]


async def every_page(q: str, limit: int) -> list[dict]:
    actor = system_principal("test")
    rows: list[dict] = []
    cursor = None
    while True:
        page = await certs.list_certificates_page(actor, q=q, limit=limit, cursor=cursor)
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        assert len(page.items) == limit
        cursor = page.next_cursor


def expected(all_rows: list[dict], q: str) -> list[int]:
    words = search_words(q)
    matching = [row for row in all_rows if all(word in row["search_key"] for word in words)]
    # Newest first within a search key: not_after descending, then the id.
    matching.sort(key=lambda row: row["id"])
    matching.sort(key=lambda row: row["not_after"], reverse=True)
    matching.sort(key=lambda row: row["search_key"])
    return [row["id"] for row in matching]


@pytest.fixture
async def generated(migrated: str) -> list[dict]:
    await generate(SIZE, seed=7)
    return await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after)


async def every_page_for(actor, q: str, limit: int, **filters) -> list[dict]:
    rows: list[dict] = []
    cursor = None
    while True:
        page = await certs.list_certificates_page(actor, q=q, limit=limit, cursor=cursor, **filters)
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        assert len(page.items) == limit
        cursor = page.next_cursor


def text_index_ways() -> list[str]:
    """The ways through a text index this engine has: SQLite's ranked table; PostgreSQL's trigram index on the
    certificates and its table of search keys."""
    return [certs.RANKED] if db.is_sqlite() else [certs.INDEX, certs.NAMES]


@pytest.mark.parametrize("way", [certs.WALK, certs.INDEX, certs.NAMES, certs.RANKED])
async def test_search_pages_match_a_plain_filter_every_way(generated, monkeypatch, way: str) -> None:
    if way != certs.WALK and way not in text_index_ways():
        pytest.skip(f"no {way} way on this engine")

    async def decided(words: list[str], *, in_name_order: bool, wide: bool) -> str:
        if not in_name_order or not certs._indexed_words(words):
            return certs.WALK
        return way

    monkeypatch.setattr(certs, "_search_path", decided)
    # The data holds matches to page through: several pages of a common word, some of a name.
    assert len(expected(generated, "van")) > 50 and expected(generated, "nguyen van")
    for q in QUERIES:
        want = expected(generated, q)
        for limit in (7, 50):
            got = [row["id"] for row in await every_page(q, limit)]
            assert got == want, (q, limit)


async def test_the_text_index_is_read_only_where_it_can_answer(generated, monkeypatch) -> None:
    # Words too short for trigrams, other orders and fingerprints never take the text index.
    assert await certs._search_path(["a", "le"], in_name_order=True, wide=True) == certs.WALK
    assert await certs._search_path([], in_name_order=True, wide=True) == certs.WALK
    assert await certs._search_path(["nguyen"], in_name_order=False, wide=True) == certs.WALK
    if db.is_sqlite():
        # A wide list reads every search with a word of three letters from the ranked table; a narrow one
        # only when the words match few certificates in all.
        assert await certs._search_path(["nguyen", "a"], in_name_order=True, wide=True) == certs.RANKED
        assert await certs._search_path(["khongcogi"], in_name_order=True, wide=False) == certs.RANKED
        monkeypatch.setattr(certs, "TEXT_TABLE_MAX_MATCHES", 3)
        assert len(expected(generated, "van")) > 3
        assert await certs._search_path(["van"], in_name_order=True, wide=True) == certs.RANKED
        assert await certs._search_path(["van"], in_name_order=True, wide=False) == certs.WALK
        assert await certs._search_path(["khongcogi"], in_name_order=True, wide=False) == certs.RANKED
    else:
        indexes = await Certificate.raw("SELECT indexname FROM pg_indexes WHERE tablename = 'certificate'")
        available = await Certificate.raw("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        assert bool(available) == ("certificate_search_trigram" in {row["indexname"] for row in indexes})
        names_indexes = await Certificate.raw("SELECT indexname FROM pg_indexes WHERE tablename = {}",
                                              certs.SEARCH_NAMES)
        assert bool(available) == (certs._SEARCH_NAMES_INDEX in {row["indexname"] for row in names_indexes})
        # A decision either way, never an error (the planner may prefer a scan on a table this small).
        assert await certs._few_matches(["nguyenvanan"]) in (True, False)
        assert await certs._few_matches(["a", "le"]) is False
        if not available:
            return
        async with db.transaction():
            # Where the planner would read through the indexes (as on a big table): a wide list sorts the
            # matching keys, a narrow one reads its matches through the certificates' index, and with more
            # matches than the thresholds both walk the name order.
            for method in ("seqscan", "indexscan", "indexonlyscan"):
                await Certificate.raw(f"SET LOCAL enable_{method} = off")
            assert await certs._search_path(["khongcogi"], in_name_order=True, wide=True) == certs.NAMES
            assert await certs._search_path(["khongcogi"], in_name_order=True, wide=False) == certs.INDEX
            monkeypatch.setattr(certs, "NAMES_MAX_MATCHES", 0)
            monkeypatch.setattr(certs, "INDEX_PATH_MAX_MATCHES", 0)
            assert await certs._search_path(["van"], in_name_order=True, wide=True) == certs.WALK
            assert await certs._search_path(["van"], in_name_order=True, wide=False) == certs.WALK


async def test_a_list_reaches_widely_by_its_actor_and_its_agency(generated, monkeypatch) -> None:
    """Wide: every agency the actor may read and the agency filter each cover more than WIDE_SHARE of the tree.
    A holder's own list, a unit head's or a small agency's is narrow."""
    from registry import subtree
    from registry.auth.principal import Grant, Principal

    await subtree.refresh_agency_paths()
    root = (await Certificate.raw("SELECT path FROM agency WHERE depth = 0"))[0]["path"]
    leaf = (await Certificate.raw("SELECT path FROM agency ORDER BY depth DESC, id LIMIT 1"))[0]["path"]
    monkeypatch.setattr(certs, "WIDE_SHARE", 0.5)
    system = system_principal("test")
    assert certs._reaches_widely(system, None) and certs._reaches_widely(system, root)
    assert not certs._reaches_widely(system, leaf)
    operator = Principal(user_id=1, username="op", via="token", grants=(Grant("operator", 1, "R", root),))
    head = Principal(user_id=2, username="head", via="token", grants=(Grant("head", 2, "L", leaf),))
    staff = Principal(user_id=3, username="staff", via="token", person_id=5)
    assert certs._reaches_widely(operator, None) and not certs._reaches_widely(operator, leaf)
    assert not certs._reaches_widely(head, None) and not certs._reaches_widely(staff, None)


async def test_many_matches_walk_the_name_order_on_postgresql(generated, monkeypatch) -> None:
    """Past the threshold the trigram index is not read, and the pages are the same."""
    if db.is_sqlite():
        pytest.skip("PostgreSQL's choice: SQLite reads every search with trigrams from its ranked table")
    monkeypatch.setattr(certs, "INDEX_PATH_MAX_MATCHES", 3)
    assert len(expected(generated, "van")) > 3
    assert await certs._few_matches(["van"]) is False
    assert [row["id"] for row in await every_page("van", 50)] == expected(generated, "van")


async def test_filtered_searches_keep_their_filters_on_every_way(generated, monkeypatch) -> None:
    """The list's other conditions (an agency's subtree, a status) go with the words whichever way the matches
    are read: on the ranked table they are tested as its matches come, in its order, page after page."""
    from registry import subtree

    subtree.forget_agency_paths()
    rows = await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after,
                                    Certificate.revoked_at, Certificate.agency.path.as_alias("path"))
    agencies = await Certificate.raw("SELECT code, path FROM agency WHERE depth = 1 ORDER BY id")
    actor = system_principal("test")
    for way in (certs.WALK, *text_index_ways()):
        async def decided(words: list[str], *, in_name_order: bool, wide: bool, way: str = way) -> str:
            return way if in_name_order and certs._indexed_words(words) else certs.WALK

        monkeypatch.setattr(certs, "_search_path", decided)
        for agency in agencies:
            inside = [row for row in rows if row["path"].startswith(agency["path"])]
            for q in ("nguyen", "van", "thi"):
                for limit in (5, 50):
                    got = [row["id"] for row in await every_page_for(actor, q, limit, agency_code=agency["code"])]
                    assert got == expected(inside, q), (way, agency["code"], q, limit)
        revoked = [row for row in rows if row["revoked_at"] is not None]
        assert expected(revoked, "van")
        got = [row["id"] for row in await every_page_for(actor, "van", 3, status="revoked")]
        assert got == expected(revoked, "van"), way


async def _ranks_in_step() -> list[dict]:
    """SQLite's ranks follow the name order exactly, one per certificate with its search key, and FTS5's own
    check finds its index holding exactly the rank table's keys (rank 1: compared with the content table)."""
    ranked = await Certificate.raw(f"SELECT rank, certificate_id, search_key FROM {certs.NAME_RANKS} ORDER BY rank")
    in_order = await Certificate.raw("SELECT id, search_key FROM certificate ORDER BY search_key, not_after DESC, id")
    assert [(row["certificate_id"], row["search_key"]) for row in ranked] == [
        (row["id"], row["search_key"]) for row in in_order]
    assert all(row["rank"] > 0 for row in ranked)
    await Certificate.raw(f"INSERT INTO {certs.TEXT_TABLE} ({certs.TEXT_TABLE}, rank) VALUES ('integrity-check', 1)")
    return ranked


def sqlite_only() -> None:
    if not db.is_sqlite():
        pytest.skip("SQLite's ranked FTS5 table; PostgreSQL indexes the column itself")


async def test_the_sqlite_ranks_follow_every_certificate(generated, ca) -> None:
    sqlite_only()
    triggers = await Certificate.raw("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    # The generator set the triggers aside for its load and put them back; the first text table is gone.
    assert {row["name"] for row in triggers} >= {f"{certs.NAME_RANKS}_{name}" for name in (
        "insert", "update", "delete", "text_insert", "text_update", "text_delete")}
    assert not await Certificate.raw("SELECT name FROM sqlite_master WHERE name = 'certificate_search'")
    ranked = await _ranks_in_step()
    # Filled spaced apart, so that a new certificate finds room between any two.
    assert min(b["rank"] - a["rank"] for a, b in itertools.pairwise(ranked)) >= 1 << 32
    first = generated[0]
    await Certificate.update({Certificate.search_key: "ten moi khongcogi"}).where(Certificate.id == first["id"])
    await _ranks_in_step()
    assert [row["id"] for row in await every_page("khongcogi", 50)] == [first["id"]]
    assert first["id"] not in [row["id"] for row in await every_page(first["search_key"], 50)]
    # A certificate imported is ranked and found through the table (the insert trigger), and gone once deleted.
    created, _ = await certs.import_certificate(
        system_principal("test"), certgen.pem(certgen.issue(ca, "Phạm Khôngcó Thật", email="pham.khongco@quangninh.gov.vn")))
    await _ranks_in_step()
    assert await certs._search_path(["khongco", "pham"], in_name_order=True, wide=False) == certs.RANKED
    assert [row["fingerprint"] for row in await every_page("pham khongco", 50)] == [created["fingerprint"]]
    await Certificate.delete().where(Certificate.fingerprint == created["fingerprint"])
    await _ranks_in_step()
    assert await every_page("pham khongco", 50) == []
    # A corrupted index is what the check is for: it must be able to fail.
    await Certificate.raw(f"INSERT INTO {certs.TEXT_TABLE} (rowid, search_key) VALUES ({{}}, 'lac loai')", ranked[0]["rank"])
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        await _ranks_in_step()


async def test_sqlite_ranks_make_room_where_there_is_none(generated, ca) -> None:
    """With every rank taken from 1 up (as after many certificates placed at one point), a certificate placed
    anywhere moves the run of ranks after its place up by one: first, between two, last, by import and by a
    changed search key; the order and the search stay exact."""
    sqlite_only()
    await Certificate.raw(f"DELETE FROM {certs.NAME_RANKS}")
    await Certificate.raw(f"INSERT INTO {certs.NAME_RANKS} (rank, certificate_id, search_key) SELECT ROW_NUMBER() "
                          "OVER (ORDER BY search_key, not_after DESC, id), id, search_key FROM certificate")
    ranked = await _ranks_in_step()
    assert [row["rank"] for row in ranked] == list(range(1, len(ranked) + 1))
    middle = sorted(generated, key=lambda row: row["search_key"])[len(generated) // 2]["search_key"]
    names = [("Aa Đầu Tiên", "aa.dau@quangninh.gov.vn"),  # before every other
             (middle.split(" @")[0].title() + " Chen", "chen.giua@quangninh.gov.vn"),
             ("Ỹ Cuối Cùng", "zz.cuoi@quangninh.gov.vn")]
    for name, email in names:
        await certs.import_certificate(system_principal("test"), certgen.pem(certgen.issue(ca, name, email=email)))
        await _ranks_in_step()
    # A certificate moved to the front by a new search key, twice in a row at the same point.
    for row in generated[:2]:
        await Certificate.update({Certificate.search_key: "a truoc nhat"}).where(Certificate.id == row["id"])
        await _ranks_in_step()
    every = await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after)
    assert sorted(expected(every, "truoc nhat")) == sorted(row["id"] for row in generated[:2])
    for q in ("truoc nhat", "van", "chen giua", "cuoi", "dau tien"):
        assert [row["id"] for row in await every_page(q, 7)] == expected(every, q), q


async def test_sqlite_ranks_spread_a_crowd_placed_at_one_point(generated) -> None:
    """Certificates placed one after another at one point (an import sorted by name) halve the room there each
    time; when none is left, the ranks after the point are spread over their neighbours' room instead of
    moving rank by rank, so no run of consecutive ranks builds up, and the order stays exact."""
    sqlite_only()
    crowd = sorted(generated, key=lambda row: row["id"])[:80]
    for number, row in enumerate(crowd):
        # Between "nguyen van …" and the names after it: each lands right after the one before.
        await Certificate.update({Certificate.search_key: f"nguyen van zzz {number:04d}"}).where(
            Certificate.id == row["id"])
    ranked = await _ranks_in_step()
    gaps = [b["rank"] - a["rank"] for a, b in itertools.pairwise(ranked)]
    # 80 placed where 32 halvings use up the room: moved one by one, dozens of ranks would now be consecutive.
    assert sum(gap == 1 for gap in gaps) <= 2
    assert not await Certificate.raw(f"SELECT 1 FROM {certs.NAME_RANKS}_moves")
    every = await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after)
    assert [row["id"] for row in await every_page("van zzz", 9)] == [row["id"] for row in crowd]
    assert [row["id"] for row in await every_page("nguyen", 9)] == expected(every, "nguyen")


async def test_the_migration_ranks_the_certificates_already_there(generated) -> None:
    """The migration on a database that holds certificates (an upgrade): every one ranked in the name order,
    the text index filled, the first text table dropped."""
    sqlite_only()
    import importlib

    migration = importlib.import_module("migrations.certs.certs_2026_12_01t12_00_00_000000")
    for row in await Certificate.raw("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        await Certificate.raw(f'DROP TRIGGER "{row["name"]}"')
    await Certificate.raw(f"DROP TABLE {certs.TEXT_TABLE}")
    await Certificate.raw(f"DROP TABLE {certs.NAME_RANKS}")
    await Certificate.raw(f"DROP TABLE {certs.NAME_RANKS}_moves")
    await Certificate.raw("CREATE VIRTUAL TABLE certificate_search USING fts5(search_key, content='certificate', "
                          "content_rowid='id', tokenize='trigram', detail='none')")
    await migration.rank_text_table()
    assert not await Certificate.raw("SELECT name FROM sqlite_master WHERE name = 'certificate_search'")
    assert len(await _ranks_in_step()) == len(generated)
    assert [row["id"] for row in await every_page("nguyen van", 50)] == expected(generated, "nguyen van")


def postgresql_only() -> None:
    if db.is_sqlite():
        pytest.skip("PostgreSQL's table of search keys; SQLite ranks its certificates instead")


async def _names_in_step() -> set[str]:
    """The table of search keys holds every certificate's key, each once (and perhaps keys no longer used)."""
    names = [row["search_key"] for row in await Certificate.raw(f"SELECT search_key FROM {certs.SEARCH_NAMES}")]
    assert len(names) == len(set(names))
    keys = {row["search_key"] for row in await Certificate.raw("SELECT DISTINCT search_key FROM certificate")}
    assert keys <= set(names)
    return set(names)


async def test_the_search_keys_follow_every_certificate_on_postgresql(generated, ca, monkeypatch) -> None:
    """The generator's load filled the table of keys through its trigger (once per COPY); an import adds its
    certificate's key, a changed key is added, and the list finds both through the keys."""
    postgresql_only()
    names = await _names_in_step()
    assert names == {row["search_key"] for row in generated}
    triggers = await Certificate.raw("SELECT tgname FROM pg_trigger WHERE tgrelid = 'certificate'::regclass")
    assert {row["tgname"] for row in triggers} >= {f"{certs.SEARCH_NAMES}_insert", f"{certs.SEARCH_NAMES}_update"}
    created, _ = await certs.import_certificate(
        system_principal("test"), certgen.pem(certgen.issue(ca, "Phạm Khôngcó Thật", email="pham.khongco@quangninh.gov.vn")))
    first = generated[0]
    await Certificate.update({Certificate.search_key: "ten moi khongcogi"}).where(Certificate.id == first["id"])
    names = await _names_in_step()
    assert "ten moi khongcogi" in names and first["search_key"] in names
    created_id = (await Certificate.select(Certificate.id).where(
        Certificate.fingerprint == created["fingerprint"]))[0]["id"]
    every = await Certificate.select(Certificate.id, Certificate.search_key, Certificate.not_after)
    for q, want in (("pham khongco", [created_id]), ("khongcogi", [first["id"]]), ("nguyen van", None)):
        for way in (certs.NAMES, certs.WALK):
            rows = await _pages_read(monkeypatch, way, q)
            assert [row["id"] for row in rows] == (want if want is not None else expected(every, q)), (way, q)


async def _pages_read(monkeypatch, way: str, q: str) -> list[dict]:
    async def decided(words: list[str], *, in_name_order: bool, wide: bool) -> str:
        return way if in_name_order and certs._indexed_words(words) else certs.WALK

    monkeypatch.setattr(certs, "_search_path", decided)
    return await every_page(q, 4)


async def test_the_migration_collects_the_keys_already_there_on_postgresql(generated, monkeypatch) -> None:
    """The migration on a database that holds certificates (an upgrade): every key collected once, the
    triggers and the trigram index in place, the search the same."""
    postgresql_only()
    import importlib

    migration = importlib.import_module("migrations.certs.certs_2026_12_02t12_00_00_000000")
    await Certificate.raw(f"DROP TRIGGER {certs.SEARCH_NAMES}_insert ON certificate")
    await Certificate.raw(f"DROP TRIGGER {certs.SEARCH_NAMES}_update ON certificate")
    await Certificate.raw(f"DROP TABLE {certs.SEARCH_NAMES}")
    await migration.add_search_names()
    assert await _names_in_step() == {row["search_key"] for row in generated}
    indexes = await Certificate.raw("SELECT indexname FROM pg_indexes WHERE tablename = {}", certs.SEARCH_NAMES)
    available = await Certificate.raw("SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops'")
    assert bool(available) == (certs._SEARCH_NAMES_INDEX in {row["indexname"] for row in indexes})
    assert [row["id"] for row in await _pages_read(monkeypatch, certs.NAMES, "nguyen van")] == expected(generated, "nguyen van")
