"""HTTP conventions shared by every route: problem+json errors (HTML pages for people), Vietnam-time
JSON, authentication of each request, CSRF for cookie-authenticated writes, the guards, the checks every
input passes before a handler sees it, and the operations layer around the whole application (request
ids, one log line per request, security headers, trusted proxies)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Receive, Scope, Send

from registry import db, messages
from registry.auth import service as auth
from registry.auth.permissions import allowed
from registry.auth.principal import Principal
from registry.errors import Forbidden, Invalid, RegistryError, Unauthenticated
from registry.timeutil import to_vietnam
from registry.validation import has_control_characters

logger = logging.getLogger("registry")
request_logger = logging.getLogger("registry.request")

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
    503: "Hệ thống đang bận",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


# --- JSON in Vietnam time ----------------------------------------------------------------------


# Values passed through as they are; checked by exact type first, as a list of certificates holds
# thousands of them per response.
_PLAIN = frozenset({str, int, float, bool, type(None), bytes})


def in_vietnam_time(value: Any) -> Any:
    """Every datetime in a response, at any depth, expressed as +07:00."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: item if type(item) in _PLAIN else in_vietnam_time(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _PLAIN else in_vietnam_time(item) for item in value]
    if isinstance(value, datetime):
        return to_vietnam(value)
    if isinstance(value, Mapping):
        return {key: in_vietnam_time(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [in_vietnam_time(item) for item in value]
    return value


# A moment in an encoded body that is not in Vietnam time: a time of day as msgspec writes a datetime,
# followed by another offset, "Z" or none. Free text that merely looks like one only costs the exact path.
_OTHER_THAN_VIETNAM_TIME = re.compile(rb'T\d\d:\d\d:\d\d(?:\.\d+)?(?![\d.]|\+07:00")')


class ApiResponse(Response):
    def render(self, content: Any, media_type: str, enc_hook: Any = None) -> bytes:  # type: ignore[override]
        # Moments read from the database already come in Vietnam time (db.py): then encoding once is the whole
        # work, where walking a list of certificates value by value cost more than encoding it. A body holding
        # any other moment is walked and encoded again, as before.
        try:
            body = super().render(content, media_type) if enc_hook is None else super().render(content, media_type,
                                                                                                 enc_hook)
        except SerializationException:  # a mapping or sequence msgspec takes only once walked into builtins
            body = None
        if body is not None and not _OTHER_THAN_VIETNAM_TIME.search(body):
            return body
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


class ItemOutcome(msgspec.Struct):
    """One item of a list judged whole (decisions, a batch's requests): whether it could be done, and if
    not, its status, code and the reason in Vietnamese."""

    id: Any
    ok: bool
    domain: str | None = None
    decision: str | None = None
    state: str | None = None
    status: int | None = None
    code: str | None = None
    error: str | None = None


class Problem(msgspec.Struct):
    """An error as RFC 9457 problem details, with the registry's stable `code` (scripts branch on it; the
    words of `detail` may change). Besides: the offending fields (`errors`), and where they apply the
    outcome of every item of a list judged whole (`results`), the lines of a refused CSV (`problems`),
    the open request that blocks a new one (`open_request`), the id of a logged failure (`request_id`)."""

    title: str
    status: int
    detail: str
    code: str
    type: str = "about:blank"
    errors: list[ProblemField] | None = None
    results: list[ItemOutcome] | None = None
    problems: list[str] | None = None
    open_request: int | None = None
    request_id: str | None = None


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
    """OpenAPI entries for the problem+json errors a route may answer with. Every route may meet a request
    it cannot parse at all (400), which this always documents in place of the framework's own shape."""
    return {
        status: ResponseSpec(data_container=Problem, description=_PROBLEM_DESCRIPTIONS.get(status, "Error"),
                             media_type="application/problem+json", generate_examples=False)
        for status in sorted({400, *statuses})
    }


def file_download(*media_types: str) -> type[Operation]:
    """The OpenAPI operation of a route answering with a file in one of `media_types` (an export): its 200
    lists each of them, as binary content."""

    @dataclass
    class FileOperation(Operation):
        def __post_init__(self) -> None:
            success = (self.responses or {}).get("200")
            if isinstance(success, OpenAPIResponse):
                success.content = {
                    media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))
                    for media_type in media_types
                }

    return FileOperation


def conforming(body: Any, kind: Any) -> Any:
    """`body` unchanged once it is known to fit `kind`: for records of several domains documented by their
    common part (each domain adds its own fields, which a conversion would drop)."""
    msgspec.convert(body, kind)
    return body


def typed(body: Any, kind: Any) -> Any:
    """A service's answer (dicts of builtins) as the documented response type `kind` (a Struct or a list
    of one). A key the type does not declare is a programming error, not something to drop silently:
    the documented shape must be the served one."""
    items = body if isinstance(body, list) else [body]
    struct = getattr(kind, "__args__", (kind,))[0] if isinstance(body, list) else kind
    declared = _declared_fields(struct)
    if declared:
        for item in items:
            # Read against the type's fields as they are, without a set of each item's keys (a 50-row list
            # checked in 45 µs, now 28).
            if isinstance(item, Mapping) and not declared.issuperset(item):
                raise TypeError(f"{struct.__name__} does not declare {sorted(set(item) - declared)}")
    return msgspec.convert(body, kind)


_DECLARED_FIELDS: dict[Any, frozenset[str]] = {}


def _declared_fields(struct: Any) -> frozenset[str]:
    """The fields a response type declares (none for what is not a Struct), read once per type."""
    declared = _DECLARED_FIELDS.get(struct)
    if declared is None:
        declared = _DECLARED_FIELDS[struct] = frozenset(getattr(struct, "__struct_encode_fields__", ()))
    return declared


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
    problem = _problem(error.status_code, error.detail, title=error.title, extra=extra or None, headers=headers)
    # What a page shows instead of the API's English: the catalogue's words for the code and each field.
    problem.page_message = messages.message_for(error)  # type: ignore[attr-defined]
    problem.page_fields = messages.field_messages(error)  # type: ignore[attr-defined]
    return problem


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
    extra: dict[str, Any] = {"code": "invalid_input"}
    if fields:
        extra["errors"] = fields
    problem = _problem(422, detail, title="Invalid input", extra=extra)
    problem.page_fields = {f["field"]: messages.field_message("invalid_input") for f in fields}  # type: ignore[attr-defined]
    return problem


def http_exception_to_problem(error: HTTPException) -> ProblemDetailsException:
    if isinstance(error, ProblemDetailsException):
        return error
    status = error.status_code
    detail = error.detail if error.detail != HTTPStatus(status).phrase else _default_detail(status)
    if status == 413:
        detail = "the upload is larger than this registry accepts"
    return _problem(status, detail, headers=error.headers, extra={"code": STATUS_CODES.get(status, "http_error")})


# The stable `code` of errors raised by the framework rather than by the registry (an unknown path, a
# method a route does not take, a body beyond the size limit...).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "busy",
}


def _default_detail(status: int) -> str:
    return {404: "nothing here", 405: "this method is not allowed here"}.get(status, HTTPStatus(status).phrase.lower())


def unexpected_to_problem(error: Exception) -> ProblemDetailsException:
    if db.is_busy_error(error):
        # A lock the database could not give in time (db.transaction turns these into Unavailable; this
        # catches any write that escaped it): worth retrying, so 503, never 500.
        logger.warning("database busy [request_id=%s]: %s", current_request_id(), error)
        return registry_error_to_problem(db.busy())
    request_id = current_request_id()
    logger.error("unhandled error [request_id=%s]", request_id, exc_info=error)
    return _problem(HTTP_500_INTERNAL_SERVER_ERROR,
                    f"an unexpected error occurred; it has been logged with request id {request_id}",
                    extra={"code": "internal_error", "request_id": request_id})


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
    code = problem.extra.get("code") if isinstance(problem.extra, dict) else None
    # Never the API's English: the catalogue's Vietnamese for the error's code, and for each field.
    detail = getattr(problem, "page_message", None) or messages.message_for_code(code, status)
    fields = getattr(problem, "page_fields", None) or {}
    context.update(status=status, title=PAGE_TITLES.get(status, "Lỗi"), detail=detail,
                   errors=[{"field": field, "message": text} for field, text in fields.items()] or None,
                   request_id=current_request_id())
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
# Guards are coroutines although they only read the principal found by the middleware: Litestar runs a plain
# function guard in its thread pool, and the hop there and back cost more than the request's own work
# (/api/v1/me, README).


async def signed_in(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    require_principal(connection)


signed_in._reads_principal_only = True  # type: ignore[attr-defined]


def may(action: str):
    """A guard: the principal holds a role that may take `action` somewhere; services check where."""

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        principal = require_principal(connection)
        if not allowed(principal, action):
            raise Forbidden(f"your roles do not allow {action}")

    guard.__name__ = f"may_{action.replace('.', '_')}"
    guard._reads_principal_only = True  # type: ignore[attr-defined]
    return guard


def guards_on_handlers(app: Any) -> Any:
    """Litestar hands every guard a copy of the route handler (`copy.copy`, so that a guard cannot change it
    for the next request), which cost a fifth of /api/v1/me. The registry's guards (signed_in, may) read only
    the principal and never look at the handler: a handler whose guards are all theirs runs them as Litestar
    does, in order, without the copy. A handler with any other guard keeps Litestar's way."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or not hasattr(handler, "__dict__"):
                continue
            guards = tuple(handler.resolve_guards())
            if guards and all(getattr(guard, "_reads_principal_only", False) for guard in guards):
                handler.authorize_connection = _authorize_with(guards, handler)
    return app


def _authorize_with(guards: tuple[Any, ...], handler: HTTPRouteHandler) -> Any:
    async def authorize_connection(connection: ASGIConnection) -> None:
        for guard in guards:
            await guard(connection, handler)

    return authorize_connection


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
    """Whether cookies get the Secure flag. "auto": when the request came over HTTPS, which behind a trusted
    proxy is what its X-Forwarded-Proto says (OperationsMiddleware rewrites the scheme)."""
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    return request.url.scheme == "https"


def client_ip(request: Request) -> str:
    """The client's address (behind a trusted proxy, the one its X-Forwarded-For names)."""
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
            raise Invalid(f"the form has no file field '{field}'", fields={field: "is required"},
                          field_codes={field: "required"})
        return await upload.read()
    body = await request.body()
    if not body:
        raise Invalid("the request body is empty", fields={field: "is required"}, field_codes={field: "required"})
    return body


# --- input every handler can rely on ------------------------------------------------------------

# Identifiers and counts are PostgreSQL `integer` columns: anything beyond is refused before any query.
MAX_INTEGER = 2**31 - 1
MAX_JSON_DEPTH = 32
# No list in a request body needs more (a head's bulk decisions, a batch's requests).
MAX_LIST_ITEMS = 1000
# No single value of a form, a JSON body or a query needs more; each field has its own, tighter limit.
MAX_VALUE_LENGTH = 65_536
MAX_QUERY_VALUE_LENGTH = 1000
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(field: str, message: str, code: str, status: int = 422, **params: Any) -> RegistryError:
    error = Invalid(f"{field}: {message}" if field else message, fields={field or "body": message}, code=code,
                    params=params)
    error.status_code = status
    return error


def _check_text(value: str, field: str, limit: int) -> None:
    if has_control_characters(value):
        code = "nul_character" if "\x00" in value else "control_character"
        raise _refuse(field, "contains a control character (such as NUL)", code)
    if len(value) > limit:
        raise _refuse(field, f"at most {limit} characters", "text_too_long", max_length=limit)


def _check_integer(value: int, field: str) -> None:
    if not -MAX_INTEGER <= value <= MAX_INTEGER:
        raise _refuse(field, f"a number between {-MAX_INTEGER} and {MAX_INTEGER}", "integer_out_of_range")


def check_json_value(document: Any) -> None:
    """Walk a decoded JSON body (iteratively: depth is what is being checked) and refuse what no field
    of this API takes: integers beyond 32 bits, control characters, overlong strings and lists, deep nesting."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _refuse(path, f"nested deeper than {MAX_JSON_DEPTH} levels", "json_too_deep", max=MAX_JSON_DEPTH)
        if isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        if isinstance(value, int):
            _check_integer(value, path)
        elif isinstance(value, str):
            _check_text(value, path, MAX_VALUE_LENGTH)
        elif isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                raise _refuse(path, f"at most {MAX_LIST_ITEMS} items", "list_too_long", max=MAX_LIST_ITEMS)
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                key_path = f"{path}.{key}" if path else str(key)
                _check_text(str(key), key_path, 200)
                stack.append((item, key_path, depth + 1))


def decode_json_body(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except RecursionError:
        raise _refuse("", f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels", "json_too_deep", 400,
                      max=MAX_JSON_DEPTH) from None
    except msgspec.DecodeError as error:
        reason = str(error)
        code = "invalid_utf8" if "UTF-8" in reason else "malformed_json"
        raise _refuse("", f"the body is not valid JSON: {reason}", code, 400) from None


_INTEGER_PARAMETERS: dict[int, frozenset[str]] = {}


def _integer_query_parameters(handler: Any) -> frozenset[str]:
    """The query keys a route handler declares as integers (cached per handler)."""
    cached = _INTEGER_PARAMETERS.get(id(handler))
    if cached is not None:
        return cached
    names = set()
    try:
        parameters = handler.parsed_fn_signature.parameters.values()
    except AttributeError:
        parameters = ()
    for parameter in parameters:
        inner = [parameter, *(getattr(parameter, "inner_types", ()) or ())]
        if any(getattr(item, "annotation", None) is int for item in inner):
            alias = getattr(getattr(parameter, "kwarg_definition", None), "query", None)
            names.add(alias or parameter.name)
    _INTEGER_PARAMETERS[id(handler)] = result = frozenset(names)
    return result


async def check_input(request: Request) -> None:
    """What no handler should have to think about, refused with a 4xx that names the field before any
    handler or query runs: integers beyond 32 bits in paths, queries and bodies; NUL and other control
    characters anywhere; invalid UTF-8 and JSON nested too deep; overlong values and lists."""
    for name, value in request.path_params.items():
        if isinstance(value, int) and not isinstance(value, bool):
            _check_integer(value, name)
        elif isinstance(value, str):
            _check_text(value, name, MAX_QUERY_VALUE_LENGTH)
    integer_keys = _integer_query_parameters(request.scope.get("route_handler"))
    for key, value in request.query_params.multi_items():
        _check_text(key, key, 200)
        _check_text(value, key, MAX_QUERY_VALUE_LENGTH)
        if key in integer_keys and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            _check_integer(int(value), key)
    if request.method in SAFE_METHODS:
        return
    media_type = request.content_type[0]
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        body = await request.body()
        if body.strip():
            check_json_value(decode_json_body(body))
    elif media_type in FORM_TYPES:
        form = await request.form()
        for key, value in form.multi_items():
            _check_text(key, key, 200)
            if isinstance(value, str):
                _check_text(value, key, MAX_VALUE_LENGTH)


async def before_request(request: Request) -> None:
    """Every route: the input checks, then CSRF."""
    await check_input(request)
    await csrf_protect(request)


# --- operations: request ids, logging, security headers, trusted proxies ---------------------------

REQUEST_ID_HEADER = "x-request-id"
_request_id: ContextVar[str] = ContextVar("registry_request_id", default="-")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# No inline script or style anywhere (templates load /static files only); nothing may frame the registry.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# Static files are the same for everyone; every other answer may carry someone's personal data.
CACHEABLE_PREFIXES = ("/static/",)


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return secrets.token_hex(8)


def parse_trusted_proxies(text: str | Iterable[str] | None) -> tuple[Any, ...]:
    """`REGISTRY_TRUSTED_PROXIES`: comma-separated addresses or networks (10.0.0.1, 10.0.0.0/24, ::1)."""
    items = text.split(",") if isinstance(text, str) else list(text or ())
    networks = []
    for item in (part.strip() for part in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise Invalid(f"REGISTRY_TRUSTED_PROXIES: {item!r} is not an IP address or network",
                          code="invalid_setting") from None
    return tuple(networks)


def _address(text: str) -> Any:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Any, proxies: tuple[Any, ...]) -> bool:
    return address is not None and any(address.version == net.version and address in net for net in proxies)


def _header_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    values = []
    for key, value in headers:
        if key.lower() == name:
            values.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [value for value in values if value]


def apply_forwarded_headers(scope: Scope, proxies: tuple[Any, ...]) -> bool:
    """When the peer is a trusted proxy, take the client address from X-Forwarded-For (the nearest
    address that is not itself a trusted proxy) and the scheme from X-Forwarded-Proto. From anyone else
    those headers are ignored. Returns whether the peer was trusted."""
    client = scope.get("client")
    if not proxies or not client or not _trusted(_address(client[0]), proxies):
        return False
    headers = scope.get("headers", [])
    forwarded_for = _header_values(headers, b"x-forwarded-for")
    for candidate in reversed(forwarded_for):
        address = _address(candidate)
        if address is None:
            break
        scope["client"] = (str(address), 0)
        if not _trusted(address, proxies):
            break
    protocols = _header_values(headers, b"x-forwarded-proto")
    if protocols and protocols[-1].lower() in ("http", "https"):
        scope["scheme"] = protocols[-1].lower()
    return True


class _LineFormatter(logging.Formatter):
    """The registry's line format, its time text made once per second: every request writes a line, and
    formatting the same second again cost more than the rest of the line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second: int | None = None
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return self.default_msec_format % (self._second_text, record.msecs)


def configure_logging() -> None:
    """The registry's loggers write to stderr (what `registry serve` and its workers print there)."""
    registry_logger = logging.getLogger("registry")
    if not any(getattr(handler, "_registry", False) for handler in registry_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._registry = True  # type: ignore[attr-defined]
        handler.setFormatter(_LineFormatter())
        registry_logger.addHandler(handler)
        registry_logger.setLevel(logging.INFO)
        registry_logger.propagate = False


def lighten_log_records() -> None:
    """In a server's worker, where the registry's line format is the only one: what it never shows is not
    gathered for each record (the Logging HOWTO's "Optimization"), the caller's file and line, the thread and
    the process. A third of the cost of a request's log line."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class OperationsMiddleware:
    """Around the whole application (routing and error pages included): trusted-proxy headers, a request
    id for every request (sent back as X-Request-ID), the security headers, `Cache-Control: no-store`
    wherever personal data may be shown, and one log line per request with its duration."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Any, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        proxied = apply_forwarded_headers(scope, self.trusted_proxies)
        incoming = next(iter(_header_values(scope.get("headers", []), REQUEST_ID_HEADER.encode())), "")
        request_id = incoming if proxied and _REQUEST_ID.match(incoming) else new_request_id()
        token = _request_id.set(request_id)
        path = scope.get("path", "")
        status = 500

        async def send_with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                present = {key.lower() for key, _value in headers}
                extra = [(key, value) for key, value in SECURITY_HEADERS if key not in present]
                if b"cache-control" not in present and not path.startswith(CACHEABLE_PREFIXES):
                    extra.append((b"cache-control", b"no-store"))
                extra.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers + extra}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BaseException:
            status = 500
            logger.exception("unhandled error outside the application [request_id=%s]", request_id)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            # The path only: query strings may carry names or ID numbers typed into a search.
            request_logger.info("%s %s %d %.1fms request_id=%s", scope.get("method", "-"), path, status,
                                elapsed_ms, request_id)
            _request_id.reset(token)


def instrument(app: Any, settings: Any) -> Any:
    """Put the operations layer around a Litestar app's request handling (not its lifespan)."""
    configure_logging()
    app.asgi_handler = OperationsMiddleware(app.asgi_handler, parse_trusted_proxies(settings.trusted_proxies))
    return app
