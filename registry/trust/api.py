"""JSON routes: the trust store (admins) and the public verification (CONTRACT.md, "Trust and verification")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from registry.errors import Invalid
from registry.http import ApiResponse, CurrentPrincipal, client_ip, may, problems, read_upload
from registry.timeutil import parse_moment
from registry.trust import service
from registry.trust.ratelimit import VERIFY_LIMITER
from registry.trust.schemas import TrustItemOut, TrustStoreOut
from registry.trust.specimens import published_specimens

ALREADY_KNOWN = {200: ResponseSpec(data_container=TrustItemOut, description="Already in the store: nothing written")}


def parse_at(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_moment(value)
    except ValueError:
        raise Invalid("Thời điểm kiểm tra không hợp lệ: cần dạng ISO 8601, ví dụ 2026-01-31 hoặc 2026-01-31T08:00:00+07:00.",
                      code="invalid_moment", fields={"at": "expected an ISO 8601 moment"}) from None


async def verification_json(content: bytes, at: datetime | None) -> dict[str, Any]:
    """The verdict as the API gives it, with the specimens published for the certificate."""
    verdict = await service.verify(content, at=at)
    body = msgspec.to_builtins(verdict, builtin_types=(datetime,))
    body["status_label"] = verdict.status_label
    body["specimens"] = await published_specimens(verdict.certificate.fingerprint)
    return body


class TrustController(Controller):
    path = "/trust"
    tags = ["trust"]

    async def _add(self, principal, request: Request, kind: str) -> Response[TrustItemOut]:
        item, created = await service.add_to_store(principal, await read_upload(request), kind)
        return ApiResponse(item, status_code=201 if created else 200)

    @post("/anchors", guards=[may("trust.manage")], status_code=201, responses={**ALREADY_KNOWN, **problems(401, 403, 409, 413, 422)})
    async def add_anchor(self, principal: CurrentPrincipal, request: Request) -> Response[TrustItemOut]:
        """A trust anchor (a root CA certificate), PEM or DER, raw body or multipart field `file`."""
        return await self._add(principal, request, "anchor")

    @post("/intermediates", guards=[may("trust.manage")], status_code=201, responses={**ALREADY_KNOWN, **problems(401, 403, 409, 413, 422)})
    async def add_intermediate(self, principal: CurrentPrincipal, request: Request) -> Response[TrustItemOut]:
        """An intermediate CA certificate, PEM or DER."""
        return await self._add(principal, request, "intermediate")

    @post("/crls", guards=[may("trust.manage")], status_code=201, responses={**ALREADY_KNOWN, **problems(401, 403, 409, 413, 422)})
    async def add_crl(self, principal: CurrentPrincipal, request: Request) -> Response[TrustItemOut]:
        """A CRL, PEM or DER: signed by a CA of the store, not past its nextUpdate, not older than the current one."""
        return await self._add(principal, request, "crl")

    @get("/", guards=[may("trust.read")], responses=problems(401, 403, 422))
    async def store(self, principal: CurrentPrincipal,
                    history: Annotated[bool, QueryParameter(description="include superseded CRLs")] = False) -> TrustStoreOut:
        """The store: anchors, intermediates and current CRLs with validity, use and staleness, and the CRL
        distribution points refreshed on schedule."""
        return await service.list_store(principal, include_superseded=history)


@post("/verify", tags=["trust"], status_code=200, responses=problems(413, 422, 429))
async def verify_certificate(
    request: Request,
    at: Annotated[str | None, QueryParameter(description="ISO 8601 moment to check at (default: now)")] = None,
) -> Response[dict[str, Any]]:
    """Public, no credentials: a certificate (raw body PEM or DER, or multipart field `file`) →
    `{"valid", "status", "detail", "certificate", "specimens", ...}`. Not a certificate: 422."""
    VERIFY_LIMITER.hit(client_ip(request))
    moment = parse_at(at)
    return ApiResponse(await verification_json(await read_upload(request), moment), status_code=200)
