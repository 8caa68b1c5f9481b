"""HTML: the audit log for administrators, with filters."""

from __future__ import annotations

from datetime import timedelta

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from registry import labels
from registry.audit import service
from registry.auth import service as auth
from registry.errors import Invalid
from registry.http import may
from registry.timeutil import parse_moment
from registry.web import domains_of, render

PAGE_SIZE = 50


def _moment(value: str | None, field: str, *, end_of_day: bool = False):
    """A filter bound; a bare date used as the upper bound includes that whole day."""
    if not value:
        return None
    try:
        moment = parse_moment(value)
        return moment + timedelta(days=1) if end_of_day and len(value.strip()) == 10 else moment
    except ValueError:
        raise Invalid(f"{field}: expected a date like 2026-11-24", fields={field: "expected YYYY-MM-DD"},
                      code="invalid_date") from None


@get("/admin/audit", guards=[may("audit.read")], include_in_schema=False)
async def audit_page(
    request: Request,
    action: FromQuery[str | None] = None,
    actor: FromQuery[str | None] = None,
    object_type: FromQuery[str | None] = None,
    object_id: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    before_seq: FromQuery[int | None] = None,
) -> Template:
    filters = service.AuditFilter(
        action or None, actor or None, object_type or None, object_id or None,
        _moment(since, "since"), _moment(until, "until", end_of_day=True),
    )
    entries = await service.search(filters, limit=PAGE_SIZE, before_seq=before_seq)
    query = {k: v for k, v in dict(action=action, actor=actor, object_type=object_type, object_id=object_id,
                                   since=since, until=until).items() if v}
    flows = domains_of(request).flows
    names = await auth.names_of_users(e["actor_id"] for e in entries)
    for entry in entries:
        entry["action_label"] = labels.audit_action(entry["action"], flows)
        entry["actor_name"] = names.get(entry["actor_id"])
        entry["changes"] = labels.changes(entry["before"] if isinstance(entry["before"], dict) else {"": entry["before"]},
                                          entry["after"] if isinstance(entry["after"], dict) else {"": entry["after"]})
    return await render(
        request, "audit/log.html", entries=entries, filters=query,
        next_before_seq=entries[-1]["seq"] if len(entries) == PAGE_SIZE else None,
        newer=before_seq is not None,
    )
