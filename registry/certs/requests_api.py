"""JSON routes for certificate requests (CONTRACT.md, "Certificate requests")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.certs import requests
from registry.http import AppSettings, CurrentPrincipal, may, signed_in
from registry.workflow import engine


class Reason(msgspec.Struct):
    reason: str = ""


class Rejection(msgspec.Struct):
    id: Any
    reason: str = ""


class Decisions(msgspec.Struct, forbid_unknown_fields=True):
    approve: list[Any] = []
    reject: list[Rejection] = []


class CertRequestController(Controller):
    path = "/cert-requests"
    tags = ["certificate requests"]
    guards = [signed_in]

    @post("/", status_code=201)
    async def file(self, principal: CurrentPrincipal, settings: AppSettings, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """File a request: `kind`, `agency_code` and the kind's fields (CONTRACT.md). State `submitted`."""
        return await requests.file_request(principal, settings, data)

    @get("/")
    async def list(
        self,
        principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state", description="e.g. submitted")] = None,
        agency: Annotated[str | None, QueryParameter(description="agency code")] = None,
        kind: Annotated[str | None, QueryParameter()] = None,
        mine: Annotated[bool, QueryParameter(description="only mine (filed by or about me)")] = False,
        urgent: Annotated[bool, QueryParameter(description="only urgent revocations")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        """Requests you may see, urgent first, then oldest first."""
        return await engine.list_records(
            principal, requests.CERT_FLOW, states=[state_] if state_ else None, agency_code=agency, kind=kind,
            mine=mine, urgent_only=urgent, limit=limit,
        )

    @get("/inbox", guards=[may("request.decide")])
    async def inbox(self, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        """What waits for your decision: urgent first, then oldest first."""
        return await engine.inbox(principal, [requests.CERT_FLOW])

    @get("/{request_id:int}")
    async def detail(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> dict[str, Any]:
        """The request with its `state` and `history`."""
        return await engine.get_record(principal, requests.CERT_FLOW, request_id)

    @post("/{request_id:int}/approve", status_code=200)
    async def approve(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> dict[str, Any]:
        return await engine.take(principal, requests.CERT_FLOW, request_id, "approve")

    @post("/{request_id:int}/reject", status_code=200)
    async def reject(self, principal: CurrentPrincipal, request_id: FromPath[int], data: JSONBody[Reason]) -> dict[str, Any]:
        """Reject with a `reason` (required)."""
        return await engine.take(principal, requests.CERT_FLOW, request_id, "reject", data.reason)

    @post("/{request_id:int}/withdraw", status_code=200)
    async def withdraw(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> dict[str, Any]:
        """The requester takes back a request not yet decided."""
        return await engine.take(principal, requests.CERT_FLOW, request_id, "withdraw")

    @post("/decisions", status_code=200)
    async def decisions(self, principal: CurrentPrincipal, data: JSONBody[Decisions]) -> dict[str, Any]:
        """Approve and reject a list at once; judged whole before anything is written."""
        flow = requests.CERT_FLOW
        results = await engine.decide(
            principal,
            [engine.Decision(flow, record_id, "approve") for record_id in data.approve]
            + [engine.Decision(flow, r.id, "reject", r.reason) for r in data.reject],
        )
        return {"results": results}
