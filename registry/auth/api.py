"""JSON routes for the caller, their API tokens, and users (admin)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.auth import service
from registry.auth.principal import Principal
from registry.http import AppSettings, CurrentPrincipal, may, signed_in


def principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "username": principal.username,
        "full_name": principal.full_name,
        "person_id": principal.person_id,
        "agency_code": principal.agency_code,
        "roles": [{"role": grant.role, "agency_code": grant.agency_code} for grant in principal.grants],
        "via": principal.via,
    }


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


class AccountController(Controller):
    tags = ["account"]
    guards = [signed_in]

    @get("/me")
    async def me(self, principal: CurrentPrincipal) -> dict[str, Any]:
        """Who the credentials belong to, with their roles and the agencies those reach."""
        return principal_json(principal)

    @get("/tokens")
    async def tokens(
        self,
        principal: CurrentPrincipal,
        username: Annotated[str | None, QueryParameter(description="admin: another user's")] = None,
    ) -> list[dict[str, Any]]:
        """API tokens (never their values) with creation, expiry, last use and revocation times."""
        return await service.list_tokens(principal, username)

    @post("/tokens", status_code=201)
    async def create_token(self, principal: CurrentPrincipal, data: JSONBody[TokenCreate]) -> dict[str, Any]:
        """A new token; `token` appears in this response only."""
        plain, row = await service.create_token(
            principal, data.username, name=data.name, expires_days=data.expires_days
        )
        return {**row, "token": plain}

    @post("/tokens/{token_id:int}/revoke", status_code=200)
    async def revoke_token(self, principal: CurrentPrincipal, token_id: FromPath[int]) -> dict[str, Any]:
        return await service.revoke_token(principal, token_id)

    @post("/users", guards=[may("user.manage")], status_code=201)
    async def create_user(self, principal: CurrentPrincipal, data: JSONBody[UserCreate], settings: AppSettings) -> dict[str, Any]:
        """A person with a user account and roles (admin, within their province)."""
        return await service.add_user(
            principal,
            username=data.username,
            full_name=data.full_name,
            agency_code=data.agency_code,
            roles=data.roles,
            password=data.password,
            position=data.position,
            email=data.email,
            operator_agency=settings.operator_agency,
        )

    @get("/users/{username:str}", guards=[may("user.manage")])
    async def user(self, principal: CurrentPrincipal, username: FromPath[str]) -> dict[str, Any]:
        """A user with their active role grants (admin)."""
        return await service.get_user_detail(principal, username)

    @post("/users/{username:str}/roles", guards=[may("user.manage")], status_code=201)
    async def grant_role(self, principal: CurrentPrincipal, username: FromPath[str], data: JSONBody[RoleChange],
                         settings: AppSettings) -> dict[str, Any]:
        """Grant a role over `agency_code` (default: the user's agency; operator and admin reach the province)."""
        return await service.grant_role(principal, username, data.role, agency_code=data.agency_code,
                                        operator_agency=settings.operator_agency)

    @post("/users/{username:str}/roles/revoke", guards=[may("user.manage")], status_code=200)
    async def revoke_role(self, principal: CurrentPrincipal, username: FromPath[str], data: JSONBody[RoleChange]) -> dict[str, Any]:
        """End a role grant; the grant stays on record with its end date."""
        return await service.revoke_role(principal, username, data.role, agency_code=data.agency_code)

    @post("/users/{username:str}/deactivate", guards=[may("user.manage")], status_code=200)
    async def deactivate(self, principal: CurrentPrincipal, username: FromPath[str]) -> dict[str, Any]:
        """Sessions end and tokens stop working at once; nothing is deleted."""
        return await service.set_active(principal, username, False)

    @post("/users/{username:str}/activate", guards=[may("user.manage")], status_code=200)
    async def activate(self, principal: CurrentPrincipal, username: FromPath[str]) -> dict[str, Any]:
        return await service.set_active(principal, username, True)
