"""The home page: search for everyone, and for signed-in users what their roles let them do."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from registry.agencies import service as agencies
from registry.web import render


@get("/", include_in_schema=False)
async def home(request: Request, q: FromQuery[str | None] = None) -> Template:
    matches = await agencies.list_agencies(q=q, limit=50) if q and q.strip() else None
    return await render(request, "home.html", q=q or "", matches=matches)
