"""Real X.509 certificates for tests, made with `cryptography` (no fakes): a test CA in the shape of
the government's, issuing personal and organisation certificates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PROVINCE = "Quảng Ninh"


def _key(key_type: str):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(common_name: str, *, org: str | None = None, unit: str | None = None, locality: str | None = PROVINCE,
         email: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if locality:
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality))
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attributes)


@dataclass
class IssuingCA:
    key: object
    cert: x509.Certificate

    def issue(
        self,
        common_name: str,
        *,
        email: str | None = None,
        org: str | None = "UBND tỉnh Quảng Ninh",
        unit: str | None = None,
        not_before: datetime | None = None,
        days: int = 3 * 365,
        key_type: str = "rsa",
        serial: int | None = None,
    ) -> x509.Certificate:
        start = not_before or datetime.now(UTC) - timedelta(days=1)
        key = _key(key_type)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common_name, org=org, unit=unit, email=email))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
        )
        if email:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def crl(self, revoked: tuple[x509.Certificate, ...] = (), days: int = 30) -> x509.CertificateRevocationList:
        """The CA's current CRL (the trust store needs one to vouch for what it issued)."""
        start = datetime.now(UTC) - timedelta(minutes=5)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(start)
            .next_update(start + timedelta(days=days))
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(start).build())
        return builder.sign(self.key, hashes.SHA256())


def issue(ca: IssuingCA, common_name: str, *, days_left: int = 700, age_days: int = 1, **options) -> x509.Certificate:
    """A certificate issued `age_days` ago that expires in `days_left` days (negative: expired)."""
    start = datetime.now(UTC) - timedelta(days=age_days)
    return ca.issue(common_name, not_before=start, days=age_days + days_left, **options)


def make_ca(common_name: str = "CA phục vụ các cơ quan Nhà nước G2 (thử nghiệm)") -> IssuingCA:
    key = _key("rsa")
    subject = name(common_name, org="Ban Cơ yếu Chính phủ", locality=None)
    start = datetime.now(UTC) - timedelta(days=30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return IssuingCA(key, cert)


_SHARED: list[IssuingCA] = []


def shared_ca() -> IssuingCA:
    """The suite's test CA (the `ca` fixture): the province's database trusts it, with its CRL."""
    if not _SHARED:
        _SHARED.append(make_ca())
    return _SHARED[0]


async def trust(ca: IssuingCA) -> None:
    """Put the CA and its current CRL into the trust store of the bound database (idempotent)."""
    from registry.auth.principal import system_principal
    from registry.trust import service as trust_service

    actor = system_principal("tests")
    await trust_service.add_to_store(actor, pem(ca.cert), "anchor")
    await trust_service.add_to_store(actor, ca.crl().public_bytes(serialization.Encoding.DER), "crl")


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(der(cert)).hexdigest()
