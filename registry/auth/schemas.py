"""Users, their roles and API tokens on the wire."""

from __future__ import annotations

from datetime import datetime

import msgspec

# --- in ------------------------------------------------------------------------------------------


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    expires_days: int | None = None
    username: str | None = None


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    full_name: str
    agency_code: str
    roles: list[str]
    password: str
    position: str = ""
    email: str = ""


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    agency_code: str | None = None


class UserForPerson(msgspec.Struct, forbid_unknown_fields=True):
    person_id: int
    username: str
    roles: list[str]


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class PasswordReset(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    new_password: str


# --- out -----------------------------------------------------------------------------------------


class RoleGrant(msgspec.Struct):
    role: str
    agency_code: str


class Me(msgspec.Struct):
    """Who the credentials belong to."""

    username: str
    full_name: str
    person_id: int | None
    agency_code: str | None
    roles: list[RoleGrant]
    # "token" or "session"
    via: str


class TokenOut(msgspec.Struct):
    id: int
    name: str
    # The first characters of the token, to recognise it by (never the token itself).
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    # The bearer token itself: in this response only, never again.
    token: str


class NewUser(msgspec.Struct):
    username: str
    id: int
    person_id: int
    agency_code: str
    roles: list[RoleGrant]


class DatedGrant(msgspec.Struct):
    role: str
    agency_code: str
    granted_at: datetime


class UserDetail(msgspec.Struct):
    username: str
    full_name: str
    agency_code: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    # The active grants.
    roles: list[DatedGrant]


class UserRole(msgspec.Struct):
    role: str
    agency_name: str


class UserListItem(msgspec.Struct):
    username: str
    full_name: str
    person_id: int
    agency_code: str
    agency_name: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    left_at: datetime | None
    roles: list[UserRole]


class ResetLink(msgspec.Struct):
    # The path of the one-time link, to hand to the user (shown only here).
    path: str
    expires_at: datetime


class PasswordSet(msgspec.Struct):
    username: str
