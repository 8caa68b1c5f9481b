"""The built-in test CA at work: what it issues for each kind of request, and its CRL, built from the
registry's own revocation records (the test CA keeps no books of its own, so its CRL can never disagree
with what the registry recorded)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from registry.agencies import service as agencies
from registry.certs import parsing
from registry.certs import service as certs
from registry.certs.reasons import REVOCATION_REASONS
from registry.devca.ca import DevCA, load_or_create
from registry.errors import NotFound
from registry.settings import Settings

PROVINCE = "Quảng Ninh"
DEFAULT_YEARS = 3
ISSUED_KINDS = ("new_personal", "new_org", "renew", "change")


def enabled(settings: Settings) -> bool:
    return settings.dev_ca


def require_enabled(settings: Settings) -> None:
    if not settings.dev_ca:
        raise NotFound("the built-in test CA is not enabled (serve --demo, or REGISTRY_DEV_CA=1)",
                       code="dev_ca_disabled")


@lru_cache(maxsize=4)
def _load(data_dir: Path, base_url: str) -> DevCA:
    return load_or_create(data_dir, base_url)


def get_ca(settings: Settings) -> DevCA:
    require_enabled(settings)
    return _load(settings.data_dir, settings.base_url)


def issuer_name(ca: DevCA) -> str:
    """The issuer of what the test CA issues, spelled as the certificate table stores it."""
    return ca.issuing.certificate.subject.rfc4514_string(parsing.NAME_OVERRIDES)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


# --- subjects ---------------------------------------------------------------------------------------


def personal_subject(full_name: str, agency_name: str, email: str, unit: str = "") -> x509.Name:
    """DOMAIN.md: CN=<full name>, OU=<unit>, O=<agency>, L=<province>, C=VN, E=<official email>."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                  x509.NameAttribute(NameOID.LOCALITY_NAME, PROVINCE),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency_name[:64])]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, full_name[:64]))
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attributes)


def org_subject(org_name: str, parent_name: str, email: str = "") -> x509.Name:
    """DOMAIN.md: CN=<AGENCY NAME>, O=<parent>, L=<province>, C=VN."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                  x509.NameAttribute(NameOID.LOCALITY_NAME, PROVINCE),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, (parent_name or org_name)[:64]),
                  x509.NameAttribute(NameOID.COMMON_NAME, org_name.upper()[:64])]
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attributes)


def _changed_subject(old: x509.Name, changes: Mapping[str, Any], agency_name: str | None) -> x509.Name:
    """The old subject with the requested changes applied, attribute by attribute, order kept."""
    replacements = {
        NameOID.COMMON_NAME: changes.get("full_name") or (changes["org_name"].upper() if changes.get("org_name") else None),
        NameOID.EMAIL_ADDRESS: changes.get("email"),
        NameOID.ORGANIZATIONAL_UNIT_NAME: changes.get("unit"),
        NameOID.ORGANIZATION_NAME: agency_name,
    }
    attributes = []
    for attribute in old:
        value = replacements.get(attribute.oid)
        attributes.append(x509.NameAttribute(attribute.oid, str(value)[:64]) if value else attribute)
    present = {attribute.oid for attribute in old}
    if changes.get("email") and NameOID.EMAIL_ADDRESS not in present:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, changes["email"]))
    return x509.Name(attributes)


async def _parent_name(agency_code: str) -> str:
    agency = await agencies.get_row(agency_code)
    parent = await agencies.find_row(agency["parent_code"]) if agency.get("parent_code") else None
    return parent["name"] if parent else agency["name"]


async def issue_for_request(settings: Settings, request: Mapping[str, Any]) -> x509.Certificate | None:
    """What the test CA issues for a sent request (as the workflow engine shows it): a certificate for a
    new, renewal or change request, nothing for an unlock or a revocation."""
    ca = get_ca(settings)
    kind, details = request["kind"], request["details"]
    start = datetime.now(UTC) - timedelta(minutes=5)
    years = details.get("validity_years") or DEFAULT_YEARS
    if kind == "new_personal":
        subject = personal_subject(details["full_name"], request["agency_name"], details["email"])
        return ca.issue(subject, not_before=start, days=365 * years, email=details["email"])
    if kind == "new_org":
        subject = org_subject(details["org_name"], await _parent_name(request["agency_code"]), details.get("email", ""))
        return ca.issue(subject, not_before=start, days=365 * years, email=details.get("email") or None)
    if kind not in ISSUED_KINDS:
        return None
    old_row = await certs.find_by_fingerprint(request["target_certificate"] or "")
    if old_row is None:
        return None
    old = x509.load_der_x509_certificate(bytes(old_row["der"]))
    if kind == "renew":
        return ca.issue(old.subject, not_before=start, days=365 * years, email=old_row["email"] or None)
    changes = details.get("changes") or {}
    agency_name = None
    if changes.get("agency_code"):
        agency_name = (await agencies.get_row(changes["agency_code"]))["name"]
    subject = _changed_subject(old.subject, changes, agency_name)
    remaining = max((old.not_valid_after_utc - start).days, 30)
    return ca.issue(subject, not_before=start, days=remaining, email=changes.get("email") or old_row["email"] or None)


# --- what the test CA publishes -------------------------------------------------------------------------


async def crl_der(settings: Settings) -> bytes:
    """The issuing CA's current CRL: every certificate it issued that the registry recorded revoked."""
    ca = get_ca(settings)
    revoked = []
    for row in await certs.revocations_issued_by(issuer_name(ca)):
        reason = REVOCATION_REASONS.get(row["revocation_reason"])
        revoked.append((int(row["serial"], 16), row["revoked_at"].astimezone(UTC), reason))
    return ca.crl(revoked).public_bytes(serialization.Encoding.DER)


def root_crl_der(settings: Settings) -> bytes:
    return get_ca(settings).root_crl().public_bytes(serialization.Encoding.DER)


async def publish_to_trust_store(settings: Settings, actor: Any = None) -> None:
    """Put the test chain into the trust store (root as anchor, issuing CA as intermediate) with both current
    CRLs, so that what the test CA issues verifies (registry.trust.service.verify). Called before each use;
    idempotent (the store keeps each item once, and a newer CRL supersedes the older)."""
    from registry.auth.principal import system_principal
    from registry.trust import service as trust

    ca = get_ca(settings)
    actor = actor or system_principal("dev-ca")
    der = serialization.Encoding.DER
    await trust.add_to_store(actor, ca.root.certificate.public_bytes(der), "anchor", source="dev_ca")
    await trust.add_to_store(actor, ca.issuing.certificate.public_bytes(der), "intermediate", source="dev_ca")
    for crl in (root_crl_der(settings), await crl_der(settings)):
        try:
            await trust.add_to_store(actor, crl, "crl", source="dev_ca")
        except trust.Conflict:
            pass  # one issued within the same moment is already current


def chain_pem(settings: Settings) -> bytes:
    ca = get_ca(settings)
    return pem(ca.issuing.certificate) + pem(ca.root.certificate)
