"""JSON routes for account requests and the account register (CONTRACT.md, "Account requests")."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.accounts import service
from registry.accounts.schemas import (
    AccountOut,
    AccountRequestIn,
    AccountRequestOut,
    Decisions,
    Failure,
    Fulfilment,
    Rejection,
    request_out,
)
from registry.exports import CONTENT_TYPES
from registry.http import CurrentPrincipal, file_download, may, problems, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page
from registry.specimens.schemas import MailboxOut
from registry.workflow import engine
from registry.workflow.schemas import DecisionResults

FLOW = service.ACCOUNT_FLOW


class AccountRequestController(Controller):
    path = "/account-requests"
    tags = ["account requests"]
    guards = [signed_in]

    @post("/", status_code=201, responses=problems(401, 403, 409, 422))
    async def file(self, principal: CurrentPrincipal, data: JSONBody[AccountRequestIn]) -> AccountRequestOut:
        """File a request for an account on the document (`qlvb`) or mail (`mail`) system. State `submitted`."""
        return request_out(await service.file_request(principal, msgspec.structs.asdict(data)))

    @get("/", responses=problems(401, 422), response_headers=PAGE_HEADERS)
    async def list(
        self,
        request: Request,
        principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state", max_length=20)] = None,
        agency: Annotated[str | None, QueryParameter(description="agency code", max_length=20)] = None,
        kind: Annotated[str | None, QueryParameter(max_length=30)] = None,
        mine: Annotated[bool, QueryParameter(description="only mine (filed by or about me)")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[AccountRequestOut]]:
        """Account requests you may see, urgent first then oldest first, a page at a time (the next page in
        the `Link` and `X-Next-Cursor` headers)."""
        page = await engine.list_records_page(principal, FLOW, cursor=cursor, limit=limit, states=[state_] if state_ else None,
                                  agency_code=agency, kind=kind, mine=mine)
        return api_page(request, page, [request_out(row) for row in page.items])

    @get("/export", responses=problems(401, 403, 422),
         operation_class=file_download(CONTENT_TYPES["xlsx"], CONTENT_TYPES["csv"]))
    async def export(
        self,
        principal: CurrentPrincipal,
        format_: Annotated[str, QueryParameter(name="format", description="xlsx or csv", max_length=4)] = "xlsx",
    ) -> Response[bytes]:
        """Approved requests for the systems' administrators (DoIT): XLSX with a sheet per system, or CSV."""
        content, media_type, filename = await service.export(principal, format_)
        return Response(content, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @get("/{request_id:int}", responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> AccountRequestOut:
        """The request with its `state` and `history`."""
        return request_out(await engine.get_record(principal, FLOW, request_id))

    @post("/{request_id:int}/approve", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def approve(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> AccountRequestOut:
        return request_out(await engine.take(principal, FLOW, request_id, "approve"))

    @post("/{request_id:int}/reject", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def reject(self, principal: CurrentPrincipal, request_id: FromPath[int],
                     data: JSONBody[Rejection]) -> AccountRequestOut:
        """Reject with a `reason` (required)."""
        return request_out(await engine.take(principal, FLOW, request_id, "reject", data.reason))

    @post("/{request_id:int}/withdraw", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def withdraw(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> AccountRequestOut:
        """The requester takes back a request not yet decided."""
        return request_out(await engine.take(principal, FLOW, request_id, "withdraw"))

    @post("/{request_id:int}/fulfil", status_code=200, guards=[may("request.process")],
          responses=problems(401, 403, 404, 409, 422))
    async def fulfil(self, principal: CurrentPrincipal, request_id: FromPath[int],
                     data: JSONBody[Fulfilment]) -> AccountRequestOut:
        """DoIT records what was done: the account's name (created or ended in the register) and a note."""
        return request_out(await service.fulfil(principal, request_id, data.account_name, data.note))

    @post("/{request_id:int}/fail", status_code=200, guards=[may("request.process")],
          responses=problems(401, 403, 404, 409, 422))
    async def fail(self, principal: CurrentPrincipal, request_id: FromPath[int],
                   data: JSONBody[Failure]) -> AccountRequestOut:
        """DoIT records that it could not be done, and why."""
        return request_out(await service.fail(principal, request_id, data.reason))

    @post("/{request_id:int}/deliver", status_code=200, guards=[may("request.process")],
          responses=problems(401, 403, 404, 409, 422))
    async def deliver(self, principal: CurrentPrincipal, request_id: FromPath[int]) -> AccountRequestOut:
        """Handed over to the unit."""
        return request_out(await engine.take(principal, FLOW, request_id, "deliver"))

    @post("/decisions", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def decisions(self, principal: CurrentPrincipal, data: JSONBody[Decisions]) -> DecisionResults:
        """Approve and reject a list at once; judged whole before anything is written."""
        results = await engine.decide(
            principal,
            [engine.Decision(FLOW, record_id, "approve") for record_id in data.approve]
            + [engine.Decision(FLOW, item.id, "reject", item.reason) for item in data.reject],
        )
        return msgspec.convert({"results": results}, DecisionResults)


class AccountController(Controller):
    path = "/accounts"
    tags = ["accounts"]
    guards = [signed_in]

    @get("/", responses=problems(401, 422))
    async def of_person(
        self, principal: CurrentPrincipal,
        person_id: Annotated[int, QueryParameter(ge=1, le=2**31 - 1, description="whose accounts")],
    ) -> list[AccountOut]:
        """A person's accounts on every system, with their status and dates."""
        return msgspec.convert(await service.accounts_of_person(principal, person_id), list[AccountOut])

    @get("/{account_id:int}", responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, account_id: FromPath[int]) -> AccountOut:
        """An account with its history: every request about it."""
        return msgspec.convert(await service.get_account(principal, account_id), AccountOut)

    @post("/{account_id:int}/propose-mailbox", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def propose_mailbox(self, principal: CurrentPrincipal, account_id: FromPath[int]) -> MailboxOut:
        """Propose an agency's mailbox for publication as its official mailbox (state `submitted`; DoIT
        publishes it like any mailbox)."""
        return typed(await service.propose_official_mailbox(principal, account_id), MailboxOut)
