from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from registry.agencies.tables import Agency
from registry.people.tables import Person


class UserAccount(Table, tablename="user_account"):
    username = Varchar(length=80, unique=True)  # unique: indexed by its constraint
    person = ForeignKey(references=Person, on_delete=OnDelete.restrict, unique=True)
    password_hash = Text(default="")
    active = Boolean(default=True)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)


class RoleAssignment(Table, tablename="role_assignment"):
    """A role over `agency` and its subtree. Revoked grants stay, with their date."""

    user = ForeignKey(references=UserAccount, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=20)
    agency = ForeignKey(references=Agency, on_delete=OnDelete.restrict)
    granted_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class ApiToken(Table, tablename="api_token"):
    """Bearer tokens, kept only as SHA-256 hashes (they are long random strings, so no slow hash is needed)."""

    user = ForeignKey(references=UserAccount, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100, default="")
    token_hash = Varchar(length=64, unique=True)
    # The first characters, to tell tokens apart in lists without revealing them.
    prefix = Varchar(length=16)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class AuthSession(Table, tablename="auth_session"):
    """A browser session, server-side so that every worker shares it and it survives restarts."""

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=UserAccount, on_delete=OnDelete.cascade, index=True)
    csrf_token = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_seen_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class LoginAttempt(Table, tablename="login_attempt"):
    username = Varchar(length=80, index=True)
    ip = Varchar(length=64, default="", index=True)
    at = Timestamptz(index=True)
    success = Boolean(default=False)


class PasswordReset(Table, tablename="password_reset"):
    """A one-time link an administrator issues so that a user sets their own password: the administrator
    never sees a password. Kept only as the SHA-256 of its token; used once, then spent."""

    user = ForeignKey(references=UserAccount, on_delete=OnDelete.cascade, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
