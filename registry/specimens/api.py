"""JSON routes for specimens and mailboxes (CONTRACT.md, "Specimens, mailboxes and the public portal")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.errors import Invalid
from registry.http import CurrentPrincipal, problems, signed_in
from registry.listing import PAGE_HEADERS, CursorParam, api_page
from registry.specimens import service
from registry.specimens.schemas import MailboxIn, MailboxOut, Reason, SpecimenOut
from registry.workflow import engine

SPECIMEN_FIELDS = ("kind", "agency_code", "certificate", "full_name", "position")


async def read_specimen_form(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The multipart form's text fields and the image's bytes (None when absent)."""
    if request.content_type[0] != "multipart/form-data":
        raise Invalid("send multipart/form-data with the fields kind, agency_code, certificate, image",
                      code="multipart_required", fields={"image": "send multipart/form-data"})
    form = await request.form()
    data = {name: form.get(name) for name in SPECIMEN_FIELDS if isinstance(form.get(name), str)}
    upload = form.get("image")
    image = await upload.read() if upload is not None and hasattr(upload, "read") else None
    return data, image


def specimen_out(record: dict[str, Any]) -> SpecimenOut:
    return msgspec.convert(record, SpecimenOut)


def mailbox_out(record: dict[str, Any]) -> MailboxOut:
    return msgspec.convert(record, MailboxOut)


class SpecimenController(Controller):
    path = "/specimens"
    tags = ["specimens"]
    guards = [signed_in]

    @post("/", status_code=201, responses=problems(401, 403, 413, 422))
    async def submit(self, request: Request, principal: CurrentPrincipal) -> SpecimenOut:
        """Submit a specimen (clerk, operator): multipart `kind` (`org`|`leader`), `agency_code`,
        `certificate` (fingerprint), `image` (PNG or JPEG ≤ 2 MB, ≤ 4000×4000), and for a leader
        `full_name` and `position`. State `submitted`; `warnings` lists colour or background remarks."""
        data, image = await read_specimen_form(request)
        return specimen_out(await service.submit_specimen(principal, data, image))

    @get("/", responses=problems(401, 422), response_headers=PAGE_HEADERS)
    async def list(
        self, request: Request, principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state", max_length=20)] = None,
        agency: Annotated[str | None, QueryParameter(description="agency code", max_length=20)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[SpecimenOut]]:
        """Specimens you may see, oldest first, a page at a time (the next page in the `Link` and
        `X-Next-Cursor` headers)."""
        page = await engine.list_records_page(principal, service.SPECIMEN_FLOW, cursor=cursor, limit=limit,
                                            states=[state_] if state_ else None, agency_code=agency)
        return api_page(request, page, [specimen_out(row) for row in page.items])

    @get("/{specimen_id:int}", responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, specimen_id: FromPath[int]) -> SpecimenOut:
        return specimen_out(await engine.get_record(principal, service.SPECIMEN_FLOW, specimen_id))

    @post("/{specimen_id:int}/publish", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def publish(self, principal: CurrentPrincipal, specimen_id: FromPath[int]) -> SpecimenOut:
        """Publish (operator); the specimen published before for the same holder is superseded."""
        return specimen_out(await service.publish(principal, service.SPECIMEN_FLOW, specimen_id))

    @post("/{specimen_id:int}/reject", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def reject(self, principal: CurrentPrincipal, specimen_id: FromPath[int], data: JSONBody[Reason]) -> SpecimenOut:
        return specimen_out(await service.reject(principal, service.SPECIMEN_FLOW, specimen_id, data.reason))

    @post("/{specimen_id:int}/withdraw", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def withdraw(self, principal: CurrentPrincipal, specimen_id: FromPath[int], data: JSONBody[Reason]) -> SpecimenOut:
        """End the publication of a published specimen, with a reason (operator)."""
        return specimen_out(await service.withdraw(principal, service.SPECIMEN_FLOW, specimen_id, data.reason))


class MailboxController(Controller):
    path = "/mailboxes"
    tags = ["mailboxes"]
    guards = [signed_in]

    @post("/", status_code=201, responses=problems(401, 403, 409, 422))
    async def submit(self, principal: CurrentPrincipal, data: JSONBody[MailboxIn]) -> MailboxOut:
        """Submit an official mailbox of an agency for publication (clerk, operator)."""
        return mailbox_out(await service.propose_mailbox(principal, data.agency_code, data.address, source="api"))

    @get("/", responses=problems(401, 422), response_headers=PAGE_HEADERS)
    async def list(
        self, request: Request, principal: CurrentPrincipal,
        state_: Annotated[str | None, QueryParameter(name="state", max_length=20)] = None,
        agency: Annotated[str | None, QueryParameter(description="agency code", max_length=20)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[MailboxOut]]:
        """Mailboxes you may see, oldest first, a page at a time (the next page in the `Link` and
        `X-Next-Cursor` headers)."""
        page = await engine.list_records_page(principal, service.MAILBOX_FLOW, cursor=cursor, limit=limit,
                                            states=[state_] if state_ else None, agency_code=agency)
        return api_page(request, page, [mailbox_out(row) for row in page.items])

    @get("/{mailbox_id:int}", responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, mailbox_id: FromPath[int]) -> MailboxOut:
        return mailbox_out(await engine.get_record(principal, service.MAILBOX_FLOW, mailbox_id))

    @post("/{mailbox_id:int}/publish", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def publish(self, principal: CurrentPrincipal, mailbox_id: FromPath[int]) -> MailboxOut:
        return mailbox_out(await service.publish(principal, service.MAILBOX_FLOW, mailbox_id))

    @post("/{mailbox_id:int}/reject", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def reject(self, principal: CurrentPrincipal, mailbox_id: FromPath[int], data: JSONBody[Reason]) -> MailboxOut:
        return mailbox_out(await service.reject(principal, service.MAILBOX_FLOW, mailbox_id, data.reason))

    @post("/{mailbox_id:int}/withdraw", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def withdraw(self, principal: CurrentPrincipal, mailbox_id: FromPath[int], data: JSONBody[Reason]) -> MailboxOut:
        return mailbox_out(await service.withdraw(principal, service.MAILBOX_FLOW, mailbox_id, data.reason))
