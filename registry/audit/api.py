"""JSON route for browsing the audit log (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter

from registry.audit import service
from registry.errors import Invalid
from registry.http import may, problems, typed
from registry.timeutil import VIETNAM, check_moment


class AuditEntryOut(msgspec.Struct):
    seq: int
    at: datetime
    # The user name of who acted (or the registry's own actor).
    actor: str
    action: str
    object_type: str
    object_id: str
    # What the object looked like before and after, as the service recorded it (any JSON).
    before: Any
    after: Any
    # SHA-256 over this entry and the previous entry's hash.
    hash: str


class AuditPage(msgspec.Struct):
    entries: list[AuditEntryOut]
    # Give it as `before_seq` for the next page; null on the last.
    next_before_seq: int | None


def _in_vietnam(moment: datetime | None, field: str) -> datetime | None:
    """A bound without an offset is Vietnam time, as everywhere else in the registry."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    try:
        return check_moment(moment)
    except ValueError as error:
        raise Invalid(f"{field}: {error}", fields={field: str(error)}, code="date_out_of_range") from None


@get("/audit", guards=[may("audit.read")], tags=["audit"], responses=problems(401, 403, 422))
async def audit_log(
    action: Annotated[str | None, QueryParameter(description="prefix, e.g. agency.")] = None,
    actor: Annotated[str | None, QueryParameter(description="user name")] = None,
    object_type: Annotated[str | None, QueryParameter()] = None,
    object_id: Annotated[str | None, QueryParameter()] = None,
    since: Annotated[datetime | None, QueryParameter(description="ISO 8601")] = None,
    until: Annotated[datetime | None, QueryParameter(description="ISO 8601")] = None,
    before_seq: Annotated[int | None, QueryParameter(description="next page: last seq seen")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> AuditPage:
    """Entries newest first, filtered; page with `before_seq`."""
    filters = service.AuditFilter(action, actor, object_type, object_id, _in_vietnam(since, "since"), _in_vietnam(until, "until"))
    entries = await service.search(filters, limit=limit, before_seq=before_seq)
    return typed({
        "entries": [
            {key: entry[key] for key in ("seq", "at", "actor", "action", "object_type", "object_id", "before", "after", "hash")}
            for entry in entries
        ],
        "next_before_seq": entries[-1]["seq"] if len(entries) == limit else None,
    }, AuditPage)
