"""Account requests and the account register.

Staff file for their own accounts, clerks and heads for anyone in their subtree (and for the agency's own
mailbox); heads decide in the shared inbox under the same rules as certificate requests; DoIT exports
approved requests for the systems' administrators, records what was done, and hands over to the unit.
The register keeps each account with its dates; the registry never stores another system's password."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from registry import db, exports, validation
from registry.accounts.tables import Account, AccountRequest
from registry.agencies import service as agencies
from registry.auth.permissions import may
from registry.auth.principal import Principal
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.people import service as people
from registry.specimens import service as specimens
from registry.text import fold
from registry.timeutil import now
from registry.workflow import engine
from registry.workflow.effects import notify_deciders, notify_decision
from registry.workflow.machine import Transition, machine

DOMAIN = "account"

SYSTEMS = {"qlvb": "Hệ thống quản lý văn bản và điều hành", "mail": "Hệ thống thư điện tử công vụ"}
KIND_LABELS = {
    "new": "Cấp mới tài khoản",
    "password_reset": "Cấp lại mật khẩu tài khoản",
    "change": "Điều chỉnh thông tin tài khoản",
    "cancel": "Hủy tài khoản",
}
CANCEL_REASONS = {
    "moved": "Chuyển công tác",
    "retired": "Nghỉ hưu",
    "left": "Thôi việc",
    "deceased": "Qua đời",
    "no_longer_needed": "Không còn nhu cầu sử dụng",
    "other": "Lý do khác",
}
CHANGE_FIELDS = ("full_name", "position", "unit", "email")
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


# --- the machine ------------------------------------------------------------------------------

STATES = {
    "submitted": "Chờ phê duyệt",
    "approved": "Đã phê duyệt",
    "rejected": "Bị từ chối",
    "withdrawn": "Đã rút",
    "fulfilled": "Đã thực hiện",
    "failed": "Không thực hiện được",
    "delivered": "Đã bàn giao",
}

#   submitted ─approve→ approved ─fulfil→ fulfilled ─deliver→ delivered
#       │                   └─fail→ failed
#       ├─reject→ rejected
#       └─withdraw→ withdrawn
# No CA stands between approval and fulfilment: DoIT (or the system's administrator) acts directly.
ACCOUNT_MACHINE = machine(
    STATES,
    "submitted",
    Transition("approve", frozenset({"submitted"}), "approved", "request.decide", "Phê duyệt", decision=True,
               effects=(notify_decision,)),
    Transition("reject", frozenset({"submitted"}), "rejected", "request.decide", "Từ chối", needs_note=True,
               decision=True, effects=(notify_decision,)),
    Transition("withdraw", frozenset({"submitted"}), "withdrawn", "request.withdraw", "Rút yêu cầu"),
    Transition("fulfil", frozenset({"approved"}), "fulfilled", "request.process", "Đã thực hiện",
               effects=(notify_decision,)),
    Transition("fail", frozenset({"approved"}), "failed", "request.process", "Không thực hiện được",
               needs_note=True, effects=(notify_decision,)),
    Transition("deliver", frozenset({"fulfilled"}), "delivered", "request.process", "Bàn giao cho đơn vị"),
    open_states=frozenset({"submitted", "approved"}),
    on_create=(notify_deciders,),
)


def describe(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "system": row["system"],
        "system_label": SYSTEMS.get(row["system"], row["system"]),
        "account_name": row["account_name"] or None,
        "account_id": row["account"],
        "outcome": row["outcome"] or None,
    }


ACCOUNT_FLOW = engine.Flow(
    name=DOMAIN,
    label="Yêu cầu tài khoản",
    table=AccountRequest,
    machine=ACCOUNT_MACHINE,
    kind_labels=KIND_LABELS,
    page_path="/accounts/requests/{id}",
    describe=describe,
)


# --- field checks -------------------------------------------------------------------------------


def _account_name(system: str, value: Any, *, required: bool) -> str:
    if system == "mail":
        return validation.email(value, required=required)
    name = validation.text(value, required=required, max_length=64).lower()
    if name and not LOGIN.match(name):
        raise Invalid("a login has 2 to 64 letters, digits, dots, dashes or underscores",
                      code="invalid_login", fields={"": "invalid login"})
    return name


def _check(kind: str, system: str, data: Mapping[str, Any], errors: validation.FieldErrors) -> dict[str, Any]:
    """The fields the systems' administrators need, per kind."""
    checks: dict[str, Callable[[Any], Any]] = {
        "full_name": lambda v: validation.text(v, max_length=200),
        # How the system's administrator reaches the user (not needed to end an account).
        "email": lambda v: validation.email(v, required=kind != "cancel"),
    }
    if kind == "new":
        checks.update({
            "position": lambda v: validation.text(v, required=False, max_length=200),
            "unit": lambda v: validation.text(v, required=False, max_length=200),
            "phone": lambda v: validation.phone(v, required=False),
            "account_name": lambda v: _account_name(system, v, required=False),
        })
        if system == "qlvb":
            checks["role"] = lambda v: validation.text(v, required=False, max_length=100)
    else:
        checks["account_name"] = lambda v: _account_name(system, v, required=True)
    if kind in ("password_reset", "cancel", "change"):
        checks["detail"] = lambda v: validation.text(v, required=False, max_length=1000)
    details = {name: errors.check(name, data.get(name), check) for name, check in checks.items()}
    if kind == "cancel":
        reason = data.get("reason")
        if reason not in CANCEL_REASONS:
            errors.add("reason", f"one of {', '.join(CANCEL_REASONS)}", field_code="choose_from_list")
        details["reason"] = reason if isinstance(reason, str) else ""
        if reason == "other" and not details.get("detail"):
            errors.add("detail", "say why, when the reason is 'other'", field_code="other_reason_detail")
    if kind == "change":
        changes = data.get("changes")
        if not isinstance(changes, Mapping) or not changes:
            errors.add("changes", f"name the fields to change: {', '.join(CHANGE_FIELDS)}", field_code="changes_required")
        else:
            cleaned = {}
            for name, value in changes.items():
                key = f"changes.{name}"
                if name not in CHANGE_FIELDS:
                    errors.add(key, f"cannot be changed; allowed: {', '.join(CHANGE_FIELDS)}",
                               field_code="field_not_changeable")
                elif name == "email":
                    cleaned[name] = errors.check(key, value, validation.email)
                else:
                    cleaned[name] = errors.check(key, value, lambda v: validation.text(v, max_length=200))
            details["changes"] = cleaned
    return {key: value for key, value in details.items() if value not in (None, "")}


# --- filing -------------------------------------------------------------------------------------


async def _subject(actor: Principal, data: Mapping[str, Any], agency: Mapping[str, Any], for_others: bool) -> int | None:
    """Whom the account is for: the person named by `person_id` (within the agency's subtree), the staff
    member themself, or nobody (an agency's own mailbox, or someone not yet in the registry)."""
    person_id = data.get("person_id")
    if not for_others:
        if person_id not in (None, actor.person_id):
            raise Forbidden("staff may request accounts only for themselves", code="staff_self_only")
        return actor.person_id
    if person_id is None:
        return None
    if not isinstance(person_id, int) or isinstance(person_id, bool):
        raise Invalid("person_id must be a number", code="invalid_input", fields={"person_id": "must be a number"})
    person = await people.find_row(person_id)
    if person is None or not person["agency_path"].startswith(agency["path"]):
        raise Invalid(f"no person {person_id} in agency {agency['code']}", code="person_not_in_agency",
                      fields={"person_id": "not in this agency"})
    return person_id


ACCOUNT_COLUMNS = (
    Account.all_columns(),
    Account.person.full_name.as_alias("person_name"),
    Account.agency.code.as_alias("agency_code"),
    Account.agency.name.as_alias("agency_name"),
    Account.agency.path.as_alias("agency_path"),
)


async def find_account(system: str, name: str) -> dict[str, Any] | None:
    """The active account of that name on that system, if the register knows it."""
    return await Account.select(*ACCOUNT_COLUMNS).where(
        (Account.system == system) & (Account.name == name) & Account.cancelled_at.is_null()
    ).first()


async def file_request(actor: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
    kind, system = data.get("kind"), data.get("system")
    errors = validation.FieldErrors()
    if kind not in KIND_LABELS:
        errors.add("kind", f"one of {', '.join(KIND_LABELS)}", field_code="choose_from_list")
    if system not in SYSTEMS:
        errors.add("system", f"one of {', '.join(SYSTEMS)}", field_code="choose_from_list")
    errors.raise_if_any("invalid account request")
    async with db.transaction():
        agency = await agencies.named_in_input(data.get("agency_code"))
        for_others = may(actor, "request.file_for_others", agency["path"])
        own_agency = actor.person_id is not None and actor.agency_path == agency["path"]
        if not for_others and not own_agency:
            raise Forbidden(f"you may not file requests for agency {agency['code']}", code="not_permitted_here")
        details = _check(kind, system, data, errors)
        errors.raise_if_any(f"invalid {kind} account request")
        subject_id = await _subject(actor, data, agency, for_others)
        account = None
        account_name = details.get("account_name", "")
        if kind != "new":
            account = await find_account(system, account_name)
            if account is not None and not account["agency_path"].startswith(agency["path"]):
                raise Invalid("this account belongs to another agency", code="account_elsewhere",
                              fields={"account_name": "belongs to another agency"})
            if account is not None and not for_others and account["person"] != actor.person_id:
                raise Forbidden("staff may request changes only to their own accounts", code="staff_self_only")
        elif account_name and await find_account(system, account_name):
            raise Conflict(f"the account {account_name} already exists", code="account_exists",
                           fields={"account_name": "already exists"}, params={"name": account_name})
        if account_name:
            await _refuse_duplicate(system, account_name)
        name = details["full_name"]
        summary = f"{KIND_LABELS[kind]} {SYSTEMS[system].removeprefix('Hệ thống ')} — {name}"
        if account_name:
            summary += f" ({account_name})"
        record_id = await engine.create(
            actor,
            ACCOUNT_FLOW,
            engine.NewRecord(
                kind=kind, agency=agency, summary=summary, details=details, subject_person_id=subject_id,
                search_text=fold(f"{name} {account_name}"),
                extra={"system": system, "account": account["id"] if account else None, "account_name": account_name},
            ),
        )
    return await engine.get_record(actor, ACCOUNT_FLOW, record_id)


async def open_request_for(system: str, account_name: str) -> dict[str, Any] | None:
    return await AccountRequest.select(AccountRequest.id, AccountRequest.kind, AccountRequest.state).where(
        (AccountRequest.system == system) & (AccountRequest.account_name == account_name)
        & AccountRequest.state.is_in(sorted(ACCOUNT_MACHINE.open_states))
    ).first()


async def _refuse_duplicate(system: str, account_name: str) -> None:
    """One open request per account."""
    other = await open_request_for(system, account_name)
    if other is not None:
        raise Conflict(
            f"request {other['id']} is already open for the account {account_name}", code="request_already_open",
            extra={"open_request": other["id"]},
            params={"id": other["id"], "kind": ACCOUNT_FLOW.kind_label(other["kind"]),
                    "state": ACCOUNT_MACHINE.label(other["state"])},
        )


# --- DoIT: fulfil, fail, hand over --------------------------------------------------------------


async def fulfil(actor: Principal, request_id: int, account_name: str | None, note: str = "") -> dict[str, Any]:
    """Record what was done: for a new account its name (created in the register), for a cancellation
    the account's end; the note says anything the unit should know (never a password)."""
    async with db.transaction():
        row = await engine.get_visible_row(actor, ACCOUNT_FLOW, request_id)
        transition = engine.judge(actor, ACCOUNT_FLOW, row, "fulfil", note)
        errors = validation.FieldErrors()
        name = errors.check("account_name", account_name or row["account_name"],
                            lambda v: _account_name(row["system"], v, required=True))
        cleaned_note = errors.check("note", note, lambda v: validation.text(v, required=False, max_length=1000)) or ""
        errors.raise_if_any("invalid outcome")
        values: dict[Any, Any] = {AccountRequest.outcome: cleaned_note, AccountRequest.account_name: name}
        moment = now()
        if row["kind"] == "new":
            if await find_account(row["system"], name):
                raise Conflict(f"the account {name} already exists", code="account_exists",
                               fields={"account_name": "already exists"}, params={"name": name})
            account = Account(system=row["system"], name=name, person=row["subject"], agency=row["agency"],
                              created_at=moment, created_by_request=row["id"])
            await account.save()
            values[AccountRequest.account] = account.id
        elif row["kind"] == "cancel":
            account = await find_account(row["system"], name)
            reason = json.loads(row["details"] or "{}").get("reason", "other")
            if account is None:
                # An account older than the registry: recorded, and recorded as ended.
                created = Account(system=row["system"], name=name, person=row["subject"], agency=row["agency"],
                                  created_at=moment, cancelled_at=moment, cancel_reason=reason)
                await created.save()
                values[AccountRequest.account] = created.id
            else:
                await Account.update({Account.cancelled_at: moment, Account.cancel_reason: reason}).where(
                    Account.id == account["id"])
                values[AccountRequest.account] = account["id"]
        await engine.apply(actor, ACCOUNT_FLOW, row, transition, cleaned_note, values)
    return await engine.get_record(actor, ACCOUNT_FLOW, request_id)


async def fail(actor: Principal, request_id: int, reason: str) -> dict[str, Any]:
    async with db.transaction():
        row = await engine.get_visible_row(actor, ACCOUNT_FLOW, request_id)
        transition = engine.judge(actor, ACCOUNT_FLOW, row, "fail", reason)
        await engine.apply(actor, ACCOUNT_FLOW, row, transition, reason, {AccountRequest.outcome: reason.strip()})
    return await engine.get_record(actor, ACCOUNT_FLOW, request_id)


# --- the register -------------------------------------------------------------------------------


def account_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "system": row["system"],
        "system_label": SYSTEMS.get(row["system"], row["system"]),
        "name": row["name"],
        "person_id": row["person"],
        "person_name": row.get("person_name"),
        "agency_code": row.get("agency_code"),
        "agency_name": row.get("agency_name"),
        "status": "cancelled" if row["cancelled_at"] else "active",
        "created_at": row["created_at"],
        "cancelled_at": row["cancelled_at"],
        "cancel_reason": row["cancel_reason"] or None,
        "cancel_reason_label": CANCEL_REASONS.get(row["cancel_reason"]) if row["cancel_reason"] else None,
    }


def _may_see_account(actor: Principal, row: Mapping[str, Any]) -> bool:
    if actor.is_system or (actor.person_id is not None and actor.person_id == row["person"]):
        return True
    return may(actor, "request.read", row["agency_path"])


async def accounts_of_person(actor: Principal, person_id: int) -> list[dict[str, Any]]:
    """A person's accounts on every system, active first, each with its dates."""
    rows = await Account.select(*ACCOUNT_COLUMNS).where(Account.person == person_id).order_by(Account.created_at)
    visible = [account_json(row) for row in rows if _may_see_account(actor, row)]
    return sorted(visible, key=lambda a: a["status"] != "active")


async def get_account(actor: Principal, account_id: int) -> dict[str, Any]:
    """An account with its history: every request about it."""
    row = await Account.select(*ACCOUNT_COLUMNS).where(Account.id == account_id).first()
    if row is None or not _may_see_account(actor, row):
        raise NotFound(f"no account {account_id}", code="account_not_found", params={"id": account_id})
    body = account_json(row)
    body["requests"] = await engine.list_records(
        actor, ACCOUNT_FLOW,
        extra_condition=(AccountRequest.account == account_id)
        | ((AccountRequest.system == row["system"]) & (AccountRequest.account_name == row["name"])),
    )
    return body


async def propose_official_mailbox(actor: Principal, account_id: int) -> dict[str, Any]:
    """An agency's mailbox on the official mail system proposed for publication on the portal as the
    agency's official mailbox (DoIT then publishes it, as any proposed mailbox)."""
    row = await Account.select(*ACCOUNT_COLUMNS).where(Account.id == account_id).first()
    if row is None or not _may_see_account(actor, row):
        raise NotFound(f"no account {account_id}", code="account_not_found", params={"id": account_id})
    if row["system"] != "mail" or row["cancelled_at"] is not None:
        raise Conflict(f"account {row['name']} is not an active mailbox", code="not_an_active_mailbox",
                       params={"name": row["name"]})
    return await specimens.propose_mailbox(actor, row["agency_code"], row["name"], source="account_register")


# --- export for the systems' administrators -------------------------------------------------------

EXPORT_COLUMNS = [
    exports.Column("id", "Số yêu cầu", 10),
    exports.Column("kind_label", "Loại yêu cầu", 28),
    exports.Column("agency_name", "Cơ quan, đơn vị", 40),
    exports.Column("full_name", "Họ và tên", 28),
    exports.Column("position", "Chức vụ", 24),
    exports.Column("unit", "Phòng, ban", 24),
    exports.Column("email", "Thư điện tử", 30),
    exports.Column("phone", "Điện thoại", 14),
    exports.Column("account_name", "Tên tài khoản", 28),
    exports.Column("role", "Vai trò trên hệ thống", 20),
    exports.Column("reason", "Lý do", 24),
    exports.Column("detail", "Ghi chú", 40),
    exports.Column("decided_at", "Ngày phê duyệt", 18),
    exports.Column("decided_by_name", "Người phê duyệt", 24),
]


def _export_row(item: Mapping[str, Any]) -> dict[str, Any]:
    details = item["details"]
    changes = details.get("changes") or {}
    return {
        **item,
        **details,
        "account_name": item["account_name"] or details.get("account_name", ""),
        "reason": CANCEL_REASONS.get(details.get("reason", ""), ""),
        "detail": "; ".join(filter(None, [details.get("detail", "")] + [f"{k}: {v}" for k, v in changes.items()])),
    }


async def export(actor: Principal, fmt: str, systems: Iterable[str] = tuple(SYSTEMS)) -> tuple[bytes, str, str]:
    """Approved requests waiting for the systems' administrators: XLSX (a sheet per system) or CSV.
    Returns (content, content type, file name)."""
    if not may(actor, "request.process"):
        raise Forbidden("only DoIT staff export account requests", code="not_permitted")
    if fmt not in ("xlsx", "csv"):
        raise Invalid("format is xlsx or csv", code="invalid_format", fields={"format": "xlsx or csv"})
    items = await engine.list_records(actor, ACCOUNT_FLOW, states=["approved"], limit=10000)
    sheets = [
        exports.Sheet(SYSTEMS[system].removeprefix("Hệ thống ")[:31], EXPORT_COLUMNS,
                      [_export_row(item) for item in items if item["system"] == system])
        for system in systems
    ]
    stamp = now().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        return exports.xlsx(sheets), exports.CONTENT_TYPES["xlsx"], f"yeu-cau-tai-khoan-{stamp}.xlsx"
    merged = exports.Sheet("Yêu cầu tài khoản", [exports.Column("system_label", "Hệ thống", 30), *EXPORT_COLUMNS],
                           [{**row, "system_label": SYSTEMS[system]} for system, sheet in zip(systems, sheets, strict=True)
                            for row in sheet.rows])
    return exports.csv_bytes(merged), exports.CONTENT_TYPES["csv"], f"yeu-cau-tai-khoan-{stamp}.csv"
