"""The verifier against a conformance set built with `cryptography` (tests/pki.py): valid chains, expired and
not-yet-valid certificates, revoked end entity and intermediate, missing, stale and wrongly signed CRLs, a CA
without keyCertSign, path length exceeded, broken name chaining, unusual but legal extensions, checks at a past
moment, and the registry's own revocation records. Real keys, real signatures, a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from registry.certs import service as certs
from registry.errors import Conflict, Invalid
from registry.trust import service as trust
from registry.trust.tables import TrustItem, TrustState
from tests import pki
from tests.helpers import SYSTEM

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def fresh_context() -> None:
    trust.forget_cached_context()


async def trusted(*authorities: pki.Authority, anchor: pki.Authority | None = None, crls: bool = True) -> None:
    """Put the first authority as anchor (unless `anchor` names it), the others as intermediates, with their CRLs."""
    anchor = anchor or authorities[0]
    await trust.add_to_store(SYSTEM, pki.pem(anchor.cert), "anchor")
    for authority in authorities:
        if authority is not anchor:
            await trust.add_to_store(SYSTEM, pki.der(authority.cert), "intermediate")
    if crls:
        for authority in authorities:
            await trust.add_to_store(SYSTEM, pki.der(authority.crl()), "crl")


@pytest.fixture
def chain() -> tuple[pki.Authority, pki.Authority]:
    root = pki.root()
    return root, root.intermediate("CA cấp 2 kiểm thử")


async def verdict(cert: x509.Certificate, **kwargs) -> trust.Verification:
    return await trust.verify(pki.der(cert), **kwargs)


async def test_a_valid_chain_is_valid_with_details(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    cert = issuing.issue("Nguyễn Văn An", email="an.nv@quangninh.gov.vn")
    result = await verdict(cert)
    assert (result.valid, result.status) == (True, "valid"), result.detail
    assert "hợp lệ" in result.detail
    assert result.certificate.fingerprint == trust.sha256_of(cert)
    assert result.certificate.serial == format(cert.serial_number, "x")
    assert result.certificate.not_after.utcoffset() == timedelta(hours=7)
    assert "Nguyễn Văn An" in result.certificate.subject
    assert len(result.chain) == 3 and "Root CA kiểm thử" in result.chain[0]
    # Same verdict a second time (from the cached CA path), and for a sibling of the same CA.
    assert (await verdict(cert)).status == "valid"
    assert (await verdict(issuing.issue("Trần Thị Bình"))).status == "valid"


async def test_the_g2_root_is_the_default_anchor(migrated) -> None:
    store = await trust.list_store(SYSTEM)
    [anchor] = [item for item in store.items if item.kind == "anchor"]
    assert "RootCA chuyên dùng Chính phủ G2" in anchor.subject and anchor.source == "default"
    # Adding it again changes nothing.
    item, created = await trust.add_to_store(SYSTEM, (trust.DEFAULT_ANCHORS_DIR / "vgca-rootca-g2.pem").read_bytes(), "anchor")
    assert not created and item.fingerprint == anchor.fingerprint
    assert await TrustItem.count() == 1


async def test_expired_and_not_yet_valid(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    expired = issuing.issue("Hết hạn", not_before=pki.now() - 400 * DAY, days=365)
    future = issuing.issue("Chưa hiệu lực", not_before=pki.now() + 10 * DAY, days=365)
    assert (await verdict(expired)).status == "expired"
    assert "hết hạn" in (await verdict(expired)).detail
    result = await verdict(future)
    assert result.status == "not_yet_valid" and not result.valid and "hiệu lực từ" in result.detail


async def test_revoked_end_entity_and_past_moment(migrated, chain) -> None:
    root, issuing = chain
    cert = issuing.issue("Bị thu hồi", not_before=pki.now() - 6 * DAY)
    revoked_at = pki.now() - 3 * DAY
    issuing.revoke(cert, at=revoked_at, reason=x509.ReasonFlags.key_compromise)
    await trusted(root, issuing)
    result = await verdict(cert)
    assert result.status == "revoked" and not result.valid
    assert result.revocation_reason == "key_compromise" and result.revocation_source == "crl"
    assert abs(result.revoked_at - revoked_at) < timedelta(seconds=1)
    assert "thu hồi" in result.detail and "lộ khóa" in result.detail
    # At a moment before the revocation it was valid; the CRL issued later still speaks for that moment.
    before = await verdict(cert, at=pki.now() - 5 * DAY)
    assert before.status == "valid", before.detail
    assert before.checked_at.utcoffset() == timedelta(hours=7)
    # ... and before it was issued, it was not yet valid.
    assert (await verdict(cert, at=pki.now() - 10 * DAY)).status == "not_yet_valid"


async def test_revoked_intermediate(migrated) -> None:
    root = pki.root()
    issuing = root.intermediate("CA bị thu hồi")
    root.revoke(issuing.cert)
    await trusted(root, issuing)
    result = await verdict(issuing.issue("Người dùng của CA bị thu hồi"))
    assert result.status == "revoked" and "tổ chức chứng thực cấp trên" in result.detail


async def test_missing_crl_is_revocation_unknown(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing, crls=False)
    await trust.add_to_store(SYSTEM, pki.der(root.crl()), "crl")  # only the root's: the issuing CA has none
    result = await verdict(issuing.issue("Không có CRL"))
    assert result.status == "revocation_unknown" and not result.valid
    assert "thu hồi" in result.detail


async def test_missing_crl_of_the_intermediate_is_revocation_unknown(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing, crls=False)
    await trust.add_to_store(SYSTEM, pki.der(issuing.crl()), "crl")  # only the issuing CA's
    assert (await verdict(issuing.issue("Thiếu CRL gốc"))).status == "revocation_unknown"


async def test_stale_crl_is_refused_and_a_crl_that_went_stale_gives_revocation_unknown(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing, crls=False)
    await trust.add_to_store(SYSTEM, pki.der(root.crl()), "crl")
    stale = issuing.crl(this_update=pki.now() - 10 * DAY, next_update=pki.now() - DAY)
    with pytest.raises(Invalid) as refused:
        await trust.add_to_store(SYSTEM, pki.der(stale), "crl")
    assert refused.value.code == "crl_expired" and "hết hiệu lực" in refused.value.detail
    # A CRL that was current when stored and has passed its nextUpdate since: no longer speaks for now.
    next_update = pki.now() + timedelta(seconds=3)
    short = issuing.crl(this_update=pki.now() - timedelta(minutes=5), next_update=next_update)
    await trust.add_to_store(SYSTEM, pki.der(short), "crl")
    cert = issuing.issue("CRL vừa quá hạn")
    assert (await verdict(cert)).status == "valid"
    import asyncio

    # pyhanko allows one second of clock drift beyond nextUpdate.
    await asyncio.sleep((next_update - pki.now()).total_seconds() + 1.5)
    result = await verdict(cert)
    assert result.status == "revocation_unknown", result.detail
    store = await trust.list_store(SYSTEM)
    [current] = [item for item in store.items if item.kind == "crl" and item.fingerprint == trust._fingerprint(pki.der(short))]
    assert current.stale


async def test_wrongly_signed_crl_is_refused(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing, crls=False)
    forged = issuing.crl(signer=pki.key())
    before = await TrustState.select().first()
    with pytest.raises(Invalid) as refused:
        await trust.add_to_store(SYSTEM, pki.der(forged), "crl")
    assert refused.value.code == "crl_signature_unknown" and "giả mạo" in refused.value.detail
    assert await TrustState.select().first() == before  # nothing changed
    assert await TrustItem.count().where(TrustItem.kind == "crl") == 0


async def test_garbage_and_non_ca_refused(migrated, chain) -> None:
    root, issuing = chain
    await trust.ensure_default_anchor()
    for data, kind, code in (
        (b"garbage", "crl", "not_a_crl"),
        (b"", "anchor", "not_a_certificate"),
        (b"\x30\x03\x02\x01\x01", "crl", "not_a_crl"),
        (pki.pem(issuing.issue("Người dùng")), "intermediate", "not_a_ca"),
        (pki.pem(pki.root(not_before=pki.now() - 400 * DAY, days=300).cert), "anchor", "certificate_expired"),
    ):
        with pytest.raises(Invalid) as refused:
            await trust.add_to_store(SYSTEM, data, kind)
        assert refused.value.code == code, (data[:20], refused.value.code)
    assert await TrustItem.count() == 1  # the G2 root only


async def test_an_older_crl_does_not_replace_a_newer_one(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing, crls=False)
    newer = issuing.crl(this_update=pki.now() - timedelta(hours=1), number=5)
    older = issuing.crl(this_update=pki.now() - timedelta(hours=5), number=4)
    await trust.add_to_store(SYSTEM, pki.der(newer), "crl")
    with pytest.raises(Conflict):
        await trust.add_to_store(SYSTEM, pki.der(older), "crl")
    # A newer one supersedes the current one, which stays on record.
    newest = issuing.crl(this_update=pki.now() - timedelta(minutes=1), number=6)
    _, created = await trust.add_to_store(SYSTEM, pki.pem(newest), "crl")
    assert created
    assert await TrustItem.count().where((TrustItem.kind == "crl") & TrustItem.superseded_at.is_null()) == 1
    assert await TrustItem.count().where(TrustItem.kind == "crl") == 2


async def test_ca_without_key_cert_sign_is_invalid(migrated) -> None:
    root = pki.root()
    issuing = root.intermediate("CA không có keyCertSign", cert_sign=False)
    await trusted(root, issuing)
    result = await verdict(issuing.issue("Người dùng"))
    assert result.status == "invalid" and "keyCertSign" in result.detail, result.detail


async def test_path_length_exceeded_is_invalid(migrated) -> None:
    root = pki.root()
    middle = root.intermediate("CA trung gian 1", path_length=0)
    issuing = middle.intermediate("CA trung gian 2")
    await trusted(root, middle, issuing)
    result = await verdict(issuing.issue("Người dùng quá độ dài"))
    assert result.status == "invalid" and "pathLenConstraint" in result.detail, result.detail


async def test_broken_name_chaining(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    # Signed by the issuing CA's key, but naming another issuer: no path leads to a trusted root.
    broken = issuing.issue("Tên cấp không khớp", issuer_name=pki.name("CA không tồn tại"))
    result = await verdict(broken)
    assert result.status == "untrusted" and not result.valid
    # The right issuer named, but the signature altered: it does not match the CA's key.
    good = pki.der(issuing.issue("Chữ ký giả"))
    forged = good[:-1] + bytes([good[-1] ^ 0x01])
    result = await trust.verify(forged)
    assert result.status == "invalid" and "chữ ký" in result.detail, result.detail


async def test_another_ca_and_self_signed_are_untrusted(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    stranger = pki.root("CA lạ").intermediate("CA lạ cấp 2")
    assert (await verdict(stranger.issue("Người ngoài"))).status == "untrusted"
    result = await verdict(pki.root("Tự ký").cert)
    assert result.status == "untrusted" and "tin cậy" in result.detail


async def test_unusual_but_legal_extensions_stay_valid(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    cert = issuing.issue("Phần mở rộng lạ", email="la@quangninh.gov.vn", extra=pki.UNUSUAL_EXTENSIONS)
    assert (await verdict(cert)).status == "valid"
    # An unknown extension marked critical must not be skipped over.
    critical = issuing.issue("Critical lạ", extra=[(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.55555.9"), b"\x05\x00"), True)])
    assert (await verdict(critical)).status == "invalid"


async def test_the_registry_s_own_revocation_counts(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    cert = issuing.issue("Thu hồi trong hệ thống")
    body, _ = await certs.import_certificate(SYSTEM, pki.pem(cert))
    assert (await verdict(cert)).status == "valid"
    revoked_at = datetime.now(UTC) - timedelta(hours=2)
    await certs.record_revocation(SYSTEM, body["id"], revoked_at=revoked_at, reason="token_lost")
    result = await verdict(cert)
    assert result.status == "revoked" and result.revocation_source == "registry"
    assert result.revocation_reason == "token_lost" and "hồ sơ của hệ thống" in result.detail
    assert (await verdict(cert, at=pki.now() - 3 * timedelta(hours=1))).status == "valid"


async def test_not_a_certificate_is_invalid_input(migrated) -> None:
    for data in (b"", b"hello", b"\x30\x82\xff\xff", pki.der(pki.root().crl())):
        with pytest.raises(Invalid) as refused:
            await trust.verify(data)
        assert refused.value.code == "not_a_certificate"


async def test_the_context_follows_the_store_version(migrated, chain) -> None:
    root, issuing = chain
    cert = issuing.issue("Theo phiên bản")
    assert (await verdict(cert)).status == "untrusted"
    version = await trust.store_version()
    await trusted(root, issuing)
    assert await trust.store_version() == version + 4
    assert (await verdict(cert)).status == "valid"
    # Another worker's change, seen through the database: a CRL revoking it.
    issuing.revoke(cert)
    trust._CACHE.checked_at = 0.0  # (as if VERSION_CHECK_SECONDS had passed)
    async with trust.db.transaction():
        await trust._store(SYSTEM, trust.parse_crl_for_store(pki.der(issuing.crl(number=2))), source="upload")
    trust._CACHE.stale = False  # this worker did not see the change itself
    trust._CACHE.checked_at = 0.0
    assert (await verdict(cert)).status == "revoked"


async def test_cached_ca_path_still_finds_a_listed_serial(migrated, chain) -> None:
    root, issuing = chain
    listed = issuing.issue("Có trong CRL")
    issuing.revoke(listed, reason=x509.ReasonFlags.affiliation_changed)
    for number in range(50):
        issuing.revoked.append((10_000 + number, pki.now() - DAY, None))
    await trusted(root, issuing)
    # A sibling first: the CA's path is validated and cached, its CRL indexed.
    assert (await verdict(issuing.issue("Anh em hợp lệ"))).status == "valid"
    assert trust._CACHE.snapshot is not None and trust._CACHE.snapshot.ca_paths
    result = await verdict(listed)
    assert result.status == "revoked" and result.revocation_reason == "affiliation_changed"
    assert (await verdict(issuing.issue("Anh em thứ hai"))).status == "valid"


async def test_the_store_records_what_verification_used(migrated, chain) -> None:
    root, issuing = chain
    await trusted(root, issuing)
    for number in range(3):
        assert (await verdict(issuing.issue(f"Dùng {number}"))).status == "valid"
    await trust.flush_usage()
    store = await trust.list_store(SYSTEM)
    used = {item.subject: item for item in store.items if item.kind != "crl"}
    anchor = next(item for subject, item in used.items() if "Root CA kiểm thử" in subject)
    intermediate = next(item for subject, item in used.items() if "CA cấp 2 kiểm thử" in subject)
    for item in (anchor, intermediate):
        assert item.use_count == 3 and item.last_used_for == "verify" and item.last_used_at is not None
    g2 = next(item for subject, item in used.items() if "G2" in subject)
    assert g2.use_count == 0 and g2.last_used_at is None
