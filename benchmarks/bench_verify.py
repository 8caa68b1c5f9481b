"""Importing and verifying N issued certificates through the registry, next to bare pyhanko-certvalidator with
one long-lived validation context, in one run on the same certificates.

    python benchmarks/bench_verify.py [--certificates 10000] [--revoked 500]

A root and an issuing CA (real keys, `cryptography`), each with a CRL (the issuing CA's lists `--revoked`
other serials, like a CA in service), N end-entity certificates. Sides:
- bare verify: `CertificateValidator(cert, validation_context=ctx).async_validate_path()` with ONE context
  holding the same anchors, intermediates and CRLs under the same revocation policy (CRL required for every
  certificate of the path);
- service verify: `registry.trust.service.verify(der)` (parsing, the version's context, the cached CA path,
  the registry's own revocation records);
- bare import: parsing alone (`cryptography`, what any import must do) plus the bare verification;
- registry import: `registry.certs.service.import_bundle` in bundles of 500 (verification, links, audit,
  all-or-nothing transaction per bundle).
Each side gets a throw-away SQLite database. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry import db  # noqa: E402
from registry.auth.principal import system_principal  # noqa: E402
from registry.certs import service as certs  # noqa: E402
from registry.trust import service as trust  # noqa: E402

BUNDLE = 500


def build_pki(count: int, revoked: int):
    now = datetime.now(UTC)
    root_key, issuing_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ban Cơ yếu Chính phủ (đo hiệu năng)"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    def certificate(subject, issuer, public_key, signer, *, ca: bool, serial=None, days=3650):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(serial or x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                   .add_extension(usage(ca), critical=True))
        return builder.sign(signer, hashes.SHA256())

    root = certificate(name("Root CA đo hiệu năng"), name("Root CA đo hiệu năng"), root_key.public_key(), root_key, ca=True)
    issuing = certificate(name("CA cấp 2 đo hiệu năng"), root.subject, issuing_key.public_key(), root_key, ca=True)

    def crl(issuer: x509.Certificate, key, serials) -> x509.CertificateRevocationList:
        builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
                   .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=7)))
        for serial in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(days=1)).build())
        return builder.sign(key, hashes.SHA256())

    leaves = []
    for number in range(count):
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                             x509.NameAttribute(NameOID.LOCALITY_NAME, "Quảng Ninh"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"Cán bộ số {number}"),
                             x509.NameAttribute(NameOID.EMAIL_ADDRESS, f"canbo{number}@quangninh.gov.vn")])
        leaves.append(certificate(subject, issuing.subject, leaf_key.public_key(), issuing_key, ca=False, days=700))
    other_serials = [x509.random_serial_number() for _ in range(revoked)]
    return root, issuing, crl(root, root_key, []), crl(issuing, issuing_key, other_serials), leaves


def der(item) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


async def bare_verify(root, issuing, crls, ders: list[bytes]) -> tuple[float, dict[str, int]]:
    """The floor: one long-lived pyhanko context, the same policy, each certificate validated from its DER."""
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der(root))], other_certs=[asn1_x509.Certificate.load(der(issuing))],
        crls=[der(c) for c in crls], revinfo_policy=CertRevTrustPolicy(trust.REVOCATION_POLICY), allow_fetching=False,
    )
    verdicts: dict[str, int] = {}
    started = time.perf_counter()
    for data in ders:
        try:
            await CertificateValidator(asn1_x509.Certificate.load(data), validation_context=context).async_validate_path()
            verdicts["valid"] = verdicts.get("valid", 0) + 1
        except Exception as error:  # noqa: BLE001
            verdicts[type(error).__name__] = verdicts.get(type(error).__name__, 0) + 1
    return time.perf_counter() - started, verdicts


def parse_alone(ders: list[bytes]) -> float:
    """Parsing alone: what any import does before it can store a certificate."""
    started = time.perf_counter()
    for data in ders:
        x509.load_der_x509_certificate(data).fingerprint(hashes.SHA256())
    return time.perf_counter() - started


async def fresh_store(path: Path, root, issuing, crls):
    engine = db.use_database(f"sqlite:///{path}")
    await db.migrate()
    actor = system_principal("bench")
    await trust.add_to_store(actor, der(root), "anchor")
    await trust.add_to_store(actor, der(issuing), "intermediate")
    for item in crls:
        await trust.add_to_store(actor, der(item), "crl")
    trust.forget_cached_context()
    return engine, actor


async def service_verify(ders: list[bytes]) -> tuple[float, dict[str, int]]:
    verdicts: dict[str, int] = {}
    started = time.perf_counter()
    for data in ders:
        result = await trust.verify(data)
        verdicts[result.status] = verdicts.get(result.status, 0) + 1
    return time.perf_counter() - started, verdicts


async def registry_import(ders: list[bytes], actor) -> float:
    pems = [x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in ders]
    started = time.perf_counter()
    for start in range(0, len(pems), BUNDLE):
        results = await certs.import_bundle(actor, b"".join(pems[start:start + BUNDLE]))
        assert all(created for _body, created in results)
    return time.perf_counter() - started


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.0f}/s ({seconds:6.2f} s)"


async def run(count: int, revoked: int) -> None:
    print(f"building a PKI and {count} certificates (issuing CA's CRL lists {revoked} serials)...", flush=True)
    root, issuing, root_crl, issuing_crl, leaves = build_pki(count, revoked)
    crls = [root_crl, issuing_crl]
    ders = [der(leaf) for leaf in leaves]
    with tempfile.TemporaryDirectory() as folder:
        bare_verify_seconds, bare_verdicts = await bare_verify(root, issuing, crls, ders)
        parse_seconds = parse_alone(ders)
        # The bare import: parsing, then the same bare verification (measured once above).
        bare_import_seconds = parse_seconds + bare_verify_seconds

        engine, actor = await fresh_store(Path(folder) / "verify.sqlite3", root, issuing, crls)
        try:
            cold_started = time.perf_counter()
            await trust.verify(ders[0])
            cold = time.perf_counter() - cold_started
            service_seconds, service_verdicts = await service_verify(ders)
        finally:
            await db.close_pool(engine)

        engine, actor = await fresh_store(Path(folder) / "import.sqlite3", root, issuing, crls)
        try:
            import_seconds = await registry_import(ders, actor)
            imported = await certs.Certificate.count()
        finally:
            await db.close_pool(engine)

    assert bare_verdicts == {"valid": count}, bare_verdicts
    assert service_verdicts == {"valid": count}, service_verdicts
    assert imported == count, imported
    print(f"same verdicts on both sides: {count} valid")
    print(f"verify  bare pyhanko, one context : {rate(count, bare_verify_seconds)}")
    print(f"verify  registry service          : {rate(count, service_seconds)}  (first call, building the context: {cold * 1000:.0f} ms)")
    print(f"        ratio service / bare      : {bare_verify_seconds / service_seconds:5.2f}x  (aim >= 1, >= 2 with cached CA paths)")
    print(f"parse   alone (cryptography)      : {rate(count, parse_seconds)}")
    print(f"import  bare (parse + verify)     : {rate(count, bare_import_seconds)}")
    print(f"import  registry (bundles of {BUNDLE}) : {rate(count, import_seconds)}")
    print(f"        ratio registry / bare     : {bare_import_seconds / import_seconds:5.2f}x  (aim >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=10_000)
    parser.add_argument("--revoked", type=int, default=500)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.certificates, arguments.revoked))


if __name__ == "__main__":
    main()
