"""JSON routes for the certificate database (CONTRACT.md, "Certificates")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.certs import service
from registry.certs.schemas import BundleOut, CertificateOut, HolderLink
from registry.http import ApiResponse, CurrentPrincipal, may, problems, read_upload, signed_in, typed
from registry.listing import PAGE_HEADERS, CursorParam, api_page

HolderParam = Annotated[int | None, QueryParameter(description="id of the person holding the certificate")]
AgencyParam = Annotated[str | None, QueryParameter(description="code of the holder's agency, or of the organisation")]
CustodianParam = Annotated[
    int | None, QueryParameter(description="id of the clerk keeping an organisation certificate")
]
KindParam = Annotated[str | None, QueryParameter(description="personal, org or ca; guessed when absent")]
OverrideParam = Annotated[bool, QueryParameter(
    description="admin only: import although the certificate does not verify (audited; needs override_reason)")]
OverrideReasonParam = Annotated[str | None, QueryParameter(description="why the unverified certificate is imported")]
ALREADY_KNOWN = {200: ResponseSpec(data_container=CertificateOut, description="Already known: the same JSON, nothing written")}
BUNDLE_KNOWN = {200: ResponseSpec(data_container=BundleOut, description="All already known: nothing written")}


class CertificateController(Controller):
    path = "/certificates"
    tags = ["certificates"]

    @post("/", guards=[may("certificate.import")], status_code=201,
          responses={**ALREADY_KNOWN, **problems(401, 403, 404, 409, 413, 422)})
    async def import_one(
        self,
        principal: CurrentPrincipal,
        request: Request,
        holder_person_id: HolderParam = None,
        agency_code: AgencyParam = None,
        custodian_person_id: CustodianParam = None,
        kind: KindParam = None,
        override: OverrideParam = False,
        override_reason: OverrideReasonParam = None,
    ) -> Response[CertificateOut]:
        """One certificate, PEM or DER (raw body or multipart field `file`): 201 when new, 200 with the
        same JSON when it is already known (nothing is written then). A certificate that does not verify
        (POST /api/v1/verify) is refused (422, `certificate_not_verified`) unless an admin passes
        `override=true` with `override_reason`, which is audited."""
        body, created = await service.import_certificate(
            principal, await read_upload(request), holder_person_id=holder_person_id, agency_code=agency_code,
            custodian_person_id=custodian_person_id, kind=kind, override=override, override_reason=override_reason,
        )
        return ApiResponse(typed(body, CertificateOut), status_code=201 if created else 200)

    @post("/bundle", guards=[may("certificate.import")], status_code=201,
          responses={**BUNDLE_KNOWN, **problems(401, 403, 404, 409, 413, 422)})
    async def import_bundle(
        self,
        principal: CurrentPrincipal,
        request: Request,
        holder_person_id: HolderParam = None,
        agency_code: AgencyParam = None,
        custodian_person_id: CustodianParam = None,
        kind: KindParam = None,
        override: OverrideParam = False,
        override_reason: OverrideReasonParam = None,
    ) -> Response[BundleOut]:
        """A PKCS#7 bundle (.p7b, DER or PEM) or concatenated PEM certificates, all or nothing →
        `{"certificates": [...]}`, each with `created`. The links apply to the end-entity certificates."""
        results = await service.import_bundle(
            principal, await read_upload(request), holder_person_id=holder_person_id, agency_code=agency_code,
            custodian_person_id=custodian_person_id, kind=kind, override=override, override_reason=override_reason,
        )
        certificates = [{**body, "created": created} for body, created in results]
        any_created = any(created for _body, created in results)
        return ApiResponse(typed({"certificates": certificates}, BundleOut), status_code=201 if any_created else 200)

    @get("/", guards=[signed_in], responses=problems(401, 403, 404, 422), response_headers=PAGE_HEADERS)
    async def list(
        self,
        request: Request,
        principal: CurrentPrincipal,
        agency: Annotated[str | None, QueryParameter(description="agency code (with its subtree)")] = None,
        status: Annotated[str | None, QueryParameter(description="active, expired, revoked or superseded")] = None,
        expiring_within: Annotated[
            int | None, QueryParameter(description="30, 60 or 90: active certificates expiring within that many days")
        ] = None,
        holder: Annotated[int | None, QueryParameter(description="id of the holding person")] = None,
        q: Annotated[str | None, QueryParameter(description="words of the name or email, diacritics optional")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=service.MAX_LIST_LIMIT)] = 200,
        cursor: CursorParam = None,
    ) -> Response[list[CertificateOut]]:
        """Certificates within the caller's reach: operators and admins the province, heads and clerks their
        subtree, everyone their own; `limit` at a time, by name (soonest to expire with `expiring_within`)."""
        page = await service.list_certificates_page(
            principal, agency_code=agency, status=status, expiring_within_days=expiring_within,
            holder_person_id=holder, q=q, limit=limit, cursor=cursor,
        )
        return api_page(request, page, typed(page.items, list[CertificateOut]))

    @get("/{fingerprint:str}", guards=[signed_in], responses=problems(401, 404, 422))
    async def detail(self, principal: CurrentPrincipal, fingerprint: FromPath[str]) -> CertificateOut:
        """One certificate by its SHA-256 fingerprint; 404 when unknown or outside the caller's reach."""
        return typed(await service.get_certificate(principal, fingerprint), CertificateOut)

    @post("/{fingerprint:str}/holder", guards=[may("certificate.import")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def link_holder(
        self, principal: CurrentPrincipal, fingerprint: FromPath[str], data: JSONBody[HolderLink]
    ) -> CertificateOut:
        """Link the certificate to a person (`person_id`), or to an agency (`agency_code`) with its
        custodian clerk (`custodian_person_id`) for an organisation certificate."""
        return typed(await service.link_holder(
            principal, fingerprint, person_id=data.person_id, agency_code=data.agency_code,
            custodian_person_id=data.custodian_person_id, kind=data.kind,
        ), CertificateOut)
