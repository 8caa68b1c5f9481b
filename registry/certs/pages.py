"""HTML: the certificate list with filters, each certificate's page, and the operators' upload form."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from registry.agencies import service as agencies
from registry.auth.permissions import allowed, scope_paths
from registry.auth.principal import Principal
from registry.certs import parsing, requests, service
from registry.certs.reasons import REASON_LABELS
from registry.errors import Invalid
from registry.http import AppSettings, CurrentPrincipal, may, read_upload, signed_in
from registry.listing import page_links
from registry.messages import field_messages, message_for
from registry.web import render

# Rows per page of the list: a phone shows them comfortably; the pager goes on.
PAGE_LIMIT = 100
STATUS_OPTIONS = (
    ("active", "Đang hiệu lực"),
    ("expired", "Hết hạn"),
    ("revoked", "Đã thu hồi"),
    ("superseded", "Đã được thay thế"),
)
LINK_FIELDS = ("holder_person_id", "agency_code", "custodian_person_id", "kind")
OVERRIDE_FIELDS = ("override", "override_reason")
NOTICES = ("created", "known", "linked")


def _optional_id(value: Any, field: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid(f"{field} must be a number", fields={field: "must be a number"}, field_codes={field: "not_a_number"})
    return int(text)


def _expiring_days(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid("expiring must be 30, 60 or 90", fields={"expiring": "30, 60 or 90"},
                      field_codes={"expiring": "choose_from_list"})
    return int(text)


# Up to this many agencies in reach, the agency filter is a list to choose from; beyond it (a national
# tree of 10,000) the list would outweigh the page, and the filter takes the agency's code.
MAX_AGENCY_OPTIONS = 300


async def _agency_options(principal: Principal) -> list[dict[str, Any]] | None:
    """Agencies the principal may list certificates of, in tree order; None when too many to list. Read once
    per known principal (renewed with it when the data changes), not on every page: up to 301 agencies read
    and ordered. The rows are shared by the principal's pages, which only read them."""
    within = None if principal.is_system else scope_paths(principal, "certificate.read")
    limit = MAX_AGENCY_OPTIONS
    return await principal.derive_read(f"certificate.agency_options.{limit}",
                                       lambda: agencies.tree(within, at_most=limit))


class CertificatePages(Controller):
    path = "/certificates"
    include_in_schema = False

    @get("/", guards=[may("certificate.read")])
    async def list(
        self,
        request: Request,
        principal: CurrentPrincipal,
        agency: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        expiring: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await service.list_certificates_page(
            principal, agency_code=agency or None, status=status or None,
            expiring_within_days=_expiring_days(expiring), q=q or None, limit=PAGE_LIMIT, cursor=cursor or None,
            brief=True,
        )
        return await render(
            request, "certs/list.html", certificates=page.items, pager=page_links(request, page),
            filters={"agency": agency or "", "status": status or "", "expiring": expiring or "", "q": q or ""},
            agency_options=await _agency_options(principal), status_options=STATUS_OPTIONS,
            expiring_options=service.EXPIRING_WINDOWS, may_import=allowed(principal, "certificate.import"),
        )

    @get("/import", guards=[may("certificate.import")])
    async def import_form(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await render(request, "certs/import.html", form={}, error=None, field_errors=None, results=None,
                            may_override=allowed(principal, "certificate.import_override"), verification=None)

    @post("/import", guards=[may("certificate.import")])
    async def import_upload(self, request: Request, principal: CurrentPrincipal) -> Response:
        """One certificate goes to its page; a bundle is listed on the form's page."""
        form = await request.form()
        values = {name: str(form.get(name) or "").strip() for name in (*LINK_FIELDS, *OVERRIDE_FIELDS)}
        may_override = allowed(principal, "certificate.import_override")
        try:
            content = await read_upload(request)
            links = dict(
                holder_person_id=_optional_id(values["holder_person_id"], "holder_person_id"),
                agency_code=values["agency_code"] or None,
                custodian_person_id=_optional_id(values["custodian_person_id"], "custodian_person_id"),
                kind=values["kind"] or None,
                override=values["override"] in ("1", "on", "true"),
                override_reason=values["override_reason"] or None,
            )
            if len(parsing.load_certificates(content)) == 1:
                body, created = await service.import_certificate(principal, content, **links)
                notice = "created" if created else "known"
                return Redirect(f"/certificates/{body['fingerprint']}?notice={notice}", status_code=303)
            results = await service.import_bundle(principal, content, **links)
        except Invalid as error:
            verification = error.extra.get("verification")
            return await render(request, "certs/import.html", status_code=422, form=values, error=message_for(error),
                                field_errors=None if verification else (field_messages(error) or None), results=None,
                                may_override=may_override, verification=verification)
        listed = [{**body, "created": created} for body, created in results]
        status_code = 201 if any(created for _body, created in results) else 200
        return await render(request, "certs/import.html", status_code=status_code, form={}, error=None,
                            field_errors=None, results=listed, may_override=may_override, verification=None)

    @get("/{fingerprint:str}", guards=[signed_in])
    async def detail(
        self, request: Request, principal: CurrentPrincipal, settings: AppSettings, fingerprint: FromPath[str],
        notice: FromQuery[str | None] = None,
    ) -> Template:
        certificate = await service.get_certificate(principal, fingerprint)
        # What may be asked for this certificate, by this user, now (renew, change, unlock, revoke).
        request_kinds = [kind for kind in requests.CERTIFICATE_KINDS
                         if await requests.applicable(principal, settings, kind, [certificate])]
        return await render(
            request, "certs/detail.html", certificate=certificate,
            predecessors=await service.predecessors(certificate["id"]),
            reason_labels=REASON_LABELS, notice=notice if notice in NOTICES else None,
            may_link=allowed(principal, "certificate.import"), lists=allowed(principal, "certificate.read"),
            request_kinds=request_kinds, kind_labels=requests.KIND_LABELS,
        )

    @get("/{fingerprint:str}/download", guards=[signed_in])
    async def download(self, principal: CurrentPrincipal, fingerprint: FromPath[str]) -> Response:
        row = await service.get_row(principal, fingerprint)
        pem = x509.load_der_x509_certificate(row["der"]).public_bytes(Encoding.PEM)
        return Response(
            pem, media_type="application/x-pem-file",
            headers={"Content-Disposition": f'attachment; filename="{row["fingerprint"][:16]}.pem"'},
        )

    @post("/{fingerprint:str}/holder", guards=[may("certificate.import")])
    async def link_holder(
        self, principal: CurrentPrincipal, fingerprint: FromPath[str], data: URLEncodedBody[dict[str, Any]]
    ) -> Redirect:
        certificate = await service.link_holder(
            principal, fingerprint,
            person_id=_optional_id(data.get("person_id"), "person_id"),
            agency_code=str(data.get("agency_code") or "").strip() or None,
            custodian_person_id=_optional_id(data.get("custodian_person_id"), "custodian_person_id"),
            kind=str(data.get("kind") or "").strip() or None,
        )
        return Redirect(f"/certificates/{certificate['fingerprint']}?notice=linked", status_code=303)
