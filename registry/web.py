"""What every HTML page shares: the signed-in user, their menu, their to-do count, the CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from litestar import Request
from litestar.response import Template

from registry.auth.permissions import allowed
from registry.auth.principal import ROLE_LABELS, Principal
from registry.http import current_principal


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    # None: everyone; "signed_in": any user; otherwise a permission action.
    needs: str | None = None


NAV: list[NavItem] = [
    NavItem("/", "Tra cứu"),
    NavItem("/agencies", "Cơ quan, đơn vị"),
    NavItem("/me", "Của tôi", "signed_in"),
    NavItem("/requests", "Yêu cầu", "signed_in"),
    NavItem("/inbox", "Phê duyệt", "request.decide"),
    NavItem("/certificates", "Chứng thư số", "certificate.read"),
    NavItem("/admin/audit", "Nhật ký", "audit.read"),
]

# Async functions (principal → count of things waiting for them), summed into the menu's badge.
TodoCounter = Callable[[Principal], Awaitable[int]]
TODO_COUNTERS: list[TodoCounter] = []


@dataclass(frozen=True)
class PageSection:
    """A section another domain adds to a page it does not own (e.g. "my certificates" on /me):
    `load` returns the data its template reads as `data`."""

    template: str
    load: Callable[[Principal], Awaitable[dict[str, Any]]]


# Sections of the user's own page (/me), in order.
ME_SECTIONS: list[PageSection] = []


async def load_sections(sections: list[PageSection], principal: Principal) -> list[tuple[str, dict[str, Any]]]:
    return [(section.template, await section.load(principal)) for section in sections]


def nav_for(principal: Principal | None) -> list[NavItem]:
    items = []
    for item in NAV:
        if item.needs is None:
            items.append(item)
        elif principal is not None and (item.needs == "signed_in" or allowed(principal, item.needs)):
            items.append(item)
    return items


def page_context(request: Request) -> dict[str, Any]:
    principal = current_principal(request)
    return {
        "principal": principal,
        "nav": nav_for(principal),
        "current_path": request.url.path,
        "csrf_token": principal.csrf_token if principal and principal.via == "session" else "",
        "role_labels": ROLE_LABELS,
        "todo_count": 0,
    }


async def todo_count(principal: Principal | None) -> int:
    if principal is None:
        return 0
    total = 0
    for counter in TODO_COUNTERS:
        total += await counter(principal)
    return total


async def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    base = page_context(request)
    base["todo_count"] = await todo_count(base["principal"])
    base.update(context)
    return Template(template_name=template, context=base, status_code=status_code)
