"""Domains as plugins. Each domain package describes what it brings in its `plugin.py` (`DOMAIN`): its
Piccolo app (tables and migrations), API routes, pages, the flows it moves through the workflow engine,
menu entries, to-do counters, sections of the user's own page, and background tasks. `create_app`
receives the list; nothing registers itself by being imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.auth.principal import Principal
    from registry.workflow.engine import Flow


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    # None: everyone; "signed_in": any user; otherwise a policy action the user must hold somewhere.
    needs: str | None = None
    # Position in the menu (lower first).
    order: int = 50


@dataclass(frozen=True)
class PageSection:
    """A section a domain adds to a page it does not own ("my certificates" on /me, a person's accounts on
    their page): `load(principal, domains, person_id)` returns the data its template reads as `data`;
    `person_id` is the person the page is about (on /me, the user themself)."""

    template: str
    load: Callable[[Principal, Domains, int | None], Awaitable[dict[str, Any]]]
    order: int = 50


@dataclass(frozen=True)
class Landing:
    """Where a user lands after signing in, if they may take `needs` somewhere: what waits for them.
    The allowed landing with the lowest `priority` wins; everyone else lands on their own page."""

    path: str
    needs: str
    priority: int = 50


# Async functions (principal, domains) → how many things wait for them, summed into the menu's badge.
TodoCounter = Callable[["Principal", "Domains"], Awaitable[int]]


@dataclass(frozen=True)
class Domain:
    name: str
    piccolo_app: str | None = None
    api: Sequence[Any] = ()  # route handlers mounted under /api/v1
    pages: Sequence[Any] = ()  # route handlers at the top level (HTML pages, files)
    flows: Sequence[Flow] = ()
    nav: Sequence[NavItem] = ()
    todo_counters: Sequence[TodoCounter] = ()
    me_sections: Sequence[PageSection] = ()
    person_sections: Sequence[PageSection] = ()
    landings: Sequence[Landing] = ()
    # Async callables started with the app and stopped with it (background work).
    on_startup: Sequence[Callable[..., Any]] = ()
    on_shutdown: Sequence[Callable[..., Any]] = ()


@dataclass(frozen=True)
class Domains:
    """The domains an application was built with, and what they bring together."""

    items: tuple[Domain, ...]
    flows: tuple[Flow, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [d.name for d in self.items]
        if len(set(names)) != len(names):
            raise ValueError(f"domain names repeat: {names}")
        object.__setattr__(self, "flows", tuple(flow for d in self.items for flow in d.flows))

    def flow(self, name: str) -> Flow | None:
        return next((flow for flow in self.flows if flow.name == name), None)

    @property
    def nav(self) -> list[NavItem]:
        return sorted((item for d in self.items for item in d.nav), key=lambda item: item.order)

    @property
    def todo_counters(self) -> list[TodoCounter]:
        return [counter for d in self.items for counter in d.todo_counters]

    @property
    def me_sections(self) -> list[PageSection]:
        return sorted((s for d in self.items for s in d.me_sections), key=lambda s: s.order)

    @property
    def person_sections(self) -> list[PageSection]:
        return sorted((s for d in self.items for s in d.person_sections), key=lambda s: s.order)

    def landing_for(self, principal: Principal) -> str:
        from registry.auth.permissions import may

        allowed = [landing for d in self.items for landing in d.landings if may(principal, landing.needs)]
        return min(allowed, key=lambda landing: landing.priority).path if allowed else "/me"

    @property
    def piccolo_apps(self) -> list[str]:
        return [d.piccolo_app for d in self.items if d.piccolo_app]


def standard_domains() -> list[Domain]:
    """The registry's domains, in menu and dependency order."""
    from registry.accounts.plugin import DOMAIN as accounts
    from registry.agencies.plugin import DOMAIN as agencies
    from registry.audit.plugin import DOMAIN as audit
    from registry.auth.plugin import DOMAIN as auth
    from registry.batches.plugin import DOMAIN as batches
    from registry.certs.plugin import DOMAIN as certs
    from registry.devca.plugin import DOMAIN as devca
    from registry.notify.plugin import DOMAIN as notify
    from registry.people.plugin import DOMAIN as people
    from registry.publish.plugin import DOMAIN as publish
    from registry.specimens.plugin import DOMAIN as specimens
    from registry.trust.plugin import DOMAIN as trust
    from registry.workflow.plugin import DOMAIN as workflow

    return [agencies, people, auth, audit, certs, devca, accounts, batches, notify, workflow, trust, specimens, publish]
