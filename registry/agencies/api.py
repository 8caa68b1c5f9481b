"""JSON routes for agencies (CONTRACT.md, "Agencies")."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.agencies import service
from registry.agencies.schemas import AgencyCreate, AgencyDetail, AgencyImportOut, AgencyOut, AgencyUpdate
from registry.http import CurrentPrincipal, may, problems, read_upload, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page

CodePath = FromPath[str]


class AgencyController(Controller):
    path = "/agencies"
    tags = ["agencies"]

    @post("/", guards=[may("agency.create")], status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def create(self, principal: CurrentPrincipal, data: JSONBody[AgencyCreate]) -> AgencyDetail:
        """Create an agency under `parent_code` (admin, operator; within their province)."""
        return typed(await service.create_agency(principal, msgspec.structs.asdict(data)), AgencyDetail)

    @get("/", guards=[signed_in], responses=problems(401, 404, 422), response_headers=PAGE_HEADERS)
    async def list(
        self,
        request: Request,
        q: Annotated[str | None, QueryParameter(description="words of the name, diacritics optional")] = None,
        parent: Annotated[str | None, QueryParameter(description="only children of this code")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        cursor: CursorParam = None,
    ) -> Response[list[AgencyOut]]:
        """Agencies in tree order, a page at a time (the next page in the `Link` and `X-Next-Cursor` headers)."""
        page = await service.agencies_page(q=q, parent_code=parent, limit=limit, cursor=cursor)
        return api_page(request, page, typed(page.items, list[AgencyOut]))

    @get("/{code:str}", guards=[signed_in], responses=problems(401, 404, 422))
    async def detail(self, code: CodePath) -> AgencyDetail:
        """The agency with its name history (`names`, each with `valid_from` and `valid_to`)."""
        return typed(await service.get_agency(code), AgencyDetail)

    @patch("/{code:str}", guards=[may("agency.update")], responses=problems(401, 403, 404, 409, 422))
    async def update(self, principal: CurrentPrincipal, code: CodePath, request: Request,
                     data: JSONBody[AgencyUpdate]) -> AgencyDetail:
        """Change details; a new `name` keeps the old one in the history with its dates. Naming any other
        field (`code`, `parent_code`...) is refused, each named."""
        return typed(await service.update_agency(principal, code, await request.json()), AgencyDetail)

    @post("/import", guards=[may("agency.import")], status_code=200, responses=problems(401, 403, 413, 422))
    async def import_csv(self, principal: CurrentPrincipal, request: Request) -> AgencyImportOut:
        """A CSV with header `code,name,parent_code` (raw body or multipart `file`): all rows or none."""
        summary = await service.import_csv(principal, await read_upload(request))
        return AgencyImportOut(created=summary.created, updated=summary.updated, unchanged=summary.unchanged)
