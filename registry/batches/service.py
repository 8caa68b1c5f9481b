"""Batches to the CA: DoIT gathers approved certificate requests (urgent first), takes out what should
wait, exports the list in the CA's forms (XLSX a sheet per form, CSV, JSON, with a manifest of SHA-256
digests), and marks it sent with the dispatch number; what was sent is kept byte for byte.

A batch is a record of the workflow engine (draft → sent → closed), and so is each request in it
(approved → batched → sent → fulfilled | failed → delivered)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from registry import db, exports, validation
from registry.agencies import service as agencies
from registry.auth.permissions import may
from registry.auth.principal import Principal
from registry.batches import forms
from registry.batches.tables import Batch, BatchFile, BatchUnmatched
from registry.certs import requests as cert_requests
from registry.certs import service as certs
from registry.certs.tables import CertRequest
from registry.errors import Conflict, Forbidden, Invalid, NotFound, RegistryError
from registry.messages import message_for
from registry.pagination import Page
from registry.settings import Settings
from registry.timeutil import now, today
from registry.workflow import engine
from registry.workflow.machine import Transition, machine

CERT_FLOW = cert_requests.CERT_FLOW
FORMATS = ("xlsx", "csv", "json")
MAX_REQUESTS = 2000

BATCH_MACHINE = machine(
    {"draft": "Đang lập", "sent": "Đã gửi CA", "closed": "Đã xong", "cancelled": "Đã hủy"},
    "draft",
    Transition("send", frozenset({"draft"}), "sent", "request.process", "Gửi CA"),
    Transition("close", frozenset({"sent"}), "closed", "request.process", "Hoàn tất"),
    Transition("cancel", frozenset({"draft"}), "cancelled", "request.process", "Hủy danh sách"),
    open_states=frozenset({"draft", "sent"}),
    # A batch is not decided in the inbox: DoIT moves it.
    approve=None,
    reject=None,
)


def describe(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"dispatch_no": row["dispatch_no"] or None, "dispatched_on": row["dispatched_on"]}


BATCH_FLOW = engine.Flow(
    name="batch",
    label="Danh sách gửi CA",
    table=Batch,
    machine=BATCH_MACHINE,
    kind_labels={"ca": "Danh sách gửi Ban Cơ yếu Chính phủ"},
    page_path="/batches/{id}",
    describe=describe,
    record_type="ca_batch",
)


def require_operator(actor: Principal) -> None:
    if not may(actor, "request.process"):
        raise Forbidden("only DoIT staff handle batches to the CA", code="not_permitted")


def _check_ids(request_ids: Any) -> list[int]:
    if not isinstance(request_ids, list) or not request_ids:
        raise Invalid("give the ids of approved requests", code="nothing_selected", fields={"request_ids": "is required"})
    if len(request_ids) > MAX_REQUESTS:
        raise Invalid(f"at most {MAX_REQUESTS} requests per batch", code="too_many_items", params={"max": MAX_REQUESTS},
                      fields={"request_ids": f"at most {MAX_REQUESTS}"})
    ids = []
    for value in request_ids:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**31:
            raise Invalid(f"{value!r} is not a request id", code="invalid_id", fields={"request_ids": "ids are numbers"})
        ids.append(value)
    if len(set(ids)) != len(ids):
        repeated = next(value for value in ids if ids.count(value) > 1)
        raise Invalid("a request appears twice", code="duplicate_item", fields={"request_ids": "repeats an id"},
                      params={"id": repeated})
    return ids


async def _judge_all(actor: Principal, ids: Sequence[int], transition: str) -> list[tuple[dict[str, Any], Transition]]:
    """Every request judged before anything is written; if any cannot move, none does, and the error
    lists each one's outcome."""
    judged, results, failed = [], [], None
    for request_id in ids:
        try:
            row = await engine.get_visible_row(actor, CERT_FLOW, request_id)
            judged.append((row, engine.judge(actor, CERT_FLOW, row, transition, "")))
            results.append({"id": request_id, "ok": True})
        except RegistryError as error:
            failed = failed or error
            results.append({"id": request_id, "ok": False, "status": error.status_code, "code": error.code})
    if failed is not None:
        error_class = {403: Forbidden, 404: NotFound, 409: Conflict}.get(failed.status_code, Invalid)
        raise error_class(f"some requests cannot be put in the batch, so none was: {failed.detail}",
                          code="batch_items_refused", params={"first": message_for(failed)}, extra={"results": results})
    return judged


async def create_batch(actor: Principal, settings: Settings, request_ids: Any) -> dict[str, Any]:
    require_operator(actor)
    ids = _check_ids(request_ids)
    async with db.transaction():
        judged = await _judge_all(actor, ids, "batch")
        code = await agencies.operator_agency_code(settings.operator_agency)
        operator_agency = await agencies.get_row(code) if code else await agencies.get_row(actor.agency_code or "")
        batch_id = await engine.create(actor, BATCH_FLOW, engine.NewRecord(
            kind="ca", agency=operator_agency, summary=f"Danh sách gửi CA ({len(ids)} yêu cầu)", details={},
            urgent=any(row["urgent"] for row, _t in judged),
        ))
        for row, transition in judged:
            await engine.apply(actor, CERT_FLOW, row, transition, "", {CertRequest.batch_id: batch_id})
    return await get_batch(actor, batch_id)


async def _draft(actor: Principal, batch_id: int) -> dict[str, Any]:
    row = await engine.get_visible_row(actor, BATCH_FLOW, batch_id)
    if row["state"] != "draft":
        raise Conflict(f"batch {batch_id} was already {row['state']}", code="batch_not_draft",
                       params={"id": batch_id, "state": BATCH_MACHINE.label(row["state"])})
    return row


async def add_requests(actor: Principal, batch_id: int, request_ids: Any) -> dict[str, Any]:
    require_operator(actor)
    ids = _check_ids(request_ids)
    async with db.transaction():
        await _draft(actor, batch_id)
        for row, transition in await _judge_all(actor, ids, "batch"):
            await engine.apply(actor, CERT_FLOW, row, transition, "", {CertRequest.batch_id: batch_id})
    return await get_batch(actor, batch_id)


async def remove_request(actor: Principal, batch_id: int, request_id: int) -> dict[str, Any]:
    """Take a request out before the batch is sent: it waits, approved, for another batch."""
    require_operator(actor)
    async with db.transaction():
        await _draft(actor, batch_id)
        row = await engine.get_visible_row(actor, CERT_FLOW, request_id)
        if row["batch_id"] != batch_id:
            raise NotFound(f"request {request_id} is not in batch {batch_id}", code="not_in_batch",
                           params={"id": request_id, "batch": batch_id})
        transition = engine.judge(actor, CERT_FLOW, row, "unbatch", "")
        await engine.apply(actor, CERT_FLOW, row, transition, "", {CertRequest.batch_id: None})
    return await get_batch(actor, batch_id)


# --- reading ------------------------------------------------------------------------------------


async def requests_in(actor: Principal, batch_id: int) -> list[dict[str, Any]]:
    return await engine.list_records(actor, CERT_FLOW, extra_condition=CertRequest.batch_id == batch_id,
                                     limit=MAX_REQUESTS * 2)


async def get_batch(actor: Principal, batch_id: int) -> dict[str, Any]:
    require_operator(actor)
    body = await engine.get_record(actor, BATCH_FLOW, batch_id)
    items = await requests_in(actor, batch_id)
    body["requests"] = items
    body["counts"] = {
        "by_form": {title: sum(1 for i in items if i["kind"] in kinds) for title, kinds, _c in forms.FORMS},
        "by_state": {state: sum(1 for i in items if i["state"] == state) for state in {i["state"] for i in items}},
    }
    files = await BatchFile.select(BatchFile.name, BatchFile.sha256, BatchFile.created_at).where(
        BatchFile.batch == batch_id).order_by(BatchFile.id)
    body["files"] = files
    body["unmatched"] = await BatchUnmatched.select(
        BatchUnmatched.fingerprint, BatchUnmatched.subject, BatchUnmatched.reason, BatchUnmatched.received_at,
    ).where(BatchUnmatched.batch == batch_id).order_by(BatchUnmatched.id)
    return body


async def list_batches(actor: Principal, limit: int = 200) -> list[dict[str, Any]]:
    return (await batches_page(actor, limit=limit)).items


async def batches_page(actor: Principal, *, limit: int = 200, cursor: str | None = None) -> Page:
    """A page of batches, newest first (keyset: the first `limit` after `cursor`)."""
    require_operator(actor)
    return await engine.list_records_page(actor, BATCH_FLOW, cursor=cursor, limit=limit, order=engine.NEWEST)


async def approved_queue(actor: Principal, *, kind: str | None = None, agency_code: str | None = None,
                         limit: int = 1000) -> list[dict[str, Any]]:
    """Approved requests in no batch yet: urgent revocations first, then oldest first."""
    require_operator(actor)
    return await engine.list_records(actor, CERT_FLOW, states=["approved"], kind=kind or None,
                                     agency_code=agency_code or None, limit=limit)


# --- exports ------------------------------------------------------------------------------------


async def _rows(actor: Principal, batch_id: int) -> list[dict[str, Any]]:
    rows = []
    for item in await requests_in(actor, batch_id):
        certificate = await certs.find_by_fingerprint(item["target_certificate"]) if item["target_certificate"] else None
        rows.append({**forms.flatten(item, certificate), "form": forms.form_of(item["kind"])})
    return rows


def file_stem(batch_id: int) -> str:
    return f"danh-sach-{batch_id}"


def _files(batch: Mapping[str, Any], rows: list[dict[str, Any]]) -> dict[str, tuple[bytes, str]]:
    """name → (content, media type) for every format, the manifest last."""
    stem = file_stem(batch["id"])
    sheet_list = forms.sheets(rows)
    files = {
        f"{stem}.xlsx": (exports.xlsx(sheet_list), exports.CONTENT_TYPES["xlsx"]),
        f"{stem}.csv": (exports.csv_bytes(exports.Sheet("Danh sách", forms.all_columns(), rows)), exports.CONTENT_TYPES["csv"]),
        f"{stem}.json": (exports.json_bytes({
            "batch": {"id": batch["id"], "dispatch_no": batch.get("dispatch_no"), "created_at": batch["created_at"]},
            "requests": [{key: value for key, value in row.items() if key != "no"} for row in rows],
        }), exports.CONTENT_TYPES["json"]),
    }
    manifest = exports.manifest({name: content for name, (content, _type) in files.items()})
    files[f"{stem}.manifest.json"] = (exports.json_bytes(manifest), exports.CONTENT_TYPES["json"])
    return files


async def export(actor: Principal, batch_id: int, fmt: str) -> tuple[bytes, str, str]:
    """(content, media type, file name). Once sent, the files exactly as sent; before, as they stand."""
    require_operator(actor)
    if fmt not in (*FORMATS, "manifest"):
        raise Invalid("format is xlsx, csv, json or manifest", code="invalid_format",
                      fields={"format": "xlsx, csv, json or manifest"})
    batch = await engine.get_visible_row(actor, BATCH_FLOW, batch_id)
    name = file_stem(batch_id) + (".manifest.json" if fmt == "manifest" else f".{fmt}")
    stored = await BatchFile.select(BatchFile.media_type, BatchFile.content).where(
        (BatchFile.batch == batch_id) & (BatchFile.name == name)).first()
    if stored is not None:
        return bytes(stored["content"]), stored["media_type"], name
    content, media_type = _files(batch, await _rows(actor, batch_id))[name]
    return content, media_type, name


async def mark_sent(actor: Principal, batch_id: int, dispatch_no: Any, dispatched_on: Any = None) -> dict[str, Any]:
    """The batch left for the CA under `dispatch_no`: its files are frozen, it and its requests are sent."""
    require_operator(actor)
    errors = validation.FieldErrors()
    number = errors.check("dispatch_no", dispatch_no, lambda v: validation.text(v, max_length=100))
    day = errors.check("dispatched_on", dispatched_on, lambda v: validation.iso_date(v, required=False))
    if isinstance(day, date) and day > today():
        errors.add("dispatched_on", "is in the future", field_code="date_in_future")
    errors.raise_if_any("invalid dispatch")
    async with db.transaction():
        batch = await _draft(actor, batch_id)
        transition = engine.judge(actor, BATCH_FLOW, batch, "send", "")
        items = await requests_in(actor, batch_id)
        if not items:
            raise Conflict(f"batch {batch_id} is empty", code="batch_empty", params={"id": batch_id})
        judged = await _judge_all(actor, [item["id"] for item in items], "send")
        moment = now()
        for name, (content, media_type) in _files({**batch, "dispatch_no": number}, await _rows(actor, batch_id)).items():
            await BatchFile.insert(BatchFile(batch=batch_id, name=name, media_type=media_type, content=content,
                                             sha256=exports.sha256(content), created_at=moment))
        for row, request_transition in judged:
            await engine.apply(actor, CERT_FLOW, row, request_transition, number)
        await engine.apply(actor, BATCH_FLOW, batch, transition, number,
                           {Batch.dispatch_no: number, Batch.dispatched_on: day or today()})
    return await get_batch(actor, batch_id)
