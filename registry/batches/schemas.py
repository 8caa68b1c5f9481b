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


class BatchCounts(msgspec.Struct):
    by_form: dict[str, int]
    by_state: dict[str, int]


class BatchOut(RecordOut, kw_only=True):
    dispatch_no: str | None
    dispatched_on: date | None
    requests: list[CertRequestOut] = []
    counts: BatchCounts | None = None
    files: list[BatchFileOut] = []


class Receipt(msgspec.Struct, forbid_unknown_fields=True):
    request_ids: list[int]


class HandoverDate(msgspec.Struct, forbid_unknown_fields=True):
    # The day it happened (default: today).
    date: date | None = None


class HandoverLists(msgspec.Struct):
    awaiting_receipt: list[CertRequestOut]
    not_handed_to_holder: list[CertRequestOut]
    tokens_to_return: list[CertRequestOut]
