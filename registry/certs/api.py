"""JSON routes for the certificate database (CONTRACT.md, "Certificates")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.certs import service
from registry.http import ApiResponse, CurrentPrincipal, may, read_upload, signed_in

HolderParam = Annotated[int | None, QueryParameter(description="id of the person holding the certificate")]
AgencyParam = Annotated[str | None, QueryParameter(description="code of the holder's agency, or of the organisation")]
CustodianParam = Annotated[
    int | None, QueryParameter(description="id of the clerk keeping an organisation certificate")
]
KindParam = Annotated[str | None, QueryParameter(description="personal, org or ca; guessed when absent")]
OverrideParam = Annotated[bool, QueryParameter(
    description="admin only: import although the certificate does not verify (audited; needs override_reason)")]
OverrideReasonParam = Annotated[str | None, QueryParameter(description="why the unverified certificate is imported")]
ALREADY_KNOWN = {200: ResponseSpec(data_container=dict[str, Any], description="Already known: the same JSON, nothing written")}


class HolderLink(msgspec.Struct, forbid_unknown_fields=True):
    person_id: int | None = None
    agency_code: str | None = None
    custodian_person_id: int | None = None
    kind: str | None = None


class CertificateController(Controller):
    path = "/certificates"
    tags = ["certificates"]

    @post("/", guards=[may("certificate.import")], status_code=201, responses=ALREADY_KNOWN)
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
    ) -> Response[dict[str, Any]]:
        """One certificate, PEM or DER (raw body or multipart field `file`): 201 when new, 200 with the
        same JSON when it is already known (nothing is written then). A certificate that does not verify
        (POST /api/v1/verify) is refused (422, `certificate_not_verified`) unless an admin passes
        `override=true` with `override_reason`, which is audited."""
        body, created = await service.import_certificate(
            principal, await read_upload(request), holder_person_id=holder_person_id, agency_code=agency_code,
            custodian_person_id=custodian_person_id, kind=kind, override=override, override_reason=override_reason,
        )
        return ApiResponse(body, status_code=201 if created else 200)

    @post("/bundle", guards=[may("certificate.import")], status_code=201, responses=ALREADY_KNOWN)
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
    ) -> Response[dict[str, Any]]:
        """A PKCS#7 bundle (.p7b, DER or PEM) or concatenated PEM certificates, all or nothing →
        `{"certificates": [...]}`, each with `created`. The links apply to the end-entity certificates."""
        results = await service.import_bundle(
            principal, await read_upload(request), holder_person_id=holder_person_id, agency_code=agency_code,
            custodian_person_id=custodian_person_id, kind=kind, override=override, override_reason=override_reason,
        )
        certificates = [{**body, "created": created} for body, created in results]
        any_created = any(created for _body, created in results)
        return ApiResponse({"certificates": certificates}, status_code=201 if any_created else 200)

    @get("/", guards=[signed_in])
    async def list(
        self,
        principal: CurrentPrincipal,
        agency: Annotated[str | None, QueryParameter(description="agency code (with its subtree)")] = None,
        status: Annotated[str | None, QueryParameter(description="active, expired, revoked or superseded")] = None,
        expiring_within: Annotated[
            int | None, QueryParameter(description="30, 60 or 90: active certificates expiring within that many days")
        ] = None,
        holder: Annotated[int | None, QueryParameter(description="id of the holding person")] = None,
        q: Annotated[str | None, QueryParameter(description="words of the name or email, diacritics optional")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=service.MAX_LIST_LIMIT)] = 200,
    ) -> list[dict[str, Any]]:
        """Certificates within the caller's reach: operators and admins the province, heads and clerks their
        subtree, everyone their own."""
        return await service.list_certificates(
            principal, agency_code=agency, status=status, expiring_within_days=expiring_within,
            holder_person_id=holder, q=q, limit=limit,
        )

    @get("/{fingerprint:str}", guards=[signed_in])
    async def detail(self, principal: CurrentPrincipal, fingerprint: FromPath[str]) -> dict[str, Any]:
        """One certificate by its SHA-256 fingerprint; 404 when unknown or outside the caller's reach."""
        return await service.get_certificate(principal, fingerprint)

    @post("/{fingerprint:str}/holder", guards=[may("certificate.import")], status_code=200)
    async def link_holder(
        self, principal: CurrentPrincipal, fingerprint: FromPath[str], data: JSONBody[HolderLink]
    ) -> dict[str, Any]:
        """Link the certificate to a person (`person_id`), or to an agency (`agency_code`) with its
        custodian clerk (`custodian_person_id`) for an organisation certificate."""
        return await service.link_holder(
            principal, fingerprint, person_id=data.person_id, agency_code=data.agency_code,
            custodian_person_id=data.custodian_person_id, kind=data.kind,
        )
