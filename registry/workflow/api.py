"""JSON routes of the shared inbox (CONTRACT.md, "The inbox (every kind of request)")."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from registry.http import CurrentPrincipal, may
from registry.web import domains_of
from registry.workflow import service
from registry.workflow.schemas import InboxDecisions


class InboxController(Controller):
    path = "/inbox"
    tags = ["inbox"]
    guards = [may("inbox.read")]

    @get("/")
    async def inbox(self, request: Request, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        """What waits for your decision, of every domain: urgent first, then oldest first."""
        return await service.inbox(principal, domains_of(request))

    @post("/decisions", status_code=200)
    async def decisions(self, request: Request, principal: CurrentPrincipal, data: JSONBody[InboxDecisions]) -> dict[str, Any]:
        """Approve and reject a list of any domains at once; judged whole before anything is written."""
        results = await service.decide(
            principal, domains_of(request),
            approve=[(item.domain, item.id, "") for item in data.approve],
            reject=[(item.domain, item.id, item.reason) for item in data.reject],
        )
        return {"results": results}
