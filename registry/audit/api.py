"""JSON route for browsing the audit log (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.params import Parameter

from registry.audit import service
from registry.http import may


@get("/audit", guards=[may("audit.read")], tags=["audit"])
async def audit_log(
    action: Annotated[str | None, Parameter(query="action", description="prefix, e.g. agency.")] = None,
    actor: Annotated[str | None, Parameter(query="actor", description="user name")] = None,
    object_type: Annotated[str | None, Parameter(query="object_type")] = None,
    object_id: Annotated[str | None, Parameter(query="object_id")] = None,
    since: Annotated[datetime | None, Parameter(query="since", description="ISO 8601")] = None,
    until: Annotated[datetime | None, Parameter(query="until", description="ISO 8601")] = None,
    before_seq: Annotated[int | None, Parameter(query="before_seq", description="next page: last seq seen")] = None,
    limit: Annotated[int, Parameter(query="limit", ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Entries newest first, filtered; page with `before_seq`."""
    filters = service.AuditFilter(action, actor, object_type, object_id, since, until)
    entries = await service.search(filters, limit=limit, before_seq=before_seq)
    return {
        "entries": [
            {key: entry[key] for key in ("seq", "at", "actor", "action", "object_type", "object_id", "before", "after", "hash")}
            for entry in entries
        ],
        "next_before_seq": entries[-1]["seq"] if len(entries) == limit else None,
    }
