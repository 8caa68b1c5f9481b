"""HTML: the browsable agency tree (each agency's public page is the portal's, registry.publish)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from registry.agencies import service
from registry.web import render


class AgencyPages(Controller):
    include_in_schema = False

    @get("/agencies")
    async def tree(self, request: Request, q: FromQuery[str | None] = None) -> Template:
        matches = await service.list_agencies(q=q, limit=200) if q else None
        return await render(request, "agencies/tree.html", nodes=await service.tree(), q=q or "", matches=matches)
