"""A small PKI for the verifier's conformance tests, made with `cryptography` (real keys, real signatures):
roots, intermediates and end entities with the extensions a CA writes, CRLs (current, stale, revoking,
wrongly signed), and the odd cases (a CA without keyCertSign, path lengths, broken name chaining)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

DAY = timedelta(days=1)


def now() -> datetime:
    return datetime.now(UTC)


def name(common_name: str, org: str = "Ban Cơ yếu Chính phủ (kiểm thử)") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_usage(*, cert_sign: bool = False, crl_sign: bool = False, signing: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=signing, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=crl_sign, encipher_only=False, decipher_only=False,
    )


def pem(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.PEM)


def der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


@dataclass
class Authority:
    """A CA: its key and certificate, and where its CRL is published (written into what it issues)."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    crl_url: str | None = None
    revoked: list[tuple[int, datetime, x509.ReasonFlags | None]] = field(default_factory=list)

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    def _builder(self, subject: x509.Name, public_key, *, not_before: datetime | None, days: float,
                 issuer_name: x509.Name | None = None, serial: int | None = None) -> x509.CertificateBuilder:
        start = not_before or now() - DAY
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name or self.cert.subject)
            .public_key(public_key)
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if self.crl_url:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(self.crl_url)], relative_name=None, reasons=None,
                crl_issuer=None)]), critical=False)
        return builder

    def intermediate(self, common_name: str, *, path_length: int | None = 0, cert_sign: bool = True,
                     not_before: datetime | None = None, days: float = 3650, crl_url: str | None = None) -> Authority:
        child_key = key()
        builder = (
            self._builder(name(common_name), child_key.public_key(), not_before=not_before or now() - 20 * DAY, days=days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(key_usage(cert_sign=cert_sign, crl_sign=True), critical=True)
        )
        return Authority(child_key, builder.sign(self.key, hashes.SHA256()), crl_url=crl_url)

    def issue(self, common_name: str, *, not_before: datetime | None = None, days: float = 730,
              email: str | None = None, extra: list[tuple[x509.ExtensionType, bool]] = (),
              issuer_name: x509.Name | None = None, serial: int | None = None,
              subject: x509.Name | None = None) -> x509.Certificate:
        """An end-entity signing certificate (its key thrown away: a token keeps it)."""
        leaf_key = key()
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.LOCALITY_NAME, "Quảng Ninh"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if email:
            attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
        builder = (
            self._builder(subject or x509.Name(attributes), leaf_key.public_key(), not_before=not_before, days=days,
                          issuer_name=issuer_name, serial=serial)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(signing=True), critical=True)
        )
        if email:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        for extension, critical in extra:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.key, hashes.SHA256())

    def revoke(self, cert: x509.Certificate, *, at: datetime | None = None,
               reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise) -> None:
        self.revoked.append((cert.serial_number, at or now() - timedelta(hours=1), reason))

    def crl(self, *, this_update: datetime | None = None, next_update: datetime | None = None,
            signer: ec.EllipticCurvePrivateKey | None = None, number: int = 1,
            idp_url: str | None = None) -> x509.CertificateRevocationList:
        """The CA's CRL listing what it revoked; `signer` signs it with another key (a forgery)."""
        start = this_update or now() - timedelta(minutes=5)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(start)
            .next_update(next_update or start + timedelta(days=7))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if idp_url:
            builder = builder.add_extension(x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(idp_url)], relative_name=None, only_contains_user_certs=False,
                only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
                only_contains_attribute_certs=False), critical=True)
        for serial, when, reason in self.revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(signer or self.key, hashes.SHA256())


def root(common_name: str = "Root CA kiểm thử", *, days: float = 7300, path_length: int | None = None,
         not_before: datetime | None = None, crl_url: str | None = None) -> Authority:
    root_key = key()
    subject = name(common_name)
    start = not_before or now() - 30 * DAY
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(key_usage(cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return Authority(root_key, cert, crl_url=crl_url)


# Unusual but legal extensions a real CA may write: policies with qualifiers, EKUs, a private non-critical one.
UNUSUAL_EXTENSIONS: list[tuple[x509.ExtensionType, bool]] = [
    (x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier("2.16.704.1.2.1.1"),
                                                      ["https://ca.gov.vn/cps", x509.UserNotice(None, "Chứng thư số thử nghiệm")])]), False),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH,
                            ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")]), False),
    (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1.1"), b"\x0c\x0bQuang Ninh!"), False),
    (x509.AuthorityInformationAccess([x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                                             x509.UniformResourceIdentifier("http://ca.example/ca.crt"))]), False),
]
