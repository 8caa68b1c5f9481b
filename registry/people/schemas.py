"""People on the wire. The restricted fields (`id_number`, `date_of_birth`, `phone`) appear only for the
person themself and for those who approve or file for them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import msgspec

from registry.workflow.schemas import RecordOut


class PersonCreate(msgspec.Struct):
    full_name: str
    agency_code: str
    position: str | None = None
    email: str | None = None
    # Restricted: a 12-digit citizen ID, a date as YYYY-MM-DD, a mobile number.
    id_number: str | None = None
    date_of_birth: str | None = None
    phone: str | None = None


class PersonUpdate(msgspec.Struct):
    """The fields to change (only those given change); any other field is refused with its name."""

    full_name: str | msgspec.UnsetType = msgspec.UNSET
    position: str | None | msgspec.UnsetType = msgspec.UNSET
    email: str | None | msgspec.UnsetType = msgspec.UNSET
    id_number: str | None | msgspec.UnsetType = msgspec.UNSET
    date_of_birth: str | None | msgspec.UnsetType = msgspec.UNSET
    phone: str | None | msgspec.UnsetType = msgspec.UNSET


class PersonOut(msgspec.Struct, kw_only=True):
    id: int
    full_name: str
    position: str
    email: str
    agency_code: str
    agency_name: str
    left_at: datetime | None
    departure_reason: str | None
    # Restricted: present only for the person and those who may see them.
    id_number: str | None | msgspec.UnsetType = msgspec.UNSET
    date_of_birth: date | None | msgspec.UnsetType = msgspec.UNSET
    phone: str | None | msgspec.UnsetType = msgspec.UNSET


class Departure(msgspec.Struct, forbid_unknown_fields=True):
    reason: Literal["moved", "retired", "left", "deceased"]
    date: date


class DepartureOut(msgspec.Struct):
    person: PersonOut
    # The revocations and cancellations prepared, each waiting for a head (certificate and account requests).
    prepared: list[RecordOut]


class ImportOut(msgspec.Struct):
    created: int
    ids: list[int]


def person_out(body: dict[str, Any]) -> PersonOut:
    from registry.http import typed

    return typed(body, PersonOut)
