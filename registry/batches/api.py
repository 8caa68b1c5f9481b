"""JSON routes for DoIT's batches to the CA (CONTRACT.md, "Batches to the CA")."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.batches import handover, results, service
from registry.batches.schemas import (
    BatchAdd,
    BatchCreate,
    BatchOut,
    Dispatch,
    HandoverDate,
    HandoverLists,
    Receipt,
    ResultsIn,
    ResultsOut,
)
from registry.certs.schemas import CertRequestOut
from registry.errors import Invalid
from registry.exports import CONTENT_TYPES
from registry.http import AppSettings, CurrentPrincipal, file_download, may, problems, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page


def batch_out(body: dict) -> BatchOut:
    return typed(body, BatchOut)


def results_out(report: dict) -> ResultsOut:
    return typed(report, ResultsOut)


def _certificate_text(index: int, text: str) -> bytes:
    """A certificate given in JSON: PEM text, or DER in base64."""
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"certificates[{index}] is neither PEM nor base64", code="results_file_invalid",
                      params={"name": f"certificates[{index}]"}, fields={"certificates": "PEM hoặc base64"}) from None


async def read_results(request: Request) -> tuple[list[tuple[str, bytes]], list | None]:
    """(files, outcomes) from multipart (`file` repeatable, `outcomes` JSON), JSON (ResultsIn), or a raw file."""
    content_type = request.content_type[0]
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        files = await results.uploaded_files(form)
        raw = form.get("outcomes")
        outcomes = None
        if isinstance(raw, str) and raw.strip():
            try:
                outcomes = json.loads(raw)
            except ValueError:
                raise Invalid("outcomes is not JSON", code="malformed_json", fields={"outcomes": "không phải JSON"}) from None
        return files, outcomes
    body = await request.body()
    if content_type == "application/json":
        try:
            data = msgspec.json.decode(body, type=ResultsIn)
        except msgspec.ValidationError as error:
            raise Invalid(f"invalid results: {error}", code="invalid_input", fields={"body": str(error)}) from None
        except msgspec.DecodeError:
            raise Invalid("the body is not JSON", code="malformed_json", fields={"body": "không phải JSON"}) from None
        files = [(f"certificates[{n}]", _certificate_text(n, text)) for n, text in enumerate(data.certificates)]
        return files, [msgspec.to_builtins(outcome) for outcome in data.outcomes]
    return ([("body", body)] if body else []), None


class BatchController(Controller):
    path = "/batches"
    tags = ["batches to the CA"]
    guards = [may("request.process")]

    @post("/", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def create(self, principal: CurrentPrincipal, settings: AppSettings, data: JSONBody[BatchCreate]) -> BatchOut:
        """Put approved requests in a new batch (state `draft`); all or none."""
        return batch_out(await service.create_batch(principal, settings, data.request_ids))

    @get("/", responses=problems(401, 403, 422), response_headers=PAGE_HEADERS)
    async def list(
        self, request: Request, principal: CurrentPrincipal,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[BatchOut]]:
        """Every batch, newest first, a page at a time (the next page in the `Link` and `X-Next-Cursor`
        headers)."""
        page = await service.batches_page(principal, limit=limit, cursor=cursor)
        return api_page(request, page, [batch_out(b) for b in page.items])

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

    @post("/{batch_id:int}/results", status_code=200, responses=problems(401, 403, 404, 409, 413, 422))
    async def results(self, principal: CurrentPrincipal, request: Request, batch_id: FromPath[int]) -> ResultsOut:
        """What the CA returned: certificates (PEM, DER, PKCS#7 or a ZIP of them; JSON `certificates`,
        multipart `file`, or the raw body) matched to their requests by citizen ID, email, subject or the old
        serial, and `outcomes` (`[{"request_id" | "old_serial", "outcome": "fulfilled" | "failed", "reason",
        "revoked_at", "certificate"}]`). All or nothing; importing the same results again changes nothing;
        certificates that match no request are kept and reported under `unmatched`."""
        files, outcomes = await read_results(request)
        return results_out(await results.import_results(principal, batch_id, files, outcomes))

    @post("/{batch_id:int}/dev-ca", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def dev_ca(self, principal: CurrentPrincipal, settings: AppSettings, batch_id: FromPath[int]) -> ResultsOut:
        """Fulfil a sent batch with the built-in TEST CA (only when it is enabled: --demo or REGISTRY_DEV_CA=1)."""
        return results_out(await results.fulfil_with_dev_ca(principal, settings, batch_id))


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
