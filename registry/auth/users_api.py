"""JSON routes for managing users without the command line (issue 11, point 2): the list, a user account
for someone already in the registry, one-time links to set a password, and users changing their own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.auth import service
from registry.http import AppSettings, CurrentPrincipal, may, problems, signed_in


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


class UserForPerson(msgspec.Struct, forbid_unknown_fields=True):
    person_id: int
    username: str
    roles: list[str]


class ResetLink(msgspec.Struct):
    # The path of the one-time link, to hand to the user (shown only here).
    path: str
    expires_at: datetime


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class PasswordReset(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    new_password: str


class PasswordSet(msgspec.Struct):
    username: str


class UserAdminController(Controller):
    path = "/users"
    tags = ["users"]
    guards = [may("user.manage")]

    @get("/", responses=problems(401, 403, 422))
    async def list(
        self, principal: CurrentPrincipal,
        q: Annotated[str | None, QueryParameter(description="words of the name or user name", max_length=200)] = None,
    ) -> list[UserListItem]:
        """Users of the agencies you administer, with their roles and last sign-in."""
        return msgspec.convert(await service.list_users(principal, q=q), list[UserListItem])

    @post("/for-person", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def for_person(self, principal: CurrentPrincipal, settings: AppSettings,
                         data: JSONBody[UserForPerson]) -> dict[str, Any]:
        """A user account for someone already in the registry, without a password: issue them a one-time link."""
        return await service.add_user_for_person(principal, person_id=data.person_id, username=data.username,
                                                 roles=data.roles, operator_agency=settings.operator_agency)

    @post("/{username:str}/reset-link", status_code=201, responses=problems(401, 403, 404, 409))
    async def reset_link(self, principal: CurrentPrincipal, username: FromPath[str]) -> ResetLink:
        """A one-time link for the user to set their own password (earlier links stop working)."""
        path, expires_at = await service.issue_reset_link(principal, username)
        return ResetLink(path=path, expires_at=expires_at)


class PasswordController(Controller):
    tags = ["account"]

    @post("/me/password", guards=[signed_in], status_code=200, responses=problems(401, 403, 422))
    async def change(self, principal: CurrentPrincipal, data: JSONBody[PasswordChange]) -> PasswordSet:
        """Change your own password (your other sessions end)."""
        await service.change_password(principal, data.current_password, data.new_password)
        return PasswordSet(username=principal.username)

    @post("/password-reset", status_code=200, responses=problems(404, 422))
    async def reset(self, data: JSONBody[PasswordReset]) -> PasswordSet:
        """Set a password with a one-time link's token (no credentials needed; the link is spent)."""
        return PasswordSet(username=await service.reset_password(data.token, data.new_password))
