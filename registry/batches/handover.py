"""Handing over what the CA returned (Đ22.1.g, last dash): DoIT prints the handover minutes per unit, the
unit confirms receipt (the request becomes `delivered`), then records handing each certificate to its
holder; a revoked certificate's token goes back to the CA by its deadline, and its return is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from registry import db, validation
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth import permissions
from registry.auth.permissions import may
from registry.auth.principal import Principal
from registry.batches import service as batches
from registry.certs import requests as cert_requests
from registry.certs.tables import CertRequest
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.timeutil import VIETNAM, now, today
from registry.workflow import engine

CERT_FLOW = cert_requests.CERT_FLOW
# Revocations whose token is due back at the CA and not returned yet: the same filter lists them
# (`tokens_to_return`) and counts them on every page (`todo_counter`).
TOKENS_DUE: dict[str, Any] = {
    "states": ["fulfilled", "delivered"], "kind": "revoke",
    "extra_condition": CertRequest.token_return_due.is_not_null() & CertRequest.token_returned_at.is_null(),
}


async def minutes(actor: Principal, batch_id: int, agency_code: str) -> dict[str, Any]:
    """The handover minutes of one unit for one batch: what the CA returned for it, ready to sign."""
    batch = await batches.get_batch(actor, batch_id)
    agency = await agencies.get_row(agency_code)
    items = [item for item in batch["requests"]
             if item["agency_code"] == agency["code"] and item["state"] in ("fulfilled", "delivered")]
    if not items:
        raise NotFound(f"batch {batch_id} returned nothing for {agency['code']}", code="nothing_to_hand_over",
                       params={"batch": batch_id, "agency": agency["name"]})
    return {"batch": batch, "agency": agency, "items": items, "printed_at": now()}


def units_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The units a batch has something to hand over to, with how many items each."""
    units: dict[str, dict[str, Any]] = {}
    for item in batch["requests"]:
        if item["state"] in ("fulfilled", "delivered"):
            unit = units.setdefault(item["agency_code"], {"code": item["agency_code"], "name": item["agency_name"], "count": 0})
            unit["count"] += 1
    return sorted(units.values(), key=lambda u: u["name"])


async def awaiting_receipt(actor: Principal) -> list[dict[str, Any]]:
    """What the CA returned for the actor's units, waiting for them to confirm receipt."""
    if not may(actor, "request.confirm_receipt"):
        return []
    rows = await engine.list_records(actor, CERT_FLOW, states=["fulfilled"], limit=1000)
    return [row for row in rows if "deliver" in row["actions"]]


async def delivered_not_handed(actor: Principal) -> list[dict[str, Any]]:
    """Delivered to the unit, not yet recorded as handed to the holder (revocations excepted)."""
    if not may(actor, "request.confirm_receipt"):
        return []
    rows = await engine.list_records(actor, CERT_FLOW, states=["delivered"],
                                     extra_condition=CertRequest.handed_to_holder_at.is_null(), limit=1000)
    return [row for row in rows if row["kind"] != "revoke"]


async def tokens_to_return(actor: Principal) -> list[dict[str, Any]]:
    """Revoked certificates whose token has not gone back to the CA yet, the earliest deadline first."""
    rows = await engine.list_records(actor, CERT_FLOW, **TOKENS_DUE, limit=1000)
    return sorted(rows, key=lambda r: r["token_return_due"])


async def confirm_receipt(actor: Principal, request_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The unit confirms it received a whole list: all delivered, or none."""
    decisions = [engine.Decision(CERT_FLOW, request_id, "deliver") for request_id in request_ids]
    if not decisions:
        raise Invalid("nothing selected", code="nothing_selected", fields={"request_ids": "is required"})
    async with db.transaction():
        judged = []
        for decision in decisions:
            row = await engine.get_visible_row(actor, CERT_FLOW, decision.record_id)
            judged.append((row, engine.judge(actor, CERT_FLOW, row, "deliver", "")))
        for row, transition in judged:
            await engine.apply(actor, CERT_FLOW, row, transition, "")
    return [await engine.get_record(actor, CERT_FLOW, request_id) for request_id in request_ids]


def _moment(value: Any, field: str) -> datetime:
    day = validation.iso_date(value, required=False) if value not in (None, "") else today()
    if isinstance(day, date) and day > today():
        raise Invalid("the date is in the future", code="date_in_future", fields={field: "is in the future"})
    return datetime.combine(day, time(12), tzinfo=VIETNAM)


async def record_handed_to_holder(actor: Principal, request_id: int, on: Any = None) -> dict[str, Any]:
    moment = _moment(on, "date")
    async with db.transaction():
        row = await engine.get_visible_row(actor, CERT_FLOW, request_id)
        if not may(actor, "request.confirm_receipt", row["agency_path"]):
            raise Forbidden("only the unit records handing over to the holder", code="not_permitted")
        if row["state"] != "delivered" or row["kind"] == "revoke":
            raise Conflict(f"request {request_id} is not delivered to the unit", code="not_delivered",
                           params={"id": request_id})
        if row["handed_to_holder_at"] is not None:
            raise Conflict("already recorded", code="already_recorded", params={"id": request_id})
        await CertRequest.update({CertRequest.handed_to_holder_at: moment}).where(CertRequest.id == request_id)
        audit.record(actor, "cert_request.hand_to_holder", "cert_request", request_id, after={"at": moment.isoformat()})
    return await engine.get_record(actor, CERT_FLOW, request_id)


async def record_token_returned(actor: Principal, request_id: int, on: Any = None) -> dict[str, Any]:
    """DoIT records that the revoked certificate's token went back to the CA (on time or late)."""
    moment = _moment(on, "date")
    async with db.transaction():
        row = await engine.get_visible_row(actor, CERT_FLOW, request_id)
        if not may(actor, "request.process", row["agency_path"]):
            raise Forbidden("DoIT records returned tokens", code="not_permitted")
        if row["kind"] != "revoke" or row["token_return_due"] is None:
            raise Conflict(f"request {request_id} has no token to return", code="no_token_to_return",
                           params={"id": request_id})
        if row["token_returned_at"] is not None:
            raise Conflict("already recorded", code="already_recorded", params={"id": request_id})
        await CertRequest.update({CertRequest.token_returned_at: moment}).where(CertRequest.id == request_id)
        late = moment.date() > row["token_return_due"] if isinstance(row["token_return_due"], date) else False
        audit.record(actor, "cert_request.token_returned", "cert_request", request_id,
                     after={"at": moment.isoformat(), "late": late})
    return await engine.get_record(actor, CERT_FLOW, request_id)


async def todo_counter(actor: Principal, _domains: Any) -> int:
    """For a unit: deliveries to confirm and tokens to return."""
    if actor.is_system or not may(actor, "request.confirm_receipt"):
        return 0
    # Counted, not listed: every page shows this number. The same records as `awaiting_receipt` (those the
    # actor may confirm) and `tokens_to_return`, each capped as those lists are.
    receivable = permissions.scope(actor, "request.confirm_receipt", CertRequest.agency.path, read_in_order=False)
    awaiting = await engine.count_records(actor, CERT_FLOW, states=["fulfilled"], extra_condition=receivable,
                                          limit=1000) if receivable is not None else 0
    returning = await engine.count_records(actor, CERT_FLOW, **TOKENS_DUE, limit=1000)
    return awaiting + returning
