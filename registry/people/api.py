"""JSON routes for people. Restricted fields appear only for the person and those who approve."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, patch, post
from litestar.params import Parameter

from registry.auth.principal import Principal
from registry.http import may, signed_in
from registry.people import service


class PeopleController(Controller):
    path = "/people"
    tags = ["people"]

    @get("/", guards=[may("person.read")])
    async def list(
        self,
        principal: Principal,
        agency: Annotated[str | None, Parameter(query="agency", description="agency code (its subtree)")] = None,
        q: Annotated[str | None, Parameter(query="q", description="words of the name")] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        return await service.list_people(principal, agency_code=agency, q=q, limit=limit)

    @post("/", guards=[may("person.manage")], status_code=201)
    async def create(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        """`full_name`, `agency_code`, `position`, `email`; restricted `id_number`, `date_of_birth`, `phone`."""
        return await service.create_person(principal, data)

    @get("/{person_id:int}", guards=[signed_in])
    async def detail(self, principal: Principal, person_id: int) -> dict[str, Any]:
        return await service.get_person(principal, person_id)

    @patch("/{person_id:int}", guards=[may("person.manage")])
    async def update(self, principal: Principal, person_id: int, data: dict[str, Any]) -> dict[str, Any]:
        return await service.update_person(principal, person_id, data)
