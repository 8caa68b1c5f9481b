"""Why a certificate is revoked: the reasons of Decree 68/2024 art. 17 (CONTRACT.md, `revoke`), each
mapped to the RFC 5280 CRLReason a CA would publish, with the label people read."""

from __future__ import annotations

from cryptography import x509

REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "key_compromise": x509.ReasonFlags.key_compromise,
    # A lost or broken token: the key may be in someone else's hands, so it counts as compromised.
    "token_lost": x509.ReasonFlags.key_compromise,
    "position_changed": x509.ReasonFlags.affiliation_changed,
    "retired": x509.ReasonFlags.cessation_of_operation,
    # Whoever leaves no longer belongs to the agency named in the certificate's subject.
    "left": x509.ReasonFlags.affiliation_changed,
    "deceased": x509.ReasonFlags.cessation_of_operation,
    "agency_dissolved": x509.ReasonFlags.cessation_of_operation,
    # The merged or split agency gets new organisation certificates that replace this one.
    "agency_merged": x509.ReasonFlags.superseded,
    "other": x509.ReasonFlags.unspecified,
}

REASON_LABELS: dict[str, str] = {
    "key_compromise": "Lộ hoặc nghi lộ khóa bí mật",
    "token_lost": "Mất hoặc hỏng thiết bị lưu khóa",
    "position_changed": "Chuyển công tác, thay đổi chức vụ",
    "retired": "Nghỉ hưu",
    "left": "Thôi việc",
    "deceased": "Qua đời",
    "agency_dissolved": "Cơ quan giải thể",
    "agency_merged": "Cơ quan sáp nhập, chia tách",
    "other": "Lý do khác",
}

# Reasons that cannot wait for the next batch: the certificate shows "revocation pending" at once.
URGENT_REASONS = frozenset({"key_compromise", "token_lost"})


def crl_reason(reason: str) -> x509.ReasonFlags:
    """The RFC 5280 code for a registry reason; KeyError for an unknown one."""
    return REVOCATION_REASONS[reason]
