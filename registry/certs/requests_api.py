"""JSON routes for certificate requests (CONTRACT.md, "Certificate requests")."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.certs import requests
from registry.certs.schemas import CertRequestIn, CertRequestOut, Decisions, Reason
from registry.http import AppSettings, CurrentPrincipal, may, problems, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page
from registry.workflow import engine
from registry.workflow.schemas import DecisionResults


class CertRequestController(Controller):
    path = "/cert-requests"
    tags = ["certificate requests"]
    guards = [signed_in]

    @post("/", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def file(self, principal: CurrentPrincipal, settings: AppSettings, request: Request,
                   data: JSONBody[CertRequestIn]) -> CertRequestOut:
        """File a request: `kind`, `agency_code` and the kind's fields (CONTRACT.md). State `submitted`."""
        # The body as sent: the service tells a field left out from one given empty, and names each in error.
        return typed(await requests.file_request(principal, settings, await request.json()), CertRequestOut)

    @get("/", responses=problems(401, 403, 404, 422), response_headers=PAGE_HEADERS)
    async def list(
        self,
        request: Request,
        principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state", description="e.g. submitted")] = None,
        agency: Annotated[str | None, QueryParameter(description="agency code")] = None,
        kind: Annotated[str | None, QueryParameter()] = None,
        mine: Annotated[bool, QueryParameter(description="only mine (filed by or about me)")] = False,
        urgent: Annotated[bool, QueryParameter(description="only urgent revocations")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[CertRequestOut]]:
        """Requests you may see, urgent first, then oldest first, `limit` at a time."""
        page = await engine.list_records_page(
            principal, requests.CERT_FLOW, states=[state_] if state_ else None, agency_code=agency, kind=kind,
            mine=mine, urgent_only=urgent, limit=limit, cursor=cursor,
        )
        return api_page(request, page, typed(page.items, list[CertRequestOut]))

    @get("/inbox", guards=[may("request.decide")], responses=problems(401, 403))
    async def inbox(self, principal: CurrentPrincipal) -> list[CertRequestOut]:
        """What waits for your decision: urgent first, then oldest first."""
        return typed(await engine.inbox(principal, [requests.CERT_FLOW]), list[CertRequestOut])

    @get("/{request_id:int}", responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> CertRequestOut:
        """The request with its `state` and `history`."""
        return typed(await engine.get_record(principal, requests.CERT_FLOW, request_id), CertRequestOut)

    @post("/{request_id:int}/approve", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def approve(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> CertRequestOut:
        return typed(await engine.take(principal, requests.CERT_FLOW, request_id, "approve"), CertRequestOut)

    @post("/{request_id:int}/reject", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def reject(self, principal: CurrentPrincipal, request_id: FromPath[int], data: JSONBody[Reason]) -> CertRequestOut:
        """Reject with a `reason` (required)."""
        return typed(await engine.take(principal, requests.CERT_FLOW, request_id, "reject", data.reason), CertRequestOut)

    @post("/{request_id:int}/withdraw", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def withdraw(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> CertRequestOut:
        """The requester takes back a request not yet decided."""
        return typed(await engine.take(principal, requests.CERT_FLOW, request_id, "withdraw"), CertRequestOut)

    @post("/decisions", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def decisions(self, principal: CurrentPrincipal, data: JSONBody[Decisions]) -> DecisionResults:
        """Approve and reject a list at once; judged whole before anything is written. When any item cannot
        be decided, nothing is, and the problem's `results` gives every item's outcome."""
        flow = requests.CERT_FLOW
        results = await engine.decide(
            principal,
            [engine.Decision(flow, record_id, "approve") for record_id in data.approve]
            + [engine.Decision(flow, r.id, "reject", r.reason) for r in data.reject],
        )
        return msgspec.convert({"results": results}, DecisionResults)
