"""JSON routes for the caller, their API tokens, and users (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from registry.auth import service
from registry.auth.principal import Principal
from registry.auth.schemas import (
    Me,
    NewToken,
    NewUser,
    RoleChange,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserDetail,
)
from registry.http import AppSettings, CurrentPrincipal, may, problems, signed_in, typed


def principal_json(principal: Principal) -> dict[str, Any]:
    """The caller as /me shows them (the `Me` schema)."""
    return {
        "username": principal.username,
        "full_name": principal.full_name,
        "person_id": principal.person_id,
        "agency_code": principal.agency_code,
        "roles": [{"role": grant.role, "agency_code": grant.agency_code} for grant in principal.grants],
        "via": principal.via,
    }


class AccountController(Controller):
    tags = ["account"]
    guards = [signed_in]

    @get("/me", responses=problems(401))
    async def me(self, principal: CurrentPrincipal) -> Me:
        """Who the credentials belong to, with their roles and the agencies those reach."""
        return typed(principal_json(principal), Me)

    @get("/tokens", responses=problems(401, 403, 404, 422))
    async def tokens(
        self,
        principal: CurrentPrincipal,
        username: Annotated[str | None, QueryParameter(description="admin: another user's")] = None,
    ) -> list[TokenOut]:
        """API tokens (never their values) with creation, expiry, last use and revocation times."""
        return typed(await service.list_tokens(principal, username), list[TokenOut])

    @post("/tokens", status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def create_token(self, principal: CurrentPrincipal, data: JSONBody[TokenCreate]) -> NewToken:
        """A new token; `token` appears in this response only."""
        plain, row = await service.create_token(
            principal, data.username, name=data.name, expires_days=data.expires_days
        )
        return typed({**row, "token": plain}, NewToken)

    @post("/tokens/{token_id:int}/revoke", status_code=200, responses=problems(401, 403, 404, 409, 422))
    async def revoke_token(self, principal: CurrentPrincipal, token_id: FromPath[int]) -> TokenOut:
        return typed(await service.revoke_token(principal, token_id), TokenOut)

    @post("/users", guards=[may("user.manage")], status_code=201, responses=problems(401, 403, 404, 409, 422))
    async def create_user(self, principal: CurrentPrincipal, data: JSONBody[UserCreate], settings: AppSettings) -> NewUser:
        """A person with a user account and roles (admin, within their province)."""
        return typed(await service.add_user(
            principal,
            username=data.username,
            full_name=data.full_name,
            agency_code=data.agency_code,
            roles=data.roles,
            password=data.password,
            position=data.position,
            email=data.email,
            operator_agency=settings.operator_agency,
        ), NewUser)

    @get("/users/{username:str}", guards=[may("user.manage")], responses=problems(401, 403, 404, 422))
    async def user(self, principal: CurrentPrincipal, username: FromPath[str]) -> UserDetail:
        """A user with their active role grants (admin)."""
        return typed(await service.get_user_detail(principal, username), UserDetail)

    @post("/users/{username:str}/roles", guards=[may("user.manage")], status_code=201,
          responses=problems(401, 403, 404, 409, 422))
    async def grant_role(self, principal: CurrentPrincipal, username: FromPath[str], data: JSONBody[RoleChange],
                         settings: AppSettings) -> UserDetail:
        """Grant a role over `agency_code` (default: the user's agency; operator and admin reach the province)."""
        return typed(await service.grant_role(principal, username, data.role, agency_code=data.agency_code,
                                              operator_agency=settings.operator_agency), UserDetail)

    @post("/users/{username:str}/roles/revoke", guards=[may("user.manage")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def revoke_role(self, principal: CurrentPrincipal, username: FromPath[str],
                          data: JSONBody[RoleChange]) -> UserDetail:
        """End a role grant; the grant stays on record with its end date."""
        return typed(await service.revoke_role(principal, username, data.role, agency_code=data.agency_code),
                     UserDetail)

    @post("/users/{username:str}/deactivate", guards=[may("user.manage")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def deactivate(self, principal: CurrentPrincipal, username: FromPath[str]) -> UserDetail:
        """Sessions end and tokens stop working at once; nothing is deleted."""
        return typed(await service.set_active(principal, username, False), UserDetail)

    @post("/users/{username:str}/activate", guards=[may("user.manage")], status_code=200,
          responses=problems(401, 403, 404, 409, 422))
    async def activate(self, principal: CurrentPrincipal, username: FromPath[str]) -> UserDetail:
        return typed(await service.set_active(principal, username, True), UserDetail)
