"""Batches to the CA on the wire (CONTRACT.md, "Batches to the CA")."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from registry.certs.schemas import CertRequestOut
from registry.workflow.schemas import RecordOut


class BatchCreate(msgspec.Struct, forbid_unknown_fields=True):
    request_ids: list[int]


class BatchAdd(msgspec.Struct, forbid_unknown_fields=True):
    request_ids: list[int]


class Dispatch(msgspec.Struct, forbid_unknown_fields=True):
    dispatch_no: str
    # The dispatch's date (default: today).
    dispatched_on: date | None = None


class BatchFileOut(msgspec.Struct):
    name: str
    sha256: str
    created_at: datetime


class UnmatchedOut(msgspec.Struct):
    fingerprint: str
    subject: str
    reason: str  # no_request, several_requests or expired
    received_at: datetime


class BatchCounts(msgspec.Struct):
    by_form: dict[str, int]
    by_state: dict[str, int]


class BatchOut(RecordOut, kw_only=True):
    dispatch_no: str | None
    dispatched_on: date | None
    requests: list[CertRequestOut] = []
    counts: BatchCounts | None = None
    files: list[BatchFileOut] = []
    # Certificates the CA returned that matched no request (kept in the registry, unlinked).
    unmatched: list[UnmatchedOut] = []


class Receipt(msgspec.Struct, forbid_unknown_fields=True):
    request_ids: list[int]


class HandoverDate(msgspec.Struct, forbid_unknown_fields=True):
    # The day it happened (default: today).
    date: date | None = None


class HandoverLists(msgspec.Struct):
    awaiting_receipt: list[CertRequestOut]
    not_handed_to_holder: list[CertRequestOut]
    tokens_to_return: list[CertRequestOut]


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One request's outcome as the CA stated it; the request is named by id or by its old certificate's serial."""

    request_id: int | None = None
    old_serial: str | None = None
    outcome: str = "fulfilled"  # fulfilled or failed
    reason: str | None = None  # the CA's reason, required for failed
    revoked_at: str | None = None  # ISO 8601, for a revocation (default: now)
    certificate: str | None = None  # the fingerprint of the certificate issued for it


class ResultsIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the CA returned, as JSON: certificates as PEM text (or base64 DER), and the outcomes it stated.
    The same can come as multipart (fields `file`, repeatable, and `outcomes`, JSON) or as a raw file."""

    certificates: list[str] = []
    outcomes: list[OutcomeIn] = []


class ResultOutcome(msgspec.Struct):
    request_id: int
    outcome: str  # fulfilled or failed
    certificate: str | None
    # False when the same result had already been recorded (importing twice changes nothing).
    changed: bool


class ReturnedCertificate(msgspec.Struct):
    fingerprint: str
    subject: str
    reason: str  # no_request, several_requests, expired, or ca_certificate (ignored)
    changed: bool = False


class ResultsOut(msgspec.Struct):
    batch: BatchOut
    outcomes: list[ResultOutcome]
    # Certificates that matched no request: kept in the registry and listed on the batch.
    unmatched: list[ReturnedCertificate]
    # CA certificates that came along in a chain.
    ignored: list[ReturnedCertificate]
