"""The to-do counts every page shows (issue 12): they count what the lists behind them list, and they are
read from indexes alone (migrations/certs/certs_2026_12_01t02_00_00_000000.py), not from every matching
request's row."""

from __future__ import annotations

import re

import pytest
from piccolo.querystring import QueryString

from registry import db
from registry.batches import handover
from registry.certs.tables import CertRequest
from registry.domains import Domains, standard_domains
from registry.generate import Size, generate
from registry.workflow import engine
from tests.helpers import principal_of, recorded_statements

SIZE = Size(agencies=30, people=300, certificates=300, requests=600)


@pytest.fixture
async def generated(migrated: str) -> Domains:
    await generate(SIZE, seed=11)
    return Domains(tuple(standard_domains()))


async def test_the_counts_are_the_lengths_of_their_lists(generated: Domains) -> None:
    checked = 0
    for agency_id in range(1, SIZE.agencies + 1):
        head, clerk = await principal_of(f"head.{agency_id}"), await principal_of(f"clerk.{agency_id}")
        inbox = await engine.inbox(head, generated.flows, limit=10_000)
        assert await engine.pending_count(head, generated.flows) == len(inbox)
        listed = len(await handover.awaiting_receipt(clerk)) + len(await handover.tokens_to_return(clerk))
        assert await handover.todo_counter(clerk, generated) == listed
        checked += bool(inbox) + bool(listed)
    assert checked > 10  # the generated data gives most units something to count


async def test_a_count_stops_at_its_cap(generated: Domains) -> None:
    """`count_records` counts what `list_records` lists, up to its limit, in the database."""
    operator = await principal_of("operator.1")
    flow = next(flow for flow in generated.flows if flow.name == "cert")
    for states in (["submitted"], ["fulfilled"], None):
        listed = len(await engine.list_records(operator, flow, states=states, limit=1000))
        assert listed > 3
        assert await engine.count_records(operator, flow, states=states, limit=1000) == listed
        assert await engine.count_records(operator, flow, states=states, limit=3) == 3


async def _plan(sql: str) -> str:
    if db.is_sqlite():
        rows = await CertRequest.raw(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row["detail"] for row in rows)
    # The test's tables are small enough to read whole; what matters is that the index can answer alone.
    async with db.transaction():
        await CertRequest.raw("SET LOCAL enable_seqscan = off")
        await CertRequest.raw("SET LOCAL enable_bitmapscan = off")
        rows = await CertRequest.raw(f"EXPLAIN {sql}")
    return "\n".join(row["QUERY PLAN"] for row in rows)


async def test_a_heads_count_reads_only_an_index(generated: Domains) -> None:
    head = await principal_of("head.2")
    condition = await engine._awaiting_decision_by(head, handover.CERT_FLOW, await engine._identity(head))
    plan = await _plan(str(CertRequest.count().where(condition)))
    expected = "COVERING INDEX cert_request_queue_scope" if db.is_sqlite() else "Index Only Scan using cert_request_queue_scope"
    assert re.search(rf"{expected}\b", plan), plan


async def test_the_inbox_still_walks_its_queue_in_order(generated: Domains, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue index holds the count's columns after its own order: the inbox page reads it in order and
    stops at the page's end (an index by state alone beside it was chosen instead, and every match sorted)."""
    if not db.is_sqlite():
        pytest.skip("SQLite's planner; PostgreSQL's weighs the test's few rows, not a national queue")
    statements = recorded_statements(monkeypatch)
    head = await principal_of("head.2")
    await engine.inbox_page(head, generated.flows, limit=5)
    monkeypatch.undo()
    inbox = [statement for statement in statements if 'FROM "cert_request"' in str(statement)
             and 'ORDER BY "cert_request"."urgent"' in str(statement)]
    assert len(inbox) == 1, [str(statement)[:200] for statement in statements]
    plan = "\n".join(row["detail"] for row in await db.current_engine().run_querystring(
        QueryString("EXPLAIN QUERY PLAN {}", inbox[0])))
    assert re.search(r"INDEX cert_request_queue_scope\b", plan) and "ORDER BY" not in plan, plan


async def test_postgresql_plans_for_pages_read_from_memory(generated: Domains) -> None:
    """The registry's PostgreSQL sessions price a page read out of order as one read in order, as on an SSD or
    in memory (db.POSTGRES_SESSION_SETTINGS): at the default price of a disk's seek, the planner walked a
    department's inbox along the order of every request, 7,100 rows read for 51, rather than along the queue
    of submitted ones."""
    if db.is_sqlite():
        pytest.skip("a PostgreSQL setting")
    pooled = await CertRequest.raw("SHOW random_page_cost")
    async with db.transaction():
        in_transaction = await CertRequest.raw("SHOW random_page_cost")
    assert pooled[0]["random_page_cost"] == in_transaction[0]["random_page_cost"] == "1.1"


async def test_a_units_count_of_tokens_due_reads_the_index_of_tokens_due(generated: Domains) -> None:
    clerk = await principal_of("clerk.2")
    conditions = engine._record_conditions(clerk, handover.CERT_FLOW, agency_code=None, mine=False, urgent_only=False,
                                           **handover.TOKENS_DUE)
    query = CertRequest.select(CertRequest.id)
    for condition in conditions:
        query = query.where(condition)
    plan = await _plan(str(query))
    assert re.search(r"\bcert_request_tokens_due_scope\b", plan), plan
