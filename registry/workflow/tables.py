from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency
from registry.auth.tables import UserAccount
from registry.certs.tables import Certificate
from registry.people.tables import Person


class Request(Table, tablename="request"):
    """A request of any domain ("cert", "account"): one table, one state machine, one inbox."""

    domain = Varchar(length=20, index=True)
    kind = Varchar(length=30)
    state = Varchar(length=20, index=True)
    agency = ForeignKey(references=Agency, on_delete=OnDelete.restrict, index=True)
    # Who filed it (null only for requests the registry prepares itself).
    requester = ForeignKey(references=UserAccount, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # Whom it concerns, if a person.
    subject = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # The certificate acted on (renew, change, unlock, revoke) ...
    certificate = ForeignKey(references=Certificate, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    # ... and the one issued in answer (new, renew, change), once fulfilled.
    issued_certificate = ForeignKey(references=Certificate, null=True, default=None, on_delete=OnDelete.restrict)
    urgent = Boolean(default=False, index=True)
    reason = Varchar(length=30, default="")
    # Kind-specific fields as JSON, restricted personal data included (never shown to the public).
    details = Text(default="{}")
    summary = Varchar(length=300, default="")
    search_key = Varchar(length=400, default="")
    decided_by = ForeignKey(references=UserAccount, null=True, default=None, on_delete=OnDelete.restrict)
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    batch_id = Integer(null=True, default=None, index=True)
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()
    # Bumped by every transition: a conditional update on it settles races.
    version = Integer(default=1)


class RequestEvent(Table, tablename="request_event"):
    """The request's history: every transition with who, when and why."""

    request = ForeignKey(references=Request, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz()
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=150)
    transition = Varchar(length=30)
    from_state = Varchar(length=20, default="")
    to_state = Varchar(length=20)
    note = Text(default="")
