"""HTML: the public verify page (works without JavaScript) and the admins' trust store page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from registry.auth.permissions import allowed
from registry.errors import RegistryError, TooManyRequests
from registry.http import CurrentPrincipal, client_ip, may
from registry.messages import message_for
from registry.trust import service
from registry.trust.api import parse_at
from registry.trust.ratelimit import VERIFY_LIMITER
from registry.trust.schemas import STATUS_LABELS
from registry.trust.specimens import published_specimens
from registry.web import render

MAX_PASTE_CHARACTERS = 60_000


def _error_text(error: RegistryError) -> str:
    text = message_for(error)
    return text if text else error.detail


async def _file_or_paste(request: Request) -> tuple[bytes, dict[str, str]]:
    form = await request.form()
    values = {"pem": str(form.get("pem") or ""), "at": str(form.get("at") or "").strip()}
    upload = form.get("file")
    content = b""
    if upload is not None and hasattr(upload, "read"):
        content = await upload.read()
    if not content and values["pem"].strip():
        if len(values["pem"]) > MAX_PASTE_CHARACTERS:
            raise RegistryError("Nội dung dán vào quá dài.", code="text_too_long", params={"max_length": MAX_PASTE_CHARACTERS})
        content = values["pem"].encode("utf-8")
    return content, values


class VerifyPage(Controller):
    path = "/verify"
    include_in_schema = False

    @get("/")
    async def form(self, request: Request) -> Template:
        return await render(request, "trust/verify.html", values={"pem": "", "at": ""}, result=None, error=None,
                            specimens=[], status_labels=STATUS_LABELS)

    @post("/")
    async def check(self, request: Request) -> Template:
        """The verdict on the same page; every mistake comes back as this page with the reason, never JSON."""
        values = {"pem": "", "at": ""}
        try:
            content, values = await _file_or_paste(request)
            VERIFY_LIMITER.hit(client_ip(request))
            if not content:
                return await render(request, "trust/verify.html", status_code=422, values=values, result=None,
                                    error="Chọn tệp chứng thư số hoặc dán nội dung PEM.", specimens=[],
                                    status_labels=STATUS_LABELS)
            moment = parse_at(values["at"])
            result = await service.verify(content, at=moment)
        except TooManyRequests as error:
            response = await render(request, "trust/verify.html", status_code=429, values=values, result=None,
                                    error=_error_text(error), specimens=[], status_labels=STATUS_LABELS)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        except RegistryError as error:
            return await render(request, "trust/verify.html", status_code=error.status_code, values=values, result=None,
                                error=_error_text(error), specimens=[], status_labels=STATUS_LABELS)
        specimens = await published_specimens(result.certificate.fingerprint)
        return await render(request, "trust/verify.html", values=values, result=result, error=None,
                            specimens=specimens, status_labels=STATUS_LABELS)


KIND_CHOICES = tuple(service.KIND_LABELS.items())


class TrustAdminPage(Controller):
    path = "/admin/trust"
    include_in_schema = False

    async def _page(self, request: Request, principal, *, status_code: int = 200, **context: Any) -> Template:
        store = await service.list_store(principal)
        defaults: dict[str, Any] = {"error": None, "notice": None, "values": {"kind": "anchor"}}
        defaults.update(context)
        return await render(
            request, "trust/admin.html", status_code=status_code, store=store, kind_labels=service.KIND_LABELS,
            source_labels=service.SOURCE_LABELS, purpose_labels=service.PURPOSE_LABELS, kind_choices=KIND_CHOICES,
            may_manage=allowed(principal, "trust.manage"), **defaults,
        )

    @get("/", guards=[may("trust.read")])
    async def index(self, request: Request, principal: CurrentPrincipal) -> Template:
        return await self._page(request, principal)

    @post("/", guards=[may("trust.manage")])
    async def upload(self, request: Request, principal: CurrentPrincipal) -> Template:
        form = await request.form()
        kind = str(form.get("kind") or "")
        upload = form.get("file")
        values = {"kind": kind}
        if kind not in service.KINDS:
            return await self._page(request, principal, status_code=422, values=values,
                                    error="Chọn loại: chứng thư gốc, chứng thư CA trung gian hoặc CRL.")
        if upload is None or not hasattr(upload, "read"):
            return await self._page(request, principal, status_code=422, values=values, error="Chọn tệp cần tải lên.")
        try:
            item, created = await service.add_to_store(principal, await upload.read(), kind)
        except RegistryError as error:
            return await self._page(request, principal, status_code=error.status_code, values=values,
                                    error=_error_text(error))
        notice = (f"Đã thêm {service.KIND_LABELS[kind].lower()}: {item.subject}." if created
                  else f"{service.KIND_LABELS[kind]} này đã có trong kho; không có gì thay đổi.")
        return await self._page(request, principal, status_code=201 if created else 200, notice=notice, values=values)
