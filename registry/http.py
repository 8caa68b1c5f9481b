"""HTTP conventions shared by every route: problem+json errors (HTML pages for people), Vietnam-time
JSON, authentication of each request, CSRF for cookie-authenticated writes, and the guards."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import date, datetime
from http import HTTPStatus
from typing import Any, Mapping
from urllib.parse import quote

import msgspec
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, ValidationException
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Receive, Scope, Send

from registry.auth import service as auth
from registry.auth.permissions import allowed
from registry.auth.principal import Principal
from registry.errors import Forbidden, Invalid, RegistryError, Unauthenticated
from registry.timeutil import to_vietnam

logger = logging.getLogger("registry")

SESSION_COOKIE = "registry_session"
LOGIN_CSRF_COOKIE = "registry_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/schema", "/health")

# Vietnamese titles of the error pages people see.
PAGE_TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    409: "Trạng thái đã thay đổi",
    413: "Tệp quá lớn",
    422: "Dữ liệu không hợp lệ",
    429: "Thử lại sau",
    500: "Lỗi hệ thống",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


# --- JSON in Vietnam time ----------------------------------------------------------------------


def in_vietnam_time(value: Any) -> Any:
    """Every datetime in a response, at any depth, expressed as +07:00."""
    if isinstance(value, datetime):
        return to_vietnam(value)
    if isinstance(value, Mapping):
        return {key: in_vietnam_time(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [in_vietnam_time(item) for item in value]
    return value


class ApiResponse(Response):
    def render(self, content: Any, media_type: str, enc_hook: Any = None) -> bytes:  # type: ignore[override]
        if isinstance(content, (msgspec.Struct, list)) and not isinstance(content, (str, bytes)):
            # Structs (and lists of them) become builtins with their datetimes intact, to be shown as +07:00.
            content = msgspec.to_builtins(content, builtin_types=(datetime, date))
        if enc_hook is None:
            return super().render(in_vietnam_time(content), media_type)
        return super().render(in_vietnam_time(content), media_type, enc_hook)


# --- documented errors ---------------------------------------------------------------------------


class ProblemField(msgspec.Struct):
    field: str
    message: str
    code: str | None = None


class Problem(msgspec.Struct):
    """An error as RFC 9457 problem details, with the registry's stable `code`."""

    title: str
    status: int
    detail: str
    code: str
    type: str = "about:blank"
    errors: list[ProblemField] | None = None


_PROBLEM_DESCRIPTIONS = {
    400: "Malformed request",
    401: "No or invalid credentials",
    403: "A role or agency that may not act",
    404: "Does not exist or may not be seen",
    409: "The current state no longer allows this",
    413: "Upload too large",
    422: "Invalid input; `errors` names the fields",
    429: "Too many attempts; see Retry-After",
    503: "The database is busy; see Retry-After",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem+json errors a route may answer with."""
    return {
        status: ResponseSpec(data_container=Problem, description=_PROBLEM_DESCRIPTIONS.get(status, "Error"),
                             media_type="application/problem+json", generate_examples=False)
        for status in statuses
    }


# --- errors ------------------------------------------------------------------------------------


def _problem(status: int, detail: str, *, title: str | None = None, extra: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=status,
        title=title or HTTPStatus(status).phrase,
        detail=detail,
        extra=extra,
        headers=headers,
    )


def registry_error_to_problem(error: RegistryError) -> ProblemDetailsException:
    extra: dict[str, Any] = {"code": error.code, **error.extra}
    if error.fields:
        extra["errors"] = [{"field": field, "message": message} for field, message in error.fields.items()]
    retry_after = getattr(error, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="registry"'}
    return _problem(error.status_code, error.detail, title=error.title, extra=extra or None, headers=headers)


_MSGSPEC_PATH = re.compile(r"at `\$\.([^`]+)`")
_MSGSPEC_MISSING = re.compile(r"missing required field `([^`]+)`")


def _field_of(item: Mapping[str, Any]) -> str:
    """The body field a msgspec message points at (`$.name`, or a missing `name`), else Litestar's key."""
    message = str(item.get("message", ""))
    for pattern in (_MSGSPEC_MISSING, _MSGSPEC_PATH):
        found = pattern.search(message)
        if found:
            return found.group(1)
    return str(item.get("key") or item.get("source") or "")


def validation_to_problem(error: ValidationException) -> ProblemDetailsException:
    """Litestar's request-parsing errors become 422s that name each offending field."""
    fields = [
        {"field": _field_of(item), "message": str(item.get("message", ""))}
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, Mapping)
    ]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or str(error.detail)
    return _problem(422, detail, title="Invalid input", extra={"errors": fields} if fields else None)


def http_exception_to_problem(error: HTTPException) -> ProblemDetailsException:
    if isinstance(error, ProblemDetailsException):
        return error
    status = error.status_code
    detail = error.detail if error.detail != HTTPStatus(status).phrase else _default_detail(status)
    if status == 413:
        detail = "the upload is larger than this registry accepts"
    return _problem(status, detail, headers=error.headers)


def _default_detail(status: int) -> str:
    return {404: "nothing here", 405: "this method is not allowed here"}.get(status, HTTPStatus(status).phrase.lower())


def unexpected_to_problem(error: Exception) -> ProblemDetailsException:
    logger.exception("unexpected error", exc_info=error)
    return _problem(HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred; it has been logged")


def render_problem(request: Request, problem: ProblemDetailsException) -> Response:
    """problem+json for the API; a Vietnamese page (or a sign-in redirect) for people."""
    if is_api_path(request.url.path):
        return problem.to_response(request)
    status = problem.status_code
    if status == 401 and request.method in SAFE_METHODS:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}", status_code=303)
    from registry.web import page_context

    context = page_context(request)
    context.update(status=status, title=PAGE_TITLES.get(status, "Lỗi"), detail=problem.detail,
                   errors=(problem.extra or {}).get("errors") if isinstance(problem.extra, dict) else None)
    return Template(template_name="errors/error.html", context=context, status_code=status, headers=problem.headers,
                    media_type=MediaType.HTML)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_handler=render_problem))


def _handler(convert):
    def handle(request: Request, error: Exception) -> Response:
        return render_problem(request, convert(error))

    return handle


# Every error goes through render_problem, so people get a page and programs get problem+json.
EXCEPTION_HANDLERS = {
    RegistryError: _handler(registry_error_to_problem),
    ValidationException: _handler(validation_to_problem),
    HTTPException: _handler(http_exception_to_problem),
    Exception: _handler(unexpected_to_problem),
}


# --- who is asking ------------------------------------------------------------------------------


class AuthenticationMiddleware:
    """Sets scope["user"] to the Principal behind a bearer token or session cookie, or None.
    A bad bearer token is remembered, so that a route needing a user can say why it was refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            connection = ASGIConnection(scope)
            scope["user"], scope["auth"] = await identify(connection)
        await self.app(scope, receive, send)


async def identify(connection: ASGIConnection) -> tuple[Principal | None, dict[str, str]]:
    header = connection.headers.get("authorization", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None, {"error": "the Authorization header must be 'Bearer TOKEN'"}
        try:
            return await auth.principal_for_token(credentials), {"via": "token"}
        except Unauthenticated as error:
            return None, {"error": error.detail}
    session_token = connection.cookies.get(SESSION_COOKIE)
    if session_token:
        principal = await auth.principal_for_session(session_token)
        if principal is not None:
            return principal, {"via": "session"}
        return None, {"error": "your session has ended; sign in again", "stale_session": "1"}
    return None, {}


def current_principal(connection: ASGIConnection) -> Principal | None:
    return connection.scope.get("user")


def require_principal(connection: ASGIConnection) -> Principal:
    principal = current_principal(connection)
    if principal is None:
        reason = (connection.scope.get("auth") or {}).get("error") or "sign in or send a bearer token"
        raise Unauthenticated(reason)
    return principal


# --- guards -------------------------------------------------------------------------------------


def signed_in(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    require_principal(connection)


def may(action: str):
    """A guard: the principal holds a role that may take `action` somewhere; services check where."""

    def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        principal = require_principal(connection)
        if not allowed(principal, action):
            raise Forbidden(f"your roles do not allow {action}")

    guard.__name__ = f"may_{action.replace('.', '_')}"
    return guard


# --- CSRF ---------------------------------------------------------------------------------------


async def csrf_protect(request: Request) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token (header or form field).
    Bearer-token clients are exempt: a browser never attaches that header on its own."""
    if request.method in SAFE_METHODS:
        return
    principal = current_principal(request)
    if principal is None or principal.via != "session":
        return
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type[0] in ("application/x-www-form-urlencoded", "multipart/form-data"):
        supplied = (await request.form()).get(CSRF_FIELD)
    if not supplied or not principal.csrf_token or not hmac.compare_digest(str(supplied), principal.csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def cookie_secure(request: Request, setting: str) -> bool:
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    return request.url.scheme == "https"


def client_ip(request: Request) -> str:
    client = request.client
    return client.host if client else ""


# --- dependencies -------------------------------------------------------------------------------

# Handlers name what they need: `principal: CurrentPrincipal`, `settings: AppSettings`.
CurrentPrincipal = NamedDependency[Principal]
AppSettings = NamedDependency[Any]


async def provide_principal(request: Request) -> Principal:
    return require_principal(request)


async def provide_settings(request: Request) -> Any:
    return request.app.state.settings


async def read_upload(request: Request, field: str = "file") -> bytes:
    """An uploaded file: the raw body, or the multipart field `field`."""
    if request.content_type[0] == "multipart/form-data":
        form = await request.form()
        upload = form.get(field)
        if upload is None or not hasattr(upload, "read"):
            raise Invalid(f"the form has no file field '{field}'", fields={field: "is required"})
        return await upload.read()
    body = await request.body()
    if not body:
        raise Invalid("the request body is empty", fields={field: "is required"})
    return body
