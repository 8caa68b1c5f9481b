"""JSON routes for agencies (CONTRACT.md, "Agencies")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.agencies import service
from registry.http import CurrentPrincipal, may, read_upload, signed_in

CodePath = FromPath[str]


class AgencyCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    name: str
    parent_code: str | None = None
    short_name: str = ""
    address: str = ""
    tax_code: str = ""
    budget_code: str = ""
    email: str = ""


class AgencyController(Controller):
    path = "/agencies"
    tags = ["agencies"]

    @post("/", guards=[may("agency.create")], status_code=201)
    async def create(self, principal: CurrentPrincipal, data: JSONBody[AgencyCreate]) -> dict[str, Any]:
        """Create an agency under `parent_code` (admin, operator; within their province)."""
        return await service.create_agency(principal, msgspec.structs.asdict(data))

    @get("/", guards=[signed_in])
    async def list(
        self,
        q: Annotated[str | None, QueryParameter(description="words of the name, diacritics optional")] = None,
        parent: Annotated[str | None, QueryParameter(description="only children of this code")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        return await service.list_agencies(q=q, parent_code=parent, limit=limit)

    @get("/{code:str}", guards=[signed_in])
    async def detail(self, code: CodePath) -> dict[str, Any]:
        """The agency with its name history (`names`, each with `valid_from` and `valid_to`)."""
        return await service.get_agency(code)

    @patch("/{code:str}", guards=[may("agency.update")])
    async def update(self, principal: CurrentPrincipal, code: CodePath, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """Change details; a new `name` keeps the old one in the history with its dates."""
        return await service.update_agency(principal, code, data)

    @post("/import", guards=[may("agency.import")], status_code=200)
    async def import_csv(self, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
        """A CSV with header `code,name,parent_code` (raw body or multipart `file`): all rows or none."""
        summary = await service.import_csv(principal, await read_upload(request))
        return {"created": summary.created, "updated": summary.updated, "unchanged": summary.unchanged}
