from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Agency(Table, tablename="agency"):
    """A node of the agency tree. `path` lists the ids from the root down to this node ("/1/5/23/"),
    so a subtree is one prefix match and scope checks need no recursion."""

    code = Varchar(length=20, unique=True)  # unique: indexed by its constraint
    name = Varchar(length=300)
    short_name = Varchar(length=100, default="")
    # Indexed: an agency's page lists the agencies directly under it.
    parent = ForeignKey(references="self", null=True, default=None, on_delete=OnDelete.restrict, index=True)
    path = Varchar(length=1000, index=True, default="")
    depth = Integer(default=0)
    address = Varchar(length=500, default="")
    tax_code = Varchar(length=20, default="")
    budget_code = Varchar(length=10, default="")
    email = Varchar(length=254, default="")
    # Folded name, short name and code: the diacritics-blind search key.
    search_key = Varchar(length=700, default="", index=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class AgencyName(Table, tablename="agency_name"):
    """Every name an agency has carried, with the dates it was valid; the current one has no valid_to."""

    agency = ForeignKey(references=Agency, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=300)
    short_name = Varchar(length=100, default="")
    valid_from = Timestamptz()
    valid_to = Timestamptz(null=True, default=None)


class RegistrySetting(Table, tablename="registry_setting"):
    """Settings an administrator changes at run time (the environment still wins where it names one)."""

    key = Varchar(length=80, unique=True)
    value = Text(default="")
    updated_at = Timestamptz()
