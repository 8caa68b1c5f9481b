from piccolo.columns import Date, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency


class Person(Table, tablename="person"):
    full_name = Varchar(length=200)
    search_key = Varchar(length=300, default="", index=True)
    position = Varchar(length=200, default="")
    agency = ForeignKey(references=Agency, on_delete=OnDelete.restrict, index=True)
    email = Varchar(length=254, default="", index=True)
    # Restricted personal data (Decree 13/2023): for the CA and approvers, never for the public.
    id_number = Varchar(length=12, default="")
    date_of_birth = Date(null=True, default=None)
    phone = Varchar(length=20, default="")
    # When they moved, retired, left or died (their user account ends then), and which of these.
    left_at = Timestamptz(null=True, default=None)
    departure_reason = Varchar(length=20, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
