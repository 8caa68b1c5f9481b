"""The user's notices: the to-do section of their page, the menu badge's count, marking notices read."""

from __future__ import annotations

from typing import Any

from litestar import Controller, post
from litestar.response import Redirect

from registry.auth.principal import Principal
from registry.domains import Domains
from registry.http import CurrentPrincipal, signed_in
from registry.notify import service as notify
from registry.workflow import engine


async def my_notices_section(principal: Principal, domains: Domains, _person_id: int | None) -> dict[str, Any]:
    """What waits for the user: decisions in the inbox, and notices not yet read."""
    return {
        "notifications": await notify.recent(principal),
        "pending": await engine.pending_count(principal, domains.flows),
    }


async def unread_counter(principal: Principal, _domains: Domains) -> int:
    return await notify.unread_count(principal)


class NotificationPages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @post("/me/notifications/read")
    async def mark_notifications_read(self, principal: CurrentPrincipal) -> Redirect:
        await notify.mark_read(principal)
        return Redirect("/me#todo", status_code=303)
