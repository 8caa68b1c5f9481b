from piccolo.columns import Boolean, Bytea, Date, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency
from registry.people.tables import Person
from registry.workflow.tables import WorkflowRecord


class Certificate(Table, tablename="certificate"):
    """An X.509 certificate (public data only: the private key never leaves the holder's token).

    Status is derived, never stored: revoked if `revoked_at` has passed, superseded once a renewal
    replaced it, expired after `not_after`, otherwise active. Nothing here is overwritten: a revocation
    or supersession only fills its columns."""

    fingerprint = Varchar(length=64, unique=True)  # lower-case hex SHA-256 of the DER; indexed as unique
    serial = Varchar(length=100, index=True)  # lower-case hex
    subject = Varchar(length=2000)  # RFC 4514, Vietnamese letters intact
    issuer = Varchar(length=2000)
    common_name = Varchar(length=300, default="")
    email = Varchar(length=254, default="", index=True)
    search_key = Varchar(length=700, default="")  # indexed in the name order: certificate_name_order (on SQLite certificate_name_order_scope)
    not_before = Timestamptz()
    not_after = Timestamptz(index=True)
    key_type = Varchar(length=20, default="")  # RSA, EC, Ed25519, ...
    key_size = Integer(default=0)
    key_usage = Varchar(length=300, default="")  # comma-separated names
    is_ca = Boolean(default=False)
    # "personal", "org" (an agency's digital seal), or "ca"
    kind = Varchar(length=20, default="personal", index=True)
    der = Bytea()
    holder = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # The holder's agency, or for an organisation certificate the organisation itself.
    agency = ForeignKey(references=Agency, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # The clerk keeping an organisation certificate like the seal (Đ5.3-4).
    custodian = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict)
    revoked_at = Timestamptz(null=True, default=None)
    revocation_reason = Varchar(length=30, default="")
    # Set when an urgent revocation is filed, so the certificate shows "revocation pending" at once.
    revocation_pending_since = Timestamptz(null=True, default=None)
    superseded_by = ForeignKey(references="self", null=True, default=None, on_delete=OnDelete.restrict)
    superseded_at = Timestamptz(null=True, default=None)
    source = Varchar(length=20, default="upload")  # upload, ca_result, dev_ca
    imported_at = Timestamptz()
    imported_by = Integer(null=True, default=None)


class CertRequest(WorkflowRecord, Table, tablename="cert_request"):
    """A request about a certificate (new, renew, change, unlock, revoke), moved by the workflow engine."""

    # The certificate acted on (renew, change, unlock, revoke) ...
    certificate = ForeignKey(references=Certificate, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # ... and the one issued in answer (new, renew, change), once fulfilled.
    issued_certificate = ForeignKey(references=Certificate, null=True, default=None, on_delete=OnDelete.restrict)
    # The revocation reason (registry.certs.reasons), for revoke requests.
    reason = Varchar(length=30, default="")
    batch_id = Integer(null=True, default=None, index=True)
    # After delivery to the unit: when the unit handed the certificate (token) to its holder.
    handed_to_holder_at = Timestamptz(null=True, default=None)
    # A fulfilled revocation: the token goes back to the CA within 5 working days (Đ22), and when it did.
    token_return_due = Date(null=True, default=None)
    token_returned_at = Timestamptz(null=True, default=None)
