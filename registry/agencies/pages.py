"""HTML: the browsable agency tree (each agency's public page is the portal's, registry.publish)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from registry.agencies import service
from registry.listing import page_links
from registry.web import render


class AgencyPages(Controller):
    include_in_schema = False

    @get("/agencies")
    async def tree(self, request: Request, q: FromQuery[str | None] = None,
                   cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None) -> Template:
        page = await service.agencies_page(q=q, limit=200, cursor=cursor) if q else None
        return await render(request, "agencies/tree.html", nodes=await service.tree(), q=q or "",
                            matches=page.items if page else None, links=page_links(request, page) if page else None)
