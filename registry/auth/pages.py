"""Sign-in, sign-out and the user's own page (profile, roles, API tokens)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from registry.agencies import service as agencies
from registry.auth import service
from registry.auth.principal import Principal
from registry.errors import Invalid, TooManyRequests, Unauthenticated
from registry.http import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AppSettings,
    CurrentPrincipal,
    client_ip,
    cookie_secure,
    current_principal,
    new_login_csrf,
    signed_in,
)
from registry.messages import message
from registry.settings import Settings
from registry.web import domains_of, load_sections, render

# Where sign-in leads when nothing else was asked for: the user's landing (`start` below).
START = "/start"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL (no open redirect)."""
    if not target:
        return START
    # Browsers read a backslash as a slash ("/\evil.example" is "//evil.example") and drop tabs and
    # newlines, so such characters never pass.
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _codes(principal: Principal) -> list[str]:
    return [principal.agency_code or "", *(grant.agency_code for grant in principal.grants)]


class AuthPages(Controller):
    include_in_schema = False

    @get("/login")
    async def login_form(
        self, request: Request, settings: AppSettings, next_: Annotated[str | None, QueryParameter(name="next")] = None,
        reset: Annotated[bool, QueryParameter(description="a password was just set")] = False,
    ) -> Response:
        if current_principal(request) is not None:
            return Redirect(safe_next(next_))
        return await self._login_page(request, settings, next_=safe_next(next_),
                                      notice="Đã đặt mật khẩu. Mời đăng nhập." if reset else "")

    async def _login_page(self, request: Request, settings: Settings, *, next_: str, error: str = "", notice: str = "",
                          username: str = "", status_code: int = 200) -> Template:
        token = new_login_csrf()
        page = await render(request, "auth/login.html", status_code=status_code, login_csrf=token,
                            next=next_, error=error, notice=notice, username=username)
        page.cookies.append(Cookie(key=LOGIN_CSRF_COOKIE, value=token, httponly=True, samesite="strict",
                                   secure=cookie_secure(request, settings.cookie_secure), path="/login"))
        return page

    @post("/login")
    async def login(self, request: Request, settings: AppSettings, data: URLEncodedBody[dict[str, Any]]) -> Response:
        next_ = safe_next(data.get("next"))
        username = str(data.get("username", ""))
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie_token or data.get("_csrf") != cookie_token:
            return await self._login_page(request, settings, next_=next_, username=username, status_code=403,
                                          error=message("login_form_expired"))
        try:
            signed = await service.sign_in(settings, username, str(data.get("password", "")),
                                           ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
        except TooManyRequests as error:
            minutes = max(1, error.retry_after // 60)
            page = await self._login_page(request, settings, next_=next_, username=username, status_code=429,
                                          error=message("sign_in_locked", minutes=minutes))
            page.headers["Retry-After"] = str(error.retry_after)
            return page
        except (Unauthenticated, Invalid):
            return await self._login_page(request, settings, next_=next_, username=username, status_code=401,
                                          error=message("wrong_credentials"))
        response = Redirect(next_, status_code=303)
        response.set_cookie(SESSION_COOKIE, signed.session_token, max_age=signed.expires_in, httponly=True,
                            samesite="lax", secure=cookie_secure(request, settings.cookie_secure), path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @get(START, guards=[signed_in])
    async def start(self, request: Request, principal: CurrentPrincipal) -> Redirect:
        """Where each role begins (issue 8, point 15): decisions for a head, DoIT's queues for an operator,
        their own requests and certificates for staff and clerks."""
        return Redirect(domains_of(request).landing_for(principal), status_code=303)

    @post("/logout", guards=[signed_in])
    async def logout(self, principal: CurrentPrincipal) -> Redirect:
        await service.sign_out(principal)
        response = Redirect("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @get("/me", guards=[signed_in])
    async def me(self, request: Request, principal: CurrentPrincipal) -> Template:
        tokens = await service.list_tokens(principal)
        return await render(request, "auth/me.html", tokens=tokens, new_token=None,
                            agency_names=await agencies.names_of(_codes(principal)),
                            sections=await load_sections(request, domains_of(request).me_sections, principal))

    @post("/me/tokens", guards=[signed_in])
    async def create_token(self, request: Request, principal: CurrentPrincipal,
                           data: URLEncodedBody[dict[str, Any]]) -> Template:
        days = str(data.get("expires_days") or "").strip()
        plain, _row = await service.create_token(
            principal, name=str(data.get("name", "")), expires_days=int(days) if days.isdigit() else None
        )
        tokens = await service.list_tokens(principal)
        return await render(request, "auth/me.html", status_code=201, tokens=tokens, new_token=plain,
                            agency_names=await agencies.names_of(_codes(principal)),
                            sections=await load_sections(request, domains_of(request).me_sections, principal))

    @post("/me/tokens/{token_id:int}/revoke", guards=[signed_in])
    async def revoke_token(self, principal: CurrentPrincipal, token_id: FromPath[int]) -> Redirect:
        await service.revoke_token(principal, token_id)
        return Redirect("/me#tokens", status_code=303)
