from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency
from registry.auth.tables import UserAccount
from registry.people.tables import Person


class WorkflowRecord:
    """The columns every record moved by the engine carries. A domain's table mixes these in and adds its
    own (a certificate request its certificate, an account request its system...):

        class CertRequest(WorkflowRecord, Table, tablename="cert_request"): ...
    """

    kind = Varchar(length=30)
    state = Varchar(length=20, index=True)
    # Bumped by every transition: a conditional update on it settles races.
    version = Integer(default=1)
    agency = ForeignKey(references=Agency, on_delete=OnDelete.restrict, index=True)
    # Who filed it (null only for records the registry prepares itself).
    requester = ForeignKey(references=UserAccount, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # Whom it concerns, if a person.
    subject = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    urgent = Boolean(default=False, index=True)
    summary = Varchar(length=300, default="")
    search_key = Varchar(length=400, default="")
    # Kind-specific fields as JSON, restricted personal data included (never shown to the public).
    details = Text(default="{}")
    decided_by = ForeignKey(references=UserAccount, null=True, default=None, on_delete=OnDelete.restrict)
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()


class WorkflowEvent(Table, tablename="workflow_event"):
    """The history of every record of every flow: each transition with who, when and why."""

    flow = Varchar(length=20)
    record_id = Integer(index=True)
    at = Timestamptz()
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=150)
    transition = Varchar(length=30)
    from_state = Varchar(length=20, default="")
    to_state = Varchar(length=20)
    note = Text(default="")
