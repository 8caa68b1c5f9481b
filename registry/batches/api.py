"""JSON routes for DoIT's batches to the CA (CONTRACT.md, "Batches to the CA")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.batches import handover, service
from registry.batches.schemas import BatchAdd, BatchCreate, BatchOut, Dispatch, HandoverDate, HandoverLists, Receipt
from registry.certs.schemas import CertRequestOut
from registry.exports import CONTENT_TYPES
from registry.http import AppSettings, CurrentPrincipal, file_download, may, problems, signed_in, typed


def batch_out(body: dict) -> BatchOut:
    return typed(body, BatchOut)


class BatchController(Controller):
    path = "/batches"
    tags = ["batches to the CA"]
    guards = [may("request.process")]

    @post("/", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def create(self, principal: CurrentPrincipal, settings: AppSettings, data: JSONBody[BatchCreate]) -> BatchOut:
        """Put approved requests in a new batch (state `draft`); all or none."""
        return batch_out(await service.create_batch(principal, settings, data.request_ids))

    @get("/", responses=problems(401, 403))
    async def list(self, principal: CurrentPrincipal) -> list[BatchOut]:
        """Every batch, newest first."""
        return [batch_out(b) for b in await service.list_batches(principal)]

    @get("/{batch_id:int}", responses=problems(401, 403, 404, 422))
    async def detail(self, principal: CurrentPrincipal, batch_id: FromPath[int]) -> BatchOut:
        """The batch with its requests, counts per form and state, and the files sent."""
        return batch_out(await service.get_batch(principal, batch_id))

    @post("/{batch_id:int}/requests", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def add(self, principal: CurrentPrincipal, batch_id: FromPath[int], data: JSONBody[BatchAdd]) -> BatchOut:
        """Add approved requests to a batch not yet sent."""
        return batch_out(await service.add_requests(principal, batch_id, data.request_ids))

    @post("/{batch_id:int}/requests/{request_id:int}/remove", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def remove(self, principal: CurrentPrincipal, batch_id: FromPath[int], request_id: FromPath[int]) -> BatchOut:
        """Take a request out of a batch not yet sent; it waits, approved, for another."""
        return batch_out(await service.remove_request(principal, batch_id, request_id))

    @get("/{batch_id:int}/export", responses=problems(401, 403, 404, 422),
         operation_class=file_download(*dict.fromkeys(CONTENT_TYPES.values())))
    async def export(
        self, principal: CurrentPrincipal, batch_id: FromPath[int],
        format_: Annotated[str, QueryParameter(name="format", description="xlsx, csv, json or manifest", max_length=10)] = "xlsx",
    ) -> Response[bytes]:
        """The list in the CA's forms; once sent, the very files sent (the manifest gives their SHA-256)."""
        content, media_type, filename = await service.export(principal, batch_id, format_)
        return Response(content, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @post("/{batch_id:int}/sent", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def sent(self, principal: CurrentPrincipal, batch_id: FromPath[int], data: JSONBody[Dispatch]) -> BatchOut:
        """The batch left for the CA under `dispatch_no`: state `sent`, its files kept as sent."""
        return batch_out(await service.mark_sent(principal, batch_id, data.dispatch_no,
                                                 data.dispatched_on.isoformat() if data.dispatched_on else None))


class HandoverController(Controller):
    path = "/handover"
    tags = ["handover"]
    guards = [signed_in]

    @get("/", responses=problems(401))
    async def lists(self, principal: CurrentPrincipal) -> HandoverLists:
        """What waits: deliveries for your units to confirm, certificates to hand to their holders, revoked
        certificates' tokens to return to the CA (earliest deadline first)."""
        return typed({
            "awaiting_receipt": await handover.awaiting_receipt(principal),
            "not_handed_to_holder": await handover.delivered_not_handed(principal),
            "tokens_to_return": await handover.tokens_to_return(principal),
        }, HandoverLists)

    @post("/receipts", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def receipts(self, principal: CurrentPrincipal, data: JSONBody[Receipt]) -> list[CertRequestOut]:
        """The unit confirms receipt of a list (state `delivered`); all or none."""
        return typed(await handover.confirm_receipt(principal, data.request_ids), list[CertRequestOut])

    @post("/{request_id:int}/holder", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def holder(self, principal: CurrentPrincipal, request_id: FromPath[int],
                     data: JSONBody[HandoverDate]) -> CertRequestOut:
        """The unit handed the certificate (token) to its holder on `date`."""
        return typed(await handover.record_handed_to_holder(principal, request_id,
                                                            data.date.isoformat() if data.date else None), CertRequestOut)

    @post("/{request_id:int}/token-returned", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def token_returned(self, principal: CurrentPrincipal, request_id: FromPath[int],
                             data: JSONBody[HandoverDate]) -> CertRequestOut:
        """DoIT records that a revoked certificate's token went back to the CA on `date`."""
        return typed(await handover.record_token_returned(principal, request_id,
                                                          data.date.isoformat() if data.date else None), CertRequestOut)
