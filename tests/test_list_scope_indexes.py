"""SQLite: a head's lists walk an order index that carries every column their filters test
(migrations/certs/certs_2026_12_03t20_00_00_000000.py), so each entry is tested in the index and only the
rows kept are read from the table. Whether a walk reads the table for an entry depends on the index's
columns: a filter on a column the index lacks brings back a table read per entry, 2–3 ms a page at a
million certificates."""

from __future__ import annotations

import re

import pytest
from piccolo.querystring import QueryString

from registry import db
from registry.certs import service as certs
from registry.domains import Domains, standard_domains
from registry.generate import Size, generate
from registry.workflow import engine
from tests.helpers import principal_of, recorded_statements

SIZE = Size(agencies=30, people=300, certificates=600, requests=600)


@pytest.fixture
async def generated(migrated: str) -> Domains:
    if not db.is_sqlite():
        pytest.skip("SQLite's deferred row reads; PostgreSQL tests such conditions on the row whatever the index holds")
    await generate(SIZE, seed=11)
    return Domains(tuple(standard_domains()))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[QueryString]:
    return recorded_statements(monkeypatch)


async def _index_columns(name: str) -> set[str]:
    rows = await db.current_engine().run_querystring(QueryString(f"PRAGMA index_info({name})"))
    return {row["name"] for row in rows}


async def _check_walk(statement: QueryString, table: str, index: str) -> None:
    """The list reads `index` in its order (no sort), and every column of `table` its conditions test is
    in that index."""
    plan = "\n".join(row["detail"] for row in await db.current_engine().run_querystring(
        QueryString("EXPLAIN QUERY PLAN {}", statement)))
    assert re.search(rf"SCAN {table} USING INDEX {index}\b", plan) and "TEMP B-TREE" not in plan, plan
    text = str(statement)
    conditions = text[text.index(" WHERE "):text.index(" ORDER BY ")]
    tested = set(re.findall(rf'"{table}"\."(\w+)"', conditions))
    assert tested, conditions  # the head's scope at least
    assert tested <= await _index_columns(index), (tested, conditions)


def _lists(statements: list[QueryString], table: str, order: str) -> list[QueryString]:
    return [statement for statement in statements
            if f'FROM "{table}"' in str(statement) and f'ORDER BY "{table}"."{order}"' in str(statement)]


async def test_a_heads_certificate_lists_test_their_filters_in_the_name_index(
        generated: Domains, recorded: list[QueryString]) -> None:
    head = await principal_of("head.2")
    pages = [await certs.list_certificates_page(head, limit=100, brief=True),
             await certs.list_certificates_page(head, status="active", limit=50),
             await certs.list_certificates_page(head, status="revoked", limit=50)]
    assert pages[0].items and pages[1].items  # the head has certificates to list
    listed = _lists(recorded, "certificate", "search_key")
    assert len(listed) == 3, [str(statement)[:200] for statement in recorded]
    for statement in listed:
        await _check_walk(statement, "certificate", "certificate_name_order_scope")


async def test_a_heads_request_list_tests_its_filters_in_the_order_index(
        generated: Domains, recorded: list[QueryString]) -> None:
    head = await principal_of("head.2")
    flow = next(flow for flow in generated.flows if flow.name == "cert")
    assert await engine.list_records(head, flow, limit=50)
    listed = _lists(recorded, "cert_request", "urgent")
    assert len(listed) == 1, [str(statement)[:200] for statement in recorded]
    await _check_walk(listed[0], "cert_request", "cert_request_order_scope")


async def test_the_order_indexes_replace_the_narrow_ones(generated: Domains) -> None:
    """One index per order: beside a narrow one, the planner may walk the narrow one and read every row."""
    rows = await db.current_engine().run_querystring(QueryString(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN "
        "('certificate_name_order', 'cert_request_order', 'certificate_name_order_scope', 'cert_request_order_scope')"))
    assert {row["name"] for row in rows} == {"certificate_name_order_scope", "cert_request_order_scope"}
