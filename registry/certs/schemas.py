"""Certificates and certificate requests on the wire (CONTRACT.md, "Certificates", "Certificate requests")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import msgspec

from registry.workflow.schemas import HistoryEvent, RecordOut

# --- certificates --------------------------------------------------------------------------------


class PersonRef(msgspec.Struct):
    id: int
    full_name: str


class CertificateOut(msgspec.Struct, kw_only=True):
    id: int
    # Lower-case hex SHA-256 of the DER.
    fingerprint: str
    serial: str
    # RFC 4514, Vietnamese letters intact.
    subject: str
    issuer: str
    common_name: str
    email: str
    not_before: datetime
    not_after: datetime
    status: Literal["active", "expired", "revoked", "superseded"]
    kind: str
    key_type: str
    key_size: int
    key_usage: list[str]
    is_ca: bool
    agency_code: str | None
    agency_name: str | None
    holder: PersonRef | None
    custodian: PersonRef | None
    revoked_at: datetime | None
    revocation_reason: str | None
    revocation_pending: bool
    revocation_pending_since: datetime | None
    superseded_by: str | None
    superseded_at: datetime | None
    source: str
    imported_at: datetime


class BundleItem(CertificateOut, kw_only=True):
    # Whether this import added it (false: it was already known, nothing written).
    created: bool


class BundleOut(msgspec.Struct):
    certificates: list[BundleItem]


class HolderLink(msgspec.Struct, forbid_unknown_fields=True):
    person_id: int | None = None
    agency_code: str | None = None
    custodian_person_id: int | None = None
    kind: str | None = None


# --- certificate requests ------------------------------------------------------------------------


class CertRequestIn(msgspec.Struct, kw_only=True):
    """A request: `kind`, `agency_code` and the kind's fields (CONTRACT.md). Which fields a kind needs, and
    their formats, are checked by the service, which names every field in error."""

    kind: Literal["new_personal", "new_org", "renew", "change", "unlock", "revoke"]
    agency_code: str
    # new_personal (and the receiver of new_org)
    full_name: str | None = None
    date_of_birth: str | None = None
    id_number: str | None = None
    id_issued_on: str | None = None
    id_issued_by: str | None = None
    email: str | None = None
    position: str | None = None
    phone: str | None = None
    # new_org
    org_name: str | None = None
    address: str | None = None
    tax_code: str | None = None
    budget_code: str | None = None
    receiver: dict[str, Any] | None = None
    # renew, change, unlock, revoke: the certificate's SHA-256 fingerprint
    certificate: str | None = None
    # change: field → new value
    changes: dict[str, Any] | None = None
    # revoke: one of the contract's reasons, and a note ("other" needs one)
    reason: str | None = None
    detail: str | None = None
    # new_personal, new_org: 1 to 5 years; renew: 1 to 3 (default: the most).
    validity_years: int | str | None = None
    # Whom the request is about, when a clerk or head files it for someone of their agency.
    person_id: int | None = None


class CertRequestOut(RecordOut, kw_only=True):
    reason: str | None
    reason_label: str | None
    # The certificate issued once a new/renew/change request is fulfilled, else the one acted on.
    certificate: str | None
    target_certificate: str | None
    batch_id: int | None
    handed_to_holder_at: datetime | None
    token_return_due: date | None
    token_returned_at: datetime | None
    # Only when one request is shown (absent from lists, as it always was).
    history: list[HistoryEvent] | msgspec.UnsetType = msgspec.UNSET


class Reason(msgspec.Struct):
    reason: str = ""


class Rejection(msgspec.Struct):
    id: int
    reason: str = ""


class Decisions(msgspec.Struct, forbid_unknown_fields=True):
    approve: list[int] = []
    reject: list[Rejection] = []
