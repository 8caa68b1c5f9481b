"""JSON routes of the shared inbox (CONTRACT.md, "The inbox (every kind of request)")."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, QueryParameter

from registry.http import CurrentPrincipal, may, problems
from registry.listing import PAGE_HEADERS, CursorParam, api_page
from registry.web import domains_of
from registry.workflow import service
from registry.workflow.schemas import DecisionResults, InboxDecisions, RecordOut


class InboxController(Controller):
    path = "/inbox"
    tags = ["inbox"]
    guards = [may("inbox.read")]

    @get("/", responses=problems(401, 403, 422), response_headers=PAGE_HEADERS)
    async def inbox(
        self,
        request: Request,
        principal: CurrentPrincipal,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 500,
        cursor: CursorParam = None,
    ) -> Response[list[RecordOut]]:
        """What waits for your decision, of every domain: urgent first, then oldest first, `limit` at a time."""
        page = await service.inbox(principal, domains_of(request), limit, cursor)
        # The items are of several domains: RecordOut declares what they share, each domain's own fields drop.
        return api_page(request, page, msgspec.convert(page.items, list[RecordOut]))

    @post("/decisions", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def decisions(self, request: Request, principal: CurrentPrincipal,
                        data: JSONBody[InboxDecisions]) -> DecisionResults:
        """Approve and reject a list of any domains at once; judged whole before anything is written. When
        any item cannot be decided, nothing is, and the problem's `results` gives every item's outcome."""
        results = await service.decide(
            principal, domains_of(request),
            approve=[(item.domain, item.id, "") for item in data.approve],
            reject=[(item.domain, item.id, item.reason) for item in data.reject],
        )
        return msgspec.convert({"results": results}, DecisionResults)
