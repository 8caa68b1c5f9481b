"""HTML: the browsable agency tree and each agency's public page."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from registry.agencies import service
from registry.web import render


class AgencyPages(Controller):
    include_in_schema = False

    @get("/agencies")
    async def tree(self, request: Request, q: FromQuery[str | None] = None) -> Template:
        matches = await service.list_agencies(q=q, limit=200) if q else None
        return await render(request, "agencies/tree.html", nodes=await service.tree(), q=q or "", matches=matches)

    @get("/agencies/{code:str}")
    async def detail(self, request: Request, code: FromPath[str]) -> Template:
        agency, children, parent = await service.agency_page(code)
        return await render(request, "agencies/detail.html", agency=agency, children=children, parent=parent)
