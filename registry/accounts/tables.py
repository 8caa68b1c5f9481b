from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency
from registry.people.tables import Person
from registry.workflow.tables import WorkflowRecord


class Account(Table, tablename="account"):
    """An account on another system as the registry knows it: whose, where, since when, until when. The
    registry never stores or shows that system's password."""

    system = Varchar(length=10)  # "qlvb" or "mail"
    # The login name, or the mailbox address.
    name = Varchar(length=254, index=True)
    # The person it belongs to; none for an agency's own mailbox.
    person = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    agency = ForeignKey(references=Agency, on_delete=OnDelete.restrict, index=True)
    created_at = Timestamptz()
    # The request whose fulfilment recorded it (none for accounts recorded before the registry).
    created_by_request = Integer(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Varchar(length=30, default="")


class AccountRequest(WorkflowRecord, Table, tablename="account_request"):
    """A request for an account (new, password reset, change, cancel), moved by the workflow engine."""

    system = Varchar(length=10)
    # The account acted on (password reset, change, cancel) once known to the register.
    account = ForeignKey(references=Account, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # The account's name: wished for (new) or acted on; for a new one, what DoIT finally created.
    account_name = Varchar(length=254, default="")
    # What DoIT recorded on fulfilment or failure.
    outcome = Text(default="")
