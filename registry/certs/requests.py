"""Certificate requests (DOMAIN.md "Requests"; forms of Decree 68/2024): the checks a CA clerk would
make for each kind, who may file what, and what a request does to its certificate along the way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from registry import db, validation
from registry.agencies import service as agencies
from registry.auth.permissions import may
from registry.auth.principal import Principal
from registry.certs import service as certs
from registry.certs.reasons import REASON_LABELS, REVOCATION_REASONS, URGENT_REASONS
from registry.certs.tables import CertRequest
from registry.errors import Conflict, Forbidden, Invalid
from registry.people import service as people
from registry.settings import Settings
from registry.text import fold
from registry.timeutil import now, to_vietnam, today
from registry.workflow import engine
from registry.workflow.effects import notify_deciders, notify_decision
from registry.workflow.machine import Transition, machine

DOMAIN = "cert"

KIND_LABELS = {
    "new_personal": "Cấp mới chứng thư số cá nhân",
    "new_org": "Cấp mới chứng thư số tổ chức",
    "renew": "Gia hạn chứng thư số",
    "change": "Điều chỉnh thông tin chứng thư số",
    "unlock": "Mở khóa, cấp lại mật khẩu thiết bị",
    "revoke": "Thu hồi chứng thư số",
}
# The Decree 68/2024 form each kind corresponds to.
KIND_FORMS = {"new_personal": "Mẫu 01", "new_org": "Mẫu 02", "renew": "Mẫu 04", "change": "Mẫu 04",
              "unlock": "Mẫu 06", "revoke": "Mẫu 05"}
CERTIFICATE_KINDS = ("renew", "change", "unlock", "revoke")
# Kinds a staff member may file for their own certificate (or, for new_personal, for themselves).
STAFF_KINDS = ("new_personal", "renew", "change", "unlock", "revoke")
MAX_NEW_YEARS = 5
MAX_RENEWAL_YEARS = 3
PERSONAL_CHANGE_FIELDS = ("full_name", "email", "position", "unit", "agency_code")
ORG_CHANGE_FIELDS = ("org_name", "address", "email")

# --- field checks per kind ----------------------------------------------------------------------


def _years(errors: validation.FieldErrors, data: Mapping[str, Any], maximum: int) -> int:
    raw = data.get("validity_years", maximum)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= maximum:
        errors.add("validity_years", f"1 to {maximum} years", field_code=("validity_years_range", {"max": maximum}))
        return maximum
    return raw


def _issued_on(value: Any) -> date | None:
    issued = validation.iso_date(value)
    if issued is not None and issued > today():
        raise Invalid("is in the future", fields={"": "is in the future"}, field_codes={"": "date_in_future"})
    return issued


def _check_new_personal(data: Mapping[str, Any], errors: validation.FieldErrors) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "full_name": lambda v: validation.text(v, max_length=200),
        "date_of_birth": validation.birth_date,
        "id_number": validation.citizen_id,
        "id_issued_on": _issued_on,
        "id_issued_by": lambda v: validation.text(v, max_length=200),
        "email": validation.email,
        "position": lambda v: validation.text(v, max_length=200),
        "phone": validation.phone,
    }
    details = {name: errors.check(name, data.get(name), check) for name, check in checks.items()}
    born, issued = details.get("date_of_birth"), details.get("id_issued_on")
    if born and issued and issued < born:
        errors.add("id_issued_on", "is before the date of birth", field_code="issued_before_birth")
    details["validity_years"] = _years(errors, data, MAX_NEW_YEARS)
    return details


def _check_new_org(data: Mapping[str, Any], errors: validation.FieldErrors) -> dict[str, Any]:
    details = {
        "org_name": errors.check("org_name", data.get("org_name"), lambda v: validation.text(v, max_length=300)),
        "address": errors.check("address", data.get("address"), lambda v: validation.text(v, max_length=500)),
        "tax_code": errors.check("tax_code", data.get("tax_code"), lambda v: validation.tax_code(v, required=False)),
        "budget_code": errors.check("budget_code", data.get("budget_code"), validation.budget_code),
        "email": errors.check("email", data.get("email"), validation.email),
        "validity_years": _years(errors, data, MAX_NEW_YEARS),
    }
    receiver = data.get("receiver")
    if not isinstance(receiver, Mapping):
        errors.add("receiver", "the person who will receive the token is required", field_code="receiver_required")
        return details
    checks: dict[str, Callable[[Any], Any]] = {
        "full_name": lambda v: validation.text(v, max_length=200),
        "id_number": validation.citizen_id,
        "position": lambda v: validation.text(v, max_length=200),
        "phone": validation.phone,
        "email": validation.email,
    }
    details["receiver"] = {name: errors.check(f"receiver.{name}", receiver.get(name), check) for name, check in checks.items()}
    return details


def _check_change(data: Mapping[str, Any], errors: validation.FieldErrors, certificate: Mapping[str, Any]) -> dict[str, Any]:
    changes = data.get("changes")
    allowed = ORG_CHANGE_FIELDS if certificate["kind"] == "org" else PERSONAL_CHANGE_FIELDS
    if not isinstance(changes, Mapping) or not changes:
        errors.add("changes", f"name the fields to change: {', '.join(allowed)}", field_code="changes_required")
        return {}
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        key = f"changes.{field}"
        if field not in allowed:
            errors.add(key, f"cannot be changed; allowed: {', '.join(allowed)}", field_code="field_not_changeable")
        elif field == "email":
            cleaned[field] = errors.check(key, value, validation.email)
        elif field == "agency_code":
            cleaned[field] = errors.check(key, value, lambda v: validation.text(v, max_length=20).upper())
        else:
            cleaned[field] = errors.check(key, value, lambda v: validation.text(v, max_length=300))
    return {"changes": cleaned}


# --- filing -------------------------------------------------------------------------------------


def _may_file_for_agency(actor: Principal, agency: Mapping[str, Any]) -> bool:
    return may(actor, "request.file_for_others", agency["path"])


def refusal(kind: str, status: str, not_after: Any, settings: Settings) -> tuple[str, str, str] | None:
    """Why a request of `kind` cannot apply to a certificate in `status` expiring at `not_after`:
    (code, detail, field message); None when it can. The forms offer only certificates it can apply to."""
    if status == "revoked":
        return "certificate_revoked", "this certificate is already revoked", "already revoked"
    if kind in ("renew", "change") and status == "superseded":
        return "certificate_superseded", "this certificate was already replaced by a newer one", "superseded"
    if kind in ("renew", "change", "unlock") and status == "expired":
        return "certificate_expired", "this certificate has expired; request a new one", "expired"
    if kind == "revoke" and status == "expired":
        return "certificate_expired", "an expired certificate needs no revocation", "expired"
    if kind == "renew":
        opens = not_after - timedelta(days=settings.renewal_window_days)
        if now() < opens:
            day = to_vietnam(opens).date().isoformat()
            return ("renewal_not_open", f"renewal opens {settings.renewal_window_days} days before expiry, on {day}",
                    f"renewal opens on {day}")
    return None


async def applicable(actor: Principal, settings: Settings, kind: str,
                     certificates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The certificates (as listed by the certificate service) a request of `kind` can apply to now:
    status and dates allow it, the actor may file for it, and no open request blocks it."""
    if kind not in CERTIFICATE_KINDS:
        return []
    blocking = {kind, "revoke"} if kind in ("renew", "change") else {kind}
    open_rows = await CertRequest.select(CertRequest.certificate).where(
        CertRequest.certificate.is_in([c["id"] for c in certificates] or [0])
        & CertRequest.kind.is_in(sorted(blocking)) & CertRequest.state.is_in(sorted(CERT_MACHINE.open_states)))
    blocked = {row["certificate"] for row in open_rows}
    paths = await agencies.paths_of(c["agency_code"] for c in certificates)
    result = []
    for certificate in certificates:
        if certificate["id"] in blocked or refusal(kind, certificate["status"], certificate["not_after"], settings):
            continue
        own = actor.person_id is not None and actor.person_id == (certificate.get("holder") or {}).get("id")
        agency_path = paths.get(certificate["agency_code"] or "", "")
        if certificate["kind"] == "org" and not (agency_path and may(actor, "request.file_org", agency_path)):
            continue
        if not own and not (agency_path and may(actor, "request.file_for_others", agency_path)):
            continue
        result.append(certificate)
    return result


def _check_certificate(certificate: Mapping[str, Any] | None, kind: str, agency: Mapping[str, Any],
                       settings: Settings) -> Mapping[str, Any]:
    if certificate is None:
        raise Invalid("the registry knows no certificate with that fingerprint", fields={"certificate": "unknown certificate"},
                      field_codes={"certificate": "unknown_certificate"})
    if not (certificate.get("agency_path") or "").startswith(agency["path"]):
        raise Invalid(
            f"certificate {certificate['fingerprint'][:16]}… is not held within agency {agency['code']}",
            fields={"certificate": "held by another agency"}, field_codes={"certificate": "certificate_elsewhere"},
        )
    refused = refusal(kind, certs.status_of(certificate), certificate["not_after"], settings)
    if refused is not None:
        code, detail, field_message = refused
        raise Invalid(detail, code=code, fields={"certificate": field_message})
    return certificate


async def _subject_for_new_personal(actor: Principal, data: Mapping[str, Any], agency: Mapping[str, Any],
                                    details: Mapping[str, Any], staff_only: bool) -> int:
    """The person the new certificate is for: named by `person_id`, the staff member themself, an
    existing person of the agency with the same citizen ID, or a new person record."""
    person_id = data.get("person_id")
    if staff_only:
        if person_id not in (None, actor.person_id):
            raise Forbidden("staff may request a new certificate only for themselves")
        return actor.person_id  # type: ignore[return-value]
    if person_id is not None:
        if not isinstance(person_id, int):
            raise Invalid("person_id must be a number", fields={"person_id": "must be a number"},
                          field_codes={"person_id": "not_a_number"})
        person = await people.find_row(person_id)
        if person is None or not person["agency_path"].startswith(agency["path"]):
            raise Invalid(f"no person {person_id} in agency {agency['code']}", fields={"person_id": "not in this agency"},
                          field_codes={"person_id": "person_not_in_agency"})
        return person_id
    # A person is one person across the province: the citizen ID names them wherever they work.
    existing = await people.find_by_id_number(details["id_number"])
    if existing is not None:
        if not existing["agency_path"].startswith(agency["path"]):
            raise Invalid(
                "this citizen ID belongs to a person of another agency; record their move first",
                code="id_number_elsewhere", fields={"id_number": "belongs to a person of another agency"},
            )
        return existing["id"]
    fields = {key: details[key] for key in ("full_name", "position", "email", "id_number", "date_of_birth", "phone")}
    return await people.insert_person(agency, fields)


async def file_request(actor: Principal, settings: Settings, data: Mapping[str, Any]) -> dict[str, Any]:
    kind = data.get("kind")
    if kind not in KIND_LABELS:
        raise Invalid(f"kind must be one of {', '.join(KIND_LABELS)}", fields={"kind": "unknown kind"},
                      field_codes={"kind": "choose_from_list"})
    async with db.transaction():
        agency = await agencies.named_in_input(data.get("agency_code"))
        for_agency = _may_file_for_agency(actor, agency)
        staff_only = (
            not for_agency and actor.person_id is not None and actor.agency_path == agency["path"] and kind in STAFF_KINDS
        )
        if not for_agency and not staff_only:
            raise Forbidden(f"you may not file requests for agency {agency['code']}")

        errors = validation.FieldErrors()
        certificate: Mapping[str, Any] | None = None
        reason, urgent = "", False
        if kind in CERTIFICATE_KINDS:
            fingerprint = data.get("certificate")
            if not isinstance(fingerprint, str) or not fingerprint.strip():
                raise Invalid("name the certificate by its SHA-256 fingerprint", fields={"certificate": "is required"},
                              field_codes={"certificate": "required"})
            certificate = _check_certificate(
                await certs.find_by_fingerprint(fingerprint.strip().lower()), kind, agency, settings
            )
            if staff_only and certificate.get("holder") != actor.person_id:
                raise Forbidden("staff may file requests only for their own certificate")
            if certificate["kind"] == "org" and not may(actor, "request.file_org", agency["path"]):
                raise Forbidden("only the clerk or the head files requests for the organisation certificate")
        if kind == "new_org" and not may(actor, "request.file_org", agency["path"]):
            raise Forbidden("only the clerk or the head requests the organisation certificate")

        if kind == "new_personal":
            details = _check_new_personal(data, errors)
        elif kind == "new_org":
            details = _check_new_org(data, errors)
        elif kind == "renew":
            details = {"validity_years": _years(errors, data, MAX_RENEWAL_YEARS)}
        elif kind == "change":
            details = _check_change(data, errors, certificate)  # type: ignore[arg-type]
        else:
            details = {}
        if kind == "revoke":
            reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
            if reason not in REVOCATION_REASONS:
                errors.add("reason", f"one of {', '.join(REVOCATION_REASONS)}", field_code="choose_from_list")
            urgent = reason in URGENT_REASONS
        if kind in ("revoke", "unlock", "change", "renew") or data.get("detail"):
            detail = errors.check("detail", data.get("detail"), lambda v: validation.text(v, required=False, max_length=1000))
            if kind == "revoke" and reason == "other" and not detail:
                errors.add("detail", "say why, when the reason is 'other'", field_code="other_reason_detail")
            details["detail"] = detail or ""
        errors.raise_if_any(f"invalid {kind} request")

        if kind == "change" and "agency_code" in details["changes"]:
            await agencies.named_in_input(details["changes"]["agency_code"], "changes.agency_code")

        if certificate is not None:
            await _refuse_duplicate(certificate, kind)
            subject_id = certificate.get("holder")
            name = certificate.get("holder_name") or certificate.get("common_name") or ""
        elif kind == "new_personal":
            subject_id = await _subject_for_new_personal(actor, data, agency, details, staff_only)
            name = details["full_name"]
        else:
            subject_id, name = None, details["org_name"]
        summary = f"{KIND_LABELS[kind]} — {name}" + (f" ({REASON_LABELS[reason]})" if reason else "")
        request_id = await engine.create(
            actor,
            CERT_FLOW,
            engine.NewRecord(
                kind=kind, agency=agency, summary=summary, details=details, subject_person_id=subject_id,
                urgent=urgent, search_text=fold(name),
                extra={"certificate": certificate["id"] if certificate else None, "reason": reason},
            ),
        )
        if urgent and certificate is not None:
            await certs.set_revocation_pending(certificate["id"], actor=actor)
    return await engine.get_record(actor, CERT_FLOW, request_id)


async def _refuse_duplicate(certificate: Mapping[str, Any], kind: str) -> None:
    """One open request of a kind per certificate; a revocation also stops renewals and changes."""
    blocking = {kind, "revoke"} if kind in ("renew", "change") else {kind}
    open_requests = await open_requests_for_certificate(certificate["id"], blocking)
    if open_requests:
        other = open_requests[0]
        raise Conflict(
            f"request {other['id']} ({other['kind']}, {other['state']}) is already open for this certificate",
            code="request_already_open", extra={"open_request": other["id"]},
            params={"id": other["id"], "kind": KIND_LABELS.get(other["kind"], other["kind"]),
                    "state": CERT_MACHINE.label(other["state"])},
        )


async def open_requests_for_certificate(certificate_id: int, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    query = CertRequest.select(CertRequest.id, CertRequest.kind, CertRequest.state).where(
        (CertRequest.certificate == certificate_id) & CertRequest.state.is_in(sorted(CERT_MACHINE.open_states))
    )
    if kinds is not None:
        query = query.where(CertRequest.kind.is_in(list(kinds)))
    return await query


# --- what transitions do to the certificate -----------------------------------------------------


async def lift_revocation_pending(step: engine.Step) -> None:
    """A withdrawn, rejected or failed urgent revocation lifts the "revocation pending" mark, unless
    another urgent revocation of the same certificate is still open."""
    row = step.row
    if row["kind"] != "revoke" or not row["urgent"]:
        return
    others = [r for r in await open_requests_for_certificate(row["certificate"], ["revoke"]) if r["id"] != row["id"]]
    if not others:
        await certs.clear_revocation_pending(row["certificate"], actor=step.actor)


# A revoked certificate's token goes back to the CA within this many working days.
TOKEN_RETURN_WORKING_DAYS = 5


def add_working_days(start: date, days: int) -> date:
    """`days` working days after `start` (Monday to Friday; public holidays are not known here)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


async def start_token_return_clock(step: engine.Step) -> None:
    """A fulfilled revocation: the unit returns the token to the CA within 5 working days."""
    if step.row["kind"] == "revoke":
        due = add_working_days(today(), TOKEN_RETURN_WORKING_DAYS)
        await CertRequest.update({CertRequest.token_return_due: due}).where(CertRequest.id == step.row["id"])


# --- the machine ------------------------------------------------------------------------------

STATES = {
    "submitted": "Chờ phê duyệt",
    "approved": "Đã phê duyệt",
    "rejected": "Bị từ chối",
    "withdrawn": "Đã rút",
    "batched": "Đã đưa vào danh sách gửi",
    "sent": "Đã gửi CA",
    "fulfilled": "CA đã xử lý",
    "failed": "CA không xử lý được",
    "delivered": "Đã bàn giao",
}

#   submitted ─approve→ approved ─batch→ batched ─send→ sent ─fulfil→ fulfilled ─deliver→ delivered
#       │                   ↑──unbatch──┘                  └─fail→ failed
#       ├─reject→ rejected
#       └─withdraw→ withdrawn
CERT_MACHINE = machine(
    STATES,
    "submitted",
    Transition("approve", frozenset({"submitted"}), "approved", "request.decide", "Phê duyệt", decision=True,
               effects=(notify_decision,)),
    Transition("reject", frozenset({"submitted"}), "rejected", "request.decide", "Từ chối", needs_note=True,
               decision=True, effects=(notify_decision, lift_revocation_pending)),
    Transition("withdraw", frozenset({"submitted"}), "withdrawn", "request.withdraw", "Rút yêu cầu",
               effects=(lift_revocation_pending,)),
    Transition("batch", frozenset({"approved"}), "batched", "request.process", "Đưa vào danh sách gửi CA"),
    Transition("unbatch", frozenset({"batched"}), "approved", "request.process", "Bỏ khỏi danh sách"),
    Transition("send", frozenset({"batched"}), "sent", "request.process", "Đã gửi CA"),
    Transition("fulfil", frozenset({"sent"}), "fulfilled", "request.process", "CA đã xử lý",
               effects=(start_token_return_clock, notify_decision)),
    Transition("fail", frozenset({"sent"}), "failed", "request.process", "CA không xử lý được", needs_note=True,
               effects=(lift_revocation_pending,)),
    Transition("deliver", frozenset({"fulfilled"}), "delivered", "request.confirm_receipt", "Đơn vị đã nhận bàn giao"),
    open_states=frozenset({"submitted", "approved", "batched", "sent"}),
    on_create=(notify_deciders,),
)


def describe(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a certificate request adds to the engine's JSON. `certificate` is, per the contract, the
    certificate issued once a new/renew/change request is fulfilled, else the one acted on."""
    return {
        "reason": row["reason"] or None,
        "reason_label": REASON_LABELS.get(row["reason"]) if row["reason"] else None,
        "certificate": row["issued_fingerprint"] or row["certificate_fingerprint"],
        "target_certificate": row["certificate_fingerprint"],
        "batch_id": row["batch_id"],
        "handed_to_holder_at": row["handed_to_holder_at"],
        "token_return_due": row["token_return_due"],
        "token_returned_at": row["token_returned_at"],
    }


CERT_FLOW = engine.Flow(
    name=DOMAIN,
    label="Yêu cầu chứng thư số",
    table=CertRequest,
    machine=CERT_MACHINE,
    kind_labels=KIND_LABELS,
    page_path="/requests/{id}",
    extra_columns=(
        CertRequest.certificate.fingerprint.as_alias("certificate_fingerprint"),
        CertRequest.issued_certificate.fingerprint.as_alias("issued_fingerprint"),
    ),
    describe=describe,
)
