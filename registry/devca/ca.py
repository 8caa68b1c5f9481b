"""The built-in test CA's keys and certificates, for demos and tests only (`--demo` or REGISTRY_DEV_CA=1).

It mirrors the government chain (DOMAIN.md: a root, and an issuing CA for state agencies) with "TEST" in
every name, so that nothing it issues can be mistaken for a real certificate. Its keys sit unprotected in
DATA_DIR/dev-ca/: it is never a production CA."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ORGANISATION = "Ban Cơ yếu Chính phủ (TEST - thử nghiệm)"
ROOT_NAME = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
    x509.NameAttribute(NameOID.COMMON_NAME, "RootCA chuyên dùng Chính phủ G2 TEST"),
])
ISSUING_NAME = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
    x509.NameAttribute(NameOID.COMMON_NAME, "CA phục vụ các cơ quan Nhà nước G2 TEST"),
])
ROOT_YEARS = 20
ISSUING_YEARS = 10
# A CRL is good for this long; the registry publishes a fresh one at every revocation anyway.
CRL_VALIDITY = timedelta(days=7)
FOLDER = "dev-ca"

_CA_USAGE = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
_SIGNER_USAGE = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class DevCA:
    """The test chain: `root` signs `issuing`, which signs end-entity certificates and the CRL."""

    root: Authority
    issuing: Authority
    crl_url: str
    root_crl_url: str

    @property
    def certificate(self) -> x509.Certificate:
        return self.issuing.certificate

    def issue(self, subject: x509.Name, *, not_before: datetime, days: int, email: str | None = None) -> x509.Certificate:
        """A signing certificate for `subject`; its key is generated and thrown away (a token keeps the
        real one), so the certificate can sign nothing: it only exercises the registry."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_SIGNER_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing.key.public_key()),
                           critical=False)
            .add_extension(_distribution_point(self.crl_url), critical=False)
        )
        if email:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        return builder.sign(self.issuing.key, hashes.SHA256())

    def crl(self, revoked: Iterable[tuple[int, datetime, x509.ReasonFlags | None]], *, now: datetime | None = None,
            number: int | None = None) -> x509.CertificateRevocationList:
        """The issuing CA's CRL listing (serial, revoked at, reason)."""
        return _crl(self.issuing, revoked, now=now, number=number)

    def root_crl(self, *, now: datetime | None = None) -> x509.CertificateRevocationList:
        """The root's CRL: it has never revoked its issuing CA."""
        return _crl(self.root, (), now=now)


def _distribution_point(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None, crl_issuer=None)])


def _crl(authority: Authority, revoked: Iterable[tuple[int, datetime, x509.ReasonFlags | None]], *,
         now: datetime | None = None, number: int | None = None) -> x509.CertificateRevocationList:
    moment = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(moment - timedelta(minutes=1))
        .next_update(moment + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number if number is not None else int(moment.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
        if reason is not None and reason != x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(authority.key, hashes.SHA256())


def _authority(name: x509.Name, *, issuer: Authority | None, years: int, path_length: int | None,
               crl_url: str | None) -> Authority:
    key = ec.generate_private_key(ec.SECP384R1())
    start = datetime.now(UTC) - timedelta(days=1)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    if crl_url:
        builder = builder.add_extension(_distribution_point(crl_url), critical=False)
    return Authority(key, builder.sign(signer_key, hashes.SHA384()))


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _read(folder: Path, stem: str) -> Authority:
    key = serialization.load_pem_private_key((folder / f"{stem}-key.pem").read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate((folder / f"{stem}.pem").read_bytes())
    return Authority(key, certificate)  # type: ignore[arg-type]


def load_or_create(data_dir: Path, base_url: str) -> DevCA:
    """The test CA of DATA_DIR/dev-ca/, made on first use. Several workers may start at once: a file
    lock makes one of them create it and the others read what it wrote."""
    folder = data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    crl_url, root_crl_url = f"{base_url}/dev-ca/crl", f"{base_url}/dev-ca/root.crl"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "issuing.pem").exists():
            root = _authority(ROOT_NAME, issuer=None, years=ROOT_YEARS, path_length=1, crl_url=None)
            issuing = _authority(ISSUING_NAME, issuer=root, years=ISSUING_YEARS, path_length=0, crl_url=root_crl_url)
            for stem, authority in (("root", root), ("issuing", issuing)):
                _write_private(folder / f"{stem}-key.pem", authority.key)
                (folder / f"{stem}.pem").write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))
        return DevCA(root=_read(folder, "root"), issuing=_read(folder, "issuing"), crl_url=crl_url,
                     root_crl_url=root_crl_url)
