"""Leaving staff (Đ22.2.e): when a person moves, retires, leaves or dies, nothing may be forgotten. The
registry records the date and prepares, for their head's approval, the revocation of each of their
personal certificates (with the matching reason) and the cancellation of each of their accounts; their
user account ends on that date.

This module stands above the people, certificate and account domains and uses each through its
service."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from registry import db, validation
from registry.accounts import service as accounts
from registry.audit import service as audit
from registry.auth.permissions import may
from registry.auth.principal import Principal, system_principal
from registry.certs import requests as cert_requests
from registry.certs import service as certs
from registry.errors import Conflict, Forbidden, NotFound
from registry.people import service as people
from registry.people.tables import Person
from registry.settings import Settings
from registry.timeutil import VIETNAM, now, today

DEPARTURE_REASONS = {"moved": "Chuyển công tác", "retired": "Nghỉ hưu", "left": "Thôi việc", "deceased": "Qua đời"}
# The revocation reason (registry.certs.reasons) each departure calls for.
REVOCATION_REASON = {"moved": "position_changed", "retired": "retired", "left": "left", "deceased": "deceased"}
# A departure can be recorded ahead of time, but not years ahead, nor decades back.
MAX_DAYS_AHEAD = 366
MAX_DAYS_BACK = 3660


def _check(reason: Any, on: Any) -> tuple[str, date]:
    errors = validation.FieldErrors()
    if reason not in DEPARTURE_REASONS:
        errors.add("reason", f"one of {', '.join(DEPARTURE_REASONS)}", field_code="choose_from_list")
    day = errors.check("date", on, validation.iso_date)
    if day is not None and not today() - timedelta(days=MAX_DAYS_BACK) <= day <= today() + timedelta(days=MAX_DAYS_AHEAD):
        errors.add("date", f"within {MAX_DAYS_BACK} days back and {MAX_DAYS_AHEAD} ahead",
                   field_code=("departure_date_range", {"back": MAX_DAYS_BACK, "ahead": MAX_DAYS_AHEAD}))
    errors.raise_if_any("invalid departure")
    return reason, day  # type: ignore[return-value]


async def record_departure(actor: Principal, settings: Settings, person_id: int, reason: Any, on: Any) -> dict[str, Any]:
    """Record the departure and prepare what it calls for; returns the person and the prepared requests."""
    reason, day = _check(reason, on)
    async with db.transaction():
        row = await people.find_row(person_id)
        if row is None or not may(actor, "person.read", row["agency_path"]):
            raise NotFound(f"no person with id {person_id}", code="person_not_found", params={"id": person_id})
        if not may(actor, "person.record_departure", row["agency_path"]):
            raise Forbidden("your roles do not allow recording departures here", code="not_permitted")
        if row["left_at"] is not None:
            raise Conflict(f"{row['full_name']}'s departure is already recorded", code="already_departed",
                           params={"name": row["full_name"]})
        moment = datetime.combine(day, time.min, tzinfo=VIETNAM)
        await Person.update({Person.left_at: moment, Person.departure_reason: reason, Person.updated_at: now()}).where(
            Person.id == person_id)
        audit.record(actor, "person.departure", "person", person_id,
                     after={"reason": reason, "date": day.isoformat()})
        # The registry prepares these itself (they have no requester); the heads of the person's agency decide.
        preparer = system_principal(f"{actor.username} — ghi nhận nghỉ việc")
        prepared = [
            *await _revocations(preparer, settings, row, reason),
            *await _cancellations(preparer, row, reason),
        ]
    return {"person": await people.get_person(actor, person_id), "prepared": prepared}


async def _revocations(preparer: Principal, settings: Settings, person: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    prepared = []
    for certificate in await certs.list_for_person(person["id"]):
        if certificate["kind"] != "personal" or certificate["status"] != "active":
            continue
        if await cert_requests.open_requests_for_certificate(certificate["id"], ["revoke"]):
            continue
        prepared.append(await cert_requests.file_request(preparer, settings, {
            "kind": "revoke", "agency_code": certificate["agency_code"] or person["agency_code"],
            "certificate": certificate["fingerprint"], "reason": REVOCATION_REASON[reason],
            "detail": f"{DEPARTURE_REASONS[reason]}: {person['full_name']}",
        }))
    return prepared


async def _cancellations(preparer: Principal, person: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    prepared = []
    for account in await accounts.accounts_of_person(preparer, person["id"]):
        if account["status"] != "active" or await accounts.open_request_for(account["system"], account["name"]):
            continue
        prepared.append(await accounts.file_request(preparer, {
            "kind": "cancel", "system": account["system"], "agency_code": account["agency_code"],
            "person_id": person["id"], "full_name": person["full_name"],
            "email": person["email"] or (account["name"] if account["system"] == "mail" else ""),
            "account_name": account["name"], "reason": reason,
        }))
    return prepared

