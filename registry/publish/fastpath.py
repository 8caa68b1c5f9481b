"""The public read path's shortcut: an anonymous GET asking exactly what the portal already answered
(same path, same query, same publication version) is answered from the portal's cache before routing,
authentication and input checks — they ran, and passed, when that answer was first produced. Everything
else (a session cookie, a bearer token, a first request, another method) goes to the application.

It sits inside the operations layer (registry.http.OperationsMiddleware), so these answers carry the
same security headers, request id and log line as every other."""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from registry.publish import service

SESSION_COOKIE = b"registry_session="


def _is_anonymous(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"authorization" or (name == b"cookie" and SESSION_COOKIE in value):
            return False
    return True


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


class PublicFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            headers = scope["headers"]
            if _is_anonymous(headers):
                answer = await service.lookup_exact(scope["path"], scope.get("query_string", b""))
                if answer is not None:
                    await _answer(answer, headers, send)
                    return
        await self.app(scope, receive, send)


async def _answer(answer: service.Cached, request_headers: list[tuple[bytes, bytes]], send: Send) -> None:
    conditional: dict[str, str] = {}
    for name in (b"if-none-match", b"if-modified-since"):
        value = _header(request_headers, name)
        if value is not None:
            conditional[name.decode()] = value
    headers: list[tuple[bytes, bytes]] = [
        (b"etag", answer.etag.encode()),
        (b"last-modified", answer.last_modified.encode()),
        (b"cache-control", b"public, max-age=0, must-revalidate"),
        (b"vary", b"Cookie"),
        *((name.lower().encode(), value.encode()) for name, value in answer.extra_headers),
    ]
    if conditional and service.not_modified(conditional, answer):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    media_type = answer.media_type
    if media_type.startswith("text/") and "charset" not in media_type:
        media_type += "; charset=utf-8"
    headers += [(b"content-type", media_type.encode()), (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def wrap(app: Any) -> Any:
    """Put the fast path in front of a Litestar app's request handling (inside the operations layer)."""
    app.asgi_handler = PublicFastPath(app.asgi_handler)
    return app
