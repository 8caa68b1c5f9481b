"""Account requests and accounts on the wire (CONTRACT.md, "Account requests")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from registry.workflow.schemas import RecordOut

Kind = Literal["new", "password_reset", "change", "cancel"]
System = Literal["qlvb", "mail"]


class AccountRequestIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: Kind
    system: System
    agency_code: str
    full_name: str
    email: str
    # The person the account is for (clerks and heads; staff file for themselves).
    person_id: int | None = None
    position: str | None = None
    unit: str | None = None
    phone: str | None = None
    # The login or mailbox wished for (new), or the account acted on (other kinds).
    account_name: str | None = None
    # The role on the document system (văn thư, lãnh đạo, chuyên viên...).
    role: str | None = None
    # cancel: moved, retired, left, deceased, no_longer_needed, other.
    reason: str | None = None
    detail: str | None = None
    # change: field → new value (full_name, position, unit, email).
    changes: dict[str, str] | None = None


class AccountRequestOut(RecordOut, kw_only=True):
    system: str
    system_label: str
    account_name: str | None
    account_id: int | None
    outcome: str | None


class Rejection(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = ""


class Fulfilment(msgspec.Struct, forbid_unknown_fields=True):
    # The account created (new) or acted on; defaults to the one the request names.
    account_name: str | None = None
    # Anything the unit should know (never a password).
    note: str = ""


class Failure(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class IdRejection(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    reason: str = ""


class Decisions(msgspec.Struct, forbid_unknown_fields=True):
    approve: list[int] = []
    reject: list[IdRejection] = []


class AccountOut(msgspec.Struct, kw_only=True):
    id: int
    system: str
    system_label: str
    name: str
    person_id: int | None
    person_name: str | None
    agency_code: str | None
    agency_name: str | None
    status: Literal["active", "cancelled"]
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None
    cancel_reason_label: str | None
    requests: list[AccountRequestOut] | None = None


def request_out(body: dict[str, Any]) -> AccountRequestOut:
    from registry.http import typed

    return typed(body, AccountRequestOut)
