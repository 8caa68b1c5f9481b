from piccolo.columns import BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_entry"):
    """One change. `hash` covers this entry's fields and the previous entry's hash."""

    seq = BigInt(unique=True)  # unique: indexed by its constraint
    at = Timestamptz(index=True)
    # Plain columns, not foreign keys: the log must outlive and not constrain what it describes.
    actor_id = Integer(null=True, default=None, index=True)
    actor = Varchar(length=150)
    action = Varchar(length=80, index=True)
    object_type = Varchar(length=50, index=True)
    object_id = Varchar(length=100, index=True)
    before = Text(null=True, default=None)
    after = Text(null=True, default=None)
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)


class AuditHead(Table, tablename="audit_head"):
    """A single row (id 1): the chain's last position and hash. Updating it serialises appends."""

    seq = BigInt(default=0)
    hash = Varchar(length=64, default="")
