"""HTML for staff: submitting specimens and mailboxes (clerks, DoIT), DoIT's review list with publish and
reject, one record with its image, history and actions. The public portal is elsewhere
(`registry.publish`); a specimen's image is served here, publicly once it has been published."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry import messages
from registry.agencies import service as agencies
from registry.auth.permissions import may, scope_paths
from registry.auth.principal import Principal
from registry.certs import service as certs
from registry.errors import Invalid, NotFound, RegistryError
from registry.http import CurrentPrincipal, current_principal, signed_in
from registry.listing import page_links
from registry.messages import message_for
from registry.specimens import service
from registry.specimens.tables import Specimen
from registry.web import render
from registry.workflow import engine

FORM_ERROR = messages.message("form_has_errors")
FLOWS = {"specimens": service.SPECIMEN_FLOW, "mailboxes": service.MAILBOX_FLOW}
# A published image never changes: a week in any cache, revalidated by its ETag after that.
PUBLIC_IMAGE_CACHE = "public, max-age=604800"


def field_messages(error: RegistryError) -> dict[str, str]:
    return messages.field_messages(error) or {"": message_for(error)}


async def _agency_choices(principal: Principal) -> list[dict[str, Any]]:
    paths = scope_paths(principal, "specimen.submit")
    return await agencies.within(paths) if paths else []


async def _certificate_choices(principal: Principal) -> list[dict[str, Any]]:
    """Active organisation and personal certificates within the submitter's reach."""
    return await certs.list_certificates(principal, status="active", limit=500)


def _not_after(last_modified: str, since: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


class SpecimenPages(Controller):
    include_in_schema = False

    @get("/specimens", guards=[signed_in])
    async def index(
        self, request: Request, principal: CurrentPrincipal,
        specimen_cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
        mailbox_cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    ) -> Template:
        reviews = may(principal, "specimen.publish")
        states = ["submitted"] if reviews else None
        specimens = await engine.list_records_page(principal, service.SPECIMEN_FLOW, cursor=specimen_cursor, limit=300, states=states)
        mailboxes = await engine.list_records_page(principal, service.MAILBOX_FLOW, cursor=mailbox_cursor, limit=300, states=states)
        return await render(request, "specimens/index.html", specimens=specimens.items, mailboxes=mailboxes.items,
                            specimen_links=page_links(request, specimens, "specimen_cursor"),
                            mailbox_links=page_links(request, mailboxes, "mailbox_cursor"), reviews=reviews,
                            submits=may(principal, "specimen.submit"))

    @get("/specimens/new", guards=[signed_in])
    async def form(self, request: Request, principal: CurrentPrincipal, kind: FromQuery[str] = "org",
                   agency: FromQuery[str | None] = None) -> Template:
        if kind not in service.KINDS:
            raise Invalid("unknown kind", code="invalid_kind")
        values = {"kind": kind, "agency_code": agency or principal.agency_code or ""}
        return await self._form_page(request, principal, values, {})

    async def _form_page(self, request: Request, principal: Principal, values: dict[str, Any], errors: dict[str, str],
                         status_code: int = 200, message: str = "") -> Template:
        return await render(
            request, "specimens/form.html", status_code=status_code, values=values, errors=errors, message=message,
            kinds=service.KINDS, agency_choices=await _agency_choices(principal),
            certificate_choices=await _certificate_choices(principal),
        )

    @post("/specimens/new", guards=[signed_in])
    async def submit(self, request: Request, principal: CurrentPrincipal) -> Any:
        form = await request.form()
        values = {name: form.get(name) for name in ("kind", "agency_code", "certificate", "full_name", "position")
                  if isinstance(form.get(name), str)}
        upload = form.get("image")
        image = await upload.read() if upload is not None and hasattr(upload, "read") else None
        try:
            created = await service.submit_specimen(principal, values, image)
        except RegistryError as error:
            if error.status_code not in (409, 413, 422):
                raise
            return await self._form_page(request, principal, values, field_messages(error), status_code=error.status_code,
                                         message=FORM_ERROR if error.fields else message_for(error))
        return Redirect(f"/specimens/{created['id']}?submitted=1", status_code=303)

    @get("/specimens/{specimen_id:int}", guards=[signed_in])
    async def detail(self, request: Request, principal: CurrentPrincipal, specimen_id: FromPath[int],
                     submitted: FromQuery[bool] = False) -> Template:
        item = await engine.get_record(principal, service.SPECIMEN_FLOW, specimen_id)
        return await render(request, "specimens/detail.html", item=item, submitted=submitted, error="")

    @get("/specimens/{specimen_id:int}/image.png")
    async def image(self, request: Request, specimen_id: FromPath[int]) -> Response[bytes]:
        """Public once published (with ETag, 304 when unchanged); before that only for staff who may see
        the record."""
        row = await Specimen.select(Specimen.image_png, Specimen.image_png_sha256, Specimen.published_at).where(
            Specimen.id == specimen_id).first()
        if row is None:
            raise NotFound(f"no specimen {specimen_id}")
        etag = f'"{row["image_png_sha256"]}"'
        if row["published_at"] is not None:
            published = row["published_at"]
            last_modified = format_datetime(published.astimezone(UTC).replace(microsecond=0), usegmt=True)
            headers = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": PUBLIC_IMAGE_CACHE}
            tags = request.headers.get("if-none-match")
            since = request.headers.get("if-modified-since")
            if (tags is not None and etag in tags) or (tags is None and since and _not_after(last_modified, since)):
                return Response(b"", status_code=304, headers=headers)
            return Response(bytes(row["image_png"]), media_type="image/png", headers=headers)
        principal = current_principal(request)
        if principal is None:
            raise NotFound(f"no specimen {specimen_id}")
        await engine.get_visible_row(principal, service.SPECIMEN_FLOW, specimen_id)
        return Response(bytes(row["image_png"]), media_type="image/png", headers={"Cache-Control": "no-store"})

    @post("/specimens/{specimen_id:int}/{action:str}", guards=[signed_in])
    async def act(self, request: Request, principal: CurrentPrincipal, specimen_id: FromPath[int],
                  action: FromPath[str]) -> Any:
        return await _act(request, principal, "specimens", specimen_id, action)

    @get("/mailboxes/new", guards=[signed_in])
    async def mailbox_form(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await self._mailbox_page(request, principal, {"agency_code": principal.agency_code or ""}, {})

    async def _mailbox_page(self, request: Request, principal: Principal, values: dict[str, Any],
                            errors: dict[str, str], status_code: int = 200, message: str = "") -> Template:
        return await render(request, "specimens/mailbox_form.html", status_code=status_code, values=values,
                            errors=errors, message=message, agency_choices=await _agency_choices(principal))

    @post("/mailboxes/new", guards=[signed_in])
    async def mailbox_submit(self, request: Request, principal: CurrentPrincipal) -> Any:
        form = await request.form()
        values = {name: str(form.get(name) or "") for name in ("agency_code", "address")}
        try:
            created = await service.propose_mailbox(principal, values["agency_code"], values["address"], source="form")
        except RegistryError as error:
            if error.status_code not in (409, 422):
                raise
            return await self._mailbox_page(request, principal, values, field_messages(error),
                                            status_code=error.status_code, message=message_for(error))
        return Redirect(f"/mailboxes/{created['id']}?submitted=1", status_code=303)

    @get("/mailboxes/{mailbox_id:int}", guards=[signed_in])
    async def mailbox_detail(self, request: Request, principal: CurrentPrincipal, mailbox_id: FromPath[int],
                             submitted: FromQuery[bool] = False) -> Template:
        item = await engine.get_record(principal, service.MAILBOX_FLOW, mailbox_id)
        return await render(request, "specimens/mailbox.html", item=item, submitted=submitted, error="")

    @post("/mailboxes/{mailbox_id:int}/{action:str}", guards=[signed_in])
    async def mailbox_act(self, request: Request, principal: CurrentPrincipal, mailbox_id: FromPath[int],
                          action: FromPath[str]) -> Any:
        return await _act(request, principal, "mailboxes", mailbox_id, action)


async def _act(request: Request, principal: Principal, what: str, record_id: int, action: str) -> Any:
    flow = FLOWS[what]
    form = await request.form()
    reason = str(form.get("reason") or "")
    back = str(form.get("back") or "")
    try:
        if action == "publish":
            await service.publish(principal, flow, record_id)
        elif action == "reject":
            await service.reject(principal, flow, record_id, reason)
        elif action == "withdraw":
            await service.withdraw(principal, flow, record_id, reason)
        else:
            raise Invalid(f"unknown action {action}", code="unknown_action")
    except RegistryError as error:
        if error.status_code not in (409, 422):
            raise
        item = await engine.get_record(principal, flow, record_id)
        template = "specimens/detail.html" if what == "specimens" else "specimens/mailbox.html"
        return await render(request, template, status_code=error.status_code, item=item, submitted=False,
                            error=message_for(error))
    return Redirect("/specimens" if back == "list" else flow.url(record_id), status_code=303)
