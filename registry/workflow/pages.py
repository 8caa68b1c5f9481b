"""The shared inbox page: every request waiting for the head's decision, of every domain, in one list
with checkboxes; one action approves or rejects the whole selection, each item in its own domain."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from registry.auth.principal import Principal
from registry.certs.reasons import REASON_LABELS
from registry.domains import Domains
from registry.errors import RegistryError
from registry.http import CurrentPrincipal, may
from registry.listing import page_links
from registry.messages import message, message_for
from registry.web import domains_of, render
from registry.workflow import engine, service

MAX_REASON_LENGTH = engine.MAX_NOTE_LENGTH
# Requests per page of the inbox: a head decides fifty at a time, then the next fifty come up.
PAGE_LIMIT = 50


async def pending_decisions_counter(principal: Principal, domains: Domains) -> int:
    return await engine.pending_count(principal, domains.flows)


def item_key(domain: str, record_id: Any) -> str:
    """How a row is named in the form: `cert:12`."""
    return f"{domain}:{record_id}"


def parse_selection(values: list[str]) -> list[tuple[str, int]]:
    selected = []
    for value in values:
        domain, _, number = str(value).partition(":")
        if domain and number.isdigit() and len(number) < 19:
            selected.append((domain, int(number)))
    return selected


class InboxPages(Controller):
    include_in_schema = False
    guards = [may("inbox.read")]

    @get("/inbox")
    async def inbox(self, request: Request, principal: CurrentPrincipal, done: FromQuery[int | None] = None,
                    cursor: FromQuery[str | None] = None) -> Template:
        return await self._page(request, principal, done=done, cursor=cursor or None)

    async def _page(self, request: Request, principal: Principal, *, done: int | None = None, error: str = "",
                    results: list[dict[str, Any]] | None = None, selected: set[str] | None = None,
                    reasons: dict[str, str] | None = None, shared_reason: str = "", status_code: int = 200,
                    cursor: str | None = None) -> Template:
        page = await service.inbox(principal, domains_of(request), PAGE_LIMIT, cursor, brief=True)
        failed = {item_key(r["domain"], r["id"]): r.get("error") for r in (results or []) if not r.get("ok")}
        return await render(
            request, "workflow/inbox.html", status_code=status_code, rows=page.items, done=done, error=error,
            pager=page_links(request, page), cursor=cursor or "",
            failed=failed, selected=selected or set(), reasons=reasons or {}, shared_reason=shared_reason,
            revocation_reasons=REASON_LABELS, item_key=item_key, max_reason=MAX_REASON_LENGTH,
        )

    @post("/inbox")
    async def decide(self, request: Request, principal: CurrentPrincipal) -> Any:
        form = await request.form()
        selected = parse_selection(form.getall("selected") if "selected" in form else [])
        action = form.get("action")
        shared_reason = str(form.get("reason") or "").strip()
        cursor = str(form.get("cursor") or "") or None
        reasons = {item_key(d, i): str(form.get(f"reason_{d}_{i}") or "").strip() for d, i in selected}
        keys = {item_key(d, i) for d, i in selected}
        if not selected:
            return await self._page(request, principal, error=message("nothing_to_decide"), status_code=422,
                                    shared_reason=shared_reason, cursor=cursor)
        approve, reject = [], []
        if action == "approve":
            approve = [(d, i, "") for d, i in selected]
        else:
            reject = [(d, i, reasons[item_key(d, i)] or shared_reason) for d, i in selected]
        try:
            results = await service.decide(principal, domains_of(request), approve=approve, reject=reject)
        except RegistryError as error:
            summary = "Chưa ghi nhận quyết định nào: có yêu cầu không xử lý được (xem các dòng được đánh dấu)."
            if not error.extra.get("results"):
                summary = f"Chưa ghi nhận quyết định nào: {message_for(error)}"
            return await self._page(
                request, principal, status_code=error.status_code, results=error.extra.get("results"),
                selected=keys, reasons=reasons, shared_reason=shared_reason, error=summary, cursor=cursor,
            )
        return Redirect(f"/inbox?done={len(results)}", status_code=303)
