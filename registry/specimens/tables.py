from piccolo.columns import Bytea, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.certs.tables import Certificate
from registry.workflow.tables import WorkflowRecord


class Specimen(WorkflowRecord, Table, tablename="specimen"):
    """A signature specimen (Đ6.2, Đ19.8), moved by the workflow engine: `kind` "org" (the seal image and
    the organisation certificate) or "leader" (a handwritten signature, a personal certificate, a name and
    a position). Once published it stays: superseded or withdrawn only closes its published period."""

    certificate = ForeignKey(references=Certificate, on_delete=OnDelete.restrict, index=True)
    full_name = Varchar(length=200, default="")
    position = Varchar(length=200, default="")
    # Whose specimen it is within the agency: "org", "person:ID" or "name:folded name". A published
    # specimen with the same agency and key is superseded by a newer one.
    holder_key = Varchar(length=250, default="", index=True)
    # The image re-encoded as PNG without metadata; the SHA-256 is of the file as it was submitted.
    image_png = Bytea()
    image_sha256 = Varchar(length=64)
    image_png_sha256 = Varchar(length=64)
    image_width = Integer(default=0)
    image_height = Integer(default=0)
    # Warnings given at submission (seal not red, signature not blue on transparency), "; "-separated.
    image_warnings = Text(default="")
    published_at = Timestamptz(null=True, default=None, index=True)
    ended_at = Timestamptz(null=True, default=None, index=True)
    end_reason = Text(default="")


class Mailbox(WorkflowRecord, Table, tablename="mailbox"):
    """An official mailbox an agency exchanges documents with (Đ19.8): submitted, published, withdrawn."""

    address = Varchar(length=254, index=True)
    # Who proposed it: "form", "api", or another domain ("account_request").
    source = Varchar(length=30, default="api")
    published_at = Timestamptz(null=True, default=None, index=True)
    ended_at = Timestamptz(null=True, default=None, index=True)
    end_reason = Text(default="")


class PublicationState(Table, tablename="publication_state"):
    """One row: a number bumped by every change of what the public sees, so that every worker's cache
    of published data knows when it is stale."""

    version = Integer(default=0)
    changed_at = Timestamptz()
