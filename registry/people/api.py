"""JSON routes for people. Restricted fields appear only for the person and those who approve."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.http import AppSettings, CurrentPrincipal, may, problems, read_upload, signed_in
from registry.people import departure, service
from registry.people.schemas import Departure, DepartureOut, ImportOut


class PeopleController(Controller):
    path = "/people"
    tags = ["people"]

    @get("/", guards=[may("person.read")])
    async def list(
        self,
        principal: CurrentPrincipal,
        agency: Annotated[str | None, QueryParameter(description="agency code (its subtree)")] = None,
        q: Annotated[str | None, QueryParameter(description="words of the name")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        return await service.list_people(principal, agency_code=agency, q=q, limit=limit)

    @post("/", guards=[may("person.manage")], status_code=201)
    async def create(self, principal: CurrentPrincipal, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """`full_name`, `agency_code`, `position`, `email`; restricted `id_number`, `date_of_birth`, `phone`."""
        return await service.create_person(principal, data)

    @get("/{person_id:int}", guards=[signed_in])
    async def detail(self, principal: CurrentPrincipal, person_id: FromPath[int]) -> dict[str, Any]:
        return await service.get_person(principal, person_id)

    @patch("/{person_id:int}", guards=[may("person.manage")])
    async def update(self, principal: CurrentPrincipal, person_id: FromPath[int], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await service.update_person(principal, person_id, data)

    @post("/{person_id:int}/departure", guards=[may("person.record_departure")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def departure(self, principal: CurrentPrincipal, settings: AppSettings, person_id: FromPath[int],
                        data: JSONBody[Departure]) -> DepartureOut:
        """The person moved, retired, left or died on `date`: their user account ends that day, and the
        revocation of each personal certificate and the cancellation of each account are prepared, each
        waiting for a head."""
        result = await departure.record_departure(principal, settings, person_id, data.reason, data.date.isoformat())
        return DepartureOut(**result)

    @post("/import", guards=[may("person.manage")], status_code=201, responses=problems(401, 403, 413, 422))
    async def import_csv(self, principal: CurrentPrincipal, request: Request) -> ImportOut:
        """A CSV of people (header `full_name,agency_code` and any of `position,email,id_number,date_of_birth,phone`);
        all or nothing, every error named with its line and field."""
        return ImportOut(**await service.import_csv(principal, await read_upload(request)))

