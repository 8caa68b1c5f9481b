"""HTML for the people of an agency: list and search (diacritics-blind), add and edit, a CSV import, and
a person's page with their certificates, requests and accounts, where a departure is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry import messages
from registry.agencies import service as agencies
from registry.auth import service as auth
from registry.auth.permissions import may, scope_paths
from registry.auth.principal import Principal
from registry.errors import RegistryError
from registry.http import AppSettings, CurrentPrincipal, read_upload, signed_in
from registry.http import may as may_guard
from registry.labels import field_label
from registry.listing import page_links
from registry.messages import message_for
from registry.people import departure, service
from registry.web import domains_of, load_sections, render

FORM_FIELDS = ("full_name", "agency_code", "position", "email", "id_number", "date_of_birth", "phone")
FORM_ERROR = messages.message("form_has_errors")


def field_messages(error: RegistryError) -> dict[str, str]:
    return messages.field_messages(error) or {"": message_for(error)}


def _import_problems(error: RegistryError) -> list[str]:
    """Each line's mistakes of a refused CSV, in Vietnamese."""
    return [f"Dòng {line}, {field_label(field)}: {messages.field_message(code, params)}"
            for line, field, code, params in getattr(error, "line_codes", ())]


def _form_values(form: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}


async def _agency_choices(principal: Principal) -> list[dict[str, Any]]:
    return await agencies.within(scope_paths(principal, "person.manage"))


class PeoplePages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/people", guards=[may_guard("person.read")])
    async def index(
        self, request: Request, principal: CurrentPrincipal,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        agency: Annotated[str | None, QueryParameter(max_length=20)] = None,
        imported: FromQuery[int | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    ) -> Template:
        page = await service.people_page(principal, agency_code=agency or None, q=q or None, cursor=cursor)
        return await render(request, "people/list.html", rows=page.items, links=page_links(request, page), q=q or "",
                            agency=agency or "", imported=imported, manages=may(principal, "person.manage"))

    @get("/people/new", guards=[may_guard("person.manage")])
    async def new(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await self._form(request, principal, None, {"agency_code": principal.agency_code or ""}, {})

    async def _form(self, request: Request, principal: Principal, person: dict[str, Any] | None,
                    values: Mapping[str, Any], errors: Mapping[str, str], status_code: int = 200, message: str = "") -> Template:
        return await render(request, "people/form.html", status_code=status_code, person=person, values=values,
                            errors=errors, message=message, agency_choices=await _agency_choices(principal))

    @post("/people/new", guards=[may_guard("person.manage")])
    async def create(self, request: Request, principal: CurrentPrincipal) -> Any:
        values = _form_values(await request.form())
        try:
            created = await service.create_person(principal, {k: v for k, v in values.items() if v})
        except RegistryError as error:
            if error.status_code != 422:
                raise
            return await self._form(request, principal, None, values, field_messages(error), 422, FORM_ERROR)
        return Redirect(f"/people/{created['id']}?saved=1", status_code=303)

    @get("/people/{person_id:int}")
    async def detail(self, request: Request, principal: CurrentPrincipal, person_id: FromPath[int],
                     saved: FromQuery[bool] = False) -> Template:
        return await self._detail(request, principal, person_id, saved=saved)

    async def _detail(self, request: Request, principal: Principal, person_id: int, *, saved: bool = False,
                      values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
                      departure_values: Mapping[str, Any] | None = None, departure_errors: Mapping[str, str] | None = None,
                      prepared: list[dict[str, Any]] | None = None, message: str = "", status_code: int = 200) -> Template:
        person = await service.get_person(principal, person_id)
        row = await service.get_row(person_id)
        manages = may(principal, "person.manage", row["agency_path"])
        return await render(
            request, "people/detail.html", status_code=status_code, person=person, saved=saved, manages=manages,
            records_departure=may(principal, "person.record_departure", row["agency_path"]) and not person["left_at"],
            values=values or {**person, "date_of_birth": str(person.get("date_of_birth") or "")},
            errors=errors or {}, departure_values=departure_values or {}, departure_errors=departure_errors or {},
            departure_reasons=departure.DEPARTURE_REASONS, prepared=prepared, message=message,
            manages_users=may(principal, "user.manage", row["agency_path"]),
            username=await auth.username_of_person(person_id),
            agency_choices=await _agency_choices(principal) if manages else [],
            sections=await load_sections(request, domains_of(request).person_sections, principal, person_id),
        )

    @post("/people/{person_id:int}", guards=[may_guard("person.manage")])
    async def update(self, request: Request, principal: CurrentPrincipal, person_id: FromPath[int]) -> Any:
        values = _form_values(await request.form())
        changes = {k: v for k, v in values.items() if k != "agency_code"}
        try:
            await service.update_person(principal, person_id, changes)
        except RegistryError as error:
            if error.status_code != 422:
                raise
            return await self._detail(request, principal, person_id, values=values, errors=field_messages(error),
                                      message=FORM_ERROR, status_code=422)
        return Redirect(f"/people/{person_id}?saved=1", status_code=303)

    @post("/people/{person_id:int}/departure", guards=[may_guard("person.record_departure")])
    async def record_departure(self, request: Request, principal: CurrentPrincipal, settings: AppSettings,
                               person_id: FromPath[int]) -> Any:
        form = await request.form()
        values = {"reason": str(form.get("reason") or ""), "date": str(form.get("date") or "")}
        try:
            result = await departure.record_departure(principal, settings, person_id, values["reason"], values["date"])
        except RegistryError as error:
            if error.status_code not in (409, 422):
                raise
            return await self._detail(request, principal, person_id, departure_values=values,
                                      departure_errors=field_messages(error), message=message_for(error),
                                      status_code=error.status_code)
        return await self._detail(request, principal, person_id, prepared=result["prepared"])

    @get("/people/import", guards=[may_guard("person.manage")])
    async def import_form(self, request: Request) -> Template:
        return await render(request, "people/import.html", problems=[], message="")

    @post("/people/import", guards=[may_guard("person.manage")])
    async def import_file(self, request: Request, principal: CurrentPrincipal) -> Any:
        try:
            result = await service.import_csv(principal, await read_upload(request))
        except RegistryError as error:
            if error.status_code not in (413, 422):
                raise
            return await render(request, "people/import.html", status_code=error.status_code,
                                problems=_import_problems(error), message=message_for(error))
        return Redirect(f"/people?imported={result['created']}", status_code=303)
