"""Reading certificate files: PEM (one or several), DER, PKCS#7 bundles (DER or PEM), and bare base64.

Anything else is an `Invalid` with a one-line reason: a certificate file from outside is never trusted
to be well formed, and a bad one must never become a 5xx.

Kind guess, used when the caller does not say (callers may always override):
1. `ca` when BasicConstraints says CA;
2. the subject's UID, where Vietnamese CAs write the holder's identifier: `CMND:`/`CCCD:`/`HC:` (ID card,
   passport) means a person, `MST:`/`MNS:` (tax code, budget relation code) an organisation;
3. otherwise `personal` when the certificate names an email (subject E= or a SAN rfc822Name), as personal
   certificates carry the official mailbox, and `org` when it does not (DOMAIN.md, typical subjects).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import ExtensionOID, NameOID

from registry.errors import Invalid
from registry.validation import has_control_characters

# A bundle from the CA holds a handful; this bounds the work one upload can cause.
MAX_CERTIFICATES = 500

# Column widths of the certificate table (PostgreSQL enforces them; SQLite does not).
MAX_NAME_LENGTH = 2000
MAX_COMMON_NAME_LENGTH = 300
MAX_EMAIL_LENGTH = 254
MAX_SERIAL_LENGTH = 100

KINDS = ("personal", "org", "ca")

# RFC 4514 knows no short name for emailAddress; Vietnamese CAs and users write E=.
NAME_OVERRIDES = {NameOID.EMAIL_ADDRESS: "E"}

PERSONAL_UID_PREFIXES = ("CMND:", "CCCD:", "CMT:", "HC:")
ORG_UID_PREFIXES = ("MST:", "MNS:")

KEY_USAGE_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")

CERTIFICATE_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE"}
PKCS7_LABELS = {b"PKCS7", b"CMS", b"PKCS #7 SIGNED DATA"}
# Labels that are not certificates, with the reason the API gives and the catalogue code pages show.
_PRIVATE_KEY = ("a private key; the registry never takes private keys, upload only the certificate", "pem_private_key")
_CSR = ("a certificate request (CSR), not a certificate", "pem_csr")
OTHER_LABELS = {
    b"PRIVATE KEY": _PRIVATE_KEY,
    b"ENCRYPTED PRIVATE KEY": _PRIVATE_KEY,
    b"RSA PRIVATE KEY": _PRIVATE_KEY,
    b"EC PRIVATE KEY": _PRIVATE_KEY,
    b"CERTIFICATE REQUEST": _CSR,
    b"NEW CERTIFICATE REQUEST": _CSR,
    b"X509 CRL": ("a revocation list (CRL), not a certificate", "pem_crl"),
    b"PUBLIC KEY": ("a bare public key, not a certificate", "pem_public_key"),
    b"TRUSTED CERTIFICATE": ("an OpenSSL TRUSTED CERTIFICATE; export it as a plain certificate", "pem_trusted_certificate"),
}

# Formats people upload by mistake, recognised by their first bytes (in English, and in Vietnamese).
_MAGIC = (
    (b"\x89PNG", "a PNG image", "ảnh PNG"),
    (b"\xff\xd8\xff", "a JPEG image", "ảnh JPEG"),
    (b"%PDF", "a PDF document", "tài liệu PDF"),
    (b"PK\x03\x04", "a ZIP archive or office document", "tệp nén ZIP hoặc tài liệu văn phòng"),
)

NOT_A_CERTIFICATE = "not a certificate: expected PEM, DER or a PKCS#7 bundle (.p7b)"


@dataclass(frozen=True)
class ParsedCertificate:
    """What the registry keeps of one certificate."""

    certificate: x509.Certificate
    der: bytes
    fingerprint: str
    serial: str
    subject: str
    issuer: str
    common_name: str
    email: str
    not_before: datetime
    not_after: datetime
    key_type: str
    key_size: int
    key_usage: tuple[str, ...]
    is_ca: bool
    kind: str


def invalid(reason: str, field_code: str = "not_a_certificate", **params: object) -> Invalid:
    """The file is refused: `reason` for the API, `field_code` (with `params`) for pages."""
    return Invalid(reason, fields={"file": reason}, field_codes={"file": (field_code, params)})


# --- loading ------------------------------------------------------------------------------------


def load_certificates(content: bytes) -> list[x509.Certificate]:
    """Every certificate in the file, in order, without duplicates; Invalid if there is none."""
    if not content or not content.strip():
        raise invalid("the file is empty", "certificate_file_empty")
    if b"-----BEGIN" in content:
        certificates = _load_pem(content)
    else:
        certificates = _load_binary(content)
    # A bundle may repeat a certificate (a chain pasted twice): keep the first.
    unique: dict[bytes, x509.Certificate] = {}
    for certificate in certificates:
        unique.setdefault(certificate.fingerprint(hashes.SHA256()), certificate)
    if not unique:
        raise invalid(NOT_A_CERTIFICATE)
    if len(unique) > MAX_CERTIFICATES:
        raise invalid(f"the file holds {len(unique)} certificates; at most {MAX_CERTIFICATES} at once",
                      "too_many_certificates", count=len(unique), max=MAX_CERTIFICATES)
    return list(unique.values())


def _load_pem(content: bytes) -> list[x509.Certificate]:
    blocks = list(_PEM_BLOCK.finditer(content))
    if len(blocks) < len(_PEM_BEGIN.findall(content)):
        raise invalid("the PEM text is truncated: a BEGIN line has no matching END line", "pem_truncated")
    certificates: list[x509.Certificate] = []
    for number, block in enumerate(blocks, start=1):
        label, body = block.group(1), block.group(2)
        if label in OTHER_LABELS:
            reason, code = OTHER_LABELS[label]
            raise invalid(f"PEM block {number} is {reason}", code, number=number)
        if label not in CERTIFICATE_LABELS | PKCS7_LABELS:
            raise invalid(f"PEM block {number} is a {label.decode()}, not a certificate", "pem_not_certificate",
                          number=number)
        try:
            data = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"PEM block {number} is not valid base64", "pem_bad_base64", number=number) from None
        if label in PKCS7_LABELS:
            certificates.extend(_load_pkcs7(data))
        else:
            certificates.append(_load_der_certificate(data, where=f"PEM block {number}"))
    return certificates


def _load_binary(content: bytes) -> list[x509.Certificate]:
    for magic, what, what_vi in _MAGIC:
        if content.startswith(magic):
            raise invalid(f"{NOT_A_CERTIFICATE}; this is {what}", "not_a_certificate_format", what=what_vi)
    if content[:1] != b"\x30":
        # A .cer file is sometimes bare base64 without the PEM lines.
        if _BASE64_TEXT.match(content):
            try:
                decoded = base64.b64decode(b"".join(content.split()), validate=True)
            except (binascii.Error, ValueError):
                raise invalid(NOT_A_CERTIFICATE) from None
            if decoded[:1] == b"\x30":
                return _load_binary(decoded)
        raise invalid(NOT_A_CERTIFICATE)
    problem = _der_length_problem(content)
    if problem:
        raise invalid(*problem[:2], **problem[2])
    try:
        return [x509.load_der_x509_certificate(content)]
    except (ValueError, x509.InvalidVersion):
        pass
    try:
        return _load_pkcs7(content)
    except Invalid:
        raise invalid(f"{NOT_A_CERTIFICATE}; the DER data is neither") from None


def _der_length_problem(content: bytes) -> tuple[str, str, dict[str, int]] | None:
    """Why the outer DER SEQUENCE does not span the file exactly (truncated or followed by junk), if it does
    not: the reason, its catalogue code and the code's values."""
    truncated = ("the DER data is truncated", "der_truncated", {})
    if len(content) < 2:
        return truncated
    first = content[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(content) < 2 + count:
            return truncated if len(content) < 2 + count else (NOT_A_CERTIFICATE, "not_a_certificate", {})
        header, length = 2 + count, int.from_bytes(content[2 : 2 + count], "big")
    total = header + length
    if total > len(content):
        return (f"the DER data is truncated: it announces {total} bytes but the file has {len(content)}",
                "der_truncated", {})
    if total < len(content):
        return (f"{len(content) - total} unexpected bytes follow the DER data", "der_trailing_bytes",
                {"count": len(content) - total})
    return None


def _load_der_certificate(data: bytes, *, where: str) -> x509.Certificate:
    problem = _der_length_problem(data)
    if problem:
        raise invalid(f"{where}: {problem[0]}", problem[1], **problem[2])
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        raise invalid(f"{where} is not a well-formed X.509 certificate", "malformed_certificate") from None


def _load_pkcs7(data: bytes) -> list[x509.Certificate]:
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(data)
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion):
        raise invalid("not a readable PKCS#7 bundle", "pkcs7_unreadable") from None
    if not certificates:
        raise invalid("the PKCS#7 bundle holds no certificate", "pkcs7_empty")
    return list(certificates)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


# --- describing ---------------------------------------------------------------------------------


def parse_certificates(content: bytes) -> list[ParsedCertificate]:
    return [describe(certificate) for certificate in load_certificates(content)]


def parse_one(content: bytes) -> ParsedCertificate:
    """The single certificate of a file; a file with several is for the bundle import."""
    parsed = parse_certificates(content)
    if len(parsed) > 1:
        raise invalid(f"the file holds {len(parsed)} certificates; import it as a bundle")
    return parsed[0]


def describe(certificate: x509.Certificate) -> ParsedCertificate:
    """The registry's view of a certificate. A certificate whose fields cannot be decoded is Invalid."""
    try:
        return _describe(certificate)
    except Invalid:
        raise
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm, x509.InvalidVersion) as error:
        raise invalid(f"the certificate is malformed: {_one_line(error)}") from None


def _describe(certificate: x509.Certificate) -> ParsedCertificate:
    der = _der(certificate)
    subject = certificate.subject.rfc4514_string(NAME_OVERRIDES)
    issuer = certificate.issuer.rfc4514_string(NAME_OVERRIDES)
    common_name = _first(certificate.subject, NameOID.COMMON_NAME)
    email = (_first(certificate.subject, NameOID.EMAIL_ADDRESS) or _san_email(certificate)).strip().lower()
    serial = format(certificate.serial_number, "x")
    key_type, key_size = key_description(certificate)
    is_ca = _is_ca(certificate)
    for field, value, limit in (
        ("subject", subject, MAX_NAME_LENGTH),
        ("issuer", issuer, MAX_NAME_LENGTH),
        ("common name", common_name, MAX_COMMON_NAME_LENGTH),
        ("email", email, MAX_EMAIL_LENGTH),
        ("serial number", serial, MAX_SERIAL_LENGTH),
    ):
        if len(value) > limit:
            raise invalid(f"the certificate's {field} is longer than {limit} characters", "certificate_field_too_long",
                          max=limit)
        if has_control_characters(value):
            # A NUL inside a name is the classic "null prefix" trick (what a viewer shows is not what
            # the name says); PostgreSQL could not store it either.
            raise Invalid(f"the certificate's {field} contains a control character (such as NUL)",
                          fields={"file": f"{field} contains a control character"},
                          code="nul_character" if "\x00" in value else "control_character")
    return ParsedCertificate(
        certificate=certificate,
        der=der,
        fingerprint=hashlib.sha256(der).hexdigest(),
        serial=serial,
        subject=subject,
        issuer=issuer,
        common_name=common_name,
        email=email,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_type=key_type,
        key_size=key_size,
        key_usage=key_usage(certificate),
        is_ca=is_ca,
        kind=guess_kind(certificate, is_ca=is_ca, email=email),
    )


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    for attribute in name.get_attributes_for_oid(oid):
        value = attribute.value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


def _extension(certificate: x509.Certificate, oid: x509.ObjectIdentifier):
    try:
        return certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _san_email(certificate: x509.Certificate) -> str:
    names = _extension(certificate, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if names is None:
        return ""
    emails = names.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else ""


def _is_ca(certificate: x509.Certificate) -> bool:
    constraints = _extension(certificate, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(constraints is not None and constraints.ca)


def key_description(certificate: x509.Certificate) -> tuple[str, int]:
    """("RSA", 2048), ("EC", 256), ("Ed25519", 256)...; ("unknown", 0) for an algorithm `cryptography` lacks."""
    try:
        key = certificate.public_key()
    except UnsupportedAlgorithm:
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", 256
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448
    return "unknown", 0


def key_usage(certificate: x509.Certificate) -> tuple[str, ...]:
    usage = _extension(certificate, ExtensionOID.KEY_USAGE)
    if usage is None:
        return ()
    names = [name for name in KEY_USAGE_NAMES if getattr(usage, name)]
    # encipher_only and decipher_only are defined only together with key_agreement (reading them raises otherwise).
    if usage.key_agreement:
        names += [name for name in ("encipher_only", "decipher_only") if getattr(usage, name)]
    return tuple(names)


def guess_kind(certificate: x509.Certificate, *, is_ca: bool, email: str) -> str:
    """See the module's docstring."""
    if is_ca:
        return "ca"
    for uid in certificate.subject.get_attributes_for_oid(NameOID.USER_ID):
        value = str(uid.value).strip().upper()
        if value.startswith(PERSONAL_UID_PREFIXES):
            return "personal"
        if value.startswith(ORG_UID_PREFIXES):
            return "org"
    return "personal" if email else "org"
