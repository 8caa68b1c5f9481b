"""What the trust domain gives out: verdicts on certificates and the trust store's items (API fields in English)."""

from __future__ import annotations

from datetime import datetime

import msgspec

# The verdicts of CONTRACT.md, "Trust and verification".
STATUSES = ("valid", "revoked", "expired", "not_yet_valid", "untrusted", "invalid", "revocation_unknown")

STATUS_LABELS = {
    "valid": "Hợp lệ",
    "revoked": "Đã bị thu hồi",
    "expired": "Đã hết hạn",
    "not_yet_valid": "Chưa đến thời hạn hiệu lực",
    "untrusted": "Không do tổ chức chứng thực tin cậy cấp",
    "invalid": "Không hợp lệ",
    "revocation_unknown": "Chưa xác định được tình trạng thu hồi",
}


class CertificateSummary(msgspec.Struct):
    subject: str
    issuer: str
    serial: str  # lower-case hex
    not_before: datetime  # shown as +07:00
    not_after: datetime
    fingerprint: str  # lower-case hex SHA-256 of the DER
    common_name: str = ""
    email: str = ""
    is_ca: bool = False


class Verification(msgspec.Struct):
    """The verdict on one certificate at one moment."""

    valid: bool
    status: str
    detail: str  # a plain Vietnamese explanation
    certificate: CertificateSummary
    checked_at: datetime
    # The chain the verdict rests on, trust anchor first (subjects), when one was found.
    chain: list[str] = msgspec.field(default_factory=list)
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    # Who said so: "crl" (the CA's revocation list) or "registry" (the registry's own records).
    revocation_source: str | None = None
    trust_store_version: int = 0

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


class TrustItemOut(msgspec.Struct):
    id: int
    kind: str  # anchor, intermediate, crl
    fingerprint: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    crl_number: str
    source: str
    added_at: datetime
    superseded_at: datetime | None
    last_used_at: datetime | None
    last_used_for: str
    use_count: int
    distribution_points: list[str]
    # CRLs: whether nextUpdate has passed, and by how many hours.
    stale: bool = False
    stale_hours: int = 0
    created: bool | None = None


class CrlSourceOut(msgspec.Struct):
    url: str
    issuer_fingerprint: str
    next_due_at: datetime | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    failures: int


class TrustStoreOut(msgspec.Struct):
    version: int
    items: list[TrustItemOut]
    crl_sources: list[CrlSourceOut]
