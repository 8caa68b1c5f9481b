"""JSON routes for people. Restricted fields appear only for the person and those who approve."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.http import AppSettings, CurrentPrincipal, conforming, may, problems, read_upload, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page
from registry.people import departure, service
from registry.people.schemas import (
    Departure,
    DepartureOut,
    ImportOut,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    person_out,
)
from registry.workflow.schemas import RecordOut


class PeopleController(Controller):
    path = "/people"
    tags = ["people"]

    @get("/", guards=[may("person.read")], responses=problems(401, 403, 404, 422), response_headers=PAGE_HEADERS)
    async def list(
        self,
        request: Request,
        principal: CurrentPrincipal,
        agency: Annotated[str | None, QueryParameter(description="agency code (its subtree)")] = None,
        q: Annotated[str | None, QueryParameter(description="words of the name")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[PersonOut]]:
        """People by name, a page at a time (the next page in the `Link` and `X-Next-Cursor` headers)."""
        page = await service.people_page(principal, agency_code=agency, q=q, limit=limit, cursor=cursor)
        return api_page(request, page, typed(page.items, list[PersonOut]))

    @post("/", guards=[may("person.manage")], status_code=201, responses=problems(401, 403, 409, 422))
    async def create(self, principal: CurrentPrincipal, request: Request, data: JSONBody[PersonCreate]) -> PersonOut:
        """`full_name`, `agency_code`, `position`, `email`; restricted `id_number`, `date_of_birth`, `phone`."""
        # The body as sent (the service tells a missing field from an empty one).
        return person_out(await service.create_person(principal, await request.json()))

    @get("/{person_id:int}", guards=[signed_in], responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, person_id: FromPath[int]) -> PersonOut:
        return person_out(await service.get_person(principal, person_id))

    @patch("/{person_id:int}", guards=[may("person.manage")], responses=problems(401, 403, 404, 409, 422))
    async def update(self, principal: CurrentPrincipal, person_id: FromPath[int], request: Request,
                     data: JSONBody[PersonUpdate]) -> PersonOut:
        """Only the fields given change; naming any other field (`agency_code`, `id`...) is refused, each named."""
        # The body as sent: the service names every field that may not be changed here.
        return person_out(await service.update_person(principal, person_id, await request.json()))

    @post("/{person_id:int}/departure", guards=[may("person.record_departure")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def departure(self, principal: CurrentPrincipal, settings: AppSettings, person_id: FromPath[int],
                        data: JSONBody[Departure]) -> DepartureOut:
        """The person moved, retired, left or died on `date`: their user account ends that day, and the
        revocation of each personal certificate and the cancellation of each account are prepared, each
        waiting for a head."""
        result = await departure.record_departure(principal, settings, person_id, data.reason, data.date.isoformat())
        return DepartureOut(person=person_out(result["person"]),
                            prepared=conforming(result["prepared"], list[RecordOut]))

    @post("/import", guards=[may("person.manage")], status_code=201, responses=problems(401, 403, 413, 422))
    async def import_csv(self, principal: CurrentPrincipal, request: Request) -> ImportOut:
        """A CSV of people (header `full_name,agency_code` and any of `position,email,id_number,date_of_birth,phone`);
        all or nothing, every error named with its line and field."""
        return typed(await service.import_csv(principal, await read_upload(request)), ImportOut)
