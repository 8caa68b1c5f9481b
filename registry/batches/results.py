"""What the CA sent back for a batch (issue 9, point 2): certificates (PEM, DER, PKCS#7, or a ZIP of them)
and per-request outcomes, matched to the batch's requests and recorded all at once.

Everything is read, matched and judged before the first write; then one transaction imports the
certificates, moves each request on and records what it did to its certificates (a renewal or a change
supersedes the old one, a revocation revokes it and starts the token-return clock). Importing the same
results again finds everything already recorded and changes nothing. A certificate that matches no
request is kept and reported on the batch, never dropped."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from registry import db, exports, validation
from registry.audit import service as audit
from registry.auth.principal import Principal
from registry.batches.service import BATCH_FLOW, CERT_FLOW, get_batch, requests_in, require_operator
from registry.batches.tables import BatchUnmatched
from registry.certs import parsing
from registry.certs import service as certs
from registry.certs.tables import CertRequest
from registry.errors import Conflict, Invalid, NotFound, TooLarge
from registry.text import fold
from registry.timeutil import now, parse_moment
from registry.workflow import engine

ISSUED_KINDS = frozenset({"new_personal", "new_org", "renew", "change"})
# Why a returned certificate was set aside (codes on the wire, labels on the pages).
SET_ASIDE_REASONS = {
    "no_request": "không khớp yêu cầu nào",
    "several_requests": "khớp với nhiều yêu cầu",
    "expired": "đã hết hạn",
    "ca_certificate": "là chứng thư của CA",
}
OUTCOMES = ("fulfilled", "failed")
# A ZIP from the CA holds a few hundred small files; anything far beyond is refused before it is inflated.
MAX_ZIP_ENTRIES = 5000
MAX_ENTRY_BYTES = 1024 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
# Certificates compress a little; a ratio like this one is a bomb, not a certificate.
MAX_COMPRESSION_RATIO = 50
MAX_OUTCOMES = 2000
_CITIZEN_ID = re.compile(r"(?<!\d)(\d{12})(?!\d)")


# --- reading the files ----------------------------------------------------------------------------


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not (path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name))


def unpack(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Each file as it came, or the members of a ZIP: (name, bytes). Unsafe names, bombs, nested or
    encrypted archives are refused whole."""
    result: list[tuple[str, bytes]] = []
    unpacked = 0
    for name, content in files:
        if not content.startswith(b"PK\x03\x04"):
            result.append((name, content))
            continue
        try:
            archive = zipfile.ZipFile(io.BytesIO(content))
            members = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as error:
            raise Invalid(f"{name}: not a readable ZIP archive ({error})", code="zip_unreadable",
                          params={"name": name}, fields={"file": "ZIP không đọc được"}) from None
        if len(members) > MAX_ZIP_ENTRIES:
            raise TooLarge(f"{name}: more than {MAX_ZIP_ENTRIES} files in the archive", code="zip_too_many_files",
                           params={"name": name, "max": MAX_ZIP_ENTRIES})
        for member in members:
            if member.is_dir():
                continue
            if not _safe_member_name(member.filename):
                raise Invalid(f"{name}: unsafe path {member.filename!r} in the archive", code="zip_unsafe_path",
                              params={"name": name, "path": member.filename}, fields={"file": "đường dẫn không an toàn"})
            if member.flag_bits & 0x1:
                raise Invalid(f"{name}: encrypted archive member {member.filename}", code="zip_encrypted",
                              params={"name": name}, fields={"file": "tệp nén có mật khẩu"})
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > MAX_ENTRY_BYTES or ratio > MAX_COMPRESSION_RATIO:
                raise TooLarge(f"{name}: {member.filename} inflates to {member.file_size} bytes (a ZIP bomb?)",
                               code="zip_bomb", params={"name": name, "path": member.filename})
            # The sizes in the header may lie: read at most one byte more than allowed.
            try:
                with archive.open(member) as handle:
                    data = handle.read(MAX_ENTRY_BYTES + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
                raise Invalid(f"{name}: {member.filename} cannot be read ({error})", code="zip_unreadable",
                              params={"name": name}, fields={"file": "ZIP không đọc được"}) from None
            unpacked += len(data)
            if len(data) > MAX_ENTRY_BYTES or unpacked > MAX_UNPACKED_BYTES:
                raise TooLarge(f"{name}: the archive inflates beyond {MAX_UNPACKED_BYTES} bytes (a ZIP bomb?)",
                               code="zip_bomb", params={"name": name, "path": member.filename})
            if data.startswith(b"PK\x03\x04"):
                raise Invalid(f"{name}: archives inside archives are not accepted ({member.filename})",
                              code="zip_nested", params={"name": name}, fields={"file": "tệp nén lồng nhau"})
            result.append((f"{name}/{member.filename}", data))
    return result


async def uploaded_files(form: Any) -> list[tuple[str, bytes]]:
    """The non-empty files of a form's repeatable `file` field: (name, bytes)."""
    uploads = [upload for upload in (form.getall("file") if "file" in form else []) if hasattr(upload, "read")]
    files = [(upload.filename or f"file-{number}", await upload.read()) for number, upload in enumerate(uploads)]
    return [(name, content) for name, content in files if content]


def parse_files(files: Sequence[tuple[str, bytes]]) -> list[parsing.ParsedCertificate]:
    """Every certificate of every file, each once; a file that is not certificates refuses the whole."""
    seen: dict[str, parsing.ParsedCertificate] = {}
    for name, content in unpack(files):
        try:
            found = parsing.parse_certificates(content)
        except Invalid as error:
            raise Invalid(f"{name}: {error.detail}", code="results_file_invalid", params={"name": name},
                          fields={"file": f"{name}: không phải chứng thư số"}) from None
        for parsed in found:
            seen.setdefault(parsed.fingerprint, parsed)
    return list(seen.values())


# --- the outcomes given -----------------------------------------------------------------------------


@dataclass
class Outcome:
    request_id: int | None
    old_serial: str | None
    outcome: str
    reason: str
    revoked_at: datetime | None
    certificate: str | None


def parse_outcomes(raw: Any) -> list[Outcome]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid("outcomes is a list", code="invalid_input", fields={"outcomes": "phải là danh sách"})
    if len(raw) > MAX_OUTCOMES:
        raise Invalid(f"at most {MAX_OUTCOMES} outcomes", code="too_many_items", params={"max": MAX_OUTCOMES},
                      fields={"outcomes": f"tối đa {MAX_OUTCOMES}"})
    errors = validation.FieldErrors()
    result = []
    for index, item in enumerate(raw):
        key = f"outcomes[{index}]"
        if not isinstance(item, Mapping):
            errors.add(key, "is an object")
            continue
        unknown = set(item) - {"request_id", "old_serial", "outcome", "reason", "revoked_at", "certificate"}
        if unknown:
            errors.add(key, f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
        request_id = item.get("request_id")
        if request_id is not None and (not isinstance(request_id, int) or isinstance(request_id, bool)
                                       or not 1 <= request_id < 2**31):
            errors.add(f"{key}.request_id", "is a request number")
            request_id = None
        old_serial = item.get("old_serial")
        if old_serial is not None:
            old_serial = re.sub(r"[\s:]", "", str(old_serial)).lower()
            if not re.fullmatch(r"[0-9a-f]{1,64}", old_serial):
                errors.add(f"{key}.old_serial", "is a hexadecimal serial number")
        if request_id is None and old_serial is None:
            errors.add(key, "name the request (request_id) or the old certificate's serial (old_serial)")
        outcome = item.get("outcome", "fulfilled")
        if outcome not in OUTCOMES:
            errors.add(f"{key}.outcome", "fulfilled or failed")
        needs_reason = outcome == "failed"
        reason = errors.check(f"{key}.reason", item.get("reason"),
                              lambda v, required=needs_reason: validation.text(v, required=required, max_length=1000)) or ""
        revoked_at = None
        if item.get("revoked_at") is not None:
            try:
                revoked_at = parse_moment(str(item["revoked_at"]))
            except (ValueError, Invalid):
                errors.add(f"{key}.revoked_at", "is an ISO 8601 date and time")
        fingerprint = item.get("certificate")
        if fingerprint is not None:
            fingerprint = certs.normalize_fingerprint(str(fingerprint))
            if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
                errors.add(f"{key}.certificate", "is a SHA-256 fingerprint")
        result.append(Outcome(request_id, old_serial, outcome, reason, revoked_at, fingerprint))
    errors.raise_if_any("invalid outcomes")
    return result


# --- matching -----------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What the import will do, judged whole before any write."""

    # request id → (outcome, reason, certificate or None, revoked_at)
    moves: dict[int, tuple[str, str, parsing.ParsedCertificate | None, datetime | None]] = field(default_factory=dict)
    # The batch's requests by id, and what each one's certificate should carry (its target among it).
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    expectations: dict[int, dict[str, Any]] = field(default_factory=dict)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[tuple[parsing.ParsedCertificate, str]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)


def _citizen_ids(parsed: parsing.ParsedCertificate) -> set[str]:
    """Citizen IDs a CA may write into the subject (UID or serialNumber, e.g. "CCCD:0010…")."""
    from cryptography.x509.oid import NameOID

    values = [attribute.value for attribute in parsed.certificate.subject
              if attribute.oid in (NameOID.USER_ID, NameOID.SERIAL_NUMBER)]
    return {match for value in values for match in _CITIZEN_ID.findall(str(value))}


async def _expectations(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the certificate answering a request should carry."""
    details, kind = item["details"], item["kind"]
    target = await certs.find_by_fingerprint(item["target_certificate"]) if item["target_certificate"] else None
    email = ""
    if kind in ("new_personal", "new_org"):
        email = details.get("email") or ""
    elif target is not None:
        email = (details.get("changes") or {}).get("email") or target["email"]
    return {
        "email": email.lower(),
        "id_number": details.get("id_number") or "",
        "name": fold(details.get("org_name") or details.get("full_name") or ""),
        "target": target,
    }


def _candidates(parsed: parsing.ParsedCertificate, waiting: list[tuple[dict, dict]]) -> list[dict]:
    """The waiting requests this certificate can answer, by the strongest evidence found."""
    ids = _citizen_ids(parsed)
    by_id = [item for item, expect in waiting if expect["id_number"] and expect["id_number"] in ids]
    if by_id:
        return by_id
    email = parsed.email.lower()
    by_email = [item for item, expect in waiting if email and expect["email"] == email]
    if len(by_email) > 1:
        # Several requests for one address (a renewal and a new one): the subject decides.
        same_subject = [item for item, expect in waiting
                        if expect["target"] is not None and expect["target"]["subject"] == parsed.subject]
        return same_subject or by_email
    if by_email:
        return by_email
    by_subject = [item for item, expect in waiting
                  if item["kind"] == "renew" and expect["target"] is not None and expect["target"]["subject"] == parsed.subject]
    if by_subject:
        return by_subject
    common_name = fold(parsed.common_name)
    return [item for item, expect in waiting
            if item["kind"] == "new_org" and common_name and expect["name"] == common_name]


def _check_issued(parsed: parsing.ParsedCertificate) -> str | None:
    """Why a returned certificate cannot be what the CA issued for a request now, or None."""
    if parsed.is_ca:
        return "ca_certificate"
    moment = now()
    if parsed.not_after <= moment:
        return "expired"
    return None


async def _returned_batch(actor: Principal, batch_id: int, *, closed_ok: bool) -> dict[str, Any]:
    """The batch, once sent to the CA; a closed one (all results in) only where `closed_ok`."""
    batch = await engine.get_visible_row(actor, BATCH_FLOW, batch_id)
    if batch["state"] == "closed" and not closed_ok:
        raise Conflict(f"batch {batch_id} already has all its results", code="batch_results_complete",
                       params={"id": batch_id})
    if batch["state"] not in ("sent", "closed"):
        raise Conflict(f"batch {batch_id} has not been sent to the CA", code="batch_not_sent",
                       params={"id": batch_id, "state": BATCH_FLOW.machine.label(batch["state"])})
    return batch


async def plan_import(actor: Principal, batch_id: int, parsed_all: list[parsing.ParsedCertificate],
                      outcomes: list[Outcome]) -> Plan:
    # Closed is fine: importing what was already recorded changes nothing, and says so.
    await _returned_batch(actor, batch_id, closed_ok=True)
    items = await requests_in(actor, batch_id)
    by_id = {item["id"]: item for item in items}
    expectations = {item["id"]: await _expectations(item) for item in items}
    plan = Plan(items=by_id, expectations=expectations)
    issued_to = {item["certificate"]: item for item in items
                 if item["kind"] in ISSUED_KINDS and item["state"] in ("fulfilled", "delivered")}
    explicit = {outcome.certificate: outcome for outcome in outcomes if outcome.certificate}

    def request_for(outcome: Outcome) -> dict[str, Any]:
        if outcome.request_id is not None:
            item = by_id.get(outcome.request_id)
            if item is None:
                raise NotFound(f"request {outcome.request_id} is not in batch {batch_id}", code="not_in_batch",
                               params={"id": outcome.request_id, "batch": batch_id})
            return item
        matches = [item for item in items if expectations[item["id"]]["target"] is not None
                   and expectations[item["id"]]["target"]["serial"] == outcome.old_serial]
        if len(matches) != 1:
            raise NotFound(f"no request of batch {batch_id} is about the certificate with serial {outcome.old_serial}",
                           code="serial_not_in_batch", params={"serial": outcome.old_serial, "batch": batch_id})
        return matches[0]

    # Certificates first: each answers one waiting request, or is reported.
    claimed: set[int] = set()
    waiting = [(item, expectations[item["id"]]) for item in items if item["state"] == "sent" and item["kind"] in ISSUED_KINDS]
    for parsed in parsed_all:
        if parsed.is_ca:
            plan.ignored.append({"fingerprint": parsed.fingerprint, "subject": parsed.subject, "reason": "ca_certificate"})
            continue
        if parsed.fingerprint in issued_to:
            plan.unchanged.append({"request_id": issued_to[parsed.fingerprint]["id"], "certificate": parsed.fingerprint})
            continue
        problem = _check_issued(parsed)
        if problem:
            plan.unmatched.append((parsed, problem))
            continue
        given = explicit.get(parsed.fingerprint)
        if given is not None:
            item = request_for(given)
            candidates = [item] if item["state"] == "sent" and item["kind"] in ISSUED_KINDS else []
        else:
            candidates = [item for item in _candidates(parsed, waiting) if item["id"] not in claimed]
        if len(candidates) != 1:
            plan.unmatched.append((parsed, "several_requests" if candidates else "no_request"))
            continue
        claimed.add(candidates[0]["id"])
        plan.moves[candidates[0]["id"]] = ("fulfilled", "", parsed, None)

    # Then the outcomes the CA stated.
    for outcome in outcomes:
        item = request_for(outcome)
        current = item["state"]
        if current in ("fulfilled", "delivered", "failed"):
            done = "failed" if current == "failed" else "fulfilled"
            if done != outcome.outcome:
                raise Conflict(f"request {item['id']} was already recorded {done}", code="result_already_recorded",
                               params={"id": item["id"], "state": CERT_FLOW.machine.label(current)})
            plan.unchanged.append({"request_id": item["id"], "certificate": item["certificate"]})
            continue
        if current != "sent":
            raise Conflict(f"request {item['id']} is {current}, not waiting for the CA", code="state_changed",
                           params={"id": item["id"], "state": CERT_FLOW.machine.label(current),
                                   "action": CERT_FLOW.machine.transitions["fulfil"].label})
        planned = plan.moves.get(item["id"])
        if outcome.outcome == "failed":
            if planned is not None:
                raise Conflict(f"request {item['id']} is reported failed but a certificate was returned for it",
                               code="result_contradicts", params={"id": item["id"]})
            plan.moves[item["id"]] = ("failed", outcome.reason, None, None)
        elif item["kind"] in ISSUED_KINDS:
            if planned is None:
                raise Invalid(f"request {item['id']} is reported fulfilled but no certificate was returned for it",
                              code="result_without_certificate", params={"id": item["id"]},
                              fields={"file": f"thiếu chứng thư cho yêu cầu #{item['id']}"})
        else:
            plan.moves[item["id"]] = ("fulfilled", outcome.reason, None, outcome.revoked_at)
    return plan


# --- recording ----------------------------------------------------------------------------------------


def _links_for(item: Mapping[str, Any], target: Mapping[str, Any] | None) -> dict[str, Any]:
    """Holder, agency, custodian and kind of the certificate issued for `item`."""
    if item["kind"] == "new_personal":
        return {"holder_person_id": (item["subject"] or {}).get("id"), "agency_code": item["agency_code"],
                "custodian_person_id": None, "kind": "personal"}
    if item["kind"] == "new_org":
        return {"holder_person_id": None, "agency_code": item["agency_code"], "custodian_person_id": None, "kind": "org"}
    assert target is not None
    changes = item["details"].get("changes") or {}
    return {"holder_person_id": target["holder"], "agency_code": changes.get("agency_code") or target["agency_code"],
            "custodian_person_id": target["custodian"], "kind": target["kind"]}


async def import_results(actor: Principal, batch_id: int, files: Sequence[tuple[str, bytes]],
                         raw_outcomes: Any = None) -> dict[str, Any]:
    """Record what the CA returned for batch `batch_id`; see the module's docstring."""
    require_operator(actor)
    outcomes = parse_outcomes(raw_outcomes)
    if not files and not outcomes:
        raise Invalid("send the certificates the CA returned, or the outcomes it stated", code="nothing_to_import",
                      fields={"file": "chưa chọn tệp"})
    parsed_all = await asyncio.to_thread(parse_files, files)
    report: dict[str, Any] = {"outcomes": [], "unmatched": [], "ignored": []}
    async with db.transaction():
        plan = await plan_import(actor, batch_id, parsed_all, outcomes)
        items = plan.items
        moment = now()
        for request_id, (outcome, reason, parsed, revoked_at) in sorted(plan.moves.items()):
            item = items[request_id]
            row = await engine.get_visible_row(actor, CERT_FLOW, request_id)
            target = plan.expectations[request_id]["target"]
            if outcome == "failed":
                await engine.apply(actor, CERT_FLOW, row, engine.judge(actor, CERT_FLOW, row, "fail", reason), reason)
                report["outcomes"].append({"request_id": request_id, "outcome": "failed", "certificate": None,
                                           "changed": True})
                continue
            values: dict[Any, Any] = {}
            issued = None
            if parsed is not None:
                issued, _created = await certs.import_certificate(actor, parsed.der, source="ca_result",
                                                                  **_links_for(item, target))
                values[CertRequest.issued_certificate] = issued["id"]
                if item["kind"] in ("renew", "change") and target is not None:
                    await certs.record_supersession(actor, target["id"], issued["id"])
            elif item["kind"] == "revoke" and target is not None and target["revoked_at"] is None:
                await certs.record_revocation(actor, target["id"], revoked_at=revoked_at or moment, reason=item["reason"] or "other")
            note = reason or "Kết quả từ CA"
            await engine.apply(actor, CERT_FLOW, row, engine.judge(actor, CERT_FLOW, row, "fulfil", note), note, values)
            report["outcomes"].append({"request_id": request_id, "outcome": "fulfilled",
                                       "certificate": issued["fingerprint"] if issued else item["target_certificate"],
                                       "changed": True})
        for unchanged in plan.unchanged:
            item = items[unchanged["request_id"]]
            report["outcomes"].append({"request_id": item["id"], "outcome": "failed" if item["state"] == "failed" else "fulfilled",
                                       "certificate": unchanged["certificate"], "changed": False})
        for parsed, why in plan.unmatched:
            kept, _created = await certs.import_certificate(actor, parsed.der, source="ca_result")
            recorded = await BatchUnmatched.select(BatchUnmatched.id).where(
                (BatchUnmatched.batch == batch_id) & (BatchUnmatched.fingerprint == parsed.fingerprint)).first()
            if recorded is None:
                await BatchUnmatched.insert(BatchUnmatched(batch=batch_id, fingerprint=kept["fingerprint"],
                                                           subject=parsed.subject, reason=why, received_at=moment))
            report["unmatched"].append({"fingerprint": parsed.fingerprint, "subject": parsed.subject, "reason": why,
                                        "changed": recorded is None})
        report["ignored"] = plan.ignored
        changed = plan.moves or any(entry["changed"] for entry in report["unmatched"])
        if changed:
            audit.record(actor, "batch.results", "ca_batch", str(batch_id), after={
                "files": [{"name": name, "sha256": exports.sha256(content)} for name, content in files],
                "fulfilled": sorted(i for i, m in plan.moves.items() if m[0] == "fulfilled"),
                "failed": sorted(i for i, m in plan.moves.items() if m[0] == "failed"),
                "unmatched": [parsed.fingerprint for parsed, _why in plan.unmatched],
            })
        await _close_when_done(actor, batch_id)
    report["outcomes"].sort(key=lambda entry: entry["request_id"])
    report["batch"] = await get_batch(actor, batch_id)
    return report


async def _close_when_done(actor: Principal, batch_id: int) -> None:
    """A batch whose requests all came back is done."""
    batch = await engine.get_visible_row(actor, BATCH_FLOW, batch_id)
    if batch["state"] != "sent":
        return
    waiting = await CertRequest.count().where((CertRequest.batch_id == batch_id) & (CertRequest.state == "sent"))
    if waiting == 0:
        note = "Đã nhận đủ kết quả từ CA"
        await engine.apply(actor, BATCH_FLOW, batch, engine.judge(actor, BATCH_FLOW, batch, "close", note), note)


# --- the built-in test CA answers -----------------------------------------------------------------------


async def fulfil_with_dev_ca(actor: Principal, settings: Any, batch_id: int) -> dict[str, Any]:
    """The test CA does what the CA would: issues for new, renewal and change requests, revokes what was
    asked, unlocks; its answer goes through the same import as a real CA's."""
    from registry.devca import service as devca

    require_operator(actor)
    devca.require_enabled(settings)
    await _returned_batch(actor, batch_id, closed_ok=False)
    # The test CA's chain and CRLs in the trust store: what it issues is verified on import like a real CA's.
    await devca.publish_to_trust_store(settings)
    pems: list[bytes] = []
    outcomes: list[dict[str, Any]] = []
    for item in await requests_in(actor, batch_id):
        if item["state"] != "sent":
            continue
        issued = await devca.issue_for_request(settings, item)
        if issued is not None:
            pems.append(devca.pem(issued))
            outcomes.append({"request_id": item["id"], "outcome": "fulfilled",
                             "certificate": parsing.describe(issued).fingerprint})
        elif item["kind"] in ISSUED_KINDS:
            outcomes.append({"request_id": item["id"], "outcome": "failed",
                             "reason": "CA thử nghiệm không tìm thấy chứng thư cần thay thế"})
        else:
            outcomes.append({"request_id": item["id"], "outcome": "fulfilled", "revoked_at": now().isoformat()
                             if item["kind"] == "revoke" else None})
    outcomes = [{key: value for key, value in entry.items() if value is not None} for entry in outcomes]
    files = [("ca-thu-nghiem.pem", b"".join(pems))] if pems else []
    return await import_results(actor, batch_id, files, outcomes)
