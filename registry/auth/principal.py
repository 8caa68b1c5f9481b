"""Who is acting: a signed-in user with their role grants, or the system itself (CLI, demo loader)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from registry.shared_reads import SharedReads

T = TypeVar("T")


@dataclass(frozen=True)
class Grant:
    """A role over an agency and everything below it."""

    role: str
    agency_id: int
    agency_code: str
    agency_path: str


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    full_name: str = ""
    person_id: int | None = None
    agency_id: int | None = None
    agency_code: str | None = None
    agency_path: str = ""
    grants: tuple[Grant, ...] = ()
    # "session", "token" or "system"
    via: str = "system"
    session_id: int | None = None
    csrf_token: str | None = field(default=None, repr=False)
    # What is derived from the data about this principal and asked for on request after request (the person
    # records that may be the same human, for every inbox and to-do count), kept as long as the principal
    # is. A principal known between requests is read anew once the registry's data has changed
    # (auth/known.py), and this with it.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # `derive_read`'s reads in progress.
    reads: SharedReads = field(default_factory=SharedReads, compare=False, repr=False)

    def derive(self, key: str, build: Callable[[], T]) -> T:
        """`derived[key]`, built by `build` the first time it is asked for (None included)."""
        if key not in self.derived:
            self.derived[key] = build()
        return self.derived[key]

    async def derive_read(self, key: str, read: Callable[[], Awaitable[T]]) -> T:
        """`derive` for what is read from the database: awaited the first time it is asked for. Requests of
        the principal asking for it while it is being read wait for that read (a burst of a user's first
        requests reads it once); a read that failed is tried again by the next request."""
        if key not in self.derived:
            self.derived[key] = await self.reads.once(key, read)
        return self.derived[key]

    @property
    def label(self) -> str:
        return self.username

    @property
    def is_system(self) -> bool:
        return self.via == "system"

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(grant.role for grant in self.grants)

    def has_role(self, *roles: str) -> bool:
        return self.is_system or any(grant.role in roles for grant in self.grants)

    def covers(self, role: str, agency_path: str) -> bool:
        """Whether one of this principal's `role` grants reaches the agency at `agency_path`."""
        if self.is_system:
            return True
        return any(grant.role == role and agency_path.startswith(grant.agency_path) for grant in self.grants)

    def reach(self, agency_path: str) -> tuple[int, ...]:
        """Which of this principal's grants reach the agency at `agency_path` (their places in `grants`): all
        that `covers` reads of the path, so that agencies reached by the same grants get the same answers."""
        return tuple(index for index, grant in enumerate(self.grants) if agency_path.startswith(grant.agency_path))

    def scope_paths(self, *roles: str) -> list[str]:
        """The subtree roots where any of `roles` applies, without paths nested in another."""
        paths = sorted({grant.agency_path for grant in self.grants if grant.role in roles}, key=len)
        kept: list[str] = []
        for path in paths:
            if not any(path.startswith(outer) for outer in kept):
                kept.append(path)
        return kept


def system_principal(label: str = "system") -> Principal:
    return Principal(user_id=None, username=label, full_name=label, via="system")
