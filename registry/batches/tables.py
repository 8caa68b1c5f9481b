from piccolo.columns import Bytea, Date, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.workflow.tables import WorkflowRecord


class Batch(WorkflowRecord, Table, tablename="ca_batch"):
    """A list of approved certificate requests sent to the CA together. Its agency is the operator agency
    (DoIT); its requests name it in their `batch_id`."""

    dispatch_no = Varchar(length=100, default="")
    dispatched_on = Date(null=True, default=None)


class BatchFile(Table, tablename="ca_batch_file"):
    """What was sent, kept as it was sent: the export files and their manifest, frozen when the batch is
    marked sent, so that the SHA-256 in the manifest always describes the bytes the CA received."""

    batch = ForeignKey(references=Batch, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200)
    media_type = Varchar(length=100)
    content = Bytea()
    sha256 = Varchar(length=64)
    created_at = Timestamptz()


class BatchUnmatched(Table, tablename="ca_batch_unmatched"):
    """A certificate the CA returned with a batch that matched none of its requests: kept in the registry
    (unlinked) and listed here until someone links it, so nothing the CA sent is ever dropped."""

    batch = ForeignKey(references=Batch, on_delete=OnDelete.cascade, index=True)
    fingerprint = Varchar(length=64)
    subject = Varchar(length=2000)
    reason = Varchar(length=200)
    received_at = Timestamptz()
