"""The certificate database: import, holders, derived status, revocation and supersession, scoped lists.

Who sees a certificate: its holder, the clerk keeping it (custodian), operators and admins, and clerks
and heads whose scope covers the certificate's agency. To anyone else it does not exist (404), so nobody
can probe who holds what. A certificate linked to no agency yet is seen by operators and admins only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns.combination import WhereRaw

from registry import db, listing, pagination
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth.permissions import authorize, may, scope, scope_paths
from registry.auth.principal import Principal, system_principal
from registry.certs import parsing
from registry.certs.reasons import REVOCATION_REASONS
from registry.certs.tables import Certificate
from registry.compiled import Compiled, JoinedSelect, Value, all_of, frozen_condition
from registry.errors import Conflict, Invalid, NotFound
from registry.people import service as people
from registry.subtree import WIDE_SHARE, is_small_subtree, refresh_agency_paths, share_of_agencies, within_subtrees
from registry.text import fold, search_words
from registry.timeutil import VIETNAM, now, parse_moment, to_vietnam
from registry.validation import FieldErrors, has_control_characters

STATUSES = ("active", "expired", "revoked", "superseded")
EXPIRING_WINDOWS = (30, 60, 90)
MAX_LIST_LIMIT = 1000
SEARCH_KEY_LENGTH = 700
_SOURCE = re.compile(r"^[a-z_]{1,20}$")
_HEX = re.compile(r"^[0-9a-f]+$")
# Roles that see the whole province, certificates linked to no agency included.

ROW_COLUMNS = (
    Certificate.all_columns(),
    Certificate.agency.code.as_alias("agency_code"),
    Certificate.agency.name.as_alias("agency_name"),
    Certificate.agency.path.as_alias("agency_path"),
    Certificate.holder.full_name.as_alias("holder_name"),
    Certificate.custodian.full_name.as_alias("custodian_name"),
    Certificate.superseded_by.fingerprint.as_alias("superseded_by_fingerprint"),
)
# Lists leave the DER out: it is only needed to verify or download one certificate.
LIST_COLUMNS = (Certificate.all_columns(exclude=[Certificate.der]), *ROW_COLUMNS[1:])
_LISTED = JoinedSelect(Certificate, lambda: LIST_COLUMNS)
# What the certificates page shows of each (`brief_json`, templates/certs/_table.html), with the list's order.
BRIEF_COLUMNS = (
    Certificate.id, Certificate.fingerprint, Certificate.serial, Certificate.subject, Certificate.common_name,
    Certificate.email, Certificate.search_key, Certificate.not_after, Certificate.kind, Certificate.holder,
    Certificate.custodian, Certificate.revoked_at, Certificate.revocation_pending_since, Certificate.superseded_by,
    Certificate.superseded_at,
    Certificate.agency.code.as_alias("agency_code"),
    Certificate.agency.name.as_alias("agency_name"),
    Certificate.holder.full_name.as_alias("holder_name"),
    Certificate.custodian.full_name.as_alias("custodian_name"),
)
_LISTED_BRIEF = JoinedSelect(Certificate, lambda: BRIEF_COLUMNS)


# --- status and JSON ----------------------------------------------------------------------------


def _moment(value: datetime | None) -> datetime | None:
    """A moment to compare: one with an offset as it is (moments compare by the instant, whatever their zones;
    converting each first made a row's JSON 3.8 µs where it now takes 3.1); a naive one taken as UTC."""
    return value if value is None or value.tzinfo is not None else to_vietnam(value)


def status_of(row: Mapping[str, Any], at: datetime | None = None) -> str:
    """revoked once `revoked_at` has passed, superseded once replaced, expired after `not_after`, else active.
    A certificate whose `not_before` is still ahead counts as active: it is issued and handed over."""
    moment = _moment(at) if at is not None else now()
    revoked_at = _moment(row.get("revoked_at"))
    if revoked_at is not None and revoked_at <= moment:
        return "revoked"
    if row.get("superseded_by") is not None:
        superseded_at = _moment(row.get("superseded_at"))
        if superseded_at is None or superseded_at <= moment:
            return "superseded"
    if _moment(row["not_after"]) < moment:
        return "expired"
    return "active"


def _person(person_id: int | None, full_name: str | None) -> dict[str, Any] | None:
    return None if person_id is None else {"id": person_id, "full_name": full_name or ""}


def certificate_json(row: Mapping[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The certificate as the API shows it, its status as of `at` (now by default: a list passes the moment its
    filters were read at, so that a row is shown in the status it was chosen for): what the certificates page
    shows (`brief_json`) and the rest. The API writes the fields in CertificateOut's order."""
    body = brief_json(row, at)
    body.update({
        "issuer": row["issuer"],
        "not_before": row["not_before"],
        "key_type": row["key_type"],
        "key_size": row["key_size"],
        "key_usage": [name for name in row["key_usage"].split(",") if name],
        "is_ca": bool(row["is_ca"]),
        "revoked_at": row["revoked_at"],
        "revocation_reason": row["revocation_reason"] or None,
        "revocation_pending_since": row["revocation_pending_since"],
        "superseded_by": row.get("superseded_by_fingerprint"),
        "superseded_at": row["superseded_at"],
        "source": row["source"],
        "imported_at": row["imported_at"],
    })
    return body


def brief_json(row: Mapping[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The certificate as the certificates page shows it, under `certificate_json`'s names: a page of a
    hundred shows no issuer, key, source or history of each. Read with BRIEF_COLUMNS, a head's page of 100
    took 5.1–6.4 ms where it took 6.4–7.9 at a million certificates (in process, both engines)."""
    status = status_of(row, at)
    return {
        "id": row["id"],
        "fingerprint": row["fingerprint"],
        "serial": row["serial"],
        "subject": row["subject"],
        "common_name": row["common_name"],
        "email": row["email"],
        "not_after": row["not_after"],
        "status": status,
        "kind": row["kind"],
        "agency_code": row.get("agency_code"),
        "agency_name": row.get("agency_name"),
        "holder": _person(row["holder"], row.get("holder_name")),
        "custodian": _person(row["custodian"], row.get("custodian_name")),
        "revocation_pending": row["revocation_pending_since"] is not None and status != "revoked",
    }


# --- finding --------------------------------------------------------------------------------------


def normalize_fingerprint(fingerprint: str) -> str:
    """Lower-case hex without separators: people paste 'AB:CD:…' from certificate viewers."""
    return re.sub(r"[\s:]", "", fingerprint or "").lower()


async def find_by_fingerprint(fingerprint: str) -> dict[str, Any] | None:
    """The row (DER included) joined with its agency's code, name and path and its people's names."""
    cleaned = normalize_fingerprint(fingerprint)
    if len(cleaned) != 64 or not _HEX.match(cleaned):
        return None
    return await _BY_FINGERPRINT.run(fingerprint=cleaned)


_BY_FINGERPRINT = Compiled(
    lambda: Certificate.select(*ROW_COLUMNS).where(Certificate.fingerprint == Value("fingerprint")).first())


async def revocations_by_fingerprint(fingerprints: list[str]) -> dict[str, tuple[datetime, str]]:
    """The registry's own revocation records for these certificates: fingerprint → (revoked_at, reason),
    for those recorded as revoked (the verification service counts them beside the CA's CRLs)."""
    cleaned = [normalize_fingerprint(f) for f in fingerprints if f]
    if not cleaned:
        return {}
    rows = await Certificate.select(Certificate.fingerprint, Certificate.revoked_at, Certificate.revocation_reason).where(
        Certificate.fingerprint.is_in(cleaned) & Certificate.revoked_at.is_not_null())
    return {row["fingerprint"]: (row["revoked_at"], row["revocation_reason"] or "unspecified") for row in rows}


async def find_by_id(certificate_id: int) -> dict[str, Any] | None:
    return await Certificate.select(*ROW_COLUMNS).where(Certificate.id == certificate_id).first()


async def _get_by_id(certificate_id: int) -> dict[str, Any]:
    row = await find_by_id(certificate_id)
    if row is None:
        raise NotFound(f"no certificate with id {certificate_id}")
    return row


def may_see(actor: Principal, row: Mapping[str, Any]) -> bool:
    if actor.is_system:
        return True
    if actor.person_id is not None and actor.person_id in (row["holder"], row["custodian"]):
        return True
    if row.get("agency_path"):
        return may(actor, "certificate.read", row["agency_path"])
    return may(actor, "certificate.read_unowned")


async def get_row(actor: Principal, fingerprint: str) -> dict[str, Any]:
    """The row if the actor may see it; NotFound otherwise (never Forbidden: nobody probes)."""
    row = await find_by_fingerprint(fingerprint)
    if row is None or not may_see(actor, row):
        raise NotFound(f"no certificate with fingerprint {normalize_fingerprint(fingerprint)[:64]}")
    return row


async def get_certificate(actor: Principal, fingerprint: str) -> dict[str, Any]:
    return certificate_json(await get_row(actor, fingerprint))


async def predecessors(certificate_id: int) -> list[dict[str, Any]]:
    """The certificates this one replaced (renewals name what they supersede)."""
    rows = await Certificate.select(*LIST_COLUMNS).where(Certificate.superseded_by == certificate_id)
    return [certificate_json(row) for row in rows]


# --- linking to holders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    kind: str
    holder: dict[str, Any] | None = None
    agency: dict[str, Any] | None = None
    custodian: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "holder_person_id": self.holder["id"] if self.holder else None,
            "agency_code": self.agency["code"] if self.agency else None,
            "custodian_person_id": self.custodian["id"] if self.custodian else None,
        }


def _check_kind(kind: str | None) -> str | None:
    if kind is None or kind == "":
        return None
    if kind not in parsing.KINDS:
        raise Invalid(f"kind must be one of {', '.join(parsing.KINDS)}", fields={"kind": "personal, org or ca"})
    return kind


async def resolve_links(
    actor: Principal,
    *,
    guessed_kind: str,
    is_ca: bool,
    holder_person_id: int | None,
    agency_code: str | None,
    custodian_person_id: int | None,
    kind: str | None,
) -> Links:
    """Check the people and agency named, and that they fit together; the kind follows from them unless given.

    Kind: as given; else `ca` for a CA; else `personal` when a holder is named, `org` when only an agency
    is; else the guess from the certificate itself (see parsing)."""
    kind = _check_kind(kind)
    errors = FieldErrors()
    holder = agency = custodian = None
    if holder_person_id is not None:
        holder = await people.find_row(holder_person_id)
        if holder is None:
            errors.add("holder_person_id", "no such person", field_code="no_such_person")
    if agency_code:
        agency = await agencies.find_row(agency_code)
        if agency is None:
            errors.add("agency_code", "no such agency", field_code="no_such_agency")
    if custodian_person_id is not None:
        custodian = await people.find_row(custodian_person_id)
        if custodian is None:
            errors.add("custodian_person_id", "no such person", field_code="no_such_person")
    errors.raise_if_any("cannot link the certificate")

    if holder is not None and agency is None:
        agency = await agencies.get_row(holder["agency_code"])
    if holder is not None and agency is not None and holder["agency"] != agency["id"]:
        errors.add("holder_person_id", f"works at {holder['agency_code']}, not at {agency['code']}",
                   field_code=("works_elsewhere", {"agency": holder["agency_code"]}))
    resolved = kind or ("ca" if is_ca else "personal" if holder else "org" if agency else guessed_kind)
    if resolved == "org" and holder is not None:
        errors.add("holder_person_id", "an organisation certificate is held by its agency; name the clerk as custodian",
                   field_code="org_certificate_holder")
    if custodian is not None:
        if resolved != "org":
            errors.add("custodian_person_id", "only an organisation certificate has a custodian",
                       field_code="custodian_only_for_org")
        elif agency is None:
            errors.add("custodian_person_id", "name the agency (agency_code) the custodian keeps it for",
                       field_code="custodian_needs_agency")
        elif custodian["agency"] != agency["id"]:
            errors.add("custodian_person_id", f"works at {custodian['agency_code']}, not at {agency['code']}",
                       field_code=("works_elsewhere", {"agency": custodian["agency_code"]}))
    errors.raise_if_any("cannot link the certificate")
    if agency is not None:
        authorize(actor, "certificate.import", agency["path"])
    return Links(kind=resolved, holder=holder, agency=agency, custodian=custodian)


def _search_key(common_name: str, email: str) -> str:
    return " ".join(part for part in (fold(common_name), email.lower()) if part)[:SEARCH_KEY_LENGTH]


# --- import ---------------------------------------------------------------------------------------

OVERRIDE_REASON_LENGTH = 1000


async def _verification_overrides(
    actor: Principal, parsed_all: list[parsing.ParsedCertificate], *, override: bool, override_reason: str | None,
    known: set[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every certificate not yet known must verify through the trust service (registry.trust.service.verify);
    one that does not is refused with the verdict, unless an admin overrides with a reason. Returns what to
    audit for each overridden certificate (fingerprint → verdict and reason); called before the write lock.
    `known`: the fingerprints of `parsed_all` already in the registry, when the caller has read them."""
    from registry.trust import service as trust

    if override:
        authorize(actor, "certificate.import_override")
    chain = [p.der for p in parsed_all if p.is_ca]
    if known is None:
        known = await _known_fingerprints([parsed.fingerprint for parsed in parsed_all])
    pending = [parsed for parsed in parsed_all if parsed.fingerprint not in known]
    if not pending:
        return {}
    reason = (override_reason or "").strip()

    def reason_problem() -> Invalid | None:
        if not reason:
            return Invalid("Nhập chứng thư số chưa qua kiểm tra cần nêu lý do (override_reason).",
                           code="reason_required", fields={"override_reason": "is required"})
        if len(reason) > OVERRIDE_REASON_LENGTH or has_control_characters(reason):
            return Invalid(f"override_reason: at most {OVERRIDE_REASON_LENGTH} characters, no control characters",
                           fields={"override_reason": f"at most {OVERRIDE_REASON_LENGTH} characters"})
        return None

    # The first refusal ends the import unless an admin overrides it with a usable reason.
    stop_at_refusal = not override or reason_problem() is not None
    verdicts = await trust.verify_all_for_import(
        [(parsed, [d for d in chain if d != parsed.der]) for parsed in pending], stop_at_refusal=stop_at_refusal)
    overridden: dict[str, dict[str, Any]] = {}
    for parsed, (verdict, accepted) in zip(pending, verdicts, strict=False):
        if accepted:
            continue
        if not override:
            raise trust.NotVerified(verdict)
        problem = reason_problem()
        if problem is not None:
            raise problem
        overridden[parsed.fingerprint] = {"status": verdict.status, "detail": verdict.detail, "reason": reason}
    return overridden


async def _known_fingerprints(fingerprints: list[str]) -> set[str]:
    """Which of these certificates the registry holds already (one query)."""
    wanted = sorted(set(fingerprints))
    if not wanted:
        return set()
    rows = await Certificate.select(Certificate.fingerprint).where(Certificate.fingerprint.is_in(wanted))
    return {row["fingerprint"] for row in rows}


def _audit_overrides(actor: Principal, results: list[tuple[dict[str, Any], bool]], overridden: dict[str, dict[str, Any]]) -> None:
    for body, created in results:
        if created and body["fingerprint"] in overridden:
            audit.record(actor, "certificate.import_override", "certificate", body["fingerprint"],
                         after=overridden[body["fingerprint"]])


def _check_source(source: str) -> str:
    if not isinstance(source, str) or not _SOURCE.match(source):
        raise Invalid("source must be a short lower-case word such as upload or ca_result", fields={"source": "invalid"})
    return source


async def _import_parsed(
    actor: Principal,
    parsed: parsing.ParsedCertificate,
    *,
    holder_person_id: int | None,
    agency_code: str | None,
    custodian_person_id: int | None,
    kind: str | None,
    source: str,
    resolved: Links | None = None,
) -> tuple[dict[str, Any], bool]:
    """Inside the caller's transaction: the known row untouched, or a new row, audited."""
    existing = await find_by_fingerprint(parsed.fingerprint)
    if existing is not None:
        return certificate_json(existing), False
    links = resolved or await resolve_links(
        actor, guessed_kind=parsed.kind, is_ca=parsed.is_ca, holder_person_id=holder_person_id,
        agency_code=agency_code, custodian_person_id=custodian_person_id, kind=kind,
    )
    inserted = await Certificate.insert(
        Certificate(
            fingerprint=parsed.fingerprint,
            serial=parsed.serial,
            subject=parsed.subject,
            issuer=parsed.issuer,
            common_name=parsed.common_name,
            email=parsed.email,
            search_key=_search_key(parsed.common_name, parsed.email),
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            key_type=parsed.key_type,
            key_size=parsed.key_size,
            key_usage=",".join(parsed.key_usage),
            is_ca=parsed.is_ca,
            kind=links.kind,
            der=parsed.der,
            holder=links.holder["id"] if links.holder else None,
            agency=links.agency["id"] if links.agency else None,
            custodian=links.custodian["id"] if links.custodian else None,
            source=source,
            imported_at=now(),
            imported_by=actor.user_id,
        )
    ).on_conflict(target=Certificate.fingerprint, action="DO NOTHING").returning(Certificate.id)
    if not inserted:
        # Another import of the same certificate committed first (PostgreSQL; SQLite writers queue).
        row = await find_by_fingerprint(parsed.fingerprint)
        assert row is not None
        return certificate_json(row), False
    audit.record(
        actor, "certificate.import", "certificate", parsed.fingerprint,
        after={
            "serial": parsed.serial, "subject": parsed.subject, "issuer": parsed.issuer,
            "not_before": parsed.not_before, "not_after": parsed.not_after, "source": source, **links.summary(),
        },
    )
    row = await find_by_id(inserted[0]["id"])
    assert row is not None
    return certificate_json(row), True


async def import_certificate(
    actor: Principal,
    content: bytes,
    *,
    holder_person_id: int | None = None,
    agency_code: str | None = None,
    custodian_person_id: int | None = None,
    kind: str | None = None,
    source: str = "upload",
    override: bool = False,
    override_reason: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """One certificate (PEM, DER, or a PKCS#7 holding one) → (its JSON, created). Already known: nothing written.
    A new certificate must verify (trust service); otherwise only an admin's `override` with a reason,
    audited, lets it in."""
    authorize(actor, "certificate.import")
    _check_source(source)
    _check_kind(kind)
    parsed = parsing.parse_one(content)
    overridden = await _verification_overrides(actor, [parsed], override=override, override_reason=override_reason)
    async with db.transaction():
        result = await _import_parsed(
            actor, parsed, holder_person_id=holder_person_id, agency_code=agency_code,
            custodian_person_id=custodian_person_id, kind=kind, source=source,
        )
        _audit_overrides(actor, [result], overridden)
        return result


async def import_bundle(
    actor: Principal,
    content: bytes,
    *,
    holder_person_id: int | None = None,
    agency_code: str | None = None,
    custodian_person_id: int | None = None,
    kind: str | None = None,
    source: str = "upload",
    override: bool = False,
    override_reason: str | None = None,
) -> list[tuple[dict[str, Any], bool]]:
    """Every certificate of a PKCS#7 bundle or concatenated PEMs, all or nothing.

    The holder, agency, custodian and kind apply to the end-entity certificates; the CA certificates that
    come along in a chain are imported unlinked, as `ca`."""
    authorize(actor, "certificate.import")
    _check_source(source)
    _check_kind(kind)
    # Parsed, and the links checked, before the write lock is taken; the transaction only inserts.
    parsed_all = await asyncio.to_thread(parsing.parse_certificates, content)
    known = await _known_fingerprints([parsed.fingerprint for parsed in parsed_all])
    overridden = await _verification_overrides(actor, parsed_all, override=override, override_reason=override_reason,
                                               known=known)
    # The links are the same for every end-entity certificate of the bundle: checked once per kind guessed.
    resolved: dict[tuple[Any, ...], Links] = {}
    plan = []
    for parsed in parsed_all:
        if parsed.is_ca:
            link_args: dict[str, Any] = dict(holder_person_id=None, agency_code=None, custodian_person_id=None, kind=None)
        else:
            link_args = dict(holder_person_id=holder_person_id, agency_code=agency_code,
                             custodian_person_id=custodian_person_id, kind=kind)
        links = None
        if parsed.fingerprint not in known:
            key = (parsed.kind, parsed.is_ca, *link_args.values())
            if key not in resolved:
                resolved[key] = await resolve_links(actor, guessed_kind=parsed.kind, is_ca=parsed.is_ca, **link_args)
            links = resolved[key]
        plan.append((parsed, links))
    async with db.transaction():
        results = await _import_planned(actor, plan, source)
        _audit_overrides(actor, results, overridden)
        return results


async def _rows_by_fingerprint(fingerprints: list[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(fingerprints))
    if not wanted:
        return {}
    rows = await Certificate.select(*ROW_COLUMNS).where(Certificate.fingerprint.is_in(wanted))
    return {row["fingerprint"]: row for row in rows}


def _inserted_row(values: dict[str, Any], certificate_id: int, links: Links) -> dict[str, Any]:
    """A row as find_by_id reads it (ROW_COLUMNS), from the values just inserted and their links."""
    return {
        **values, "id": certificate_id,
        "agency_code": links.agency["code"] if links.agency else None,
        "agency_name": links.agency["name"] if links.agency else None,
        "agency_path": links.agency["path"] if links.agency else None,
        "holder_name": links.holder["full_name"] if links.holder else None,
        "custodian_name": links.custodian["full_name"] if links.custodian else None,
        "superseded_by_fingerprint": None,
    }


async def _import_planned(actor: Principal, plan: list[tuple[parsing.ParsedCertificate, Links | None]],
                          source: str) -> list[tuple[dict[str, Any], bool]]:
    """Inside the caller's transaction, set-based: the certificates not known when planned inserted in one
    statement that skips any known since (the unique fingerprint decides: an import committed meanwhile),
    the new ones audited and answered from the values written, the others read back in one query. The
    bundle's order is kept; a certificate met twice, or known already, is reported as not created."""
    moment = now()
    new_rows, audited, seen = [], [], set()
    for parsed, links in plan:
        if parsed.fingerprint in seen:
            continue
        seen.add(parsed.fingerprint)
        if links is None:
            # Known when planned (certificates are never deleted): only read back.
            continue
        new_rows.append({
            "fingerprint": parsed.fingerprint, "serial": parsed.serial, "subject": parsed.subject,
            "issuer": parsed.issuer, "common_name": parsed.common_name, "email": parsed.email,
            "search_key": _search_key(parsed.common_name, parsed.email), "not_before": parsed.not_before,
            "not_after": parsed.not_after, "key_type": parsed.key_type, "key_size": parsed.key_size,
            "key_usage": ",".join(parsed.key_usage), "is_ca": parsed.is_ca, "kind": links.kind, "der": parsed.der,
            "holder": links.holder["id"] if links.holder else None,
            "agency": links.agency["id"] if links.agency else None,
            "custodian": links.custodian["id"] if links.custodian else None,
            "revoked_at": None, "revocation_reason": "", "revocation_pending_since": None, "superseded_by": None,
            "superseded_at": None, "source": source, "imported_at": moment, "imported_by": actor.user_id,
        })
        audited.append((parsed, links))
    inserted = await db.bulk_insert(Certificate, new_rows, returning=("id", "fingerprint"),
                                    skip_conflicts_on="fingerprint")
    ids = {entry["fingerprint"]: entry["id"] for entry in inserted}
    created = set(ids)
    rows: dict[str, dict[str, Any]] = {}
    for (parsed, links), new_row in zip(audited, new_rows, strict=True):
        if parsed.fingerprint in created:
            audit.record(
                actor, "certificate.import", "certificate", parsed.fingerprint,
                after={
                    "serial": parsed.serial, "subject": parsed.subject, "issuer": parsed.issuer,
                    "not_before": parsed.not_before, "not_after": parsed.not_after, "source": source,
                    **links.summary(),
                },
            )
            rows[parsed.fingerprint] = _inserted_row(new_row, ids[parsed.fingerprint], links)
    # Only the rows this statement did not write are read back: those just inserted are described by the
    # values written and the links read when planned (what ROW_COLUMNS would join).
    rows.update(await _rows_by_fingerprint([fingerprint for fingerprint in seen if fingerprint not in rows]))
    results = []
    for parsed, _links in plan:
        is_new = parsed.fingerprint in created
        created.discard(parsed.fingerprint)
        results.append((certificate_json(rows[parsed.fingerprint]), is_new))
    return results


async def link_holder(
    actor: Principal,
    fingerprint: str,
    *,
    person_id: int | None = None,
    agency_code: str | None = None,
    custodian_person_id: int | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Link a certificate to its holder (a person), or to an agency with its custodian clerk (operators, admins).
    The links are replaced as a whole; the kind follows them as on import unless given."""
    authorize(actor, "certificate.import")
    if person_id is None and not agency_code:
        raise Invalid("name the holder (person_id) or the agency (agency_code)",
                      fields={"person_id": "person_id or agency_code is required"})
    async with db.transaction():
        row = await get_row(actor, fingerprint)
        if row["agency_path"]:
            authorize(actor, "certificate.import", row["agency_path"])
        links = await resolve_links(
            actor, guessed_kind=row["kind"], is_ca=bool(row["is_ca"]), holder_person_id=person_id,
            agency_code=agency_code, custodian_person_id=custodian_person_id, kind=kind,
        )
        before = {
            "kind": row["kind"], "holder_person_id": row["holder"], "agency_code": row["agency_code"],
            "custodian_person_id": row["custodian"],
        }
        after = links.summary()
        if before != after:
            await Certificate.update(
                {
                    Certificate.kind: links.kind,
                    Certificate.holder: after["holder_person_id"],
                    Certificate.agency: links.agency["id"] if links.agency else None,
                    Certificate.custodian: after["custodian_person_id"],
                }
            ).where(Certificate.id == row["id"])
            audit.record(actor, "certificate.link", "certificate", row["fingerprint"], before=before, after=after)
        updated = await find_by_id(row["id"])
    assert updated is not None
    return certificate_json(updated)


# --- revocation and supersession (called by the request workflow inside its own transaction) -------


def _moment_argument(value: datetime | str, field: str) -> datetime:
    if isinstance(value, datetime):
        # A naive moment is Vietnam time, as everywhere in the registry.
        return to_vietnam(value) if value.tzinfo is not None else value.replace(tzinfo=VIETNAM)
    try:
        return parse_moment(str(value))
    except ValueError:
        raise Invalid(f"{field}: expected an ISO 8601 moment", fields={field: "expected ISO 8601"}) from None


async def set_revocation_pending(certificate_id: int, *, actor: Principal | None = None) -> None:
    """Mark the certificate "revocation pending" (an urgent revocation was filed). Idempotent."""
    actor = actor or system_principal()
    async with db.transaction():
        row = await _get_by_id(certificate_id)
        if status_of(row) == "revoked":
            raise Conflict(f"certificate {row['fingerprint']} is already revoked")
        if row["revocation_pending_since"] is not None:
            return
        moment = now()
        changed = await Certificate.update({Certificate.revocation_pending_since: moment}).where(
            (Certificate.id == certificate_id) & Certificate.revocation_pending_since.is_null()
        ).returning(Certificate.id)
        if changed:
            audit.record(actor, "certificate.revocation_pending", "certificate", row["fingerprint"],
                         before={"revocation_pending_since": None}, after={"revocation_pending_since": moment})


async def clear_revocation_pending(certificate_id: int, *, actor: Principal | None = None) -> None:
    """Lift the mark (the revocation request was rejected or withdrawn). Idempotent."""
    actor = actor or system_principal()
    async with db.transaction():
        row = await _get_by_id(certificate_id)
        if row["revocation_pending_since"] is None:
            return
        changed = await Certificate.update({Certificate.revocation_pending_since: None}).where(
            (Certificate.id == certificate_id) & Certificate.revocation_pending_since.is_not_null()
        ).returning(Certificate.id)
        if changed:
            audit.record(actor, "certificate.revocation_pending_cleared", "certificate", row["fingerprint"],
                         before={"revocation_pending_since": row["revocation_pending_since"]},
                         after={"revocation_pending_since": None})


async def record_revocation(actor: Principal, certificate_id: int, *, revoked_at: datetime | str, reason: str) -> None:
    """What the CA did: the certificate is revoked from `revoked_at` for `reason` (a key of REVOCATION_REASONS)."""
    if reason not in REVOCATION_REASONS:
        raise Invalid(f"reason must be one of {', '.join(REVOCATION_REASONS)}", fields={"reason": "unknown reason"})
    moment = _moment_argument(revoked_at, "revoked_at")
    async with db.transaction():
        row = await _get_by_id(certificate_id)
        authorize(actor, "certificate.import", row["agency_path"] or None)
        if row["revoked_at"] is not None:
            raise Conflict(f"certificate {row['fingerprint']} was already revoked on {to_vietnam(row['revoked_at']).isoformat()}")
        changed = await Certificate.update(
            {Certificate.revoked_at: moment, Certificate.revocation_reason: reason}
        ).where((Certificate.id == certificate_id) & Certificate.revoked_at.is_null()).returning(Certificate.id)
        if not changed:
            raise Conflict(f"certificate {row['fingerprint']} was revoked meanwhile")
        audit.record(actor, "certificate.revoke", "certificate", row["fingerprint"],
                     before={"revoked_at": None, "revocation_reason": None},
                     after={"revoked_at": moment, "revocation_reason": reason})
        # Published specimens with this certificate are withdrawn in the same transaction.
        from registry.specimens import service as specimens

        await specimens.certificate_revoked(certificate_id, moment, actor)


async def record_supersession(actor: Principal, old_id: int, new_id: int) -> None:
    """The certificate `new_id` (a renewal or a changed one) replaces `old_id` from now on."""
    if old_id == new_id:
        raise Invalid("a certificate cannot replace itself", fields={"new_id": "same as old_id"})
    async with db.transaction():
        old = await _get_by_id(old_id)
        new = await _get_by_id(new_id)
        authorize(actor, "certificate.import", old["agency_path"] or None)
        if old["superseded_by"] == new_id:
            return
        if old["superseded_by"] is not None:
            raise Conflict(f"certificate {old['fingerprint']} is already replaced by {old['superseded_by_fingerprint']}")
        if new["superseded_by"] == old_id:
            raise Invalid("the new certificate is itself replaced by the old one", fields={"new_id": "would form a cycle"})
        moment = now()
        changed = await Certificate.update(
            {Certificate.superseded_by: new_id, Certificate.superseded_at: moment}
        ).where((Certificate.id == old_id) & Certificate.superseded_by.is_null()).returning(Certificate.id)
        if not changed:
            raise Conflict(f"certificate {old['fingerprint']} was replaced meanwhile")
        audit.record(actor, "certificate.supersede", "certificate", old["fingerprint"],
                     before={"superseded_by": None}, after={"superseded_by": new["fingerprint"], "superseded_at": moment})


# --- lists ----------------------------------------------------------------------------------------


def _status_condition(status: str, moment: datetime, *, by_expiry: bool = False):
    """`by_expiry`: the list is read in expiry order (expiring soon). Otherwise the expiry comparison must
    not steer SQLite to the expiry index: most certificates satisfy it, and the list's own order is the
    better path (`+column` keeps a term out of SQLite's index choice; PostgreSQL weighs it on statistics)."""
    not_revoked = Certificate.revoked_at.is_null() | (Certificate.revoked_at > moment)
    not_superseded = Certificate.superseded_by.is_null() | (Certificate.superseded_at > moment)
    if status == "revoked":
        return Certificate.revoked_at.is_not_null() & (Certificate.revoked_at <= moment)
    if status == "superseded":
        return not_revoked & Certificate.superseded_by.is_not_null() & (
            Certificate.superseded_at.is_null() | (Certificate.superseded_at <= moment)
        )
    if by_expiry or not db.is_sqlite():
        expiry = (Certificate.not_after < moment) if status == "expired" else (Certificate.not_after >= moment)
    else:
        expiry = WhereRaw(f'+"certificate"."not_after" {"<" if status == "expired" else ">="} {{}}', moment)
    return not_revoked & not_superseded & expiry


def _scope_condition(actor: Principal):
    """What the actor may list; None when nothing (the system sees everything without a condition). Written
    out once per known principal (`Principal.derived`, renewed with the data): every list asks for it."""
    return actor.derive("certificates:visible", lambda: _visible_condition(actor))


def _visible_condition(actor: Principal):
    condition = None

    def either(extra):
        nonlocal condition
        condition = extra if condition is None else condition | extra

    scoped = scope(actor, "certificate.read", Certificate.agency.path)
    if scoped is not None:
        either(scoped)
    if may(actor, "certificate.read_unowned"):
        either(Certificate.agency.is_null())
    if actor.person_id is not None:
        either((Certificate.holder == actor.person_id) | (Certificate.custodian == actor.person_id))
    return None if condition is None else frozen_condition(condition)


def _check_list_filters(status: str | None, expiring_within_days: int | None, limit: int) -> None:
    errors = FieldErrors()
    if status and status not in STATUSES:
        errors.add("status", f"one of {', '.join(STATUSES)}", field_code="choose_from_list")
    if expiring_within_days is not None and expiring_within_days not in EXPIRING_WINDOWS:
        errors.add("expiring_within", "30, 60 or 90", field_code="choose_from_list")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        errors.add("limit", f"between 1 and {MAX_LIST_LIMIT}", field_code=("number_range", {"min": 1, "max": MAX_LIST_LIMIT}))
    errors.raise_if_any("invalid filter")


async def list_certificates(actor: Principal, **filters: Any) -> list[dict[str, Any]]:
    """Certificates within the actor's reach: the first page of `list_certificates_page`, which names the
    filters."""
    return (await list_certificates_page(actor, **filters)).items


# The orders of the certificate lists, each ending with the id so that it is total (pagination.py): by
# name, newest first within a name; soonest to expire (the expiring filter).
_BY_NAME = (('"certificate"."search_key"', True), ('"certificate"."not_after"', False), ('"certificate"."id"', True))
_BY_EXPIRY = (('"certificate"."not_after"', True), ('"certificate"."id"', True))


async def list_certificates_page(
    actor: Principal,
    *,
    agency_code: str | None = None,
    status: str | None = None,
    expiring_within_days: int | None = None,
    holder_person_id: int | None = None,
    q: str | None = None,
    limit: int = 200,
    cursor: str | None = None,
    brief: bool = False,
) -> pagination.Page:
    """Certificates within the actor's reach, `limit` after `cursor`. `agency_code` takes that agency and
    its subtree; `expiring_within_days` (30, 60 or 90) keeps active ones whose `not_after` falls within that
    many days, soonest first; `q` matches words of the common name or email, diacritics-blind, or a
    fingerprint prefix. `brief`: as the certificates page shows them (`brief_json`), not as the API does."""
    _check_list_filters(status, expiring_within_days, limit)
    by_expiry = expiring_within_days is not None
    after = pagination.decode_cursor(cursor, (datetime, int) if by_expiry else (str, datetime, int))
    await refresh_agency_paths()
    moment = now()
    conditions = []
    small_subtree = False
    if not actor.is_system:
        scope = _scope_condition(actor)
        if scope is None:
            return pagination.Page([], None)
        conditions.append(scope)
    agency_path = None
    if agency_code:
        agency = await agencies.find_row(agency_code)
        if agency is None or not (actor.is_system or may(actor, "certificate.read", agency["path"])):
            raise NotFound(f"no agency with code {agency_code}")
        agency_path = agency["path"]
        conditions.append(within_subtrees(Certificate.agency.path, [agency_path]))
        small_subtree = db.is_sqlite() and is_small_subtree(agency_path)
    if status:
        conditions.append(_status_condition(status, moment))
    if expiring_within_days is not None:
        conditions.append(_status_condition("active", moment, by_expiry=True))
        conditions.append(Certificate.not_after <= moment + timedelta(days=expiring_within_days))
    if holder_person_id is not None:
        conditions.append(Certificate.holder == holder_person_id)
    words = search_words(q)
    prefix = normalize_fingerprint(q or "")
    by_prefix = 8 <= len(prefix) <= 64 and bool(_HEX.match(prefix))
    # Not through the text index when a fingerprint or serial may be what was typed: those are not in it.
    path = await _search_path(words, in_name_order=not by_expiry and not by_prefix,
                              wide=holder_person_id is None and _reaches_widely(actor, agency_path))
    by_words = None
    if words:
        by_words = Certificate.search_key.like(f"%{words[0]}%")
        for word in words[1:]:
            by_words = by_words & Certificate.search_key.like(f"%{word}%")
        if by_prefix:
            by_words = by_words | Certificate.fingerprint.like(f"{prefix}%") | (Certificate.serial == prefix)
        conditions.append(by_words)
    order = _BY_EXPIRY if by_expiry else _BY_NAME
    if after is not None:
        conditions.append(listing.after(order, after))
    key = _expiry_key if by_expiry else _name_key
    listed = _LISTED_BRIEF if brief else _LISTED
    rows = None
    if path == NAMES:
        # Every certificate under a matching key matches: the words are not tested again, row by row (the
        # planner then read each key's certificates through the trigram index, 0.2 ms a key).
        others = [condition for condition in conditions if condition is not by_words]
        rows = await listed.run([_named_condition(words, others, after, limit + 1)],
                                _list_sort(by_expiry, read_in_order=False), limit + 1)
    elif path == RANKED:
        try:
            rows = await listed.run([_ranked_condition(words, conditions, after, limit + 1)],
                                    _list_sort(by_expiry, read_in_order=False), limit + 1)
        except sqlite3.OperationalError as error:
            if TEXT_TABLE not in str(error):  # no such table: this SQLite had no FTS5 trigram tokenizer
                raise
            path = WALK
    if rows is None:
        sort = _list_sort(by_expiry, read_in_order=path == WALK and not small_subtree)
        # A search that walks the name order reads up to the whole index to fill its page.
        with db.long_read() if words and path == WALK else contextlib.nullcontext():
            rows = await listed.run(conditions, sort, limit + 1)
    page = pagination.page_of(rows, limit, key)
    as_json = brief_json if brief else certificate_json
    return pagination.Page([as_json(row, moment) for row in page.items], page.next_cursor)


# Search words this long have trigrams, which the text index looks up (PostgreSQL's trigram index,
# migrations/certs/certs_2026_11_30t12_00_00_000000.py; SQLite's FTS5 table, …_2026_12_01t12_00_00_000000.py);
# a shorter one has none.
_INDEXED_WORD_LENGTH = 3
# How a search reads its page: walking the name index in order, testing each entry; taking every match from
# the text index and sorting them (PostgreSQL, few matches); sorting the matching search keys and reading
# their certificates in that order up to the page's end (PostgreSQL, a wide list); or reading the matches
# from SQLite's text index in the name order, up to the page's end.
WALK, INDEX, NAMES, RANKED = "walk", "index", "names", "ranked"
# PostgreSQL: up to this many matches (as the planner estimates them), reading them all through the trigram
# index and sorting them beats walking the name index in order: the matches of a word often sit together late
# in that order ("nguyen van …"), or nowhere, and the walk reads every row before them (at a million
# certificates, 0.2 to 3 s). Reading the matches costs about 8 µs each, so this many stay under 100 ms; a
# search with more meets a page of them soon in the walk ("van", "hai yen"), where reading 80,000 matches of
# "duc" took 0.6 s.
INDEX_PATH_MAX_MATCHES = 10_000
_TRIGRAM_INDEX = "certificate_search_trigram"
# The name order's first key, as an expression no index serves (the same values, collation and order).
_NAME_EXPRESSION = "\"certificate\".\"search_key\" || ''"

# PostgreSQL: every search key once, with its own trigram index, kept by triggers
# (migrations/certs/certs_2026_12_02t12_00_00_000000.py). A million certificates hold 210,000 keys; the 1,700
# keys that match "nguyen van" sit in a few pages of that small table, where the 6,000 certificates sat on 2,800
# pages of theirs. A wide list sorts the matching keys and reads their certificates through the name index,
# key after key, until its page is full: 1 ms where fetching and sorting every match took 11.
SEARCH_NAMES = "certificate_search_name"
_SEARCH_NAMES_INDEX = "certificate_search_name_trigram"
# Up to this many matching keys (the planner's estimate) are sorted, about 0.4 µs each; a search with more
# meets a page of them soon in the walk.
NAMES_MAX_MATCHES = 10_000

# SQLite: each certificate's rank in the name order, and the FTS5 trigram table of search keys whose rowid is
# that rank, kept by triggers (migrations/certs/certs_2026_12_01t12_00_00_000000.py). FTS5 hands its matches
# back in rowid order and stops when the query has its page: "nguyen van" at a million certificates finds its
# 51 rows in 0.5 ms, where the walk tested 75,000 name-index entries (13 ms) before its 6,000 matches began.
NAME_RANKS = "certificate_name_rank"
TEXT_TABLE = "certificate_search_ranked"
# A narrow list reads its page from the ranked table up to this many matches in all: reading them costs about
# 6 µs each, counting them 5 µs; a narrow list meets few of many matches, and reads its own rows instead.
TEXT_TABLE_MAX_MATCHES = 500
# The text table's segments merged into one: after a bulk load (registry/generate.py) and by `registry maintain`.
MERGE_TEXT_TABLE = f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('optimize')"
# Ranks of a bulk load (registry/generate.py), spaced as the migration spaces them.
FILL_NAME_RANKS = (
    f"INSERT INTO {NAME_RANKS} (rank, certificate_id, search_key) SELECT ROW_NUMBER() OVER "
    f"(ORDER BY search_key, not_after DESC, id) * {1 << 32}, id, search_key FROM certificate"
)


def _indexed_words(words: list[str]) -> list[str]:
    return [word for word in words if len(word) >= _INDEXED_WORD_LENGTH]


def _word_likes(indexed: list[str], column: str = "search_key") -> tuple[str, list[str]]:
    """`column LIKE '%word%'` for every word, as SQL with placeholders and the patterns to bind."""
    return " AND ".join(f"{column} LIKE {{}}" for _ in indexed), [f"%{word}%" for word in indexed]


async def _search_path(words: list[str], *, in_name_order: bool, wide: bool) -> str:
    """How the list reads a search's matches (WALK, INDEX, NAMES or RANKED). The text index knows only the
    words long enough to have trigrams, and only the name order. On SQLite, a list spread over a `wide` part
    of the tree reads its page from the ranked table; a narrow one (a unit's head, a small agency, a holder's
    own) does so only for few matches, and otherwise reads its own rows through the agency or holder index:
    the ranked table would hand it every match of the words in the country before its page was full. On
    PostgreSQL, a wide list reads through the sorted search keys when they are few, a narrow one through the
    certificates' trigram index when their matches are few."""
    if not in_name_order or not _indexed_words(words):
        return WALK
    if db.is_sqlite():
        return RANKED if wide or await _few_matches(words) else WALK
    if wide:
        # A wide list meets its page among the first keys; a narrow one may test every key's certificates
        # against its agencies, and reads its matches through the certificates' own trigram index instead.
        return NAMES if await _few_names(words) else WALK
    return INDEX if await _few_matches(words) else WALK


def _reaches_widely(actor: Principal, agency_path: str | None) -> bool:
    """Whether the list's rows may lie anywhere in a wide part of the tree: the actor's reach and the agency
    filter each cover more than WIDE_SHARE of the agencies (as of the last refresh of the paths)."""
    shares = [] if actor.is_system else [share_of_agencies(scope_paths(actor, "certificate.read"))]
    if agency_path is not None:
        shares.append(share_of_agencies([agency_path]))
    return all(share is not None and share > WIDE_SHARE for share in shares)


def _ranked_condition(words: list[str], conditions: list[Any], after: Sequence[Any] | None, limit: int) -> WhereRaw:
    """The certificates of a page read from SQLite's ranked text table: its first `limit` matches of the words
    in rowid order (the name order) under every one of `conditions`, after the cursor's rank. The list then
    sorts these few rows by their columns, which decide the order (a rank only finds them)."""
    likes, patterns = _word_likes(_indexed_words(words), f"{TEXT_TABLE}.search_key")
    bound, bound_values = "0", []
    if after is not None:
        # The rank of the cursor's row, or of the last row before where it was (gone, or its key changed):
        # every row after the cursor in the name order ranks above it.
        bound = (f"COALESCE((SELECT r.rank FROM \"certificate\" c JOIN {NAME_RANKS} r ON r.certificate_id = c.id "
                 "WHERE c.search_key <= {} AND (c.search_key < {} OR c.not_after > {} "
                 "OR (c.not_after = {} AND c.id <= {})) ORDER BY c.search_key DESC, c.not_after, c.id DESC "
                 "LIMIT 1), 0)")
        search_key, not_after, certificate_id = after
        bound_values = [search_key, search_key, not_after, not_after, certificate_id]
    where = all_of(conditions)
    # The inner "certificate" is the one its conditions name; CROSS JOIN keeps the text table outermost,
    # so that the rows come in its order and the LIMIT ends the read.
    return WhereRaw(
        f'"certificate"."id" IN (SELECT "certificate"."id" FROM {TEXT_TABLE} '
        f"CROSS JOIN {NAME_RANKS} ON {NAME_RANKS}.rank = {TEXT_TABLE}.rowid "
        f'CROSS JOIN "certificate" ON "certificate"."id" = {NAME_RANKS}.certificate_id '
        f"WHERE {likes} AND {TEXT_TABLE}.rowid > {bound}{' AND {}' if where is not None else ''} "
        f"ORDER BY {TEXT_TABLE}.rowid LIMIT {{}})",
        *patterns, *bound_values, *([where.querystring] if where is not None else []), limit)


async def _few_matches(words: list[str]) -> bool:
    """Whether the search's words, looked up in the text index, match few enough certificates for the list
    to read them that way; otherwise (or with no text index) the list walks its order."""
    indexed = _indexed_words(words)
    if not indexed:
        return False
    if db.is_sqlite():
        return await _few_in_text_table(indexed)
    return await _planned_matches("certificate", _TRIGRAM_INDEX, indexed, INDEX_PATH_MAX_MATCHES)


async def _few_names(words: list[str]) -> bool:
    """PostgreSQL: whether the search's words match few enough search keys for a wide list to sort them."""
    indexed = _indexed_words(words)
    return bool(indexed) and await _planned_matches(SEARCH_NAMES, _SEARCH_NAMES_INDEX, indexed, NAMES_MAX_MATCHES)


async def _planned_matches(table: str, index: str, indexed: list[str], most: int) -> bool:
    """Whether the planner would find the rows of `table` matching every word through `index`, and expects
    at most `most` of them. No index (pg_trgm unavailable), or a plan without it: no."""
    likes, patterns = _word_likes(indexed)
    rows = await Certificate.raw(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {likes}", *patterns)
    plan = rows[0]["QUERY PLAN"] if rows else "[]"
    if index not in plan:
        return False
    return json.loads(plan)[0]["Plan"]["Plan Rows"] <= most


def _named_condition(words: list[str], conditions: list[Any], after: Sequence[Any] | None, limit: int) -> WhereRaw:
    """The certificates of a page read through PostgreSQL's table of search keys: the keys matching the words,
    sorted (from the cursor's key on), and each key's certificates under every one of `conditions` through
    the name index, newest first, until `limit` of them. The list then sorts these few rows itself.

    The fences (OFFSET 0) fix the plan's shape: the keys found through their trigram index and sorted
    before any certificate is read, and the certificates read key by key, so that the page ends the
    reading; left to itself, the planner merged the sorted keys with a walk of the whole name index
    (130 ms instead of 1)."""
    # Every word, the short ones too (tested on the keys the others found): the certificates' own rows
    # are not tested for them again.
    likes, patterns = _word_likes(words, "k.search_key")
    from_key, from_values = "", []
    if after is not None:
        from_key, from_values = " AND k.search_key >= {}", [after[0]]
    where = all_of(conditions)
    # `|| ''`: the keys' order as an expression, which the table's own index does not serve, so that the
    # matches are found through the trigram index and sorted, never by walking every key in order.
    return WhereRaw(
        f"\"certificate\".\"id\" IN (SELECT matched.id FROM (SELECT k.search_key || '' AS search_key "
        f"FROM {SEARCH_NAMES} k WHERE {likes}{from_key} ORDER BY 1 OFFSET 0) names "
        f'CROSS JOIN LATERAL (SELECT "certificate"."id", "certificate"."not_after" FROM "certificate" '
        f'WHERE "certificate"."search_key" = names.search_key{" AND {}" if where is not None else ""} OFFSET 0) '
        f"matched ORDER BY names.search_key, matched.not_after DESC, matched.id LIMIT {{}})",
        *patterns, *from_values, *([where.querystring] if where is not None else []), limit)


async def _few_in_text_table(indexed: list[str]) -> bool:
    likes, patterns = _word_likes(indexed, f"{TEXT_TABLE}.search_key")
    try:
        rows = await Certificate.raw(
            f"SELECT COUNT(*) AS matches FROM (SELECT rowid FROM {TEXT_TABLE} WHERE {likes} LIMIT {{}})",
            *patterns, TEXT_TABLE_MAX_MATCHES + 1)
    except sqlite3.OperationalError:  # no such table: the SQLite library had no FTS5 trigram tokenizer
        return False
    return rows[0]["matches"] <= TEXT_TABLE_MAX_MATCHES


def _list_sort(by_expiry: bool, *, read_in_order: bool) -> list[tuple[Any, bool]]:
    """The list's order. The name order is written as an expression when the page's rows are found another
    way (the text index, the agency index of a small subtree), so that the planner sorts the few rows found
    instead of walking the name index: the same order either way."""
    if by_expiry:
        return [(Certificate.not_after, True), (Certificate.id, True)]
    return [(Certificate.search_key if read_in_order else _NAME_EXPRESSION, True),
            (Certificate.not_after, False), (Certificate.id, True)]


def _name_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["search_key"], row["not_after"], row["id"]


def _expiry_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["not_after"], row["id"]


async def list_for_person(person_id: int) -> list[dict[str, Any]]:
    """The certificates the person holds, and those they keep for their agency like the seal (a clerk's
    organisation certificate), newest first (the staff "my page")."""
    rows = await Certificate.select(*LIST_COLUMNS).where(
        (Certificate.holder == person_id) | (Certificate.custodian == person_id)).order_by(
        Certificate.not_after, ascending=False
    )
    return [certificate_json(row) for row in rows]


async def revocations_issued_by(issuer: str) -> list[dict[str, Any]]:
    """Every certificate of issuer `issuer` (RFC 4514, as stored) the registry knows revoked: serial (hex),
    revoked_at and reason. What a CA that keeps its records here puts on its CRL."""
    return await Certificate.select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason).where(
        (Certificate.issuer == issuer) & Certificate.revoked_at.is_not_null()).order_by(Certificate.id)


# --- maintenance ------------------------------------------------------------------------------------


async def sort_search_names() -> None:
    """PostgreSQL: rewrite the table of search keys in key order (CLUSTER on its primary key). A search reads
    its matching keys from that table's pages, and keys added by imports land wherever there is room: at a
    million certificates loaded in chunks, the 1,700 keys that match "nguyen van" lay on 1,023 of its pages
    (4.1 ms), where in key order they fill 24 (1.1 ms). The table is locked while it is rewritten (a few
    seconds at 210,000 keys): searches and imports wait, none fails. Inside the caller's transaction."""
    await Certificate.raw(f"CLUSTER {SEARCH_NAMES} USING {SEARCH_NAMES}_pkey")
    await Certificate.raw(f"ANALYZE {SEARCH_NAMES}")


async def tidy_search_indexes() -> str:
    """Put the certificate search's own structures back in their best shape, for a quiet hour (`registry
    maintain`): on PostgreSQL the table of search keys in key order (`sort_search_names`); on SQLite the text
    table's segments merged into one (FTS5's 'optimize', which a bulk load runs too). Changes no registry data;
    returns what was done, in a line."""
    async with db.transaction():
        if not db.is_sqlite():
            await sort_search_names()
            count = (await Certificate.raw(f"SELECT count(*) AS n FROM {SEARCH_NAMES}"))[0]["n"]
            return f"search keys sorted ({count} keys)"
        if not await Certificate.raw("SELECT 1 FROM sqlite_master WHERE name = {}", TEXT_TABLE):
            return "no text table to merge (this SQLite has no FTS5 trigram tokenizer)"
        await Certificate.raw(MERGE_TEXT_TABLE)
        return "text index merged"
