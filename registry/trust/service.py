"""The trust store and the one verification service every domain calls.

The store holds trust anchors, intermediate CA certificates and CRLs, uploaded by admins (or added by the
built-in test CA and by the CRL refresh). Every change bumps `trust_state.version` in its transaction.

Verification builds and validates the path with pyhanko-certvalidator under an explicit revocation policy:
a CRL is required for the end entity and for every intermediate CA, so a certificate whose revocation status
cannot be established from a current CRL is `revocation_unknown`, never `valid`; the registry's own
revocation records count too. Parsing 173 CRLs costs seconds, so each worker keeps ONE long-lived
validation context per store version (rebuilt when another worker's change shows in the database), and
within a version it caches the validated path of each issuing CA, so a certificate of a known CA skips
path building and its CA's revocation check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo, ValidationTimingParams
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    NonRevokedStatusAssertion,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.validate import async_validate_path

from registry import db
from registry.audit import service as audit
from registry.auth.permissions import authorize
from registry.auth.principal import Principal, system_principal
from registry.certs import parsing
from registry.errors import Conflict, Invalid
from registry.timeutil import display, now, to_vietnam
from registry.trust.schemas import (
    STATUS_LABELS,
    CertificateSummary,
    CrlSourceOut,
    TrustItemOut,
    TrustStoreOut,
    Verification,
)
from registry.trust.tables import CrlSource, TrustItem, TrustState

logger = logging.getLogger("registry.trust")

KINDS = ("anchor", "intermediate", "crl")
KIND_LABELS = {"anchor": "Chứng thư gốc tin cậy", "intermediate": "Chứng thư CA trung gian", "crl": "Danh sách thu hồi (CRL)"}
SOURCES = ("upload", "default", "dev_ca", "refresh")
SOURCE_LABELS = {"upload": "Quản trị tải lên", "default": "Mặc định khi cài đặt", "dev_ca": "CA thử nghiệm",
                 "refresh": "Tự động cập nhật"}
PURPOSE_LABELS = {"verify": "Kiểm tra chứng thư", "import": "Nhập chứng thư số"}
DEFAULT_ANCHORS_DIR = Path(__file__).resolve().parent / "anchors"

# How often a worker asks the database whether another worker changed the store.
VERSION_CHECK_SECONDS = 1.0
# Cached CA paths are re-validated at least this often (and when the earliest CRL's nextUpdate passes).
PATH_CACHE_SECONDS = 300.0
# Usage counters are written at most this often (bookkeeping, never on every verification).
USAGE_FLUSH_SECONDS = 60.0
# A CRL dated further ahead than this is refused (a wrong clock or a forged date).
CRL_FUTURE_TOLERANCE = timedelta(days=1)
MAX_STORE_BYTES = 64 * 1024 * 1024
_LOCK_TRUST_STORE = 90

# Both the end entity and every intermediate CA need a CRL: no "soft fail".
REVOCATION_POLICY = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CRL_REQUIRED,
)

CRL_REASON_LABELS = {
    "unspecified": "không nêu lý do",
    "key_compromise": "lộ khóa bí mật",
    "ca_compromise": "CA bị lộ khóa",
    "affiliation_changed": "thay đổi đơn vị công tác",
    "superseded": "đã được thay thế",
    "cessation_of_operation": "ngừng sử dụng",
    "certificate_hold": "tạm dừng",
    "remove_from_crl": "gỡ khỏi danh sách thu hồi",
    "privilege_withdrawn": "rút quyền",
    "aa_compromise": "AA bị lộ khóa",
}


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- reading what is uploaded -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    kind: str
    der: bytes
    fingerprint: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    crl_number: str = ""
    distribution_points: tuple[str, ...] = ()
    certificate: x509.Certificate | None = None
    crl: x509.CertificateRevocationList | None = None


def _name(name: x509.Name) -> str:
    return name.rfc4514_string(parsing.NAME_OVERRIDES)


def distribution_points(certificate_or_crl: Any) -> tuple[str, ...]:
    """http(s) URLs of a certificate's CRL distribution points, or of a CRL's issuing distribution point."""
    urls: list[str] = []
    try:
        if isinstance(certificate_or_crl, x509.Certificate):
            points = certificate_or_crl.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
            names = [name for point in points for name in (point.full_name or ())]
        else:
            point = certificate_or_crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT).value
            names = list(point.full_name or ())
    except (x509.ExtensionNotFound, ValueError):
        return ()
    for name in names:
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(("http://", "https://")):
            if len(name.value) <= 1000 and name.value not in urls:
                urls.append(name.value)
    return tuple(urls)


def _refuse(message: str, code: str) -> Invalid:
    return Invalid(message, code=code, fields={"file": message})


def parse_certificate_for_store(data: bytes, kind: str) -> _Parsed:
    try:
        certificates = parsing.load_certificates(data)
    except Invalid as error:
        raise _refuse(f"Tệp không phải chứng thư số đọc được (cần PEM hoặc DER): {error.detail}", "not_a_certificate") from None
    if len(certificates) != 1:
        raise _refuse(f"Tệp chứa {len(certificates)} chứng thư số; mỗi lần chỉ tải lên một chứng thư.", "one_certificate_only")
    certificate = certificates[0]
    try:
        described = parsing.describe(certificate)
    except Invalid as error:
        raise _refuse(f"Chứng thư số bị lỗi định dạng: {error.detail}", "malformed_certificate") from None
    if not described.is_ca:
        raise _refuse("Đây không phải chứng thư của tổ chức chứng thực (CA): thiếu BasicConstraints CA=TRUE.", "not_a_ca")
    if described.not_after < datetime.now(UTC):
        raise _refuse(f"Chứng thư CA đã hết hạn từ {display(described.not_after)}.", "certificate_expired")
    return _Parsed(
        kind=kind, der=described.der, fingerprint=described.fingerprint, subject=described.subject,
        issuer=described.issuer, serial=described.serial, not_before=described.not_before,
        not_after=described.not_after, distribution_points=distribution_points(certificate), certificate=certificate,
    )


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from PEM or DER; Invalid (422, Vietnamese reason) for anything else."""
    if not data or not data.strip():
        raise _refuse("Tệp rỗng.", "not_a_crl")
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (ValueError, TypeError):
        raise _refuse("Tệp không phải danh sách chứng thư bị thu hồi (CRL) đọc được; cần PEM hoặc DER.", "not_a_crl") from None


def _crl_number(crl: x509.CertificateRevocationList) -> str:
    try:
        return format(crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number, "x")
    except (x509.ExtensionNotFound, ValueError):
        return ""


def parse_crl_for_store(data: bytes) -> _Parsed:
    crl = load_crl(data)
    try:
        der = crl.public_bytes(Encoding.DER)
        issuer = _name(crl.issuer)
        this_update = crl.last_update_utc
        next_update = crl.next_update_utc
        number = _crl_number(crl)
        # Reading every entry once: a CRL whose entries cannot be decoded is refused now, not at verification.
        for entry in crl:
            _ = entry.serial_number, entry.revocation_date_utc
    except (ValueError, TypeError) as error:
        raise _refuse(f"CRL bị lỗi định dạng: {' '.join(str(error).split())[:200]}", "not_a_crl") from None
    if next_update is None:
        raise _refuse("CRL không ghi thời điểm cập nhật tiếp theo (nextUpdate); không dùng được.", "crl_without_next_update")
    moment = datetime.now(UTC)
    if next_update < moment:
        raise _refuse(f"CRL đã hết hiệu lực: lẽ ra phải được thay bằng bản mới từ {display(next_update)}.", "crl_expired")
    if this_update > moment + CRL_FUTURE_TOLERANCE:
        raise _refuse(f"CRL ghi ngày phát hành ở tương lai ({display(this_update)}).", "crl_from_future")
    return _Parsed(
        kind="crl", der=der, fingerprint=_fingerprint(der), subject=issuer, issuer=issuer, serial="",
        not_before=this_update, not_after=next_update, crl_number=number,
        distribution_points=distribution_points(crl), crl=crl,
    )


# --- the store ------------------------------------------------------------------------------------


def _item_json(row: dict[str, Any], *, created: bool | None = None) -> TrustItemOut:
    stale, stale_hours = False, 0
    if row["kind"] == "crl" and row["not_after"] is not None:
        late = datetime.now(UTC) - _utc(row["not_after"])
        if late > timedelta(0):
            stale, stale_hours = True, int(late.total_seconds() // 3600)
    return TrustItemOut(
        id=row["id"], kind=row["kind"], fingerprint=row["fingerprint"], subject=row["subject"], issuer=row["issuer"],
        serial=row["serial"], not_before=row["not_before"], not_after=row["not_after"], crl_number=row["crl_number"],
        source=row["source"], added_at=row["added_at"], superseded_at=row["superseded_at"],
        last_used_at=row["last_used_at"], last_used_for=row["last_used_for"], use_count=row["use_count"],
        distribution_points=[url for url in (row.get("distribution_points") or "").split("\n") if url],
        stale=stale, stale_hours=stale_hours, created=created,
    )


ITEM_COLUMNS = TrustItem.all_columns(exclude=[TrustItem.der])


async def _ensure_state(actor: Principal | None = None) -> None:
    """A new installation (no state row yet) starts with the government CA's G2 root as its anchor (recorded
    as added by whoever first touched the store, or by the system)."""
    if await TrustState.exists().where(TrustState.id > 0):
        return
    async with db.transaction():
        await db.serialize_on(_LOCK_TRUST_STORE, "state")
        if await TrustState.exists().where(TrustState.id > 0):
            return
        await TrustState.insert(TrustState(version=1, changed_at=now()))
        actor = actor or system_principal("trust-store")
        for path in sorted(DEFAULT_ANCHORS_DIR.glob("*.pem")):
            await _store(actor, parse_certificate_for_store(path.read_bytes(), "anchor"), source="default")


async def ensure_default_anchor() -> None:
    """Called by `registry migrate` / `serve` and on first use."""
    await _ensure_state()


async def _bump_version() -> int:
    rows = await TrustState.update({TrustState.version: TrustState.version + 1, TrustState.changed_at: now()}).where(
        TrustState.id > 0).returning(TrustState.version)
    version = rows[0]["version"]
    tx = db.current_tx()
    if tx is not None:
        async def forget() -> None:
            _CACHE.local_change()
        tx.after_commit.append(forget)
    return version


async def _crl_signer(parsed: _Parsed) -> dict[str, Any] | None:
    """The store certificate whose key signed the CRL (same name, signature checked), if any."""
    assert parsed.crl is not None
    candidates = await TrustItem.select(TrustItem.fingerprint, TrustItem.der, TrustItem.subject).where(
        TrustItem.kind.is_in(["anchor", "intermediate"]) & (TrustItem.subject == parsed.issuer))
    for candidate in candidates:
        certificate = x509.load_der_x509_certificate(candidate["der"])
        try:
            if parsed.crl.is_signature_valid(certificate.public_key()):  # type: ignore[arg-type]
                return candidate
        except (TypeError, ValueError):
            continue
    return None


async def _store(actor: Principal, parsed: _Parsed, *, source: str) -> tuple[dict[str, Any], bool]:
    """Inside a transaction: the known item untouched, or the new one stored, the version bumped, audited."""
    existing = await TrustItem.select(*ITEM_COLUMNS).where(TrustItem.fingerprint == parsed.fingerprint).first()
    if existing is not None:
        return existing, False
    issuer_fingerprint = ""
    moment = now()
    if parsed.kind == "crl":
        signer = await _crl_signer(parsed)
        if signer is None:
            raise _refuse("Chữ ký của CRL không do tổ chức chứng thực nào trong kho tin cậy tạo ra (CRL giả mạo, "
                          "hoặc cần tải lên chứng thư CA đã ký nó trước).", "crl_signature_unknown")
        issuer_fingerprint = signer["fingerprint"]
        current = await TrustItem.select(TrustItem.id, TrustItem.not_before, TrustItem.crl_number).where(
            (TrustItem.kind == "crl") & (TrustItem.issuer_fingerprint == issuer_fingerprint)
            & TrustItem.superseded_at.is_null())
        assert parsed.not_before is not None
        for row in current:
            if _utc(row["not_before"]) > _utc(parsed.not_before):
                raise Conflict(f"Đã có CRL mới hơn của tổ chức chứng thực này (phát hành {display(row['not_before'])}).",
                               code="crl_older_than_current")
        if current:
            await TrustItem.update({TrustItem.superseded_at: moment}).where(
                TrustItem.id.is_in([row["id"] for row in current]))
    await TrustItem.insert(TrustItem(
        kind=parsed.kind, fingerprint=parsed.fingerprint, der=parsed.der, subject=parsed.subject, issuer=parsed.issuer,
        serial=parsed.serial, not_before=parsed.not_before, not_after=parsed.not_after, crl_number=parsed.crl_number,
        issuer_fingerprint=issuer_fingerprint, distribution_points="\n".join(parsed.distribution_points),
        source=source, added_at=moment, added_by=actor.user_id,
    ))
    for url in parsed.distribution_points:
        # Where the CRL covering this certificate (a CA's) or this CRL itself is published: refreshed on schedule.
        await CrlSource.insert(CrlSource(url=url, issuer_fingerprint=issuer_fingerprint, next_due_at=moment)).on_conflict(
            target=CrlSource.url, action="DO NOTHING")
    version = await _bump_version()
    audit.record(actor, f"trust.add_{parsed.kind}", "trust_item", parsed.fingerprint, after={
        "kind": parsed.kind, "subject": parsed.subject, "issuer": parsed.issuer, "serial": parsed.serial,
        "not_before": parsed.not_before, "not_after": parsed.not_after, "crl_number": parsed.crl_number,
        "source": source, "version": version,
    })
    row = await TrustItem.select(*ITEM_COLUMNS).where(TrustItem.fingerprint == parsed.fingerprint).first()
    assert row is not None
    return row, True


async def add_to_store(actor: Principal, data: bytes, kind: str, *, source: str = "upload") -> tuple[TrustItemOut, bool]:
    """Add a trust anchor, an intermediate CA certificate or a CRL (PEM or DER) → (the item, created).

    Idempotent by fingerprint: the same bytes again change nothing (created False). Refused with a 4xx and a
    Vietnamese reason: anything that does not parse, a certificate that is no CA or has expired, a CRL that is
    past its nextUpdate, or whose signature no CA in the store made, or older than the current one."""
    authorize(actor, "trust.manage")
    if kind not in KINDS:
        raise Invalid("kind must be anchor, intermediate or crl", fields={"kind": "anchor, intermediate or crl"})
    if source not in SOURCES:
        raise Invalid(f"source must be one of {', '.join(SOURCES)}", fields={"source": "unknown source"})
    if len(data) > MAX_STORE_BYTES:
        raise _refuse("Tệp quá lớn.", "too_large")
    parsed = parse_crl_for_store(data) if kind == "crl" else parse_certificate_for_store(data, kind)
    await _ensure_state(actor)
    async with db.transaction():
        await db.serialize_on(_LOCK_TRUST_STORE, "store")
        row, created = await _store(actor, parsed, source=source)
    return _item_json(row, created=created), created


async def list_store(actor: Principal, *, include_superseded: bool = False) -> TrustStoreOut:
    authorize(actor, "trust.read")
    await _ensure_state(actor)
    query = TrustItem.select(*ITEM_COLUMNS).order_by(TrustItem.kind).order_by(TrustItem.added_at, ascending=False)
    if not include_superseded:
        query = query.where(TrustItem.superseded_at.is_null())
    rows = await query
    sources = await CrlSource.select().order_by(CrlSource.url)
    state = await TrustState.select(TrustState.version).first()
    return TrustStoreOut(
        version=state["version"] if state else 0,
        items=[_item_json(row) for row in rows],
        crl_sources=[CrlSourceOut(url=s["url"], issuer_fingerprint=s["issuer_fingerprint"], next_due_at=s["next_due_at"],
                                  last_attempt_at=s["last_attempt_at"], last_success_at=s["last_success_at"],
                                  last_error=s["last_error"], failures=s["failures"]) for s in sources],
    )


async def store_version() -> int:
    state = await TrustState.select(TrustState.version).first()
    return state["version"] if state else 0


async def _version_key() -> tuple[int, str]:
    """The version with the moment of its change: a database restored from a copy cannot pass for the same."""
    state = await TrustState.select(TrustState.version, TrustState.changed_at).first()
    return (state["version"], str(state["changed_at"])) if state else (0, "")


# --- the long-lived validation context --------------------------------------------------------------


@dataclass
class _Snapshot:
    """What one version of the store gives validation: one context, parsed once, and caches."""

    version: int
    key: tuple[int, str]
    context: ValidationContext
    anchors: list[asn1_x509.Certificate]
    intermediates: list[asn1_x509.Certificate]
    crls: list[asn1_crl.CertificateList]
    # sha256 hex of each store certificate, by the certificate's signature bytes (pyhanko's identity of a cert).
    store_fingerprints: dict[bytes, str]
    # Validated paths of issuing CAs: key (issuer name, authority key id) → path ending at that CA.
    ca_paths: dict[tuple[bytes, bytes | None], ValidationPath] = field(default_factory=dict)
    paths_valid_until: float = 0.0
    # The earliest nextUpdate of a current CRL: cached paths are re-validated once it passes.
    earliest_next_update: datetime | None = None
    # Revoked serials of each current full CRL, by the fingerprint of the CA certificate that signed it.
    crl_index: dict[str, _CrlIndex] = field(default_factory=dict)
    # The anchors' public keys (DER): a certificate with another key cannot be an anchor itself.
    anchor_keys: frozenset[bytes] = frozenset()
    # An issuer name's comparison form (asn1crypto's `hashable`, costly to compute), by the name's DER.
    name_keys: dict[bytes, str] = field(default_factory=dict)
    # Whether a subject attribute (by its DER) is text of _SAFE_NAME_CHARACTERS (see _no_issuer_anywhere).
    safe_attributes: dict[bytes, bool] = field(default_factory=dict)
    # An issuer name's values in their prepared form (asn1crypto's `prepped_value`), by the name's DER.
    prepared_names: dict[bytes, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _CrlIndex:
    """The serials one CRL lists, read once per store version: pyhanko looks a certificate up in a CRL by
    walking all its entries, which on a CA's list of thousands costs more than everything else."""

    serials: frozenset[int]
    this_update: datetime
    next_update: datetime

    def covers(self, moment: datetime) -> bool:
        return self.this_update <= moment <= self.next_update


def _index_crl(der: bytes) -> _CrlIndex | None:
    """The index of a full CRL (no delta, no partition by scope or reason, not indirect); None otherwise, and
    pyhanko then judges every certificate against it itself."""
    crl = x509.load_der_x509_crl(der)
    if crl.next_update_utc is None:
        return None
    for extension in crl.extensions:
        if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return None
        if extension.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            point = extension.value
            if (point.only_contains_user_certs or point.only_contains_ca_certs or point.only_some_reasons
                    or point.indirect_crl or point.only_contains_attribute_certs):
                return None
    serials = []
    for entry in crl:
        # An entry naming another issuer (indirect) or a hold that may be lifted: leave the CRL to pyhanko.
        for extension in entry.extensions:
            if extension.oid in (x509.oid.CRLEntryExtensionOID.CERTIFICATE_ISSUER,):
                return None
            if extension.critical and extension.oid not in (x509.oid.CRLEntryExtensionOID.CRL_REASON,
                                                            x509.oid.CRLEntryExtensionOID.INVALIDITY_DATE):
                return None
        serials.append(entry.serial_number)
    return _CrlIndex(frozenset(serials), crl.last_update_utc, crl.next_update_utc)


def _context(anchors: list[asn1_x509.Certificate], intermediates: list[asn1_x509.Certificate],
             crls: list[asn1_crl.CertificateList], moment: datetime | None) -> ValidationContext:
    # A check at a past moment may use CRLs issued after it (they list revocations with their dates).
    policy = CertRevTrustPolicy(REVOCATION_POLICY, retroactive_revinfo=moment is not None)
    return ValidationContext(
        trust_roots=list(anchors), other_certs=list(intermediates), crls=list(crls), revinfo_policy=policy,
        moment=_utc(moment) if moment is not None else None, allow_fetching=False,
    )


class _ContextCache:
    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None
        self.checked_at = 0.0
        self.lock = asyncio.Lock()
        self.stale = False

    def local_change(self) -> None:
        """This worker changed the store: the next verification looks at the version at once."""
        self.stale = True

    def clear(self) -> None:
        self.snapshot, self.checked_at, self.stale = None, 0.0, False

    async def get(self) -> _Snapshot:
        clock = time.monotonic()
        snapshot = self.snapshot
        if snapshot is not None and not self.stale and clock - self.checked_at < VERSION_CHECK_SECONDS:
            return snapshot
        async with self.lock:
            if self.snapshot is None:
                await _ensure_state()
            key = await _version_key()
            self.checked_at, self.stale = time.monotonic(), False
            if self.snapshot is None or self.snapshot.key != key:
                self.snapshot = await _load_snapshot(key)
            return self.snapshot


_CACHE = _ContextCache()


async def _load_snapshot(key: tuple[int, str]) -> _Snapshot:
    rows = await TrustItem.select(TrustItem.kind, TrustItem.der, TrustItem.fingerprint, TrustItem.not_after,
                                  TrustItem.issuer_fingerprint).where(TrustItem.superseded_at.is_null())
    anchors, intermediates, crls = [], [], []
    crl_ders: dict[str, bytes] = {}
    fingerprints: dict[bytes, str] = {}
    earliest: datetime | None = None
    moment = datetime.now(UTC)
    for row in rows:
        der = bytes(row["der"])
        if row["kind"] == "crl":
            crls.append(asn1_crl.CertificateList.load(der))
            crl_ders[row["issuer_fingerprint"]] = der
            next_update = _utc(row["not_after"]) if row["not_after"] else None
            if next_update is not None and next_update > moment and (earliest is None or next_update < earliest):
                earliest = next_update
            continue
        certificate = asn1_x509.Certificate.load(der)
        fingerprints[certificate.signature] = row["fingerprint"]
        (anchors if row["kind"] == "anchor" else intermediates).append(certificate)
    context = await asyncio.to_thread(_context, anchors, intermediates, crls, None)

    def index_all() -> dict[str, _CrlIndex]:
        indexes = {}
        for issuer_fingerprint, crl_der in crl_ders.items():
            try:
                index = _index_crl(crl_der)
            except (ValueError, TypeError):
                index = None
            if index is not None:
                indexes[issuer_fingerprint] = index
        return indexes

    return _Snapshot(version=key[0], key=key, context=context, anchors=anchors, intermediates=intermediates, crls=crls,
                     store_fingerprints=fingerprints, earliest_next_update=earliest,
                     crl_index=await asyncio.to_thread(index_all),
                     anchor_keys=frozenset(anchor.public_key.dump() for anchor in anchors))


def forget_cached_context() -> None:
    """For tests and the benchmark: the next verification rebuilds the context from the database, and usage
    counted against another database is not written into this one."""
    _CACHE.clear()
    _usage.clear()


# --- verification ---------------------------------------------------------------------------------


def _summary(described: parsing.ParsedCertificate) -> CertificateSummary:
    return CertificateSummary(
        subject=described.subject, issuer=described.issuer, serial=described.serial,
        not_before=to_vietnam(described.not_before), not_after=to_vietnam(described.not_after),
        fingerprint=described.fingerprint, common_name=described.common_name, email=described.email,
        is_ca=described.is_ca,
    )


@dataclass
class _Outcome:
    status: str
    detail: str
    path: ValidationPath | None = None
    revoked_at: datetime | None = None
    reason: str | None = None


def _classify(error: Exception) -> _Outcome:
    """pyhanko's verdict in the registry's words."""
    if isinstance(error, RevokedError):
        reason = error.reason.native if error.reason is not None else "unspecified"
        who = "Chứng thư số" if error.is_ee_cert else "Chứng thư của tổ chức chứng thực cấp trên"
        return _Outcome("revoked", f"{who} đã bị thu hồi từ {display(error.revocation_dt)} "
                                   f"({CRL_REASON_LABELS.get(reason, reason)}), theo danh sách thu hồi (CRL) của tổ chức chứng thực.",
                        path=error.original_path, revoked_at=to_vietnam(error.revocation_dt), reason=str(reason))
    if isinstance(error, ExpiredError):
        who = "Chứng thư số" if error.is_ee_cert else "Chứng thư của tổ chức chứng thực cấp trên"
        return _Outcome("expired", f"{who} đã hết hạn từ {display(error.expired_dt)}.", path=error.original_path)
    if isinstance(error, NotYetValidError):
        who = "Chứng thư số" if error.is_ee_cert else "Chứng thư của tổ chức chứng thực cấp trên"
        return _Outcome("not_yet_valid", f"{who} chỉ có hiệu lực từ {display(error.valid_from)}.", path=error.original_path)
    if isinstance(error, InsufficientRevinfoError):
        who = "chứng thư số" if error.is_ee_cert else "chứng thư của tổ chức chứng thực cấp trên"
        return _Outcome("revocation_unknown",
                        f"Không xác định được {who} có bị thu hồi hay không: kho tin cậy không có danh sách thu hồi "
                        "(CRL) còn hiệu lực, đúng chữ ký của tổ chức chứng thực, áp dụng cho nó.",
                        path=error.original_path)
    if isinstance(error, PathValidationError):
        message = str(error)
        if "signature" in message.lower():
            why = "chữ ký trên chứng thư không khớp với khóa của tổ chức chứng thực"
        elif "issuer name" in message:
            why = "tên tổ chức cấp ghi trên chứng thư không khớp với chứng thư cấp trên"
        elif "not allowed to sign certificates" in message or "key_cert_sign" in message:
            why = "chứng thư cấp trên không được phép ký chứng thư (thiếu keyCertSign)"
        elif "maximum path length" in message or "path length" in message.lower():
            why = "chuỗi chứng thư dài hơn giới hạn độ dài (pathLenConstraint) cho phép"
        elif "not a CA" in message or "basic constraints" in message.lower():
            why = "chứng thư cấp trên không phải chứng thư CA"
        elif "critical extension" in message:
            why = "chứng thư có phần mở rộng bắt buộc (critical) mà hệ thống không hiểu"
        else:
            why = "chuỗi chứng thư không đúng quy tắc X.509"
        return _Outcome("invalid", f"Chứng thư số không hợp lệ: {why}.", path=error.original_path)
    if isinstance(error, InvalidCertificateError):
        return _Outcome("untrusted", "Chứng thư số tự ký, không thuộc kho tin cậy của hệ thống.")
    if isinstance(error, PathBuildingError):
        return _Outcome("untrusted", "Không lập được chuỗi chứng thư đến một chứng thư gốc trong kho tin cậy: chứng thư "
                                     "do tổ chức chứng thực không được tin cậy cấp, hoặc thiếu chứng thư CA trung gian.")
    return _Outcome("invalid", "Chứng thư số không hợp lệ.")


def _set_now(context: ValidationContext, moment: datetime) -> None:
    """The shared context validates at the moment of each call (its constructor fixes one moment)."""
    context.timing_params = ValidationTimingParams(
        ValidationTimingInfo(validation_time=moment, best_signature_time=moment, point_in_time_validation=False),
        time_tolerance=context.time_tolerance,
    )


def _issuer_key(certificate: asn1_x509.Certificate) -> tuple[bytes, bytes | None]:
    return certificate.issuer.dump(), certificate.authority_key_identifier


async def _validate_shared(snapshot: _Snapshot, leaf: asn1_x509.Certificate, moment: datetime) -> ValidationPath:
    """Validate with the version's context, reusing a validated CA path when there is one."""
    context = snapshot.context
    _set_now(context, moment)
    clock = time.monotonic()
    if clock > snapshot.paths_valid_until or (
            snapshot.earliest_next_update is not None and moment >= snapshot.earliest_next_update):
        snapshot.ca_paths.clear()
        snapshot.paths_valid_until = clock + PATH_CACHE_SECONDS
        _clear_assertions(context)
    if _no_issuer_anywhere(snapshot, leaf):
        # What pyhanko's path building concludes for it, without building: see _no_issuer_anywhere.
        if leaf.self_signed in ("yes", "maybe"):
            raise InvalidCertificateError("The X.509 certificate provided is self-signed, and no trust anchor")
        raise PathBuildingError("Unable to build a validation path for the certificate: no issuer of its name is known")
    _reuse_issuer_preparation(snapshot, leaf)
    key = _issuer_key(leaf)
    cached = snapshot.ca_paths.get(key)
    if cached is not None and not leaf.ca:
        path = cached.copy_and_append(leaf)
        _assert_leaf_unrevoked(snapshot, cached, leaf, moment)
        try:
            await async_validate_path(context, path)
            return path
        except ValidationError:
            pass  # another path may still validate: the full search decides, and says why not
    path = await CertificateValidator(leaf, validation_context=context).async_validate_path()
    if not leaf.ca and path.pkix_len >= 1:
        above = list(path.iter_certs(include_root=False))[:-1]
        issuer_path = ValidationPath(path.trust_anchor, above[:-1], above[-1] if above else None)
        snapshot.ca_paths[key] = issuer_path
        # The issuing CAs passed their CRL checks in this version: later certificates of the same CA skip them
        # until the cache expires (at most PATH_CACHE_SECONDS, or when a CRL's nextUpdate passes).
        until = datetime.fromtimestamp(time.time() + PATH_CACHE_SECONDS, UTC)
        if snapshot.earliest_next_update is not None:
            until = min(until, snapshot.earliest_next_update)
        _assert_unrevoked(context, issuer_path.iter_certs(include_root=False), until)
    return path


def _safe_characters() -> frozenset[str]:
    """Characters that asn1crypto's comparison form of a name (RFC 4518 string preparation) maps, normalises
    and checks without ever refusing them, in any mix: printable ASCII, Latin letters with their diacritics
    (Vietnamese included) and the combining marks. Anything else is left to pyhanko."""
    import stringprep
    import unicodedata

    def harmless(char: str) -> bool:
        return not (stringprep.in_table_a1(char) or stringprep.in_table_c8(char) or stringprep.in_table_c3(char)
                    or stringprep.in_table_c4(char) or stringprep.in_table_c5(char) or char == "\ufffd"
                    or stringprep.in_table_d1(char))

    candidates = [*range(0x20, 0x7F), *range(0xC0, 0x250), *range(0x300, 0x370), *range(0x1E00, 0x1F00)]
    safe = set()
    for code in candidates:
        char = chr(code)
        prepared = unicodedata.normalize("NFKC", stringprep.map_table_b2(char))
        if harmless(char) and all(harmless(c) for c in prepared):
            safe.add(char)
    return frozenset(safe)


_SAFE_NAME_CHARACTERS = _safe_characters()
_NAME_KEYS_KEPT = 10_000


def _no_issuer_anywhere(snapshot: _Snapshot, leaf: asn1_x509.Certificate) -> bool:
    """True only when pyhanko's path building would find nothing for the certificate and fail the same way:
    it is not an anchor itself (its key is no anchor's), and neither the anchors nor the certificates known
    to the context (store intermediates, CA certificates registered from bundles) have its issuer's name,
    and nothing is fetched. Such a certificate is `untrusted` without building paths, the commonest verdict
    of an import from an unknown CA. pyhanko would first compute the comparison form of the certificate's
    subject and fail on a value RFC 4518 refuses (then `invalid`); the shortcut is only taken when every
    value of the subject is text of characters that cannot fail (_SAFE_NAME_CHARACTERS). False whenever
    in doubt: pyhanko then decides."""
    builder = getattr(snapshot.context, "path_builder", None)
    roots = getattr(getattr(builder, "trust_manager", None), "_root_subject_map", None)
    known = getattr(getattr(builder, "registry", None), "_subject_map", None)
    if not isinstance(roots, dict) or not isinstance(known, dict) or getattr(builder.registry, "fetcher", True) is not None:
        return False
    try:
        if leaf.public_key.dump() in snapshot.anchor_keys:
            return False
        # The issuer first: known for most certificates of a trusted CA, and looked up by a kept key, which
        # spares them the walk through the subject below.
        issuer_der = leaf.issuer.dump()
        name_key = snapshot.name_keys.get(issuer_der)
        if name_key is None:
            name_key = leaf.issuer.hashable
            if len(snapshot.name_keys) >= _NAME_KEYS_KEPT:
                snapshot.name_keys.clear()
            snapshot.name_keys[issuer_der] = name_key
        if roots.get(name_key) or known.get(name_key):
            return False
        for rdn in leaf.subject.chosen:
            for type_and_value in rdn:
                # Decoding an attribute costs more than the rest; most (country, province, agency) recur from
                # one certificate to the next, and the answer depends on the attribute's encoding alone.
                encoded = type_and_value.dump()
                safe = snapshot.safe_attributes.get(encoded)
                if safe is None:
                    _ = type_and_value["type"].native
                    value = type_and_value["value"].native
                    safe = isinstance(value, str) and _SAFE_NAME_CHARACTERS.issuperset(value)
                    if len(snapshot.safe_attributes) >= _NAME_KEYS_KEPT:
                        snapshot.safe_attributes.clear()
                    snapshot.safe_attributes[encoded] = safe
                if not safe:
                    return False
    except (ValueError, TypeError, KeyError):
        return False
    return True


def _reuse_issuer_preparation(snapshot: _Snapshot, leaf: asn1_x509.Certificate) -> None:
    """asn1crypto compares names (pyhanko: a certificate's issuer against its CA's subject) in their RFC 4518
    prepared form, computed in Python for each name object and kept on it. Every certificate of a CA brings its
    own copy of the CA's name, prepared again for each: the values prepared for the first copy of the same DER
    are given to the later ones, the values they would compute. Any error is left to pyhanko to meet."""
    try:
        issuer = leaf.issuer
        issuer_der = issuer.dump()
        values = [type_and_value for rdn in issuer.chosen for type_and_value in rdn]
        prepared = snapshot.prepared_names.get(issuer_der)
        if prepared is None:
            prepared = tuple(type_and_value.prepped_value for type_and_value in values)
            if len(snapshot.prepared_names) >= _NAME_KEYS_KEPT:
                snapshot.prepared_names.clear()
            snapshot.prepared_names[issuer_der] = prepared
            return
        if len(prepared) != len(values):
            return
        for type_and_value, value in zip(values, prepared, strict=True):
            type_and_value._prepped = value
    except (ValueError, TypeError, KeyError):
        return


def _assert_leaf_unrevoked(snapshot: _Snapshot, issuer_path: ValidationPath, leaf: asn1_x509.Certificate,
                           moment: datetime) -> None:
    """With the issuing CAs' path validated in this version, a certificate whose serial the issuing CA's current
    full CRL does not list is not revoked: tell pyhanko so, and it skips walking the CRL. A listed serial, a
    CRL that does not cover the moment, or one that is not indexed: pyhanko checks it as usual."""
    issuer = issuer_path.leaf if issuer_path.leaf is not None else getattr(issuer_path.trust_anchor.authority, "certificate", None)
    if issuer is None:
        return
    fingerprint = snapshot.store_fingerprints.get(issuer.signature)
    index = snapshot.crl_index.get(fingerprint) if fingerprint else None
    if index is None or not index.covers(moment) or leaf.serial_number in index.serials:
        return
    _assert_unrevoked(snapshot.context, [leaf], index.next_update)


def _assert_unrevoked(context: ValidationContext, certificates: Iterable[asn1_x509.Certificate], until: datetime) -> None:
    assertions = getattr(context.revinfo_manager, "_assertions", None)
    if not isinstance(assertions, dict):
        return
    for certificate in certificates:
        assertions[certificate.sha256] = NonRevokedStatusAssertion(cert_sha256=certificate.sha256, at=until)


def _clear_assertions(context: ValidationContext) -> None:
    assertions = getattr(context.revinfo_manager, "_assertions", None)
    if isinstance(assertions, dict):
        assertions.clear()


async def _validate_at(snapshot: _Snapshot, leaf: asn1_x509.Certificate, moment: datetime) -> ValidationPath:
    """A check at a past (or future) moment: a context of its own, from the version's parsed items."""
    context = _context(snapshot.anchors, snapshot.intermediates, snapshot.crls, moment)
    return await CertificateValidator(leaf, validation_context=context).async_validate_path()


# Usage bookkeeping: store item fingerprint → (count, last moment, purpose), written now and then.
_usage: dict[str, list[Any]] = {}
_usage_flushed_at = time.monotonic()


def _note_use(snapshot: _Snapshot, path: ValidationPath, purpose: str, moment: datetime) -> None:
    for certificate in path.iter_certs(include_root=True):
        fingerprint = snapshot.store_fingerprints.get(certificate.signature)
        if fingerprint is None:
            continue
        entry = _usage.setdefault(fingerprint, [0, moment, purpose])
        entry[0] += 1
        entry[1], entry[2] = moment, purpose


async def flush_usage() -> None:
    """Write the usage counters gathered since the last flush (best effort: bookkeeping never fails a request)."""
    global _usage_flushed_at
    _usage_flushed_at = time.monotonic()
    if not _usage:
        return
    pending = dict(_usage)
    _usage.clear()

    async def write() -> None:
        for fingerprint, (count, moment, purpose) in pending.items():
            await TrustItem.update({
                TrustItem.use_count: TrustItem.use_count + count, TrustItem.last_used_at: moment,
                TrustItem.last_used_for: purpose,
            }).where(TrustItem.fingerprint == fingerprint)

    await db.best_effort(write, "trust store usage")


async def _registry_revocations(fingerprints: list[str]) -> dict[str, tuple[datetime, str]]:
    from registry.certs import service as certs

    return await certs.revocations_by_fingerprint(fingerprints)


def _path_fingerprints(path: ValidationPath | None) -> list[str]:
    if path is None:
        return []
    return [hashlib.sha256(cert.dump()).hexdigest() for cert in path.iter_certs(include_root=False)]


@dataclass
class _Judged:
    """One certificate after path validation, before the registry's own revocation records are consulted."""

    described: parsing.ParsedCertificate
    moment: datetime
    outcome: _Outcome


def _load_leaf(described: parsing.ParsedCertificate) -> asn1_x509.Certificate:
    try:
        leaf = asn1_x509.Certificate.load(described.der)
        _ = leaf.issuer.dump(), leaf.signature, leaf.ca
    except (ValueError, TypeError):
        raise Invalid("Không phải chứng thư số đọc được.", code="not_a_certificate", fields={"file": "malformed"}) from None
    return leaf


async def _judge(snapshot: _Snapshot, described: parsing.ParsedCertificate, *, at: datetime | None,
                 intermediates: Iterable[bytes], leaf: asn1_x509.Certificate | None = None) -> _Judged:
    """pyhanko's verdict on one certificate (no database access); `leaf`: the certificate as `_load_leaf` read
    it already."""
    leaf = leaf if leaf is not None else _load_leaf(described)
    moment = to_vietnam(at) if at is not None else now()
    for extra in intermediates:
        # CA certificates that came with the certificate (a bundle) help build the path; they are not trusted
        # for it: the path must still end at an anchor of the store, every signature checked.
        try:
            snapshot.context.certificate_registry.register(asn1_x509.Certificate.load(extra))
        except (ValueError, TypeError):
            continue
    try:
        if at is None:
            path = await _validate_shared(snapshot, leaf, _utc(moment))
        else:
            path = await _validate_at(snapshot, leaf, _utc(moment))
        outcome = _Outcome("valid", "Chứng thư số hợp lệ: do tổ chức chứng thực tin cậy cấp, còn thời hạn và không có "
                                    "trong danh sách thu hồi.", path=path)
    except (ValidationError, PathBuildingError) as error:
        logger.debug("certificate %s: %s", described.fingerprint, error)
        outcome = _classify(error)
    except (ValueError, TypeError, KeyError) as error:
        # asn1crypto reads lazily: a field malformed deep inside surfaces only here.
        logger.info("certificate %s could not be validated: %s", described.fingerprint, error)
        outcome = _Outcome("invalid", "Chứng thư số có trường dữ liệu bị lỗi định dạng, không kiểm tra được.")
    return _Judged(described, moment, outcome)


# Verdicts the registry's own revocation records may turn into `revoked`.
_REGISTRY_CHECKED = ("valid", "revocation_unknown", "expired", "not_yet_valid")


def _registry_fingerprints(judged: _Judged) -> list[str]:
    if judged.outcome.status not in _REGISTRY_CHECKED:
        return []
    return [judged.described.fingerprint, *_path_fingerprints(judged.outcome.path)]


def _conclude(snapshot: _Snapshot, judged: _Judged, known: dict[str, tuple[datetime, str]], purpose: str, *,
              with_chain: bool = True) -> Verification:
    """The verdict: pyhanko's, unless the registry's own records say the certificate or a CA of its path is
    revoked; a valid certificate counts as a use of the store items of its path. `with_chain`: name the
    subjects of the path (decoding each certificate's subject again, for whoever shows the verdict)."""
    described, moment, outcome = judged.described, judged.moment, judged.outcome
    revocation_source = "crl" if outcome.status == "revoked" else None
    # The registry's own records: a revocation it knows of counts even before the CA's next CRL.
    for fingerprint in _registry_fingerprints(judged):
        if fingerprint not in known:
            continue
        revoked_at, reason = known[fingerprint]
        if to_vietnam(revoked_at) <= moment:
            who = "Chứng thư số" if fingerprint == described.fingerprint else "Chứng thư của tổ chức chứng thực cấp trên"
            outcome = _Outcome("revoked", f"{who} đã bị thu hồi từ {display(revoked_at)}, theo hồ sơ của hệ thống.",
                               path=outcome.path, revoked_at=to_vietnam(revoked_at), reason=reason)
            revocation_source = "registry"
            break
    if outcome.status == "valid" and outcome.path is not None:
        _note_use(snapshot, outcome.path, purpose, moment)
    chain = []
    if outcome.path is not None and with_chain:
        try:
            chain = [cert.subject.human_friendly for cert in outcome.path.iter_certs(include_root=True)]
        except (ValueError, TypeError):
            chain = []
    return Verification(
        valid=outcome.status == "valid", status=outcome.status, detail=outcome.detail, certificate=_summary(described),
        checked_at=moment, chain=chain, revoked_at=outcome.revoked_at, revocation_reason=outcome.reason,
        revocation_source=revocation_source, trust_store_version=snapshot.version,
    )


async def _flush_usage_when_due() -> None:
    if time.monotonic() - _usage_flushed_at > USAGE_FLUSH_SECONDS:
        await flush_usage()


def _describe_for_verification(der: bytes) -> parsing.ParsedCertificate:
    try:
        return parsing.parse_one(der)
    except Invalid as error:
        raise Invalid(f"Không phải chứng thư số đọc được: {error.detail}", code="not_a_certificate",
                      fields={"file": error.detail}) from None


async def verify(der: bytes, *, at: datetime | None = None, purpose: str = "verify",
                 intermediates: Iterable[bytes] = ()) -> Verification:
    """The verdict on one certificate (DER; PEM and bundles are read by the callers' parsing) now, or at `at`.

    Statuses: valid, revoked, expired, not_yet_valid, untrusted, invalid, revocation_unknown (CONTRACT.md).
    Raises Invalid (422) for bytes that are not a certificate."""
    described = _describe_for_verification(der)
    # Read before the store is: bytes asn1crypto cannot read are refused without it.
    leaf = _load_leaf(described)
    snapshot = await _CACHE.get()
    judged = await _judge(snapshot, described, at=at, intermediates=intermediates, leaf=leaf)
    fingerprints = _registry_fingerprints(judged)
    known = await _registry_revocations(fingerprints) if fingerprints else {}
    verdict = _conclude(snapshot, judged, known, purpose)
    if verdict.status == "valid":
        await _flush_usage_when_due()
    return verdict


# Verdicts an import accepts as they are, and those it accepts when the certificate was valid during its own
# validity period (the registry keeps history: an expired certificate of a trusted CA is still its record).
IMPORTABLE = ("valid",)
IMPORTABLE_IN_ITS_TIME = ("expired", "not_yet_valid")


async def verify_for_import(der: bytes, *, intermediates: Iterable[bytes] = ()) -> tuple[Verification, bool]:
    """The verdict an import goes by, and whether it lets the import through: valid now; or merely outside its
    validity period and valid at a moment inside it (an expired certificate of a trusted CA, never revoked, is
    still the registry's record). Anything else needs an admin's override."""
    verdict = await verify(der, purpose="import", intermediates=intermediates)
    return await _import_decision(der, verdict, intermediates)


async def _import_decision(der: bytes, verdict: Verification,
                           intermediates: Iterable[bytes]) -> tuple[Verification, bool]:
    if verdict.status in IMPORTABLE:
        return verdict, True
    if verdict.status in IMPORTABLE_IN_ITS_TIME:
        summary = verdict.certificate
        inside = (summary.not_after - timedelta(seconds=1) if verdict.status == "expired"
                  else summary.not_before + timedelta(seconds=1))
        then = await verify(der, at=inside, purpose="import", intermediates=intermediates)
        return (verdict, True) if then.status == "valid" else (then, False)
    return verdict, False


async def verify_all_for_import(
    certificates: Sequence[tuple[parsing.ParsedCertificate, Sequence[bytes]]], *, stop_at_refusal: bool,
) -> list[tuple[Verification, bool]]:
    """`verify_for_import` for each (certificate, the CA certificates that came with it) in order, with what a
    bundle shares done once: one store snapshot, the certificates already parsed by the caller, one query for
    the registry's own revocation records of them all and of the CAs on their paths. Stops after the first
    certificate refused when `stop_at_refusal` (the caller refuses the whole bundle there): the verdicts are
    those `verify_for_import` gives one by one, and the store's usage is counted for the same certificates,
    except that the path's subjects (`chain`) are left out of the verdicts on the path found now: an import
    goes by the status and the detail only."""
    snapshot = await _CACHE.get()
    judged: list[_Judged | Invalid] = []
    for index, (described, intermediates) in enumerate(certificates):
        if index:
            # Validation never waits on anything, so a bundle's would hold the event loop for all its certificates
            # (tens of milliseconds); another request's transaction, holding SQLite's write lock meanwhile and
            # ready to go on, would wait that long with the lock held. It goes on between two certificates.
            await asyncio.sleep(0)
        try:
            item = await _judge(snapshot, described, at=None, intermediates=intermediates)
        except Invalid as error:
            judged.append(error)
            break
        judged.append(item)
        if stop_at_refusal and item.outcome.status not in (*IMPORTABLE, *IMPORTABLE_IN_ITS_TIME):
            # Refused whatever the registry's records say: the certificates after it are not looked at, as
            # one by one (the CA certificates they bring are not registered for path building either).
            break
    wanted = [fingerprint for item in judged if isinstance(item, _Judged) for fingerprint in _registry_fingerprints(item)]
    known = await _registry_revocations(wanted) if wanted else {}
    results: list[tuple[Verification, bool]] = []
    for item, (described, intermediates) in zip(judged, certificates, strict=False):
        if isinstance(item, Invalid):
            raise item
        verdict = _conclude(snapshot, item, known, "import", with_chain=False)
        if verdict.status == "valid":
            await _flush_usage_when_due()
        decision = await _import_decision(described.der, verdict, intermediates)
        results.append(decision)
        if stop_at_refusal and not decision[1]:
            break
    return results


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


class NotVerified(Invalid):
    """An import refused because the certificate does not validate (422), with the verdict."""

    default_code = "certificate_not_verified"

    def __init__(self, verdict: Verification):
        super().__init__(
            f"Chứng thư số không qua kiểm tra ({STATUS_LABELS[verdict.status].lower()}): {verdict.detail} "
            "Chỉ quản trị hệ thống mới được nhập khi đã ghi rõ lý do (override).",
            fields={"file": verdict.detail},
            params={"status": STATUS_LABELS[verdict.status].lower(), "detail": verdict.detail},
            extra={"verification": {"status": verdict.status, "detail": verdict.detail,
                                    "fingerprint": verdict.certificate.fingerprint}},
        )
        self.verdict = verdict


def certificate_der(content: bytes) -> bytes:
    return parsing.parse_one(content).der


def sha256_of(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()
