"""Pages for administrators to manage users and roles without the command line (issue 11, point 2), and
for users to set their own password: by changing it, or through the one-time link an administrator
issued (the administrator never sees a password)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry.agencies import service as agencies
from registry.auth import service
from registry.auth.permissions import ROLE_LABELS, ROLES, scope_paths
from registry.auth.principal import Principal
from registry.errors import Invalid, NotFound, RegistryError
from registry.http import AppSettings, CurrentPrincipal, may, signed_in
from registry.messages import field_messages, message_for
from registry.people import service as people
from registry.web import render


def _errors(error: RegistryError) -> dict[str, str]:
    return field_messages(error)


class UserAdminPages(Controller):
    include_in_schema = False
    guards = [may("user.manage")]

    @get("/admin/users")
    async def index(self, request: Request, principal: CurrentPrincipal,
                    q: Annotated[str | None, QueryParameter(max_length=200)] = None) -> Template:
        return await render(request, "auth/users.html", users=await service.list_users(principal, q=q), q=q or "")

    @get("/admin/users/new")
    async def new(self, request: Request, principal: CurrentPrincipal, person_id: FromQuery[int]) -> Template:
        return await self._new(request, principal, person_id, {"roles": ["staff"]}, {})

    async def _new(self, request: Request, principal: Principal, person_id: int, values: dict[str, Any],
                   errors: dict[str, str], message: str = "", status_code: int = 200) -> Template:
        person = await people.get_person(principal, person_id)
        return await render(request, "auth/user_new.html", status_code=status_code, person=person, values=values,
                            errors=errors, message=message, roles=ROLES, role_labels=ROLE_LABELS)

    @post("/admin/users/new")
    async def create(self, request: Request, principal: CurrentPrincipal, settings: AppSettings,
                     person_id: FromQuery[int]) -> Any:
        form = await request.form()
        values = {"username": str(form.get("username") or "").strip(), "roles": form.getall("roles") if "roles" in form else []}
        try:
            created = await service.add_user_for_person(principal, person_id=person_id, username=values["username"],
                                                        roles=values["roles"], operator_agency=settings.operator_agency)
        except RegistryError as error:
            if error.status_code not in (409, 422):
                raise
            return await self._new(request, principal, person_id, values, _errors(error), message_for(error),
                                   error.status_code)
        return Redirect(f"/admin/users/{created['username']}?created=1", status_code=303)

    @get("/admin/users/{username:str}")
    async def detail(self, request: Request, principal: CurrentPrincipal, username: FromPath[str],
                     created: FromQuery[bool] = False) -> Template:
        return await self._detail(request, principal, username, created=created)

    async def _detail(self, request: Request, principal: Principal, username: str, *, created: bool = False,
                      link: tuple[str, Any] | None = None, message: str = "", error: str = "",
                      status_code: int = 200) -> Template:
        user = await service.get_user_detail(principal, username)
        return await render(
            request, "auth/user.html", status_code=status_code, user=user, created=created, link=link,
            message=message, error=error, history=await service.grant_history(principal, username),
            roles=ROLES, role_labels=ROLE_LABELS, agency_choices=await agencies.within(scope_paths(principal, "user.manage")),
        )

    @post("/admin/users/{username:str}/{action:str}")
    async def act(self, request: Request, principal: CurrentPrincipal, settings: AppSettings,
                  username: FromPath[str], action: FromPath[str]) -> Any:
        form = await request.form()
        role, agency_code = str(form.get("role") or ""), str(form.get("agency_code") or "") or None
        try:
            if action == "grant":
                await service.grant_role(principal, username, role, agency_code=agency_code,
                                         operator_agency=settings.operator_agency)
                message = "Đã giao vai trò."
            elif action == "revoke":
                await service.revoke_role(principal, username, role, agency_code=agency_code)
                message = "Đã thu hồi vai trò; lịch sử vẫn được lưu."
            elif action in ("deactivate", "activate"):
                await service.set_active(principal, username, action == "activate")
                message = "Đã mở lại tài khoản." if action == "activate" else "Đã khóa tài khoản: mọi phiên đăng nhập kết thúc."
            elif action == "reset-link":
                link = await service.issue_reset_link(principal, username)
                return await self._detail(request, principal, username, link=link,
                                          message="Đã tạo đường dẫn đặt mật khẩu dùng một lần.")
            else:
                raise NotFound(f"no action {action}", code="unknown_action")
        except RegistryError as error:
            if error.status_code not in (404, 409, 422):
                raise
            return await self._detail(request, principal, username, error=message_for(error),
                                      status_code=error.status_code)
        return await self._detail(request, principal, username, message=message)


class PasswordPages(Controller):
    include_in_schema = False

    @get("/me/password", guards=[signed_in])
    async def change_form(self, request: Request) -> Template:
        return await render(request, "auth/password.html", errors={}, done=False, reset_token=None)

    @post("/me/password", guards=[signed_in])
    async def change(self, request: Request, principal: CurrentPrincipal) -> Any:
        form = await request.form()
        new, confirm = str(form.get("new_password") or ""), str(form.get("confirm_password") or "")
        try:
            if new != confirm:
                raise Invalid("the two new passwords differ", code="passwords_differ",
                                      fields={"confirm_password": "differs"})
            await service.change_password(principal, str(form.get("current_password") or ""), new)
        except RegistryError as error:
            if error.status_code != 422:
                raise
            return await render(request, "auth/password.html", status_code=422, errors=_errors(error),
                                message=message_for(error), done=False, reset_token=None)
        return await render(request, "auth/password.html", errors={}, done=True, reset_token=None)

    @get("/reset/{token:str}")
    async def reset_form(self, request: Request, token: FromPath[str]) -> Template:
        link = await service.reset_link_user(token)
        return await render(request, "auth/password.html", errors={}, done=False, reset_token=token,
                            username=link["username"])

    @post("/reset/{token:str}")
    async def reset(self, request: Request, token: FromPath[str]) -> Any:
        form = await request.form()
        new, confirm = str(form.get("new_password") or ""), str(form.get("confirm_password") or "")
        link = await service.reset_link_user(token)
        try:
            if new != confirm:
                raise Invalid("the two new passwords differ", code="passwords_differ",
                                      fields={"confirm_password": "differs"})
            await service.reset_password(token, new)
        except RegistryError as error:
            if error.status_code != 422:
                raise
            return await render(request, "auth/password.html", status_code=422, errors=_errors(error),
                                message=message_for(error), done=False, reset_token=token, username=link["username"])
        return Redirect("/login?reset=1", status_code=303)
