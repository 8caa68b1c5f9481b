"""HTML for certificate requests: filing forms per kind, the list, one request with its history, and
a head's inbox where a whole list is approved or rejected at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry import messages
from registry.agencies import service as agencies
from registry.auth.permissions import scope_paths
from registry.auth.principal import Principal
from registry.certs import requests
from registry.certs import service as certs
from registry.certs.reasons import REASON_LABELS
from registry.domains import Domains
from registry.errors import Conflict, Invalid
from registry.http import AppSettings, CurrentPrincipal, signed_in
from registry.listing import page_links
from registry.messages import field_messages, message_for
from registry.notify import service as notify
from registry.settings import Settings
from registry.web import render
from registry.workflow import engine

FORM_SKIP = {"_csrf"}


FLOW = requests.CERT_FLOW
# Requests per page of the list: the pager goes on.
PAGE_LIMIT = 100
STATE_LABELS = FLOW.machine.states


async def my_page_section(principal: Principal, _domains: Domains, person_id: int | None) -> dict[str, Any]:
    """The staff member's certificates and requests on their own page (/me)."""
    return {
        "certificates": await certs.list_for_person(person_id) if person_id else [],
        "requests": await engine.list_records(principal, FLOW, mine=True, limit=100, brief=True),
    }


async def person_section(principal: Principal, _domains: Domains, person_id: int | None) -> dict[str, Any]:
    """A person's certificates and the certificate requests about them, on their page (/people/{id})."""
    if person_id is None:
        return {"certificates": [], "requests": []}
    return {
        "certificates": await certs.list_for_person(person_id),
        "requests": await engine.list_records(principal, FLOW, extra_condition=FLOW.table.subject == person_id, limit=100,
                                           brief=True),
    }


def form_to_request(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """Flat form fields to the API's shape: `receiver.x` and `changes.x` become nested objects."""
    data: dict[str, Any] = {"kind": kind}
    for key, value in form.items():
        if key in FORM_SKIP:
            continue
        value = value.strip() if isinstance(value, str) else value
        if key.startswith("receiver."):
            data.setdefault("receiver", {})[key.removeprefix("receiver.")] = value
        elif key.startswith("changes."):
            if value:
                data.setdefault("changes", {})[key.removeprefix("changes.")] = value
        elif key in ("person_id", "validity_years"):
            if value:
                data[key] = int(value) if str(value).isdigit() else value
        else:
            data[key] = value
    return data


async def _form_choices(principal: Principal, settings: Settings, kind: str) -> dict[str, Any]:
    """The agencies the user may file for, and only the certificates this kind of request can apply to."""
    filing_paths = scope_paths(principal, "request.file_for_others")
    if filing_paths:
        agency_choices = await agencies.within(filing_paths)
        candidates = await certs.list_certificates(principal, limit=1000)
    else:
        names = await agencies.names_of([principal.agency_code or ""])
        agency_choices = [{"code": principal.agency_code, "name": names.get(principal.agency_code or "", ""), "depth": 0}]
        candidates = await certs.list_for_person(principal.person_id) if principal.person_id else []
    return {"agency_choices": agency_choices,
            "certificates": await requests.applicable(principal, settings, kind, candidates)}


def _allowed_kinds(principal: Principal) -> list[str]:
    if scope_paths(principal, "request.file_for_others"):
        return list(requests.KIND_LABELS)
    return [kind for kind in requests.KIND_LABELS if kind in requests.STAFF_KINDS]


class RequestPages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/requests")
    async def list_page(
        self,
        request: Request,
        principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state")] = None,
        kind: FromQuery[str | None] = None,
        agency: FromQuery[str | None] = None,
        mine: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await engine.list_records_page(
            principal, FLOW, states=[state_] if state_ else None, kind=kind or None,
            agency_code=agency or None, mine=mine, limit=PAGE_LIMIT, cursor=cursor or None, brief=True,
        )
        return await render(
            request, "requests/list.html", rows=page.items, pager=page_links(request, page), filters={"state": state_ or "", "kind": kind or "",
            "agency": agency or "", "mine": mine}, state_labels=STATE_LABELS, kind_labels=requests.KIND_LABELS,
        )

    @get("/requests/new")
    async def choose_kind(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await render(request, "requests/new.html", kinds=_allowed_kinds(principal),
                            kind_labels=requests.KIND_LABELS, kind_forms=requests.KIND_FORMS)

    @get("/requests/new/{kind:str}")
    async def form(self, request: Request, principal: CurrentPrincipal, settings: AppSettings, kind: FromPath[str],
                   certificate: FromQuery[str | None] = None) -> Template:
        if kind not in _allowed_kinds(principal):
            raise Invalid(f"unknown or unavailable request kind {kind}")
        values = {"certificate": certificate or "", "agency_code": principal.agency_code or ""}
        if certificate:
            chosen = await certs.find_by_fingerprint(certificate)
            if chosen is not None and chosen["agency_code"]:
                values["agency_code"] = chosen["agency_code"]
        return await self._form_page(request, principal, settings, kind, values, {})

    async def _form_page(self, request: Request, principal: Principal, settings: Settings, kind: str,
                         values: Mapping[str, Any], errors: Mapping[str, str], status_code: int = 200,
                         message: str = "", blocking: int | None = None) -> Template:
        return await render(
            request, "requests/form.html", status_code=status_code, kind=kind, kind_label=requests.KIND_LABELS[kind],
            kind_form=requests.KIND_FORMS[kind], values=values, errors=errors,
            message=message, blocking=blocking, reasons=REASON_LABELS, **await _form_choices(principal, settings, kind),
        )

    @post("/requests/new/{kind:str}")
    async def file(self, request: Request, principal: CurrentPrincipal, settings: AppSettings,
                   kind: FromPath[str]) -> Any:
        form = dict((await request.form()).items())
        data = form_to_request(kind, form)
        try:
            created = await requests.file_request(principal, settings, data)
        except Invalid as error:
            return await self._form_page(request, principal, settings, kind, form, field_messages(error), status_code=422,
                                         message=messages.message("form_has_errors"))
        except Conflict as error:
            # An open request already covers this certificate: say which, link to it, keep the input.
            return await self._form_page(request, principal, settings, kind, form, {}, status_code=409,
                                         message=message_for(error), blocking=error.extra.get("open_request"))
        return Redirect(f"/requests/{created['id']}?filed=1", status_code=303)

    @get("/requests/{request_id:int}")
    async def detail(self, request: Request, principal: CurrentPrincipal, request_id: FromPath[int],
                     filed: FromQuery[bool] = False) -> Template:
        item = await engine.get_record(principal, FLOW, request_id)
        await notify.mark_read(principal, FLOW.url(request_id))
        certificate = await certs.find_by_fingerprint(item["target_certificate"]) if item["target_certificate"] else None
        return await render(request, "requests/detail.html", item=item, filed=filed, state_labels=STATE_LABELS,
                            reasons=REASON_LABELS, certificate=certs.certificate_json(certificate) if certificate else None)

    @post("/requests/{request_id:int}/{action:str}")
    async def act(self, request: Request, principal: CurrentPrincipal, request_id: FromPath[int],
                  action: FromPath[str]) -> Redirect:
        if action not in ("approve", "reject", "withdraw"):
            raise Invalid(f"unknown action {action}")
        form = await request.form()
        await engine.take(principal, FLOW, request_id, action, str(form.get("reason") or ""))
        return Redirect(f"/requests/{request_id}", status_code=303)
