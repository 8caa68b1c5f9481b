from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.auth.tables import UserAccount


class Notification(Table, tablename="notification"):
    """Something a user should see on their page; unread ones count towards their to-do badge."""

    user = ForeignKey(references=UserAccount, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    request_id = Integer(null=True, default=None)
    # The page the notice leads to (the request's page, whatever its flow).
    url = Varchar(length=200, default="")
    message = Varchar(length=500)
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class OutboxMessage(Table, tablename="outbox_message"):
    """A mail to send. Written with the event it reports; a sender (later) claims unsent rows, retrying
    with `next_attempt_at`, so nothing is lost between the event and the mail."""

    recipient = ForeignKey(references=UserAccount, null=True, default=None, on_delete=OnDelete.set_null)
    email = Varchar(length=254, default="")
    subject = Varchar(length=300)
    body = Text(default="")
    created_at = Timestamptz(index=True)
    next_attempt_at = Timestamptz(index=True)
    attempts = Integer(default=0)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None, index=True)
