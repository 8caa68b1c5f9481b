"""Who may do what, in one place: every role rule of the registry lives here.

Routes ask `require(...)` (through the `may` guard) whether the principal holds a role for an action
anywhere; services ask `may(...)` / `authorize(...)` with the agency the action touches, and build their
list queries with `scope(...)`, so scope is checked where the data is known. A role granted over an agency
reaches that agency and every agency below it (`Principal.covers`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.auth.principal import Principal
from registry.errors import Forbidden, Unauthenticated
from registry.subtree import within_subtrees

ROLES = ("staff", "clerk", "head", "operator", "admin")
ROLE_LABELS = {
    "staff": "Cán bộ, công chức",
    "clerk": "Văn thư",
    "head": "Thủ trưởng",
    "operator": "Cán bộ Sở (vận hành)",
    "admin": "Quản trị hệ thống",
}
# Roles whose grant reaches the whole province (the root of the user's tree), not just their agency.
PROVINCE_WIDE_ROLES = ("operator", "admin")
# The role reserved for staff of the operator agency (DoIT).
OPERATOR_ROLE = "operator"
# The role that decides requests; its holders are told when something waits for them.
DECIDER_ROLE = "head"


@dataclass(frozen=True)
class Rule:
    """Roles that may take an action within the subtree their grant covers, plus the relations to a
    record that allow or forbid it: its requester may (`requester`), or nobody involved in it may
    (`not_involved`: never the requester, never the person it is about)."""

    roles: tuple[str, ...] = ()
    requester: bool = False
    not_involved: bool = False


# action → rule
POLICY: dict[str, Rule] = {
    "agency.create": Rule(("admin", "operator")),
    "agency.update": Rule(("admin", "operator")),
    "agency.import": Rule(("admin", "operator")),
    "settings.update": Rule(("admin",)),
    "user.manage": Rule(("admin",)),
    "audit.read": Rule(("admin",)),
    "person.read": Rule(("clerk", "head", "operator", "admin")),
    "person.manage": Rule(("clerk", "operator", "admin")),
    "person.read_restricted": Rule(("clerk", "head", "operator", "admin")),
    "person.record_departure": Rule(("clerk", "head", "operator", "admin")),
    "certificate.import": Rule(("operator", "admin")),
    # Province-wide readers also see certificates that belong to no agency (CA certificates).
    "certificate.read": Rule(("clerk", "head", "operator", "admin")),
    "certificate.read_unowned": Rule(PROVINCE_WIDE_ROLES),
    # Requests of every domain (certificates, accounts, ...).
    "request.read": Rule(("clerk", "head", "operator", "admin")),
    "request.file_for_others": Rule(("clerk", "head")),
    "request.file_org": Rule(("clerk", "head")),
    "request.withdraw": Rule(requester=True),
    "request.decide": Rule((DECIDER_ROLE,), not_involved=True),
    "request.process": Rule((OPERATOR_ROLE,)),
    # The unit takes delivery of what the CA returned, and hands it to its holders.
    "request.confirm_receipt": Rule(("clerk", "head")),
    # The shared inbox: whoever decides something there (heads decide requests; DoIT reviews what
    # agencies submit for publication).
    "inbox.read": Rule((DECIDER_ROLE, OPERATOR_ROLE)),
    # The trust store (anchors, intermediates, CRLs) and importing a certificate that does not verify.
    "trust.manage": Rule(("admin",)),
    "trust.read": Rule(("admin", OPERATOR_ROLE)),
    "certificate.import_override": Rule(("admin",)),
    # Specimens and mailboxes: agencies' clerks (and DoIT) submit, DoIT publishes, rejects, withdraws.
    "specimen.submit": Rule(("clerk", OPERATOR_ROLE)),
    "specimen.publish": Rule((OPERATOR_ROLE,)),
}


@dataclass(frozen=True)
class Involvement:
    """How a record relates to people: who filed it (a user id) and whom it is about (person ids that
    are the same human being, so that a second record of one person cannot slip past the rule)."""

    requester: int | None = None
    subjects: frozenset[int] = frozenset()

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Involvement:
        subject = row.get("subject")
        return cls(requester=row.get("requester"), subjects=frozenset({subject}) if subject else frozenset())


def is_involved(principal: Principal, involvement: Involvement) -> bool:
    if principal.user_id is not None and principal.user_id == involvement.requester:
        return True
    return principal.person_id is not None and principal.person_id in involvement.subjects


def _rule(action: str) -> Rule:
    return POLICY[action]


def may(principal: Principal | None, action: str, agency_path: str | None = None,
        involvement: Involvement | None = None) -> bool:
    """Whether `principal` may take `action` — anywhere (no `agency_path`), or on the agency at
    `agency_path` and the record described by `involvement`."""
    if principal is None:
        return False
    rule = _rule(action)
    if involvement is not None:
        if rule.requester and principal.user_id is not None and principal.user_id == involvement.requester:
            return True
        if rule.not_involved and (principal.is_system or is_involved(principal, involvement)):
            return False
    if not rule.roles:
        return False
    if agency_path is None:
        return principal.has_role(*rule.roles)
    return any(principal.covers(role, agency_path) for role in rule.roles)


# The historical name, kept for the route guards and templates that ask "anywhere?".
allowed = may


class ListPermissions:
    """`may` for one principal over the records of one list. A list of fifty records holds a few states and
    many agencies, and `may` walks the principal's grants for every action of every record (a tenth of an
    inbox request): each answer is kept under what it depends on, the action, which of the principal's grants
    reach the record's agency (`reach`), and the two facts of the involvement `may` reads (whether the
    principal filed the record, whether it is about them)."""

    __slots__ = ("principal", "_answers", "_derived", "_reaches")

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._answers: dict[tuple[str, Hashable, bool, bool], bool] = {}
        self._derived: dict[Hashable, Any] = {}
        self._reaches: dict[str, tuple[int, ...]] = {}

    def reach(self, agency_path: str | None) -> Hashable:
        """All that `may` reads of an agency's path (`Principal.covers`): which of the principal's grants reach
        it; None for no agency. Keyed by it, the records of a head's department share their answers instead of
        each agency working them out again (in a list of a department head's 100 requests at a million
        certificates, 99 records, 8–11 µs each)."""
        if agency_path is None:
            return None
        reach = self._reaches.get(agency_path)
        if reach is None:
            reach = self._reaches[agency_path] = self.principal.reach(agency_path)
        return reach

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """What `compute` makes of these answers, kept under `key` for the rest of the list: `key` must name
        everything it reads (a record's available actions: its flow, state, the reach of its agency and its
        involvement)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def may(self, action: str, agency_path: str | None, involvement: Involvement) -> bool:
        principal = self.principal
        key = (action, self.reach(agency_path),
               principal.user_id is not None and principal.user_id == involvement.requester,
               is_involved(principal, involvement))
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = may(principal, action, agency_path, involvement)
        return answer


def authorize(principal: Principal | None, action: str, agency_path: str | None = None,
              involvement: Involvement | None = None) -> Principal:
    """Raise 401 for nobody, 403 for a principal whose roles or scope do not reach."""
    if principal is None:
        raise Unauthenticated("sign in or send a bearer token")
    if not may(principal, action, agency_path, involvement):
        where = "" if agency_path is None else " for this agency"
        raise Forbidden(f"your roles do not allow {action}{where}", code="not_permitted", params={"action": action})
    return principal


def holds_role_for(principal: Principal, action: str, agency_path: str) -> bool:
    """Whether the principal's roles reach `agency_path` for `action`, whatever their involvement
    (to tell "not yours to decide" apart from "your own request")."""
    return any(principal.covers(role, agency_path) for role in _rule(action).roles)


def scope_paths(principal: Principal, action: str) -> list[str]:
    """The subtree roots where the principal may take `action`."""
    return principal.scope_paths(*_rule(action).roles)


def scope(principal: Principal, action: str, path_column: Any, *, read_in_order: bool = True) -> Any:
    """A where-clause for list queries: `path_column` (an agency path, possibly through joins) lies where
    the principal may take `action`. Returns None when that is nowhere; the system principal is not
    limited (callers skip the condition when `principal.is_system`). `read_in_order`: see
    `registry.subtree.within_subtrees`."""
    return within_subtrees(path_column, scope_paths(principal, action), read_in_order=read_in_order)


def roles_may(action: str) -> tuple[str, ...]:
    return _rule(action).roles


def province_wide(role: str) -> bool:
    return role in PROVINCE_WIDE_ROLES


def check_known_roles(roles: Iterable[str]) -> list[str]:
    return [role for role in roles if role not in ROLES]
