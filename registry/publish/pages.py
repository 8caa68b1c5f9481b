"""The public portal's pages, for everyone and without JavaScript: the home page with search, an agency's
page (what is published now, or on a past day with `?at=`), its publication history, a certificate's page
with PEM and DER downloads, and the Atom feed of publication changes.

Anonymous visitors get answers from the portal's cache (`registry.publish.service`) with ETag and
Last-Modified, and a 304 when their copy is current. Signed-in staff get the same content rendered
for them (their menu, and the staff links of an agency), never cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from registry.auth.permissions import may
from registry.errors import Invalid
from registry.http import current_principal
from registry.publish import service
from registry.timeutil import isoformat, now
from registry.web import page_context, render

PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate"
HTML = "text/html; charset=utf-8"


def _conditional(request: Request, answer: service.Cached) -> Response:
    """The cached answer, or 304 when the client's copy is current; remembered for the fast path when the
    visitor is anonymous (staff never reach here with their session: they get their own page)."""
    if current_principal(request) is None and "authorization" not in request.headers:
        service.remember_exact(request.scope["path"], request.scope.get("query_string", b""), answer)
    headers = {"ETag": answer.etag, "Last-Modified": answer.last_modified, "Cache-Control": PUBLIC_CACHE_CONTROL,
               "Vary": "Cookie", **dict(answer.extra_headers)}
    if service.not_modified(request.headers, answer):
        return Response(b"", status_code=304, headers=headers)
    return Response(answer.body, media_type=answer.media_type, headers=headers)


def render_bytes(request: Request, template: str, context: dict[str, Any]) -> bytes:
    """A page as the anonymous public sees it, rendered once for the cache."""
    engine = request.app.template_engine
    base = page_context(request)
    base.update(context)
    return engine.get_template(template).render(**base).encode()


async def public_page(request: Request, key: Any, template: str,
                      load: Callable[[], Awaitable[dict[str, Any]]],
                      staff: Callable[[Any], dict[str, Any]] | None = None) -> Response | Template:
    principal = current_principal(request)
    if principal is not None:
        context = await load()
        if staff is not None:
            context.update(staff(principal))
        return await render(request, template, **context)

    async def produce(version: Any) -> service.Cached:
        return service.make_cached(render_bytes(request, template, await load()), version, HTML)

    return _conditional(request, await service.cached(key, produce))


def _query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if isinstance(value, str) else None


@get("/", include_in_schema=False)
async def home(request: Request) -> Any:
    query = _query(request, "q")
    folded = service.folded(query)

    async def load() -> dict[str, Any]:
        results = await service.search(query) if query and query.strip() else None
        return {"q": query or "", "matches": results}

    return await public_page(request, ("home", folded), "publish/home.html", load)


def _staff_links(code: str) -> Callable[[Any], dict[str, Any]]:
    def links(principal: Any) -> dict[str, Any]:
        return {"staff": {
            "submits": may(principal, "specimen.submit"),
            "reads_people": may(principal, "person.read"),
            "reads_certificates": may(principal, "certificate.read"),
            "edits": may(principal, "agency.update"),
            "code": code,
        }}

    return links


@get("/agencies/{code:str}", include_in_schema=False)
async def agency_page(request: Request, code: FromPath[str]) -> Any:
    at = service.parse_at(_query(request, "at"))

    async def load() -> dict[str, Any]:
        return {"agency": await service.public_agency(code, at), "at": at, "at_text": (_query(request, "at") or "")[:40],
                "today": now().date().isoformat()}

    return await public_page(request, ("agency", code.upper(), isoformat(at)), "publish/agency.html", load,
                             staff=_staff_links(code.upper()))


@get("/agencies/{code:str}/history", include_in_schema=False)
async def agency_history(request: Request, code: FromPath[str]) -> Any:
    async def load() -> dict[str, Any]:
        return {"agency": await service.agency_history(code)}

    return await public_page(request, ("history", code.upper()), "publish/history.html", load)


@get("/public/certificates/{fingerprint:str}", include_in_schema=False)
async def certificate_page(request: Request, fingerprint: FromPath[str]) -> Any:
    async def load() -> dict[str, Any]:
        return {"certificate": await service.public_certificate(fingerprint)}

    return await public_page(request, ("certificate", fingerprint.lower()), "publish/certificate.html", load)


@get("/public/certificates/{fingerprint:str}/download", include_in_schema=False)
async def certificate_download(request: Request, fingerprint: FromPath[str]) -> Response:
    """The certificate as PEM (`?format=pem`, the default) or DER (`?format=der`)."""
    fmt = _query(request, "format") or "pem"
    if fmt not in ("pem", "der"):
        raise Invalid("format is pem or der", code="invalid_format", fields={"format": "pem or der"})

    async def produce(version: Any) -> service.Cached:
        certificate = await service.public_certificate(fingerprint)
        body = service.pem_of(certificate["der"]) if fmt == "pem" else certificate["der"]
        media_type = "application/x-pem-file" if fmt == "pem" else "application/pkix-cert"
        disposition = f'attachment; filename="{certificate["fingerprint"][:16]}.{"pem" if fmt == "pem" else "cer"}"'
        return service.make_cached(body, version, media_type, (("Content-Disposition", disposition),))

    return _conditional(request, await service.cached(("download", fingerprint.lower(), fmt), produce))


@get("/feed.atom", include_in_schema=False)
async def feed(request: Request) -> Response:
    """The Atom feed of publication changes: specimens and mailboxes published, superseded, withdrawn."""

    async def produce(version: Any) -> service.Cached:
        base = str(request.base_url).rstrip("/")
        entries = await service.feed_entries()
        updated = isoformat(version.changed_at)
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">',
            "<title>Công bố mẫu chữ ký số và hộp thư công vụ — Quảng Ninh</title>",
            f'<id>{escape(base)}/feed.atom</id><updated>{updated}</updated>',
            f'<link rel="self" href="{escape(base)}/feed.atom"/><link href="{escape(base)}/"/>',
            "<author><name>Cơ sở dữ liệu chứng thư số tỉnh Quảng Ninh</name></author>",
        ]
        for entry in entries:
            parts.append(
                f"<entry><id>{escape(entry['id'])}</id><title>{escape(entry['title'])}</title>"
                f"<updated>{isoformat(entry['updated'])}</updated>"
                f'<link href="{escape(base + entry["url"])}"/>'
                f"<summary>{escape(entry['summary'] or entry['title'])}</summary></entry>"
            )
        parts.append("</feed>")
        return service.make_cached("\n".join(parts).encode(), version, "application/atom+xml; charset=utf-8")

    return _conditional(request, await service.cached(("feed", str(request.base_url)), produce))


PAGES = [home, agency_page, agency_history, certificate_page, certificate_download, feed]
