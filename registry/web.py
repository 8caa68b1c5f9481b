"""What every HTML page shares: the signed-in user, their menu, their to-do count, the CSRF token. The
menu entries, counters and sections come from the domains the application was built with."""

from __future__ import annotations

import time
from typing import Any

from litestar import MediaType, Request
from litestar.connection import ASGIConnection
from litestar.response import Template

from registry import db
from registry.auth.permissions import ROLE_LABELS, may
from registry.auth.principal import Principal
from registry.domains import Domains, NavItem, PageSection
from registry.http import current_principal
from registry.shared_reads import SharedReads


def domains_of(connection: ASGIConnection) -> Domains:
    return connection.app.state.domains


def nav_for(domains: Domains, principal: Principal | None) -> list[NavItem]:
    items = []
    for item in domains.nav:
        if item.needs is None:
            items.append(item)
        elif principal is not None and (item.needs == "signed_in" or may(principal, item.needs)):
            items.append(item)
    return items


def page_context(request: Request) -> dict[str, Any]:
    principal = current_principal(request)
    return {
        "principal": principal,
        "nav": nav_for(domains_of(request), principal),
        "current_path": request.url.path,
        "csrf_token": principal.csrf_token if principal and principal.via == "session" else "",
        "role_labels": ROLE_LABELS,
        "todo_count": 0,
    }


# The to-do count every page shows is a few counting queries over the whole subtree (tens of
# milliseconds at national scale): kept per user for a few seconds, and recomputed at once when this
# process has written anything since (the user's own decisions show immediately; another worker's
# within TODO_COUNT_SECONDS). One computation per user at a time (shared_reads.py): the requests that arrive
# meanwhile wait for it rather than each counting again (thirty-two pages at once recounting stalled a worker).
TODO_COUNT_SECONDS = 5.0
MAX_KEPT_TODO_COUNTS = 10_000
_todo_counts: dict[tuple[Any, ...], tuple[float, int, int]] = {}
_todo_counting = SharedReads()


async def todo_count(domains: Domains, principal: Principal | None) -> int:
    if principal is None:
        return 0
    key = (principal.user_id, principal.person_id, principal.grants)
    generation = db.write_generation()
    kept = _todo_counts.get(key)
    if kept is not None and kept[0] > time.monotonic() and kept[1] == generation:
        return kept[2]
    total = await _todo_counting.once((*key, generation), lambda: _count_todo(domains, principal))
    if len(_todo_counts) >= MAX_KEPT_TODO_COUNTS:
        _todo_counts.clear()
    _todo_counts[key] = (time.monotonic() + TODO_COUNT_SECONDS, generation, total)
    return total


async def _count_todo(domains: Domains, principal: Principal) -> int:
    total = 0
    for counter in domains.todo_counters:
        total += await counter(principal, domains)
    return total


async def load_sections(request: Request, sections: list[PageSection], principal: Principal,
                        person_id: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The sections' templates with their data, about `person_id` (default: the user themself)."""
    domains = domains_of(request)
    subject = principal.person_id if person_id is None else person_id
    return [(section.template, await section.load(principal, domains, subject)) for section in sections]


async def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    base = page_context(request)
    base["todo_count"] = await todo_count(domains_of(request), base["principal"])
    base.update(context)
    # Always HTML, whatever the handler's annotation: a handler that may answer a page or a redirect is
    # annotated `Any`, which would otherwise label the page application/json (issue 8, point 9).
    return Template(template_name=template, context=base, status_code=status_code, media_type=MediaType.HTML)
