"""Filing requests, moving them through the state machine, deciding lists of them, and the inbox.

Domain-specific rules (which fields a certificate request needs, what happens to the certificate
when a revocation is withdrawn) live with their domain and plug in through `register_domain`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping

from registry import db, validation
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth.principal import Principal
from registry.auth.tables import RoleAssignment, UserAccount
from registry.errors import Conflict, Forbidden, Invalid, NotFound, RegistryError
from registry.notify import service as notify
from registry.timeutil import now
from registry.workflow.machine import OPEN_STATES, REQUEST_MACHINE, STATE_LABELS, Machine, Transition, may_take
from registry.workflow.tables import Request, RequestEvent

AfterTransition = Callable[[Principal, Mapping[str, Any], Transition, str], Awaitable[None]]
# Roles that see every request in their subtree (the requester and the subject always see theirs).
READER_ROLES = ("clerk", "head", "operator", "admin")


@dataclass(frozen=True)
class Domain:
    name: str
    label: str
    machine: Machine = REQUEST_MACHINE
    kind_labels: Mapping[str, str] = field(default_factory=dict)
    after_transition: AfterTransition | None = None


DOMAINS: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    DOMAINS[domain.name] = domain
    return domain


def domain_of(name: str) -> Domain:
    return DOMAINS[name]


@dataclass
class NewRequest:
    domain: str
    kind: str
    agency: Mapping[str, Any]
    summary: str
    details: dict[str, Any]
    subject_person_id: int | None = None
    certificate_id: int | None = None
    urgent: bool = False
    reason: str = ""
    search_text: str = ""


SELECT_COLUMNS = (
    Request.all_columns(),
    Request.agency.code.as_alias("agency_code"),
    Request.agency.name.as_alias("agency_name"),
    Request.agency.path.as_alias("agency_path"),
    Request.requester.username.as_alias("requester_username"),
    Request.requester.person.full_name.as_alias("requester_name"),
    Request.subject.full_name.as_alias("subject_name"),
    Request.certificate.fingerprint.as_alias("certificate_fingerprint"),
    Request.issued_certificate.fingerprint.as_alias("issued_fingerprint"),
    Request.decided_by.username.as_alias("decided_by_username"),
)


# --- filing -------------------------------------------------------------------------------------


async def file_request(actor: Principal, new: NewRequest) -> int:
    """Insert a submitted request with its first history event, audit entry and notifications.
    Runs inside the caller's transaction (the caller checked the domain's rules)."""
    moment = now()
    request = Request(
        domain=new.domain,
        kind=new.kind,
        state="submitted",
        agency=new.agency["id"],
        requester=actor.user_id,
        subject=new.subject_person_id,
        certificate=new.certificate_id,
        urgent=new.urgent,
        reason=new.reason,
        details=json.dumps(new.details, ensure_ascii=False, default=str),
        summary=new.summary[:300],
        search_key=new.search_text[:400],
        created_at=moment,
        updated_at=moment,
    )
    await request.save()
    await RequestEvent.insert(
        RequestEvent(request=request.id, at=moment, actor_id=actor.user_id, actor=actor.label,
                     transition="submit", from_state="", to_state="submitted")
    )
    audit.record(
        actor, f"{new.domain}_request.submit", f"{new.domain}_request", request.id,
        after={"kind": new.kind, "agency_code": new.agency["code"], "summary": new.summary, "urgent": new.urgent},
    )
    row = {"id": request.id, "requester": actor.user_id, "subject": new.subject_person_id,
           "agency_path": new.agency["path"], "summary": new.summary, "urgent": new.urgent}
    await _notify_deciders(new.domain, row)
    return request.id


async def open_requests_for_certificate(certificate_id: int, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    query = Request.select(Request.id, Request.kind, Request.state).where(
        (Request.certificate == certificate_id) & Request.state.is_in(sorted(OPEN_STATES))
    )
    if kinds is not None:
        query = query.where(Request.kind.is_in(list(kinds)))
    return await query


# --- reading ------------------------------------------------------------------------------------


async def find_row(request_id: int, domain: str | None = None) -> dict[str, Any] | None:
    query = Request.select(*SELECT_COLUMNS).where(Request.id == request_id)
    if domain:
        query = query.where(Request.domain == domain)
    return await query.first()


def can_view(actor: Principal, row: Mapping[str, Any]) -> bool:
    if actor.user_id is not None and actor.user_id == row["requester"]:
        return True
    if actor.person_id is not None and actor.person_id == row["subject"]:
        return True
    return any(actor.covers(role, row["agency_path"]) for role in READER_ROLES)


async def get_visible_row(actor: Principal, request_id: int, domain: str) -> dict[str, Any]:
    row = await find_row(request_id, domain)
    if row is None or not can_view(actor, row):
        raise NotFound(f"no {domain} request {request_id}")
    return row


async def history(request_id: int) -> list[dict[str, Any]]:
    rows = await RequestEvent.select().where(RequestEvent.request == request_id).order_by(RequestEvent.id)
    return [
        {"at": r["at"], "actor": r["actor"], "transition": r["transition"], "from_state": r["from_state"] or None,
         "to_state": r["to_state"], "note": r["note"] or None}
        for r in rows
    ]


def actions_for(actor: Principal, row: Mapping[str, Any]) -> list[str]:
    machine = domain_of(row["domain"]).machine
    return [t.name for t in machine.available(row["state"]) if may_take(actor, t, row)]


def request_json(actor: Principal, row: Mapping[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The request as the API shows it. `certificate` is, per the contract, the certificate issued once a
    new/renew/change request is fulfilled, else the one acted on (`target_certificate` always)."""
    domain = domain_of(row["domain"])
    body = {
        "id": row["id"],
        "kind": row["kind"],
        "kind_label": domain.kind_labels.get(row["kind"], row["kind"]),
        "state": row["state"],
        "state_label": STATE_LABELS[row["state"]],
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "summary": row["summary"],
        "urgent": row["urgent"],
        "reason": row["reason"] or None,
        "requester": row["requester_username"],
        "requester_name": row["requester_name"],
        "subject": {"id": row["subject"], "full_name": row["subject_name"]} if row["subject"] else None,
        "certificate": row["issued_fingerprint"] or row["certificate_fingerprint"],
        "target_certificate": row["certificate_fingerprint"],
        "details": json.loads(row["details"] or "{}"),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by_username"],
        "decision_note": row["decision_note"] or None,
        "batch_id": row["batch_id"],
        "actions": actions_for(actor, row),
    }
    if events is not None:
        body["history"] = events
    return body


async def get_request(actor: Principal, request_id: int, domain: str) -> dict[str, Any]:
    row = await get_visible_row(actor, request_id, domain)
    return request_json(actor, row, await history(request_id))


def _scope_condition(paths: list[str]):
    return agencies.under_any(Request.agency.path, paths)


async def list_requests(
    actor: Principal,
    domain: str | None = None,
    *,
    states: Iterable[str] | None = None,
    agency_code: str | None = None,
    mine: bool = False,
    kind: str | None = None,
    urgent_only: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Requests the actor may see (theirs, or in the subtrees they read), urgent first, then oldest."""
    query = Request.select(*SELECT_COLUMNS).order_by(Request.urgent, ascending=False).order_by(Request.created_at).limit(limit)
    own = None
    if actor.user_id is not None:
        own = Request.requester == actor.user_id
    if actor.person_id is not None:
        own = (Request.subject == actor.person_id) if own is None else own | (Request.subject == actor.person_id)
    if mine:
        if own is None:
            return []
        query = query.where(own)
    elif not actor.is_system:
        scoped = _scope_condition(actor.scope_paths(*READER_ROLES))
        visible = own if scoped is None else (scoped if own is None else scoped | own)
        if visible is None:
            return []
        query = query.where(visible)
    if domain:
        query = query.where(Request.domain == domain)
    if states:
        query = query.where(Request.state.is_in(list(states)))
    if agency_code:
        query = query.where(Request.agency.code == agency_code.strip().upper())
    if kind:
        query = query.where(Request.kind == kind)
    if urgent_only:
        query = query.where(Request.urgent == True)  # noqa: E712
    return [request_json(actor, row) for row in await query]


async def inbox(actor: Principal, domain: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """What waits for this head's decision: urgent first, then oldest first."""
    rows = await _pending_decision_rows(actor, domain, limit)
    return [request_json(actor, row) for row in rows]


def _awaiting_decision_by(actor: Principal):
    """Submitted requests in the subtrees where the actor is head, minus those they filed or that concern
    them; None when they decide nothing."""
    scoped = _scope_condition(actor.scope_paths("head"))
    if scoped is None or actor.is_system:
        return None
    condition = (Request.state == "submitted") & scoped
    if actor.user_id is not None:
        condition = condition & ((Request.requester != actor.user_id) | Request.requester.is_null())
    if actor.person_id is not None:
        condition = condition & ((Request.subject != actor.person_id) | Request.subject.is_null())
    return condition


async def _pending_decision_rows(actor: Principal, domain: str | None, limit: int) -> list[dict[str, Any]]:
    condition = _awaiting_decision_by(actor)
    if condition is None:
        return []
    query = Request.select(*SELECT_COLUMNS).where(condition)
    if domain:
        query = query.where(Request.domain == domain)
    return await query.order_by(Request.urgent, ascending=False).order_by(Request.created_at).limit(limit)


async def pending_decision_count(actor: Principal) -> int:
    condition = _awaiting_decision_by(actor)
    return 0 if condition is None else await Request.count().where(condition)


async def todo_count(actor: Principal) -> int:
    return await pending_decision_count(actor) + await notify.unread_count(actor)


# --- transitions --------------------------------------------------------------------------------


async def take(actor: Principal, request_id: int, transition_name: str, note: str = "", *, domain: str) -> dict[str, Any]:
    """Move one request along `transition_name`, or refuse with 404/403/409/422 and change nothing."""
    async with db.transaction():
        row = await get_visible_row(actor, request_id, domain)
        transition = _judge(actor, row, transition_name, note)
        await _apply(actor, row, transition, note)
    return await get_request(actor, request_id, domain)


def _judge(actor: Principal, row: Mapping[str, Any], transition_name: str, note: str) -> Transition:
    transition = domain_of(row["domain"]).machine.get(transition_name)
    if row["state"] not in transition.sources:
        raise Conflict(f"request {row['id']} is {row['state']}; it can no longer be {transition.target}")
    if not may_take(actor, transition, row):
        if transition.by == "decider" and actor.covers("head", row["agency_path"]):
            raise Forbidden(f"you cannot decide on request {row['id']}: it is your own; the head above decides")
        raise Forbidden(f"your roles do not allow you to {transition.name} request {row['id']}")
    if transition.needs_note and not (note or "").strip():
        raise Invalid(f"a reason is required to {transition.name} request {row['id']}", fields={"reason": "is required"})
    validation.text(note, required=False, max_length=validation.NOTE_LENGTH, field="reason")
    return transition


async def _apply(actor: Principal, row: Mapping[str, Any], transition: Transition, note: str) -> None:
    moment = now()
    note = (note or "").strip()
    values: dict[Any, Any] = {
        Request.state: transition.target,
        Request.version: row["version"] + 1,
        Request.updated_at: moment,
    }
    if transition.by == "decider":
        values.update({Request.decided_by: actor.user_id, Request.decided_at: moment, Request.decision_note: note})
    # Compare-and-set: of two concurrent decisions, the second finds the version moved on.
    changed = await Request.update(values).where(
        (Request.id == row["id"]) & (Request.version == row["version"]) & (Request.state == row["state"])
    ).returning(Request.id)
    if not changed:
        raise Conflict(f"request {row['id']} was changed by someone else; reload it")
    await RequestEvent.insert(
        RequestEvent(request=row["id"], at=moment, actor_id=actor.user_id, actor=actor.label,
                     transition=transition.name, from_state=row["state"], to_state=transition.target, note=note)
    )
    audit.record(
        actor, f"{row['domain']}_request.{transition.name}", f"{row['domain']}_request", row["id"],
        before={"state": row["state"]}, after={"state": transition.target, "note": note or None},
    )
    domain = domain_of(row["domain"])
    if domain.after_transition is not None:
        await domain.after_transition(actor, row, transition, note)
    if transition.by == "decider":
        await _notify_decision(row, transition, note)


@dataclass
class DecisionOutcome:
    id: Any
    decision: str
    status: int = 200
    error: str | None = None
    state: str | None = None


async def decide_many(
    actor: Principal, domain: str, approve: list[Any], reject: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Approve and reject a whole list at once. Every item is judged before anything is written; if
    any fails, nothing is written and the error lists every item's outcome."""
    wanted: list[tuple[Any, str, str]] = [(item, "approve", "") for item in approve]
    for item in reject:
        wanted.append((item.get("id"), "reject", str(item.get("reason") or "")))
    if not wanted:
        raise Invalid("nothing to decide: give ids to approve and/or reject", fields={"approve": "empty list"})
    async with db.transaction():
        outcomes, judged, seen = [], [], set()
        for request_id, decision, note in wanted:
            outcome = DecisionOutcome(request_id, decision)
            outcomes.append(outcome)
            try:
                if not isinstance(request_id, int) or isinstance(request_id, bool):
                    raise Invalid(f"{request_id!r} is not a request id")
                if request_id in seen:
                    raise Invalid(f"request {request_id} appears twice in the list")
                seen.add(request_id)
                row = await get_visible_row(actor, request_id, domain)
                judged.append((row, _judge(actor, row, decision, note), note))
            except RegistryError as error:
                outcome.status, outcome.error = error.status_code, error.detail
        failures = [o for o in outcomes if o.error]
        if failures:
            first = failures[0]
            error_class = {403: Forbidden, 404: NotFound, 409: Conflict}.get(first.status, Invalid)
            raise error_class(
                f"{len(failures)} of {len(outcomes)} decisions cannot be made, so none was: {first.error}",
                extra={"results": [_outcome_json(o) for o in outcomes]},
            )
        for (row, transition, note), outcome in zip(judged, outcomes):
            await _apply(actor, row, transition, note)
            outcome.state = transition.target
    return [_outcome_json(o) for o in outcomes]


def _outcome_json(outcome: DecisionOutcome) -> dict[str, Any]:
    body: dict[str, Any] = {"id": outcome.id, "decision": outcome.decision, "ok": outcome.error is None}
    if outcome.error:
        body.update(status=outcome.status, error=outcome.error)
    else:
        body["state"] = outcome.state
    return body


# --- notifications ------------------------------------------------------------------------------


async def _notify_deciders(domain: str, row: Mapping[str, Any]) -> None:
    """Tell the nearest heads able to decide (those of the agency itself, else the closest ancestor)."""
    path = row["agency_path"]
    parts = path.strip("/").split("/")
    ancestors = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    grants = await RoleAssignment.select(
        RoleAssignment.user.id.as_alias("user_id"),
        RoleAssignment.user.person.id.as_alias("person_id"),
        RoleAssignment.user.person.email.as_alias("email"),
        RoleAssignment.agency.path.as_alias("path"),
    ).where(
        (RoleAssignment.role == "head") & RoleAssignment.revoked_at.is_null()
        & RoleAssignment.agency.path.is_in(ancestors) & (RoleAssignment.user.active == True)  # noqa: E712
    )
    eligible = [g for g in grants if g["user_id"] != row["requester"] and g["person_id"] != row["subject"]]
    if not eligible:
        return
    nearest = max(len(g["path"]) for g in eligible)
    label = domain_of(domain).label
    prefix = "[KHẨN] " if row["urgent"] else ""
    for grant in (g for g in eligible if len(g["path"]) == nearest):
        await notify.enqueue(
            user_id=grant["user_id"], email=grant["email"], kind="decision_needed", request_id=row["id"],
            message=f"{prefix}{label} #{row['id']} chờ phê duyệt: {row['summary']}",
        )


async def _notify_decision(row: Mapping[str, Any], transition: Transition, note: str) -> None:
    recipients = set()
    if row["requester"]:
        recipients.add(row["requester"])
    if row["subject"]:
        subject_user = await UserAccount.select(UserAccount.id).where(UserAccount.person == row["subject"]).first()
        if subject_user:
            recipients.add(subject_user["id"])
    verdict = "đã được phê duyệt" if transition.name == "approve" else f"bị từ chối: {note}"
    label = domain_of(row["domain"]).label
    for user_id in recipients:
        user = await UserAccount.select(UserAccount.person.email.as_alias("email")).where(UserAccount.id == user_id).first()
        await notify.enqueue(
            user_id=user_id, email=user["email"] if user else "", kind="request_decided", request_id=row["id"],
            message=f"{label} #{row['id']} ({row['summary']}) {verdict}",
        )
