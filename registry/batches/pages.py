"""DoIT's pages for batches: the approved requests waiting (filtered, urgent first) with checkboxes to
start a batch, the batches, and one batch with its state and contents at a glance."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from registry.auth.permissions import may as may_do
from registry.auth.principal import Principal
from registry.batches import forms, handover, results, service
from registry.certs.requests import KIND_LABELS
from registry.errors import NotFound, RegistryError
from registry.http import AppSettings, CurrentPrincipal, may, signed_in
from registry.listing import page_links
from registry.messages import message_for
from registry.timeutil import today
from registry.web import render


def _selected(form: Any) -> list[int]:
    values = form.getall("selected") if "selected" in form else []
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 10]


class BatchPages(Controller):
    include_in_schema = False
    guards = [may("request.process")]

    @get("/batches")
    async def index(
        self, request: Request, principal: CurrentPrincipal,
        kind: Annotated[str | None, QueryParameter(max_length=30)] = None,
        agency: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    ) -> Template:
        return await self._index(request, principal, kind=kind or "", agency=agency or "", cursor=cursor)

    async def _index(self, request: Request, principal: Principal, *, kind: str = "", agency: str = "",
                     cursor: str | None = None, error: str = "", status_code: int = 200) -> Template:
        batches = await service.batches_page(principal, cursor=cursor)
        return await render(
            request, "batches/index.html", status_code=status_code, error=error,
            queue=await service.approved_queue(principal, kind=kind or None, agency_code=agency or None),
            batches=batches.items, links=page_links(request, batches), kind=kind, agency=agency, kind_labels=KIND_LABELS,
            forms=forms, states=service.BATCH_MACHINE.states,
        )

    @post("/batches")
    async def create(self, request: Request, principal: CurrentPrincipal, settings: AppSettings) -> Any:
        form = await request.form()
        try:
            created = await service.create_batch(principal, settings, _selected(form))
        except RegistryError as error:
            if error.status_code not in (404, 409, 422):
                raise
            return await self._index(request, principal, error=message_for(error), status_code=error.status_code)
        return Redirect(f"/batches/{created['id']}", status_code=303)

    @get("/batches/{batch_id:int}")
    async def detail(self, request: Request, principal: CurrentPrincipal, batch_id: FromPath[int]) -> Template:
        return await self._detail(request, principal, batch_id)

    async def _detail(self, request: Request, principal: Principal, batch_id: int, *, error: str = "",
                      values: dict[str, str] | None = None, status_code: int = 200,
                      report: dict[str, Any] | None = None) -> Template:
        batch = await service.get_batch(principal, batch_id)
        dev_ca = request.app.state.settings.dev_ca
        return await render(request, "batches/detail.html", status_code=status_code, batch=batch, error=error,
                            values=values or {}, forms=forms, units=handover.units_of(batch), report=report,
                            dev_ca=dev_ca, set_aside=results.SET_ASIDE_REASONS)

    @post("/batches/{batch_id:int}/results")
    async def results(self, request: Request, principal: CurrentPrincipal, batch_id: FromPath[int]) -> Any:
        """The CA's answer from the page: files, and per request an outcome (and the CA's reason)."""
        form = await request.form()
        files = await results.uploaded_files(form)
        values = {key: str(value) for key, value in form.items() if key.startswith(("outcome_", "reason_"))}
        outcomes = []
        for key, outcome in values.items():
            if key.startswith("outcome_") and outcome in results.OUTCOMES and key[8:].isdigit():
                request_id = int(key[8:])
                outcomes.append({"request_id": request_id, "outcome": outcome,
                                 "reason": values.get(f"reason_{request_id}", "") or None})
        outcomes = [{k: v for k, v in entry.items() if v is not None} for entry in outcomes]
        try:
            report = await results.import_results(principal, batch_id, files, outcomes)
        except RegistryError as error:
            if error.status_code not in (404, 409, 413, 422):
                raise
            return await self._detail(request, principal, batch_id, error=message_for(error), values=values,
                                      status_code=error.status_code)
        return await self._detail(request, principal, batch_id, report=report)

    @post("/batches/{batch_id:int}/dev-ca")
    async def dev_ca(self, request: Request, principal: CurrentPrincipal, settings: AppSettings,
                     batch_id: FromPath[int]) -> Any:
        try:
            report = await results.fulfil_with_dev_ca(principal, settings, batch_id)
        except RegistryError as error:
            if error.status_code not in (404, 409, 422):
                raise
            return await self._detail(request, principal, batch_id, error=message_for(error),
                                      status_code=error.status_code)
        return await self._detail(request, principal, batch_id, report=report)

    @post("/batches/{batch_id:int}/sent")
    async def sent(self, request: Request, principal: CurrentPrincipal, batch_id: FromPath[int]) -> Any:
        form = await request.form()
        values = {"dispatch_no": str(form.get("dispatch_no") or ""), "dispatched_on": str(form.get("dispatched_on") or "")}
        try:
            await service.mark_sent(principal, batch_id, values["dispatch_no"], values["dispatched_on"] or None)
        except RegistryError as error:
            if error.status_code not in (409, 422):
                raise
            return await self._detail(request, principal, batch_id, error=message_for(error), values=values,
                                      status_code=error.status_code)
        return Redirect(f"/batches/{batch_id}", status_code=303)

    @post("/batches/{batch_id:int}/requests/{request_id:int}/remove")
    async def remove(self, request: Request, principal: CurrentPrincipal, batch_id: FromPath[int],
                     request_id: FromPath[int]) -> Any:
        try:
            await service.remove_request(principal, batch_id, request_id)
        except RegistryError as error:
            if error.status_code != 409:
                raise
            return await self._detail(request, principal, batch_id, error=message_for(error), status_code=409)
        return Redirect(f"/batches/{batch_id}", status_code=303)

    @get("/batches/{batch_id:int}/export")
    async def export(
        self, principal: CurrentPrincipal, batch_id: FromPath[int],
        format_: Annotated[str, QueryParameter(name="format", max_length=10)] = "xlsx",
    ) -> Response[bytes]:
        content, media_type, filename = await service.export(principal, batch_id, format_)
        return Response(content, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class HandoverPages(Controller):
    """The unit's side: confirm receipt, record handing to the holder; DoIT's: minutes, returned tokens."""

    include_in_schema = False
    guards = [signed_in]

    @get("/handover")
    async def index(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await self._index(request, principal)

    async def _index(self, request: Request, principal: Principal, *, error: str = "", done: str = "",
                     status_code: int = 200) -> Template:
        return await render(
            request, "batches/handover.html", status_code=status_code, error=error, done=done,
            awaiting=await handover.awaiting_receipt(principal),
            not_handed=await handover.delivered_not_handed(principal),
            tokens=await handover.tokens_to_return(principal), today=today(),
            processes=may_do(principal, "request.process"),
        )

    @post("/handover/receipts")
    async def receipts(self, request: Request, principal: CurrentPrincipal) -> Any:
        form = await request.form()
        try:
            confirmed = await handover.confirm_receipt(principal, _selected(form))
        except RegistryError as error:
            if error.status_code not in (403, 404, 409, 422):
                raise
            return await self._index(request, principal, error=message_for(error), status_code=error.status_code)
        return await self._index(request, principal, done=f"Đã xác nhận nhận bàn giao {len(confirmed)} yêu cầu.")

    @post("/handover/{request_id:int}/{what:str}")
    async def record(self, request: Request, principal: CurrentPrincipal, request_id: FromPath[int],
                     what: FromPath[str]) -> Any:
        form = await request.form()
        on = str(form.get("date") or "") or None
        try:
            if what == "holder":
                await handover.record_handed_to_holder(principal, request_id, on)
                done = f"Đã ghi nhận giao chứng thư số của yêu cầu #{request_id} cho người sử dụng."
            elif what == "token-returned":
                await handover.record_token_returned(principal, request_id, on)
                done = f"Đã ghi nhận trả thiết bị của yêu cầu #{request_id}."
            else:
                raise NotFound(f"no action {what}", code="unknown_action")
        except RegistryError as error:
            if error.status_code not in (403, 409, 422):
                raise
            return await self._index(request, principal, error=message_for(error), status_code=error.status_code)
        return await self._index(request, principal, done=done)

    @get("/batches/{batch_id:int}/handover/{agency_code:str}", guards=[may("request.process")])
    async def minutes(self, request: Request, principal: CurrentPrincipal, batch_id: FromPath[int],
                      agency_code: FromPath[str]) -> Template:
        """The handover minutes (biên bản bàn giao) of one unit, printed to be signed."""
        return await render(request, "batches/minutes.html", **await handover.minutes(principal, batch_id, agency_code))
