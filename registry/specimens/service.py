"""Signature specimens and official mailboxes (Đ6.2, Đ19.8): submission, review, publication, and what
the public may read of them.

Agencies (their clerks) or DoIT submit; DoIT's operators publish or reject. Both records move through
the workflow engine:

    specimen:  submitted ─publish→ published ─supersede→ superseded
                   │                    └─withdraw→ withdrawn
                   └─reject→ rejected
    mailbox:   submitted ─publish→ published ─withdraw→ withdrawn
                   └─reject→ rejected

Publishing a specimen supersedes the one published before it for the same agency and holder (the
organisation, or the same leader). A published specimen is withdrawn automatically, with date and
reason, when its certificate is revoked or expires or its agency is renamed; the agency's clerks are
asked for a new one. Nothing is deleted: each record keeps the period it was published
(`published_at` … `ended_at`), so the public can see what was published on any past day.

Every change of what the public sees bumps the publication version (`PublicationState`), which the
portal's caches on every worker compare against.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry import db, validation
from registry.agencies import service as agencies
from registry.auth import service as auth
from registry.auth.permissions import authorize
from registry.auth.principal import Principal, system_principal
from registry.certs import service as certs
from registry.certs.tables import Certificate
from registry.compiled import Compiled, Value
from registry.errors import Conflict, Invalid
from registry.notify import service as notify
from registry.specimens import images
from registry.specimens.tables import Mailbox, PublicationState, Specimen
from registry.text import fold
from registry.timeutil import VIETNAM, now, to_vietnam
from registry.workflow import engine
from registry.workflow.effects import notify_decision
from registry.workflow.machine import Transition, machine

KINDS = {"org": "Mẫu chữ ký số của cơ quan, đơn vị", "leader": "Mẫu chữ ký của lãnh đạo"}
SPECIMEN_STATES = {
    "submitted": "Chờ công bố",
    "published": "Đang công bố",
    "rejected": "Bị từ chối",
    "superseded": "Đã được thay thế",
    "withdrawn": "Đã thu hồi",
}
MAILBOX_STATES = {
    "submitted": "Chờ công bố",
    "published": "Đang công bố",
    "rejected": "Bị từ chối",
    "withdrawn": "Đã thu hồi",
}
# Names shown on a public page: letters, spaces and the punctuation names and titles use; no markup.
_MARKUP = re.compile(r"[<>{}\\`]")


# --- effects of the transitions (inside the engine's transaction, so the shared inbox does the same) ---


async def _specimen_published(step: engine.Step) -> None:
    """A specimen goes public: its certificate must still be valid; the one published before it for the
    same agency and holder is superseded; the public caches learn of it."""
    row = step.row
    certificate = await certs.find_by_id(row["certificate"])
    status = certs.status_of(certificate) if certificate else "unknown"
    if status != "active":
        raise Conflict(f"the specimen's certificate is {status}; it cannot be published",
                       code="certificate_not_valid", params={"status": status})
    moment = now()
    await Specimen.update({Specimen.published_at: moment}).where(Specimen.id == row["id"])
    previous = await Specimen.select(*SPECIMEN_FLOW.select_columns).where(
        (Specimen.agency == row["agency"]) & (Specimen.holder_key == row["holder_key"])
        & (Specimen.state == "published") & (Specimen.id != row["id"])
    )
    for old in previous:
        await engine.apply(step.actor, SPECIMEN_FLOW, old, SPECIMEN_MACHINE.transitions["supersede"],
                           f"Được thay thế bằng mẫu #{row['id']}")
    await bump_publication()


async def _mailbox_published(step: engine.Step) -> None:
    await Mailbox.update({Mailbox.published_at: now()}).where(Mailbox.id == step.row["id"])
    await bump_publication()


async def _publication_ended(step: engine.Step) -> None:
    """Superseded or withdrawn: the published period ends now, with its reason."""
    table: Any = step.flow.table
    await table.update({table.ended_at: now(), table.end_reason: (step.note or "")[:1000]}).where(
        table.id == step.row["id"])
    await bump_publication()


SPECIMEN_MACHINE = machine(
    SPECIMEN_STATES,
    "submitted",
    Transition("publish", frozenset({"submitted"}), "published", "specimen.publish", "Công bố", decision=True,
               effects=(_specimen_published, notify_decision)),
    Transition("reject", frozenset({"submitted"}), "rejected", "specimen.publish", "Từ chối", needs_note=True,
               decision=True, effects=(notify_decision,)),
    Transition("supersede", frozenset({"published"}), "superseded", "specimen.publish", "Được thay thế bằng mẫu mới",
               effects=(_publication_ended,)),
    Transition("withdraw", frozenset({"published"}), "withdrawn", "specimen.publish", "Thu hồi", needs_note=True,
               effects=(_publication_ended,)),
    open_states=frozenset({"submitted"}),
    approve="publish",
    reject="reject",
)

MAILBOX_MACHINE = machine(
    MAILBOX_STATES,
    "submitted",
    Transition("publish", frozenset({"submitted"}), "published", "specimen.publish", "Công bố", decision=True,
               effects=(_mailbox_published, notify_decision)),
    Transition("reject", frozenset({"submitted"}), "rejected", "specimen.publish", "Từ chối", needs_note=True,
               decision=True, effects=(notify_decision,)),
    Transition("withdraw", frozenset({"published"}), "withdrawn", "specimen.publish", "Thu hồi", needs_note=True,
               effects=(_publication_ended,)),
    open_states=frozenset({"submitted"}),
    approve="publish",
    reject="reject",
)


def _describe_specimen(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "full_name": row["full_name"] or None,
        "position": row["position"] or None,
        "certificate": row.get("certificate_fingerprint"),
        "image_url": f"/specimens/{row['id']}/image.png",
        "image_sha256": row["image_sha256"],
        "image_width": row["image_width"],
        "image_height": row["image_height"],
        "warnings": [w for w in (row["image_warnings"] or "").split("\n") if w],
        "published_at": row["published_at"],
        "ended_at": row["ended_at"],
        "end_reason": row["end_reason"] or None,
    }


def _describe_mailbox(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "source": row["source"],
        "published_at": row["published_at"],
        "ended_at": row["ended_at"],
        "end_reason": row["end_reason"] or None,
    }


SPECIMEN_FLOW = engine.Flow(
    name="specimen",
    label="Mẫu chữ ký",
    table=Specimen,
    machine=SPECIMEN_MACHINE,
    kind_labels=KINDS,
    page_path="/specimens/{id}",
    extra_columns=(Specimen.certificate.fingerprint.as_alias("certificate_fingerprint"),),
    describe=_describe_specimen,
    record_type="specimen",
)

MAILBOX_FLOW = engine.Flow(
    name="mailbox",
    label="Hộp thư công vụ",
    table=Mailbox,
    machine=MAILBOX_MACHINE,
    kind_labels={"mailbox": "Hộp thư trao đổi văn bản"},
    page_path="/mailboxes/{id}",
    describe=_describe_mailbox,
    record_type="mailbox",
)


# --- the publication version ---------------------------------------------------------------------

# How long a worker trusts the version it last read before asking the database again: publication
# changes made by another worker show within this many seconds; this worker's own show at once.
VERSION_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class PublicationVersion:
    number: int
    changed_at: datetime
    # Identifies this state for this process's caches: the number, when it changed (two databases, or a
    # database restored from a copy, may share a number) and how often this process was told to forget.
    key: str


_version_cache: dict[str, Any] = {"current": None, "checked": 0.0, "generation": 0}
_EPOCH = datetime(2020, 1, 1, tzinfo=VIETNAM)


async def bump_publication() -> None:
    """What the public sees changed: inside the change's transaction."""
    moment = now()
    changed = await PublicationState.update(
        {PublicationState.version: PublicationState.version + 1, PublicationState.changed_at: moment}
    ).where(PublicationState.id == 1).returning(PublicationState.id)
    if not changed:
        await PublicationState.insert(PublicationState(id=1, version=1, changed_at=moment))
    forget_publication_version()


def forget_publication_version() -> None:
    """Read the version again at the next request, and let caches start afresh (after a change this
    process made, or a database restored under it)."""
    _version_cache["checked"] = 0.0
    _version_cache["generation"] += 1


async def publication_version() -> PublicationVersion:
    """The publication version, read from the database at most once per VERSION_TTL_SECONDS."""
    clock = time.monotonic()
    current = _version_cache["current"]
    if current is not None and clock - _version_cache["checked"] < VERSION_TTL_SECONDS:
        return current
    row = await PublicationState.select(PublicationState.version, PublicationState.changed_at).where(
        PublicationState.id == 1).first()
    number, changed_at = (row["version"], to_vietnam(row["changed_at"])) if row else (0, _EPOCH)
    current = PublicationVersion(number, changed_at, f"{number}-{changed_at.timestamp()}-{_version_cache['generation']}")
    _version_cache.update(current=current, checked=clock)
    return current


# --- submitting ------------------------------------------------------------------------------------


def _clean_name(value: Any, field: str, errors: validation.FieldErrors) -> str:
    cleaned = errors.check(field, value, lambda v: validation.text(v, max_length=200)) or ""
    if cleaned and _MARKUP.search(cleaned):
        errors.add(field, "may not contain < > { } \\ or `", "markup_in_name")
        return ""
    return cleaned


def _holder_key(kind: str, certificate: Mapping[str, Any], full_name: str) -> str:
    if kind == "org":
        return "org"
    if certificate.get("holder"):
        return f"person:{certificate['holder']}"
    return f"name:{fold(full_name)}"[:250]


def check_certificate(kind: str, certificate: Mapping[str, Any] | None, agency: Mapping[str, Any],
                      full_name: str, errors: validation.FieldErrors) -> None:
    """The certificate must be known, of the right kind, belong to the agency (and, for a leader, to the
    person named), and be valid now (not revoked, superseded or expired)."""
    if certificate is None:
        errors.add("certificate", "unknown certificate", "certificate_unknown")
        return
    if kind == "org" and certificate["kind"] != "org":
        errors.add("certificate", "an organisation specimen needs an organisation certificate", "certificate_wrong_kind")
        return
    if kind == "leader" and certificate["kind"] != "personal":
        errors.add("certificate", "a leader's specimen needs a personal certificate", "certificate_wrong_kind")
        return
    if certificate.get("agency") != agency["id"]:
        errors.add("certificate", "held by another agency", "certificate_of_another_agency")
        return
    if kind == "leader" and full_name:
        owner = certificate.get("holder_name") or certificate.get("common_name") or ""
        if owner and fold(owner) != fold(full_name):
            errors.add("certificate", f"issued to {owner}, not to {full_name}", "certificate_of_another_person",
                       field_code=("certificate_of_another_person", {"owner": owner, "full_name": full_name}))
            return
    status = certs.status_of(certificate)
    if status != "active":
        code = {"revoked": "certificate_revoked", "expired": "certificate_expired",
                "superseded": "certificate_superseded"}[status]
        errors.add("certificate", status, code)


async def submit_specimen(actor: Principal, data: Mapping[str, Any], image: bytes | None) -> dict[str, Any]:
    """A new specimen in state `submitted`, or Invalid naming every wrong field (nothing stored)."""
    errors = validation.FieldErrors()
    kind = data.get("kind")
    if kind not in KINDS:
        errors.add("kind", "org or leader", "invalid_kind")
    full_name = position = ""
    if kind == "leader":
        full_name = _clean_name(data.get("full_name"), "full_name", errors)
        position = _clean_name(data.get("position"), "position", errors)
    fingerprint = certs.normalize_fingerprint(str(data.get("certificate") or ""))
    if not fingerprint:
        errors.add("certificate", "the certificate's SHA-256 fingerprint is required", "certificate_required")
    checked = None
    try:
        checked = images.check_image(image or b"", kind if kind in KINDS else "leader")
    except Invalid as error:
        if error.status_code == 413:
            raise
        errors.add("image", error.fields.get("image", error.detail), error.code, field_code=(error.code, error.params))
    async with db.transaction():
        agency = await agencies.named_in_input(data.get("agency_code"))
        authorize(actor, "specimen.submit", agency["path"])
        certificate = await certs.find_by_fingerprint(fingerprint) if fingerprint else None
        if kind in KINDS and fingerprint:
            check_certificate(kind, certificate, agency, full_name, errors)
        errors.raise_if_any("invalid specimen")
        assert checked is not None and certificate is not None and kind is not None
        if kind == "org":
            summary = f"{KINDS['org']} — {agency['name']}"
        else:
            summary = f"{KINDS['leader']} — {full_name}, {position}"
        record_id = await engine.create(
            actor, SPECIMEN_FLOW,
            engine.NewRecord(
                kind=kind, agency=agency, summary=summary,
                details={"certificate": certificate["fingerprint"], "warnings": list(checked.warnings)},
                subject_person_id=certificate.get("holder") if kind == "leader" else None,
                search_text=fold(f"{full_name} {position} {agency['name']}"),
                extra={
                    "certificate": certificate["id"], "full_name": full_name, "position": position,
                    "holder_key": _holder_key(kind, certificate, full_name), "image_png": checked.png,
                    "image_sha256": checked.original_sha256, "image_png_sha256": checked.png_sha256,
                    "image_width": checked.width, "image_height": checked.height,
                    "image_warnings": "\n".join(checked.warnings),
                },
            ),
        )
    return await engine.get_record(actor, SPECIMEN_FLOW, record_id)


# --- publishing, superseding, withdrawing ------------------------------------------------------------


async def publish(actor: Principal, flow: engine.Flow, record_id: int) -> dict[str, Any]:
    """Publish (409 when already decided; for a specimen also when its certificate is no longer valid)."""
    record = await engine.take(actor, flow, record_id, "publish")
    forget_publication_version()
    return record


async def reject(actor: Principal, flow: engine.Flow, record_id: int, reason: str) -> dict[str, Any]:
    return await engine.take(actor, flow, record_id, "reject", reason)


async def withdraw(actor: Principal, flow: engine.Flow, record_id: int, reason: str) -> dict[str, Any]:
    """DoIT withdraws what it published (409 for anything not published)."""
    record = await engine.take(actor, flow, record_id, "withdraw", reason)
    forget_publication_version()
    return record


async def _withdraw_automatically(rows: list[Mapping[str, Any]], reason: str, actor: Principal | None = None) -> int:
    """Withdraw published specimens for a reason the registry saw itself, and ask each agency's clerks
    for a new specimen. Joins the caller's transaction."""
    actor = actor or system_principal("specimens")
    for row in rows:
        await engine.apply(actor, SPECIMEN_FLOW, row, SPECIMEN_MACHINE.transitions["withdraw"], reason)
        for clerk in await auth.role_holders("clerk", [row["agency_path"]]):
            await notify.enqueue(
                user_id=clerk["user_id"], email=clerk["email"], kind="specimen_withdrawn", request_id=row["id"],
                url="/specimens/new", message=f"Mẫu chữ ký #{row['id']} ({row['summary']}) đã bị thu hồi: {reason}. "
                "Đề nghị gửi mẫu mới.",
            )
    if rows:
        await bump_publication()
    return len(rows)


def _published_specimens() -> Any:
    return Specimen.select(*SPECIMEN_FLOW.select_columns).where(Specimen.state == "published")


async def certificate_revoked(certificate_id: int, revoked_at: datetime, actor: Principal | None = None) -> int:
    """Called by the certificate database when it records a revocation (inside its transaction)."""
    rows = await _published_specimens().where(Specimen.certificate == certificate_id)
    count = await _withdraw_automatically(rows, f"Chứng thư số bị thu hồi từ {to_vietnam(revoked_at):%d/%m/%Y}", actor)
    forget_publication_version()
    return count


async def agency_renamed(agency_id: int, *, actor: Principal | None = None) -> int:
    """Called by the agency register when an agency is renamed (inside its transaction): its organisation
    specimen is withdrawn, and it is asked for a new one (DOMAIN.md, "A renamed agency publishes a new
    organisation specimen")."""
    rows = await _published_specimens().where((Specimen.agency == agency_id) & (Specimen.kind == "org"))
    count = await _withdraw_automatically(rows, "Cơ quan, đơn vị đổi tên", actor)
    await bump_publication()
    forget_publication_version()
    return count


async def withdraw_lapsed() -> int:
    """Withdraw published specimens whose certificate has expired or been revoked since (however that was
    recorded). Run periodically, and idempotent; takes the write lock only when there is something to do."""

    def lapsed() -> Any:
        moment = now()
        return _published_specimens().where(
            (Specimen.certificate.not_after < moment)
            | (Specimen.certificate.revoked_at.is_not_null() & (Specimen.certificate.revoked_at <= moment))
        ).columns(Specimen.certificate.not_after.as_alias("certificate_not_after"),
                  Specimen.certificate.revoked_at.as_alias("certificate_revoked_at"))

    if not await lapsed().limit(1):
        return 0
    count = 0
    async with db.transaction():
        for row in await lapsed():
            if row["certificate_revoked_at"] is not None:
                reason = f"Chứng thư số bị thu hồi từ {to_vietnam(row['certificate_revoked_at']):%d/%m/%Y}"
            else:
                reason = f"Chứng thư số hết hạn ngày {to_vietnam(row['certificate_not_after']):%d/%m/%Y}"
            count += await _withdraw_automatically([row], reason)
    forget_publication_version()
    return count


# --- mailboxes ---------------------------------------------------------------------------------------


async def propose_mailbox(actor: Principal, agency_code: str, address: str, *, source: str = "api") -> dict[str, Any]:
    """A mailbox proposed for publication (state `submitted`), by an agency or by another domain (an
    account request that created a mail account, `source="account_request"`). An address already
    published or waiting for the same agency is a 409 naming it."""
    errors = validation.FieldErrors()
    cleaned = (errors.check("address", address, validation.email) or "").lower()
    if not re.fullmatch(r"[a-z_]{1,30}", source or ""):
        errors.add("source", "invalid source", "invalid_source")
    errors.raise_if_any("invalid mailbox")
    async with db.transaction():
        agency = await agencies.named_in_input(agency_code)
        authorize(actor, "specimen.submit", agency["path"])
        existing = await Mailbox.select(Mailbox.id, Mailbox.state).where(
            (Mailbox.agency == agency["id"]) & (Mailbox.address == cleaned)
            & Mailbox.state.is_in(["submitted", "published"])
        ).first()
        if existing:
            raise Conflict(f"mailbox {cleaned} is already {existing['state']} for this agency (#{existing['id']})",
                           code="mailbox_exists", params={"id": existing["id"], "address": cleaned},
                           fields={"address": "already submitted or published"})
        record_id = await engine.create(
            actor, MAILBOX_FLOW,
            engine.NewRecord(kind="mailbox", agency=agency, summary=f"Hộp thư {cleaned} — {agency['name']}",
                             details={"address": cleaned}, search_text=fold(cleaned),
                             extra={"address": cleaned, "source": source}),
        )
    return await engine.get_record(actor, MAILBOX_FLOW, record_id)


# --- what the public reads ------------------------------------------------------------------------------
# Only published records (current or past), and of them only public fields: never the requester, the
# details, warnings or anything about a person beyond the name and position printed on the specimen.

PUBLIC_SPECIMEN_COLUMNS = (
    Specimen.id, Specimen.kind, Specimen.state, Specimen.full_name, Specimen.position, Specimen.image_sha256,
    Specimen.image_png_sha256, Specimen.image_width, Specimen.image_height, Specimen.published_at,
    Specimen.ended_at, Specimen.end_reason, Specimen.agency,
    Specimen.agency.code.as_alias("agency_code"), Specimen.agency.name.as_alias("agency_name"),
    Specimen.certificate.fingerprint.as_alias("cert_fingerprint"), Specimen.certificate.serial.as_alias("cert_serial"),
    Specimen.certificate.subject.as_alias("cert_subject"), Specimen.certificate.issuer.as_alias("cert_issuer"),
    Specimen.certificate.not_before.as_alias("cert_not_before"),
    Specimen.certificate.not_after.as_alias("cert_not_after"),
    Specimen.certificate.revoked_at.as_alias("cert_revoked_at"),
    Specimen.certificate.revocation_reason.as_alias("cert_revocation_reason"),
    Specimen.certificate.superseded_by.as_alias("cert_superseded_by"),
    Specimen.certificate.superseded_at.as_alias("cert_superseded_at"),
)
PUBLIC_MAILBOX_COLUMNS = (Mailbox.id, Mailbox.address, Mailbox.state, Mailbox.published_at, Mailbox.ended_at,
                          Mailbox.end_reason, Mailbox.agency)


def _in_period(table: Any, at: datetime | None) -> Any:
    if at is None:
        return table.state == "published"
    return table.published_at.is_not_null() & (table.published_at <= at) & (
        table.ended_at.is_null() | (table.ended_at > at))


def public_specimen(row: Mapping[str, Any], at: datetime | None = None) -> dict[str, Any]:
    certificate = {
        "revoked_at": row["cert_revoked_at"], "superseded_by": row["cert_superseded_by"],
        "superseded_at": row["cert_superseded_at"], "not_after": row["cert_not_after"],
    }
    moment = at or now()
    ended = row["ended_at"] is not None and to_vietnam(row["ended_at"]) <= moment
    state = row["state"] if ended or at is None else "published"
    return {
        "id": row["id"],
        "kind": row["kind"],
        "kind_label": KINDS.get(row["kind"], row["kind"]),
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "full_name": row["full_name"] or None,
        "position": row["position"] or None,
        "state": state,
        "state_label": SPECIMEN_STATES.get(state, state),
        "published_at": row["published_at"],
        "ended_at": row["ended_at"] if ended else None,
        "end_reason": (row["end_reason"] or None) if ended else None,
        "image_url": f"/specimens/{row['id']}/image.png",
        "image_sha256": row["image_sha256"],
        "image_width": row["image_width"],
        "image_height": row["image_height"],
        "certificate": {
            "fingerprint": row["cert_fingerprint"],
            "serial": row["cert_serial"],
            "subject": row["cert_subject"],
            "issuer": row["cert_issuer"],
            "not_before": row["cert_not_before"],
            "not_after": row["cert_not_after"],
            "status": certs.status_of(certificate, moment),
            "revoked_at": row["cert_revoked_at"] if certs.status_of(certificate, moment) == "revoked" else None,
        },
    }


def public_mailbox(row: Mapping[str, Any], at: datetime | None = None) -> dict[str, Any]:
    moment = at or now()
    ended = row["ended_at"] is not None and to_vietnam(row["ended_at"]) <= moment
    state = row["state"] if ended or at is None else "published"
    return {"id": row["id"], "address": row["address"], "state": state,
            "state_label": MAILBOX_STATES.get(state, state), "published_at": row["published_at"],
            "ended_at": row["ended_at"] if ended else None, "end_reason": (row["end_reason"] or None) if ended else None}


def _specimen_order(item: Mapping[str, Any]) -> tuple[Any, ...]:
    return (item["kind"] != "org", fold(item["full_name"] or ""), item["id"])


_PUBLISHED_SPECIMENS = Compiled(lambda: Specimen.select(*PUBLIC_SPECIMEN_COLUMNS).where(
    (Specimen.agency == Value("agency")) & _in_period(Specimen, None)))
_PUBLISHED_MAILBOXES = Compiled(lambda: Mailbox.select(*PUBLIC_MAILBOX_COLUMNS).where(
    (Mailbox.agency == Value("agency")) & _in_period(Mailbox, None)).order_by(Mailbox.address))


async def published_for_agency(agency_id: int, at: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The agency's specimens and mailboxes published now (or at the moment `at`)."""
    if at is None:
        # The portal's agency pages ask this all day: the same two queries, built once.
        specimens = await _PUBLISHED_SPECIMENS.run(agency=agency_id)
        mailboxes = await _PUBLISHED_MAILBOXES.run(agency=agency_id)
    else:
        specimens = await Specimen.select(*PUBLIC_SPECIMEN_COLUMNS).where(
            (Specimen.agency == agency_id) & _in_period(Specimen, at))
        mailboxes = await Mailbox.select(*PUBLIC_MAILBOX_COLUMNS).where(
            (Mailbox.agency == agency_id) & _in_period(Mailbox, at)).order_by(Mailbox.address)
    return {
        "specimens": sorted((public_specimen(r, at) for r in specimens), key=_specimen_order),
        "mailboxes": [public_mailbox(r, at) for r in mailboxes],
    }


async def history_for_agency(agency_id: int) -> dict[str, list[dict[str, Any]]]:
    """Everything the agency ever had published, newest first, each with its period."""
    specimens = await Specimen.select(*PUBLIC_SPECIMEN_COLUMNS).where(
        (Specimen.agency == agency_id) & Specimen.published_at.is_not_null()).order_by(Specimen.published_at, ascending=False)
    mailboxes = await Mailbox.select(*PUBLIC_MAILBOX_COLUMNS).where(
        (Mailbox.agency == agency_id) & Mailbox.published_at.is_not_null()).order_by(Mailbox.published_at, ascending=False)
    return {"specimens": [public_specimen(r) for r in specimens], "mailboxes": [public_mailbox(r) for r in mailboxes]}


async def published_for_certificate(fingerprint: str) -> list[dict[str, Any]]:
    """Every specimen ever published with this certificate (the public verify page shows them), newest
    first, each with its published period and its state; never one that was only submitted or rejected."""
    cleaned = certs.normalize_fingerprint(fingerprint)
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        return []
    rows = await Specimen.select(*PUBLIC_SPECIMEN_COLUMNS).where(
        (Specimen.certificate.fingerprint == cleaned) & Specimen.published_at.is_not_null()
    ).order_by(Specimen.published_at, ascending=False)
    return [public_specimen(r) for r in rows]


async def published_certificate(fingerprint: str) -> dict[str, Any] | None:
    """A certificate the portal may show: one that was on a published specimen."""
    cleaned = certs.normalize_fingerprint(fingerprint)
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        return None
    published = await Specimen.exists().where(
        (Specimen.certificate.fingerprint == cleaned) & Specimen.published_at.is_not_null())
    if not published:
        return None
    return await Certificate.select(
        Certificate.id, Certificate.fingerprint, Certificate.serial, Certificate.subject, Certificate.issuer,
        Certificate.not_before, Certificate.not_after, Certificate.revoked_at, Certificate.revocation_reason,
        Certificate.superseded_by, Certificate.superseded_at, Certificate.der, Certificate.key_type,
        Certificate.key_size,
    ).where(Certificate.fingerprint == cleaned).first()


async def public_image(specimen_id: int) -> dict[str, Any] | None:
    """The PNG of a specimen that was published (now or before); None for anything else."""
    return await Specimen.select(Specimen.image_png, Specimen.image_png_sha256, Specimen.published_at).where(
        (Specimen.id == specimen_id) & Specimen.published_at.is_not_null()).first()


async def search_published(words: list[str], hex_query: str | None, limit: int = 200) -> list[dict[str, Any]]:
    """Published specimens whose leader (name, position) or agency name holds every folded word, or
    whose certificate's fingerprint starts with, or serial equals, `hex_query`."""
    by_words = None
    for word in words:
        condition = Specimen.search_key.like(f"%{word}%")
        by_words = condition if by_words is None else by_words & condition
    by_certificate = None
    if hex_query:
        serial = hex_query.lstrip("0") or "0"
        by_certificate = Specimen.certificate.fingerprint.like(f"{hex_query}%") | (Specimen.certificate.serial == serial)
    condition = by_words if by_certificate is None else (by_certificate if by_words is None else by_words | by_certificate)
    if condition is None:
        return []
    rows = await Specimen.select(
        Specimen.kind, Specimen.full_name, Specimen.agency.code.as_alias("agency_code"),
        Specimen.agency.name.as_alias("agency_name"), Specimen.certificate.fingerprint.as_alias("fingerprint"),
        Specimen.certificate.serial.as_alias("serial"),
    ).where((Specimen.state == "published") & condition).order_by(Specimen.search_key).limit(limit)
    for row in rows:
        row["by_certificate"] = bool(hex_query) and (
            row["fingerprint"].startswith(hex_query or "") or row["serial"] == (hex_query or "").lstrip("0"))
    return rows


async def publication_changes(limit: int = 50) -> list[dict[str, Any]]:
    """The latest publications and ends of publication, newest first (the Atom feed)."""
    items: list[dict[str, Any]] = []
    for table, label in ((Specimen, "Mẫu chữ ký"), (Mailbox, "Hộp thư")):
        t: Any = table
        columns = [t.id, t.state, t.published_at, t.ended_at, t.end_reason, t.agency.code.as_alias("agency_code"),
                   t.agency.name.as_alias("agency_name")]
        columns += [t.full_name, t.kind] if table is Specimen else [t.address]
        started = await t.select(*columns).where(t.published_at.is_not_null()).order_by(
            t.published_at, ascending=False).limit(limit)
        ended = await t.select(*columns).where(t.ended_at.is_not_null()).order_by(t.ended_at, ascending=False).limit(limit)
        for row in started:
            items.append({**row, "at": row["published_at"], "event": "published", "what": label})
        for row in ended:
            items.append({**row, "at": row["ended_at"], "event": row["state"], "what": label})
    items.sort(key=lambda item: to_vietnam(item["at"]), reverse=True)
    return items[:limit]


# --- staff lists ---------------------------------------------------------------------------------------


async def waiting(actor: Principal, flow: engine.Flow, limit: int = 200) -> list[dict[str, Any]]:
    return await engine.list_records(actor, flow, states=["submitted"], limit=limit)


def details_of(record: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(record["details"]) if isinstance(record.get("details"), str) else dict(record.get("details") or {})
