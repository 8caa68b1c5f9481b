"""What the engine's records look like on the wire, and what the shared inbox takes and gives. Each
domain's request Struct extends `RecordOut` with its own fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class SubjectRef(msgspec.Struct):
    id: int
    full_name: str


class HistoryEvent(msgspec.Struct):
    at: datetime
    actor: str
    transition: str
    transition_label: str
    to_state: str
    to_state_label: str
    from_state: str | None = None
    note: str | None = None
    # The person behind `actor` (a user name, or the registry itself).
    actor_name: str | None = None


class RecordOut(msgspec.Struct, kw_only=True):
    """A request of any domain, as the engine shows it."""

    domain: str
    id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    agency_code: str
    agency_name: str
    summary: str
    urgent: bool
    requester: str | None
    requester_name: str | None
    subject: SubjectRef | None
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decided_by_name: str | None
    decision_note: str | None
    url: str
    actions: list[str]
    history: list[HistoryEvent] | None = None


class ItemRef(msgspec.Struct, forbid_unknown_fields=True):
    domain: str
    id: int


class ItemRejection(msgspec.Struct, forbid_unknown_fields=True):
    domain: str
    id: int
    reason: str = ""


class InboxDecisions(msgspec.Struct, forbid_unknown_fields=True):
    approve: list[ItemRef] = []
    reject: list[ItemRejection] = []


class DecisionResult(msgspec.Struct, omit_defaults=True):
    domain: str
    id: Any
    decision: str
    ok: bool
    state: str | None = None
    status: int | None = None
    code: str | None = None
    error: str | None = None


class DecisionResults(msgspec.Struct):
    results: list[DecisionResult]
