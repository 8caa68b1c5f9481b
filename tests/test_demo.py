"""The demo province: loaded through the services (so audited), complete, and idempotent."""

from __future__ import annotations

from cryptography import x509

from registry.agencies.tables import Agency
from registry.audit import service as audit
from registry.auth.tables import UserAccount
from registry.certs.tables import Certificate
from registry.certs.tables import CertRequest as Request
from registry.demo import DEMO_USERS, OPERATOR_AGENCY, load_demo


async def test_demo_loads_once_with_certificates_and_waiting_requests(migrated, settings) -> None:
    first = await load_demo(settings)
    counts = (await Agency.count(), await UserAccount.count(), await Certificate.count(), await Request.count())
    second = await load_demo(settings)
    assert [(user.username, password) for user, password in first] == [(user.username, password) for user, password in second]
    assert (await Agency.count(), await UserAccount.count(), await Certificate.count(), await Request.count()) == counts
    assert counts[1] == len(DEMO_USERS)
    assert {u.roles[0] for u in DEMO_USERS} == {"staff", "clerk", "head", "operator", "admin"}
    # Real certificates from the test CA, linked to their holders.
    rows = await Certificate.select(Certificate.der, Certificate.holder, Certificate.kind, Certificate.source)
    assert len(rows) == 4 and {row["source"] for row in rows} == {"dev_ca"}
    assert sum(1 for row in rows if row["kind"] == "org") == 1
    parsed = x509.load_der_x509_certificate(bytes(rows[0]["der"]))
    assert "thử nghiệm" in parsed.issuer.rfc4514_string()
    assert {row["state"] for row in await Request.select(Request.state)} == {"submitted"}
    assert (await audit.verify()).ok
    for key in ("root-key.pem", "issuing-key.pem"):
        assert (settings.data_dir / "dev-ca" / key).stat().st_mode & 0o777 == 0o600
    operator_agency = await Agency.select(Agency.code).where(Agency.code == OPERATOR_AGENCY).first()
    assert operator_agency is not None
