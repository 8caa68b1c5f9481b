"""The portal's JSON API (CONTRACT.md): no credentials, only what was published, cached like the pages."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from registry.http import in_vietnam_time, problems
from registry.publish import service
from registry.publish.pages import _conditional, _query
from registry.specimens.schemas import PublicAgency, PublicAgencyRef

JSON = "application/json"


def _json(body: Any) -> bytes:
    return msgspec.json.encode(in_vietnam_time(body))


@get("/public/agencies", tags=["public portal"], responses={200: ResponseSpec(list[PublicAgencyRef], description="Agencies found"), **problems(422)})
async def search_agencies(request: Request) -> Response:
    """Agencies by name or code, by a leader on a published specimen, or by a published certificate's
    serial or fingerprint; case and Vietnamese diacritics ignored (`q=so tai chinh` finds "Sở Tài chính").
    Each item: `code`, `name`, `parent_code`, `url`, `matched` (`agency`, `leader` or `certificate`),
    `leaders`, `certificates`."""
    query = _query(request, "q")

    async def produce(version: Any) -> service.Cached:
        results = await service.search(query) if query and query.strip() else []
        return service.make_cached(_json(results or []), version, JSON)

    return _conditional(request, await service.cached(("api-search", service.folded(query)), produce))


@get("/public/agencies/{code:str}", tags=["public portal"],
     responses={200: ResponseSpec(PublicAgency, description="The agency and what is published for it"), **problems(404, 422)})
async def public_agency(request: Request, code: FromPath[str]) -> Response:
    """The agency with its published `specimens` (images, certificates with their status) and `mailboxes`;
    `?at=ISO8601` (or a date) shows what was published at that moment."""
    at = service.parse_at(_query(request, "at"))

    async def produce(version: Any) -> service.Cached:
        agency = await service.public_agency(code, at)
        body = {key: agency[key] for key in ("code", "name", "short_name", "parent_code", "address", "email", "at",
                                              "specimens", "mailboxes")}
        return service.make_cached(_json(msgspec.convert(in_vietnam_time(body), PublicAgency, from_attributes=False,
                                                          strict=False)), version, JSON)

    return _conditional(request, await service.cached(("api-agency", code.upper(), str(at)), produce))


ROUTES = [search_agencies, public_agency]
