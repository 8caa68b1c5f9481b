"""JSON routes of the shared inbox (CONTRACT.md, "The inbox (every kind of request)")."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, QueryParameter

from registry.http import NEXT_PAGE_HEADERS, CurrentPrincipal, CursorParam, may, paged, problems
from registry.web import domains_of
from registry.workflow import service
from registry.workflow.schemas import DecisionResults, InboxDecisions, RecordOut


class InboxController(Controller):
    path = "/inbox"
    tags = ["inbox"]
    guards = [may("inbox.read")]

    @get("/", responses=problems(401, 403, 422), response_headers=NEXT_PAGE_HEADERS)
    async def inbox(
        self,
        request: Request,
        principal: CurrentPrincipal,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 500,
        cursor: CursorParam = None,
    ) -> Response[list[RecordOut]]:
        """What waits for your decision, of every domain: urgent first, then oldest first, `limit` at a time."""
        return paged(request, await service.inbox(principal, domains_of(request), limit, cursor), list[RecordOut],
                     common_fields_only=True)

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
