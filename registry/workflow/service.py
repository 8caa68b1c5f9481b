"""The shared inbox across flows: what waits for a decider, and deciding a mixed list at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry import pagination
from registry.auth.principal import Principal
from registry.domains import Domains
from registry.errors import Invalid
from registry.workflow import engine


async def inbox(actor: Principal, domains: Domains, limit: int = 500, cursor: str | None = None, *,
                brief: bool = False) -> pagination.Page:
    """`brief`: the records as the inbox page shows them (`engine.brief_json`), not as the API does."""
    return await engine.inbox_page(actor, domains.flows, limit, cursor, brief=brief)


async def decide(actor: Principal, domains: Domains, *, approve: Iterable[tuple[str, Any, str]],
                 reject: Iterable[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    """`approve` and `reject` hold (domain, id, reason) triples; each goes to its domain's flow."""
    decisions = []
    unknown = []
    for decision, items in (("approve", approve), ("reject", reject)):
        for domain, record_id, note in items:
            flow = domains.flow(domain)
            if flow is None:
                unknown.append(domain)
                continue
            decisions.append(engine.Decision(flow, record_id, decision, note))
    if unknown:
        known = ", ".join(flow.name for flow in domains.flows)
        raise Invalid(f"unknown domain {unknown[0]!r}; one of {known}", code="unknown_domain",
                      fields={"domain": f"one of {known}"}, params={"domain": unknown[0]})
    return await engine.decide(actor, decisions)
