"""Specimens, mailboxes and the public portal on the wire (CONTRACT.md, "Specimens, mailboxes and the
public portal")."""

from __future__ import annotations

from datetime import datetime

import msgspec

from registry.workflow.schemas import RecordOut


class SpecimenOut(RecordOut, kw_only=True):
    full_name: str | None = None
    position: str | None = None
    certificate: str | None = None
    image_url: str
    image_sha256: str
    image_width: int
    image_height: int
    warnings: list[str] = []
    published_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


class MailboxIn(msgspec.Struct, forbid_unknown_fields=True):
    agency_code: str
    address: str


class MailboxOut(RecordOut, kw_only=True):
    address: str
    source: str
    published_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


class Reason(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class PublicCertificate(msgspec.Struct):
    fingerprint: str
    serial: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    status: str
    revoked_at: datetime | None = None


class PublicSpecimen(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    agency_code: str
    agency_name: str
    state: str
    state_label: str
    published_at: datetime
    image_url: str
    image_sha256: str
    image_width: int
    image_height: int
    certificate: PublicCertificate
    full_name: str | None = None
    position: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


class PublicMailbox(msgspec.Struct):
    id: int
    address: str
    state: str
    state_label: str
    published_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


class PublicAgencyRef(msgspec.Struct):
    code: str
    name: str
    parent_code: str | None
    url: str
    # What matched the search: "agency", "leader" or "certificate", and the leaders that did.
    matched: str = "agency"
    leaders: list[str] = []


class PublicAgency(msgspec.Struct):
    code: str
    name: str
    parent_code: str | None
    at: datetime | None
    specimens: list[PublicSpecimen]
    mailboxes: list[PublicMailbox]
    short_name: str | None = None
    address: str | None = None
    email: str | None = None
