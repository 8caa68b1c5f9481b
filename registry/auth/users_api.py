"""JSON routes for managing users without the command line (issue 11, point 2): the list, a user account
for someone already in the registry, one-time links to set a password, and users changing their own."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.auth import service
from registry.auth.schemas import (
    PasswordChange,
    PasswordReset,
    PasswordSet,
    ResetLink,
    UserDetail,
    UserForPerson,
    UserListItem,
)
from registry.http import AppSettings, CurrentPrincipal, may, problems, signed_in, typed


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
                         data: JSONBody[UserForPerson]) -> UserDetail:
        """A user account for someone already in the registry, without a password: issue them a one-time link."""
        return typed(await service.add_user_for_person(principal, person_id=data.person_id, username=data.username,
                                                       roles=data.roles, operator_agency=settings.operator_agency),
                     UserDetail)

    @post("/{username:str}/reset-link", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def reset_link(self, principal: CurrentPrincipal, username: FromPath[str]) -> ResetLink:
        """A one-time link for the user to set their own password (earlier links stop working)."""
        path, expires_at = await service.issue_reset_link(principal, username)
        return ResetLink(path=path, expires_at=expires_at)


class PasswordController(Controller):
    tags = ["account"]

    @post("/me/password", guards=[signed_in], status_code=200, responses=problems(401, 403, 404, 422, 429))
    async def change(self, principal: CurrentPrincipal, data: JSONBody[PasswordChange]) -> PasswordSet:
        """Change your own password (your other sessions end)."""
        await service.change_password(principal, data.current_password, data.new_password)
        return PasswordSet(username=principal.username)

    @post("/password-reset", status_code=200, responses=problems(404, 422))
    async def reset(self, data: JSONBody[PasswordReset]) -> PasswordSet:
        """Set a password with a one-time link's token (no credentials needed; the link is spent)."""
        return PasswordSet(username=await service.reset_password(data.token, data.new_password))
