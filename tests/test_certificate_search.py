"""The certificate search reads the same rows in the same order whichever way it reads them: walking the name
index in order, or (few matches) taking the matches from the text index (PostgreSQL's trigram index, SQLite's
FTS5 table) and sorting them. On generated data, every page of a set of searches, both ways, against a plain
Python filter of all rows; and SQLite's FTS5 table kept in step with the certificates."""

from __future__ import annotations

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


@pytest.mark.parametrize("by_index", [False, True], ids=["ordered walk", "text index"])
async def test_search_pages_match_a_plain_filter_either_way(generated, monkeypatch, by_index: bool) -> None:
    async def decided(words: list[str]) -> bool:
        return by_index

    monkeypatch.setattr(certs, "_few_matches", decided)
    # The data holds matches to page through: several pages of a common word, some of a name.
    assert len(expected(generated, "van")) > 50 and expected(generated, "nguyen van")
    for q in QUERIES:
        want = expected(generated, q)
        for limit in (7, 50):
            got = [row["id"] for row in await every_page(q, limit)]
            assert got == want, (q, limit)


async def test_the_planner_is_asked_only_with_a_text_index(generated) -> None:
    # Words too short for trigrams never take the index way.
    assert await certs._few_matches(["a", "le"]) is False
    assert await certs._few_matches([]) is False
    if db.is_sqlite():
        # The FTS5 table counts the matches: none, or few, are read through it; many are met in the walk.
        assert await certs._few_matches(["khongcogi"]) is True
        assert await certs._few_matches(["nguyen", "van"]) is (len(expected(generated, "nguyen van"))
                                                                 <= certs.TEXT_TABLE_MAX_MATCHES)
    else:
        indexes = await Certificate.raw("SELECT indexname FROM pg_indexes WHERE tablename = 'certificate'")
        available = await Certificate.raw("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        assert bool(available) == ("certificate_search_trigram" in {row["indexname"] for row in indexes})
        # A decision either way, never an error (the planner may prefer a scan on a table this small).
        assert await certs._few_matches(["nguyenvanan"]) in (True, False)


async def test_many_matches_walk_the_name_order(generated, monkeypatch) -> None:
    """Past the threshold the text index is not read, and the pages are the same."""
    monkeypatch.setattr(certs, "TEXT_TABLE_MAX_MATCHES", 3)
    monkeypatch.setattr(certs, "INDEX_PATH_MAX_MATCHES", 3)
    assert len(expected(generated, "van")) > 3
    assert await certs._few_matches(["van"]) is False
    assert [row["id"] for row in await every_page("van", 50)] == expected(generated, "van")


async def _text_table_in_step() -> None:
    """FTS5's own check that its index holds exactly the search keys of the certificate table (rank 1: compared
    with the content table itself)."""
    await Certificate.raw("INSERT INTO certificate_search (certificate_search, rank) VALUES ('integrity-check', 1)")


async def test_the_sqlite_text_table_follows_every_certificate(generated, ca) -> None:
    if not db.is_sqlite():
        pytest.skip("SQLite's FTS5 table; PostgreSQL indexes the column itself")
    triggers = await Certificate.raw("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'certificate'")
    # The generator set the triggers aside for its load and put them back.
    assert {row["name"] for row in triggers} >= {"certificate_search_insert", "certificate_search_update",
                                                  "certificate_search_delete"}
    await _text_table_in_step()
    first = generated[0]
    await Certificate.update({Certificate.search_key: "ten moi khongcogi"}).where(Certificate.id == first["id"])
    await _text_table_in_step()
    assert [row["id"] for row in await every_page("khongcogi", 50)] == [first["id"]]
    assert first["id"] not in [row["id"] for row in await every_page(first["search_key"], 50)]
    # A certificate imported is found through the table (the insert trigger), and gone once deleted.
    created, _ = await certs.import_certificate(
        system_principal("test"), certgen.pem(certgen.issue(ca, "Phạm Khôngcó Thật", email="pham.khongco@quangninh.gov.vn")))
    await _text_table_in_step()
    assert await certs._few_matches(["khongco", "pham"]) is True
    assert [row["fingerprint"] for row in await every_page("pham khongco", 50)] == [created["fingerprint"]]
    await Certificate.delete().where(Certificate.fingerprint == created["fingerprint"])
    await _text_table_in_step()
    assert await every_page("pham khongco", 50) == []
    # A corrupted index is what the check is for: it must be able to fail.
    await Certificate.raw("INSERT INTO certificate_search (rowid, search_key) VALUES ({}, 'lac loai')", first["id"])
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        await _text_table_in_step()
