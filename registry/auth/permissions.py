"""Who may do what, in one place. Routes ask `require(...)` for the role; services ask
`authorize(...)` with the agency the action touches, so scope is checked where the data is known."""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.errors import Forbidden, Unauthenticated

# action → roles that may take it, each within the subtree its grant covers.
POLICY: dict[str, tuple[str, ...]] = {
    "agency.create": ("admin", "operator"),
    "agency.update": ("admin", "operator"),
    "agency.import": ("admin", "operator"),
    "settings.update": ("admin",),
    "user.manage": ("admin",),
    "audit.read": ("admin",),
    "person.read": ("clerk", "head", "operator", "admin"),
    "person.manage": ("clerk", "operator", "admin"),
    "person.read_restricted": ("clerk", "head", "operator", "admin"),
    "certificate.import": ("operator", "admin"),
    "certificate.read": ("clerk", "head", "operator", "admin"),
    "request.file_for_others": ("clerk", "head"),
    "request.file_org": ("clerk", "head"),
    "request.decide": ("head",),
    "request.read": ("clerk", "head", "operator", "admin"),
    "request.process": ("operator",),
}


def allowed(principal: Principal | None, action: str, agency_path: str | None = None) -> bool:
    if principal is None:
        return False
    roles = POLICY[action]
    if agency_path is None:
        return principal.has_role(*roles)
    return any(principal.covers(role, agency_path) for role in roles)


def authorize(principal: Principal | None, action: str, agency_path: str | None = None) -> Principal:
    """Raise 401 for nobody, 403 for a principal whose roles or scope do not reach."""
    if principal is None:
        raise Unauthenticated("sign in or send a bearer token")
    if not allowed(principal, action, agency_path):
        where = "" if agency_path is None else " for this agency"
        raise Forbidden(f"your roles do not allow {action}{where}")
    return principal
