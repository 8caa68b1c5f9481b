"""Agencies on the wire (CONTRACT.md, "Agencies")."""

from __future__ import annotations

from datetime import datetime

import msgspec


class AgencyCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    name: str
    parent_code: str | None = None
    short_name: str = ""
    address: str = ""
    tax_code: str = ""
    budget_code: str = ""
    email: str = ""


class AgencyUpdate(msgspec.Struct, omit_defaults=True):
    """The details to change; only those given change. A new `name` keeps the old one in the history."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    short_name: str | msgspec.UnsetType = msgspec.UNSET
    address: str | msgspec.UnsetType = msgspec.UNSET
    tax_code: str | msgspec.UnsetType = msgspec.UNSET
    budget_code: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType = msgspec.UNSET


class AgencyName(msgspec.Struct):
    name: str
    short_name: str
    valid_from: datetime
    valid_to: datetime | None


class AgencyOut(msgspec.Struct, kw_only=True):
    code: str
    name: str
    short_name: str
    parent_code: str | None
    level: int
    address: str
    tax_code: str
    budget_code: str
    email: str
    created_at: datetime
    updated_at: datetime


class AgencyDetail(AgencyOut, kw_only=True):
    # Every name the agency has carried, with the dates each was valid (the current one has no valid_to).
    names: list[AgencyName]


class AgencyImportOut(msgspec.Struct):
    created: int
    updated: int
    unchanged: int
