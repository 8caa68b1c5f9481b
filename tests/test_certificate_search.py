"""The certificate search reads the same rows in the same order whichever way it reads them: walking the name
index in order, or (PostgreSQL, few matches) taking the matches from the trigram index and sorting them.
On generated data, every page of a set of searches, both ways, against a plain Python filter of all rows."""

from __future__ import annotations

import pytest

from registry import db
from registry.auth.principal import system_principal
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.generate import Size, generate
from registry.text import search_words

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
    # Words too short for trigrams never take the index way; SQLite has no text index.
    assert await certs._few_matches(["a", "le"]) is False
    assert await certs._few_matches([]) is False
    if db.is_sqlite():
        assert await certs._few_matches(["nguyen", "van"]) is False
    else:
        indexes = await Certificate.raw("SELECT indexname FROM pg_indexes WHERE tablename = 'certificate'")
        available = await Certificate.raw("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        assert bool(available) == ("certificate_search_trigram" in {row["indexname"] for row in indexes})
        # A decision either way, never an error (the planner may prefer a scan on a table this small).
        assert await certs._few_matches(["nguyenvanan"]) in (True, False)
