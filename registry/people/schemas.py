"""People on the wire."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import msgspec


class Departure(msgspec.Struct, forbid_unknown_fields=True):
    reason: Literal["moved", "retired", "left", "deceased"]
    date: date


class DepartureOut(msgspec.Struct):
    person: dict[str, Any]
    # The revocations and cancellations prepared, each waiting for a head (certificate and account requests).
    prepared: list[dict[str, Any]]


class ImportOut(msgspec.Struct):
    created: int
    ids: list[int]
