from piccolo.columns import Bytea, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class TrustItem(Table, tablename="trust_item"):
    """One thing the registry trusts or uses to verify: a trust anchor, an intermediate CA certificate, or a
    CRL. Nothing is deleted: a CRL replaced by a newer one of the same issuer keeps its row with
    `superseded_at`, so what a verdict relied on stays on record."""

    kind = Varchar(length=20, index=True)  # anchor, intermediate, crl
    fingerprint = Varchar(length=64, unique=True)  # lower-case hex SHA-256 of the DER; indexed as unique
    der = Bytea()
    # Certificates: their subject and issuer; CRLs: the issuer's name in both.
    subject = Varchar(length=2000)
    issuer = Varchar(length=2000)
    serial = Varchar(length=100, default="")
    # Certificates: validity; CRLs: thisUpdate / nextUpdate.
    not_before = Timestamptz(null=True, default=None)
    not_after = Timestamptz(null=True, default=None)
    crl_number = Varchar(length=100, default="")
    # A CRL: the store certificate whose key signed it.
    issuer_fingerprint = Varchar(length=64, default="", index=True)
    # Certificates: the CRL distribution points they name (http URLs, one a line).
    distribution_points = Text(default="")
    source = Varchar(length=20, default="upload")  # upload, default, dev_ca, refresh
    added_at = Timestamptz()
    added_by = Integer(null=True, default=None)
    superseded_at = Timestamptz(null=True, default=None)
    # What verification used it for, and when last (kept approximately: written at most once a minute).
    last_used_at = Timestamptz(null=True, default=None)
    last_used_for = Varchar(length=40, default="")
    use_count = Integer(default=0)


class TrustState(Table, tablename="trust_state"):
    """One row: the trust store's version, bumped in the transaction of every change to the store, so that
    every worker sees that its validation context is out of date."""

    version = Integer(default=0)
    changed_at = Timestamptz(null=True, default=None)


class CrlSource(Table, tablename="trust_crl_source"):
    """A distribution point to refresh a CRL from: its schedule, the lease of the worker refreshing it,
    and the last attempt's outcome (a failure keeps the last good CRL)."""

    url = Varchar(length=1000, unique=True)
    issuer_fingerprint = Varchar(length=64, default="")
    next_due_at = Timestamptz(null=True, default=None)
    lease_owner = Varchar(length=100, default="")
    lease_until = Timestamptz(null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    last_success_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=1000, default="")
    failures = Integer(default=0)
