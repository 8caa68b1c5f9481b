"""HTML for account requests: the accounts page (mine, my unit's requests, DoIT's queue with its
exports), a filing form per kind, one request with its history and actions, one account with its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry import messages
from registry.accounts import service
from registry.agencies import service as agencies
from registry.auth.permissions import may, scope_paths
from registry.auth.principal import Principal
from registry.domains import Domains
from registry.errors import Invalid, RegistryError
from registry.http import CurrentPrincipal, signed_in
from registry.listing import page_links
from registry.messages import message_for
from registry.notify import service as notify
from registry.web import render
from registry.workflow import engine

FLOW = service.ACCOUNT_FLOW
FORM_SKIP = {"_csrf"}
FORM_ERROR = messages.message("form_has_errors")


async def my_accounts_section(principal: Principal, _domains: Domains, person_id: int | None) -> dict[str, Any]:
    """The user's accounts and account requests, on their own page (/me)."""
    return {
        "accounts": await service.accounts_of_person(principal, person_id) if person_id else [],
        "requests": await engine.list_records(principal, FLOW, mine=True, limit=100, brief=True),
    }


async def person_section(principal: Principal, _domains: Domains, person_id: int | None) -> dict[str, Any]:
    """A person's accounts and the account requests about them, on their page (/people/{id})."""
    if person_id is None:
        return {"accounts": [], "requests": []}
    return {
        "accounts": await service.accounts_of_person(principal, person_id),
        "requests": await engine.list_records(principal, FLOW, extra_condition=FLOW.table.subject == person_id, limit=100,
                                           brief=True),
    }


def form_to_request(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """Flat form fields to the API's shape (`changes.x` becomes a nested object; empty fields dropped)."""
    data: dict[str, Any] = {"kind": kind}
    for key, value in form.items():
        if key in FORM_SKIP:
            continue
        value = value.strip() if isinstance(value, str) else value
        if key.startswith("changes."):
            if value:
                data.setdefault("changes", {})[key.removeprefix("changes.")] = value
        elif key == "person_id":
            if value:
                data[key] = int(value) if str(value).isdigit() and len(str(value)) < 10 else value
        elif value != "":
            data[key] = value
    return data


def field_messages(error: RegistryError) -> dict[str, str]:
    return messages.field_messages(error) or {"": message_for(error)}


class AccountPages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/accounts")
    async def index(self, request: Request, principal: CurrentPrincipal,
                    state_: Annotated[str | None, QueryParameter(name="state", max_length=20)] = None,
                    cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None) -> Template:
        state = state_
        reads_others = bool(scope_paths(principal, "request.read"))
        page = await engine.list_records_page(principal, FLOW, cursor=cursor, limit=200, states=[state] if state else None,
                                              mine=not reads_others, brief=True)
        return await render(
            request, "accounts/index.html", rows=page.items, links=page_links(request, page), state=state or "",
            states=FLOW.machine.states,
            accounts=await service.accounts_of_person(principal, principal.person_id) if principal.person_id else [],
            kinds=service.KIND_LABELS, systems=service.SYSTEMS, processes=may(principal, "request.process"),
        )

    @get("/accounts/requests/new")
    async def form(self, request: Request, principal: CurrentPrincipal, kind: FromQuery[str] = "new",
                   system: FromQuery[str] = "qlvb") -> Template:
        if kind not in service.KIND_LABELS or system not in service.SYSTEMS:
            raise Invalid("unknown kind or system", code="unknown_kind")
        values = {"system": system, "agency_code": principal.agency_code or "", "full_name": principal.full_name}
        return await self._form_page(request, principal, kind, values, {})

    async def _form_page(self, request: Request, principal: Principal, kind: str, values: Mapping[str, Any],
                         errors: Mapping[str, str], status_code: int = 200, message: str = "") -> Template:
        filing_paths = scope_paths(principal, "request.file_for_others")
        agency_choices = (await agencies.within(filing_paths) if filing_paths else
                          [{"code": principal.agency_code, "name": principal.agency_code, "depth": 0}])
        return await render(
            request, "accounts/form.html", status_code=status_code, kind=kind, kind_label=service.KIND_LABELS[kind],
            values=values, errors=errors, message=message, systems=service.SYSTEMS,
            cancel_reasons=service.CANCEL_REASONS, agency_choices=agency_choices,
        )

    @post("/accounts/requests/new")
    async def file(self, request: Request, principal: CurrentPrincipal, kind: FromQuery[str] = "new") -> Any:
        if kind not in service.KIND_LABELS:
            raise Invalid("unknown kind", code="unknown_kind")
        form = dict((await request.form()).items())
        try:
            created = await service.file_request(principal, form_to_request(kind, form))
        except (Invalid, RegistryError) as error:
            if error.status_code not in (409, 422):
                raise
            return await self._form_page(request, principal, kind, form, field_messages(error),
                                         status_code=error.status_code, message=message_for(error) if error.status_code == 409 else FORM_ERROR)
        return Redirect(f"{FLOW.url(created['id'])}?filed=1", status_code=303)

    @get("/accounts/requests/{request_id:int}")
    async def detail(self, request: Request, principal: CurrentPrincipal, request_id: FromPath[int],
                     filed: FromQuery[bool] = False) -> Template:
        item = await engine.get_record(principal, FLOW, request_id)
        await notify.mark_read(principal, FLOW.url(request_id))
        return await render(request, "accounts/detail.html", item=item, filed=filed,
                            cancel_reasons=service.CANCEL_REASONS, error="")

    @post("/accounts/requests/{request_id:int}/{action:str}")
    async def act(self, request: Request, principal: CurrentPrincipal, request_id: FromPath[int],
                  action: FromPath[str]) -> Any:
        form = await request.form()
        note = str(form.get("reason") or form.get("note") or "")
        try:
            if action == "fulfil":
                await service.fulfil(principal, request_id, str(form.get("account_name") or "") or None, note)
            elif action == "fail":
                await service.fail(principal, request_id, note)
            elif action in ("approve", "reject", "withdraw", "deliver"):
                await engine.take(principal, FLOW, request_id, action, note)
            else:
                raise Invalid(f"unknown action {action}", code="unknown_action")
        except RegistryError as error:
            if error.status_code not in (409, 422):
                raise
            item = await engine.get_record(principal, FLOW, request_id)
            return await render(request, "accounts/detail.html", status_code=error.status_code, item=item,
                                filed=False, cancel_reasons=service.CANCEL_REASONS, error=message_for(error))
        return Redirect(FLOW.url(request_id), status_code=303)

    @get("/accounts/requests/export")
    async def export(self, principal: CurrentPrincipal, format: FromQuery[str] = "xlsx") -> Response[bytes]:
        content, media_type, filename = await service.export(principal, format)
        return Response(content, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @get("/accounts/{account_id:int}")
    async def account(self, request: Request, principal: CurrentPrincipal, account_id: FromPath[int]) -> Template:
        return await render(request, "accounts/account.html", account=await service.get_account(principal, account_id),
                            error="", may_propose=may(principal, "specimen.submit"))

    @post("/accounts/{account_id:int}/propose-mailbox")
    async def propose_mailbox(self, request: Request, principal: CurrentPrincipal, account_id: FromPath[int]) -> Any:
        try:
            mailbox = await service.propose_official_mailbox(principal, account_id)
        except RegistryError as error:
            if error.status_code not in (403, 409, 422):
                raise
            return await render(request, "accounts/account.html", status_code=error.status_code,
                                account=await service.get_account(principal, account_id), error=message_for(error),
                                may_propose=may(principal, "specimen.submit"))
        return Redirect(f"/mailboxes/{mailbox['id']}", status_code=303)
