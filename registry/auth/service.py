"""Users and roles, API tokens, sign-in with throttling, and server-side sessions."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry import db, validation
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth.known import Known, KnownPrincipals
from registry.auth.permissions import OPERATOR_ROLE, ROLES, authorize, may, province_wide
from registry.auth.permissions import scope as permission_scope
from registry.auth.principal import Grant, Principal, system_principal
from registry.auth.tables import ApiToken, AuthSession, LoginAttempt, PasswordReset, RoleAssignment, UserAccount
from registry.compiled import value_list
from registry.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthenticated
from registry.people import service as people
from registry.settings import Settings
from registry.text import search_words
from registry.timeutil import now, parse_moment, to_vietnam

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "rgt_"
SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
IP_FAILURE_FACTOR = 4
TOKEN_NAME_LENGTH = 100
# serialize_on kinds: a user name before an address (see db.serialize_on).
_LOCK_LOGIN_USERNAME = 1
_LOCK_LOGIN_ADDRESS = 2

# argon2-cffi's defaults: Argon2id with the RFC 9106 low-memory profile.
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so that a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Change the Argon2id cost parameters (the test suite uses argon2's cheapest profile to stay fast).
    Hashes made with other parameters still verify, and are rehashed at the next sign-in."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


# Argon2 is deliberately slow and memory-hungry: it runs in these threads (argon2-cffi releases the GIL),
# never on the event loop, and at most one hash per CPU at a time; further sign-ins queue here while the
# loop goes on answering everything else.
HASHING_THREADS = max(1, os.cpu_count() or 1)
_hashing_pool: ThreadPoolExecutor | None = None
_hashing_pool_pid = 0
# Longer passwords are refused before hashing (a megabyte "password" is an attack, not a secret).
MAX_PASSWORD_LENGTH = 1024


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _pool() -> ThreadPoolExecutor:
    """This process's hashing threads. Made on first use in each process: `serve --demo` hashes in the
    parent before the server forks its workers, and a forked child inherits the pool without its threads."""
    global _hashing_pool, _hashing_pool_pid
    if _hashing_pool is None or _hashing_pool_pid != os.getpid():
        _hashing_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
        _hashing_pool_pid = os.getpid()
    return _hashing_pool


async def _off_loop(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_pool(), function, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; an unknown user costs as long as a wrong password."""
    matches = await _off_loop(_verify, stored_hash or _DUMMY_HASH, password)
    return matches and stored_hash is not None


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
            fields={"password": f"at least {MIN_PASSWORD_LENGTH} characters"}, code="password_too_short",
            params={"min_length": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            fields={"password": f"at most {MAX_PASSWORD_LENGTH} characters"}, code="text_too_long", params={"max_length": MAX_PASSWORD_LENGTH},
        )


# --- users and roles ----------------------------------------------------------------------------


def check_username(username: str) -> str:
    cleaned = (username or "").strip().lower()
    if not USERNAME.match(cleaned):
        raise Invalid(
            f"user name '{username}' must be 3-80 lower-case letters, digits, '.', '_' or '-'",
            fields={"username": "3-80 of a-z 0-9 . _ -"},
        )
    return cleaned


def check_roles(roles: Iterable[str]) -> list[str]:
    cleaned = sorted({role.strip().lower() for role in roles})
    unknown = [role for role in cleaned if role not in ROLES]
    if unknown or not cleaned:
        raise Invalid(
            f"roles must be among {', '.join(ROLES)}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            fields={"roles": f"one or more of {', '.join(ROLES)}"},
        )
    return cleaned


def _root_path(path: str) -> str:
    return "/" + path.strip("/").split("/")[0] + "/"


async def add_user(
    actor: Principal,
    *,
    username: str,
    full_name: str,
    agency_code: str,
    roles: Iterable[str],
    password: str,
    position: str = "",
    email: str = "",
    operator_agency: str | None = None,
) -> dict[str, Any]:
    """A person with a user account and role grants. `operator_agency` is the configured DoIT agency:
    the operator role is only for its staff."""
    username = check_username(username)
    role_list = check_roles(roles)
    check_password_strength(password)
    person_fields = people.check_fields({"full_name": full_name, "position": position, "email": email})
    # Hashed before the write lock is taken: the lock is held for the writes only.
    password_hash = await hash_password(password)
    async with db.transaction():
        agency = await agencies.named_in_input(agency_code)
        authorize(actor, "user.manage", agency["path"])
        if OPERATOR_ROLE in role_list:
            await _check_operator_agency(agency, operator_agency)
        if await UserAccount.exists().where(UserAccount.username == username):
            raise Conflict(f"user name {username} is taken")
        person_id = await people.insert_person(agency, person_fields)
        user = UserAccount(username=username, person=person_id, password_hash=password_hash, created_at=now())
        await user.save()
        grants = await _grant(user.id, role_list, agency)
        audit.record(
            actor, "user.create", "user", username,
            after={"full_name": person_fields["full_name"], "agency_code": agency["code"], "roles": grants},
        )
    return {"username": username, "id": user.id, "person_id": person_id, "agency_code": agency["code"], "roles": grants}


async def _check_operator_agency(agency: dict[str, Any], configured: str | None) -> None:
    doit_code = await agencies.operator_agency_code(configured)
    doit = await agencies.find_row(doit_code) if doit_code else None
    if doit is None or not agency["path"].startswith(doit["path"]):
        raise Invalid(
            f"the operator role is for staff of the operator agency {doit_code}, not of {agency['code']}",
            fields={"roles": "operator needs the operator agency"},
        )


async def _grant(user_id: int, roles: list[str], agency: dict[str, Any]) -> list[dict[str, str]]:
    granted = []
    for role in roles:
        scope = agency
        if province_wide(role):
            root = await agencies.Agency.select().where(agencies.Agency.path == _root_path(agency["path"])).first()
            scope = root or agency
        await RoleAssignment.insert(RoleAssignment(user=user_id, role=role, agency=scope["id"], granted_at=now()))
        granted.append({"role": role, "agency_code": scope["code"]})
    return granted


async def find_user(username: str) -> dict[str, Any] | None:
    return await UserAccount.select().where(UserAccount.username == username.strip().lower()).first()


async def get_user(username: str) -> dict[str, Any]:
    user = await find_user(username)
    if user is None:
        raise NotFound(f"no user {username}")
    return user


async def _managed_user(actor: Principal, username: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The user and their person record, if the actor administers their agency (else 404/403)."""
    user = await get_user(username)
    person = await people.get_row(user["person"])
    authorize(actor, "user.manage", person["agency_path"])
    return user, person


async def _active_grants(user_id: int) -> list[dict[str, Any]]:
    return await RoleAssignment.select(
        RoleAssignment.id, RoleAssignment.role, RoleAssignment.granted_at,
        RoleAssignment.agency.code.as_alias("agency_code"),
    ).where((RoleAssignment.user == user_id) & RoleAssignment.revoked_at.is_null()).order_by(RoleAssignment.id)


async def get_user_detail(actor: Principal, username: str) -> dict[str, Any]:
    user, person = await _managed_user(actor, username)
    return {
        "username": user["username"],
        "full_name": person["full_name"],
        "agency_code": person["agency_code"],
        "active": user["active"],
        "created_at": user["created_at"],
        "last_login_at": user["last_login_at"],
        "roles": [{"role": g["role"], "agency_code": g["agency_code"], "granted_at": g["granted_at"]}
                  for g in await _active_grants(user["id"])],
    }


async def grant_role(actor: Principal, username: str, role: str, *, agency_code: str | None = None,
                     operator_agency: str | None = None) -> dict[str, Any]:
    """Grant `role` over `agency_code` (default: the user's agency; operator and admin: the province)."""
    (role,) = check_roles([role])
    async with db.transaction():
        user, person = await _managed_user(actor, username)
        agency = await agencies.named_in_input(agency_code) if agency_code else await agencies.get_row(person["agency_code"])
        authorize(actor, "user.manage", agency["path"])
        if role == OPERATOR_ROLE:
            await _check_operator_agency(agency, operator_agency)
        scope_path = _root_path(agency["path"]) if province_wide(role) else agency["path"]
        current = await RoleAssignment.exists().where(
            (RoleAssignment.user == user["id"]) & (RoleAssignment.role == role)
            & (RoleAssignment.agency.path == scope_path) & RoleAssignment.revoked_at.is_null()
        )
        if current:
            raise Conflict(f"{username} already holds {role} there")
        granted = await _grant(user["id"], [role], agency)
        audit.record(actor, "user.grant_role", "user", user["username"], after=granted[0])
    return await get_user_detail(actor, username)


async def revoke_role(actor: Principal, username: str, role: str, *, agency_code: str | None = None) -> dict[str, Any]:
    """End a role grant (kept, with its end date). Without `agency_code`, every grant of that role."""
    (role,) = check_roles([role])
    async with db.transaction():
        user, _person = await _managed_user(actor, username)
        grants = [g for g in await _active_grants(user["id"])
                  if g["role"] == role and (agency_code is None or g["agency_code"] == agency_code.strip().upper())]
        if not grants:
            raise NotFound(f"{username} holds no {role} role" + (f" over {agency_code}" if agency_code else ""))
        await RoleAssignment.update({RoleAssignment.revoked_at: now()}).where(
            RoleAssignment.id.is_in([g["id"] for g in grants])
        )
        audit.record(actor, "user.revoke_role", "user", user["username"],
                     before=[{"role": g["role"], "agency_code": g["agency_code"]} for g in grants])
    return await get_user_detail(actor, username)


async def set_active(actor: Principal, username: str, active: bool) -> dict[str, Any]:
    """Deactivate (or reactivate) an account. A deactivated user's sessions end and tokens stop working."""
    async with db.transaction():
        user, _person = await _managed_user(actor, username)
        if not active and actor.user_id == user["id"]:
            raise Invalid("you cannot deactivate your own account", fields={"username": "is you"})
        if user["active"] == active:
            raise Conflict(f"{username} is already {'active' if active else 'deactivated'}")
        await UserAccount.update({UserAccount.active: active}).where(UserAccount.id == user["id"])
        if not active:
            await AuthSession.update({AuthSession.revoked_at: now()}).where(
                (AuthSession.user == user["id"]) & AuthSession.revoked_at.is_null()
            )
        audit.record(actor, "user.activate" if active else "user.deactivate", "user", user["username"],
                     before={"active": user["active"]}, after={"active": active})
    return await get_user_detail(actor, username)


# Every request loads its principal, so these two are plain SQL: Piccolo's building of joined selects
# cost more than the queries themselves (benchmarks/bench_http.py).
_USER_SQL = (
    'SELECT u.id, u.username, u.active, p.id AS person_id, p.full_name, p.left_at, a.id AS agency_id, '
    'a.code AS agency_code, a.path AS agency_path '
    'FROM user_account u JOIN person p ON p.id = u.person JOIN agency a ON a.id = p.agency WHERE u.id = {}'
)
_GRANTS_SQL = (
    'SELECT r.role, a.id AS agency_id, a.code AS agency_code, a.path AS agency_path '
    'FROM role_assignment r JOIN agency a ON a.id = r.agency WHERE r."user" = {} AND r.revoked_at IS NULL'
)


def _as_datetime(value: Any) -> datetime:
    """Raw SQL returns SQLite timestamps as text and PostgreSQL's as datetimes."""
    return value if isinstance(value, datetime) else parse_moment(str(value).replace(" ", "T", 1))


async def load_principal(user_id: int, *, via: str, session_id: int | None = None, csrf_token: str | None = None) -> Principal | None:
    users = await UserAccount.raw(_USER_SQL, user_id)
    if not users:
        return None
    return await _principal_of(users[0], via=via, session_id=session_id, csrf_token=csrf_token)


async def _principal_of(user: dict[str, Any], *, via: str, session_id: int | None = None,
                        csrf_token: str | None = None) -> Principal | None:
    """The principal of a row of `_USER_SQL`'s columns, its grants read; None when it may not act."""
    if not user["active"]:
        return None
    if user["left_at"] is not None and to_vietnam(_as_datetime(user["left_at"])) <= now():
        # Whoever left the registry's agencies has no user account from that day (people/departure.py).
        return None
    grants = await RoleAssignment.raw(_GRANTS_SQL, user["id"])
    return Principal(
        user_id=user["id"],
        username=user["username"],
        full_name=user["full_name"],
        person_id=user["person_id"],
        agency_id=user["agency_id"],
        agency_code=user["agency_code"],
        agency_path=user["agency_path"],
        grants=tuple(Grant(g["role"], g["agency_id"], g["agency_code"], g["agency_path"]) for g in grants),
        via=via,
        session_id=session_id,
        csrf_token=csrf_token,
    )


# --- principals known from earlier requests (registry/auth/known.py) ------------------------------

_known_tokens = KnownPrincipals()
_known_sessions = KnownPrincipals()
# A credential never touched: its first use is written down.
_NEVER = datetime.min.replace(tzinfo=UTC)


async def _data_marker() -> Hashable:
    """The state of the registry's data: it moves with every change committed by any process (the audit
    chain's head) and with what this process writes or puts back outside it (db.write_generation)."""
    generation = db.write_generation()
    return (generation, *await audit.head())


# --- API tokens ---------------------------------------------------------------------------------


def token_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "last_used_at": row["last_used_at"],
        "revoked_at": row["revoked_at"],
    }


async def _user_for_token_admin(actor: Principal, username: str | None) -> dict[str, Any]:
    """Anyone manages their own tokens; an admin lists and revokes those of users in their scope."""
    if username is None or (actor.user_id is not None and username == actor.username):
        if actor.user_id is None:
            raise Invalid("name the user whose tokens these are")
        return await get_user(actor.username)
    user = await get_user(username)
    person = await people.get_row(user["person"])
    authorize(actor, "user.manage", person["agency_path"])
    return user


async def create_token(
    actor: Principal, username: str | None = None, *, name: str = "", expires_days: int | None = None
) -> tuple[str, dict[str, Any]]:
    """A new bearer token; the plain value is returned once and never stored."""
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise Invalid("expires_days must be between 1 and 3650", fields={"expires_days": "1 to 3650"},
                      code="out_of_range", params={"min": 1, "max": 3650})
    name = validation.text(name, required=False, max_length=TOKEN_NAME_LENGTH, field="name")
    if not actor.is_system and username is not None and username.strip().lower() != actor.username:
        # A token acts as its user, and the audit log then names that user: minting one for someone else
        # is impersonation. Only the installation's operator (the command line, a system principal) may.
        raise Forbidden("you may create tokens only for yourself", code="token_for_other_user")
    async with db.transaction():
        user = await _user_for_token_admin(actor, username)
        if not user["active"]:
            raise Conflict(f"user {user['username']} is deactivated")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        moment = now()
        row = ApiToken(
            user=user["id"],
            name=name,
            token_hash=digest(plain),
            prefix=plain[: len(TOKEN_PREFIX) + 6],
            created_at=moment,
            expires_at=moment + timedelta(days=expires_days) if expires_days else None,
        )
        await row.save()
        audit.record(actor, "token.create", "user", user["username"], after={"token_id": row.id, "name": name})
    return plain, token_json(row.to_dict())


async def list_tokens(actor: Principal, username: str | None = None) -> list[dict[str, Any]]:
    user = await _user_for_token_admin(actor, username)
    rows = await ApiToken.select().where(ApiToken.user == user["id"]).order_by(ApiToken.id)
    return [token_json(row) for row in rows]


async def revoke_token(actor: Principal, token_id: int) -> dict[str, Any]:
    async with db.transaction():
        row = await ApiToken.select(ApiToken.all_columns(), ApiToken.user.username.as_alias("username")).where(
            ApiToken.id == token_id
        ).first()
        if row is None:
            raise NotFound(f"no token {token_id}")
        try:
            await _user_for_token_admin(actor, row["username"])
        except Forbidden:
            raise NotFound(f"no token {token_id}") from None
        if row["revoked_at"] is not None:
            raise Conflict(f"token {token_id} is already revoked")
        moment = now()
        await ApiToken.update({ApiToken.revoked_at: moment}).where(ApiToken.id == token_id)
        audit.record(actor, "token.revoke", "user", row["username"], after={"token_id": token_id})
        row["revoked_at"] = moment
    return token_json(row)


# A bearer token and its user in one query: every API request starts with it.
_TOKEN_SQL = (
    'SELECT t.id AS token_id, t.revoked_at AS token_revoked_at, t.expires_at AS token_expires_at, '
    't.last_used_at AS token_last_used_at, u.id, u.username, u.active, p.id AS person_id, p.full_name, '
    'p.left_at, a.id AS agency_id, a.code AS agency_code, a.path AS agency_path '
    'FROM api_token t JOIN user_account u ON u.id = t."user" JOIN person p ON p.id = u.person '
    'JOIN agency a ON a.id = p.agency WHERE t.token_hash = {}'
)


def _optional_moment(value: Any) -> datetime | None:
    return None if value is None else to_vietnam(_as_datetime(value))


async def principal_for_token(plain: str) -> Principal:
    principal = await _known_principal(_known_tokens, digest(plain.strip()), _read_token, TOKEN_TOUCH_INTERVAL,
                                       ApiToken, ApiToken.last_used_at, "token last use")
    if principal is None:  # not reached: _read_token refuses with the reason instead of answering None
        raise Unauthenticated("unknown bearer token")
    return principal


async def _known_principal(known_ones: KnownPrincipals, key: str,
                           read: Callable[[str, Hashable, datetime], Awaitable[Known | None]],
                           touch_interval: timedelta, table: Any, touched_column: Any, what: str) -> Principal | None:
    """The principal behind a credential (by its digest `key`): known from an earlier request while the data is
    as it was, else `read` (None: the credential does not act). Its last use is written down at most once per
    `touch_interval`: bookkeeping, not a change of registry data (no audit entry, skipped rather than failing
    the request when the database is busy)."""
    marker = await _data_marker()
    moment = now()
    known = known_ones.get(key, marker, moment)
    if known is None:
        known = await known_ones.read_once(key, marker, lambda: read(key, marker, moment))
        if known is None:
            return None
    # Requests that shared the read share `known`: the first one here writes down the use for all of them.
    if moment - known.touched_at > touch_interval:
        credential_id, known.touched_at = known.credential_id, moment
        await db.best_effort(lambda: table.update({touched_column: moment}).where(table.id == credential_id), what)
    return known.principal


async def _read_token(key: str, marker: Hashable, moment: datetime) -> Known:
    rows = await ApiToken.raw(_TOKEN_SQL, key)
    if not rows:
        raise Unauthenticated("unknown bearer token")
    row = rows[0]
    if row["token_revoked_at"] is not None:
        raise Unauthenticated("this bearer token was revoked")
    expires_at = _optional_moment(row["token_expires_at"])
    if expires_at is not None and expires_at <= moment:
        raise Unauthenticated("this bearer token has expired")
    principal = await _principal_of(row, via="token")
    if principal is None:
        raise Unauthenticated("the token's user is deactivated")
    last_used_at = _optional_moment(row["token_last_used_at"])
    return Known(principal, marker, read_at=moment, credential_id=row["token_id"],
                 touched_at=last_used_at or _NEVER, ends_at=expires_at, left_at=_optional_moment(row["left_at"]))


# --- sign-in and sessions -----------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    session_token: str
    principal: Principal
    expires_in: int


async def _throttle(settings: Settings, username: str, ip: str, moment) -> None:
    """Too many recent failures lock the user name (and, at a higher count, the address) for a while.
    Runs inside the transaction that records the attempt, after `_serialize_attempts`."""
    window = timedelta(minutes=settings.login_window_minutes)
    since = moment - window
    last_success = await LoginAttempt.select(LoginAttempt.at).where(
        (LoginAttempt.username == username) & (LoginAttempt.success == True)  # noqa: E712
    ).order_by(LoginAttempt.at, ascending=False).first()
    if last_success and last_success["at"] > since:
        since = last_success["at"]
    failures = await LoginAttempt.select(LoginAttempt.at).where(
        (LoginAttempt.username == username) & (LoginAttempt.success == False) & (LoginAttempt.at > since)  # noqa: E712
    ).order_by(LoginAttempt.at, ascending=False).limit(settings.login_max_failures)
    by_address = []
    if ip:
        by_address = await LoginAttempt.select(LoginAttempt.at).where(
            (LoginAttempt.ip == ip) & (LoginAttempt.success == False) & (LoginAttempt.at > moment - window)  # noqa: E712
        ).order_by(LoginAttempt.at, ascending=False).limit(settings.login_max_failures * IP_FAILURE_FACTOR)
    for recent, limit in ((failures, settings.login_max_failures), (by_address, settings.login_max_failures * IP_FAILURE_FACTOR)):
        if len(recent) >= limit:
            unlock_at = recent[-1]["at"] + window
            seconds = max(1, int((unlock_at - moment).total_seconds()) + 1)
            raise TooManyRequests(
                f"too many failed sign-ins; try again in {max(1, seconds // 60)} minute(s)", retry_after=seconds,
                code="sign_in_locked", params={"minutes": max(1, seconds // 60)},
            )


async def _record_attempt(settings: Settings, username: str, ip: str) -> int:
    """Check the throttle and record this attempt as a failure, in one step: the attempt counts against
    the limit before its password is even looked at, so parallel guesses cannot all slip under it.
    A right password turns its attempt into a success afterwards. Returns the attempt's id."""
    async with db.transaction():
        # Concurrent attempts on the same user name or address take turns from here to commit.
        await db.serialize_on(_LOCK_LOGIN_USERNAME, username)
        if ip:
            await db.serialize_on(_LOCK_LOGIN_ADDRESS, ip)
        moment = now()
        await _throttle(settings, username, ip, moment)
        inserted = await LoginAttempt.insert(
            LoginAttempt(username=username, ip=ip[:64], at=moment, success=False)
        ).returning(LoginAttempt.id)
    return inserted[0]["id"]


async def sign_in(settings: Settings, username: str, password: str, *, ip: str = "", user_agent: str = "") -> SignedIn:
    username = (username or "").strip().lower()[:80]
    if not username or not password:
        raise Invalid("enter your user name and password", fields={"username": "required", "password": "required"})
    if len(password) > MAX_PASSWORD_LENGTH:
        # Never a valid password (see check_password_strength); refused without hashing it.
        password = ""
    attempt_id = await _record_attempt(settings, username, ip)
    user = await find_user(username)
    verified = bool(password) and await verify_password(user["password_hash"] if user else None, password)
    if not verified or not user["active"]:
        # The attempt stays recorded as a failure, for throttling: a failed sign-in changes nothing, so it
        # is not audited (and floods of wrong passwords cannot queue on the audit chain's lock).
        raise Unauthenticated("wrong user name or password", code="wrong_credentials")
    plain = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    moment = now()
    expires_at = moment + timedelta(hours=settings.session_hours)
    new_hash = await hash_password(password) if _hasher.check_needs_rehash(user["password_hash"]) else None
    async with db.transaction():
        await LoginAttempt.update({LoginAttempt.success: True}).where(LoginAttempt.id == attempt_id)
        session = AuthSession(
            token_hash=digest(plain), user=user["id"], csrf_token=csrf, created_at=moment,
            expires_at=expires_at, last_seen_at=moment, ip=ip[:64], user_agent=user_agent[:300],
        )
        await session.save()
        values: dict[Any, Any] = {UserAccount.last_login_at: moment}
        if new_hash is not None:
            values[UserAccount.password_hash] = new_hash
        await UserAccount.update(values).where(UserAccount.id == user["id"])
        principal = await load_principal(user["id"], via="session", session_id=session.id, csrf_token=csrf)
        assert principal is not None
        audit.record(principal, "auth.login", "user", username, after={"ip": ip})
    return SignedIn(plain, principal, int((expires_at - moment).total_seconds()))


async def principal_for_session(plain: str) -> Principal | None:
    return await _known_principal(_known_sessions, digest(plain), _read_session, SESSION_TOUCH_INTERVAL,
                                  AuthSession, AuthSession.last_seen_at, "session activity")


async def _read_session(key: str, marker: Hashable, moment: datetime) -> Known | None:
    row = await AuthSession.select().where(AuthSession.token_hash == key).first()
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= moment:
        return None
    users = await UserAccount.raw(_USER_SQL, row["user"])
    if not users:
        return None
    principal = await _principal_of(users[0], via="session", session_id=row["id"], csrf_token=row["csrf_token"])
    if principal is None:
        return None
    return Known(principal, marker, read_at=moment, credential_id=row["id"], touched_at=row["last_seen_at"],
                 ends_at=row["expires_at"], left_at=_optional_moment(users[0]["left_at"]))


async def sign_out(principal: Principal) -> None:
    if principal.session_id is None:
        return
    async with db.transaction():
        await AuthSession.update({AuthSession.revoked_at: now()}).where(
            (AuthSession.id == principal.session_id) & AuthSession.revoked_at.is_null()
        )
        audit.record(principal, "auth.logout", "user", principal.username)


# --- who to tell: contacts for notifications ----------------------------------------------------


async def role_holders(role: str, agency_paths: Iterable[str]) -> list[dict[str, Any]]:
    """Active users holding `role` through a grant made exactly at one of `agency_paths`: their user id,
    person id, email and the grant's agency path."""
    paths = list(agency_paths)
    if not paths:
        return []
    return await RoleAssignment.select(
        RoleAssignment.user.id.as_alias("user_id"),
        RoleAssignment.user.person.id.as_alias("person_id"),
        RoleAssignment.user.person.email.as_alias("email"),
        RoleAssignment.agency.path.as_alias("path"),
    ).where(
        (RoleAssignment.role == role) & RoleAssignment.revoked_at.is_null()
        & RoleAssignment.agency.path.is_in(paths) & (RoleAssignment.user.active == True)  # noqa: E712
    )


async def contacts(*, user_ids: Iterable[int] = (), person_ids: Iterable[int] = ()) -> dict[int, str]:
    """user id → email, for the given users and for the users of the given people."""
    users, persons = sorted(set(user_ids)), sorted(set(person_ids))
    condition = None
    if users:
        condition = UserAccount.id.is_in(users)
    if persons:
        by_person = UserAccount.person.is_in(persons)
        condition = by_person if condition is None else condition | by_person
    if condition is None:
        return {}
    rows = await UserAccount.select(UserAccount.id, UserAccount.person.email.as_alias("email")).where(condition)
    return {row["id"]: row["email"] or "" for row in rows}


async def accounts_of(*, user_ids: Iterable[int] = (), person_ids: Iterable[int] = ()) -> list[dict[str, Any]]:
    """The users given and the users of the people given: id, person and email each (`contacts` for many
    records at once, telling whose is whose)."""
    users, persons = sorted(set(user_ids)), sorted(set(person_ids))
    rows: dict[int, dict[str, Any]] = {}
    for column, values in ((UserAccount.id, users), (UserAccount.person, persons)):
        for start in range(0, len(values), 5000):
            for row in await UserAccount.select(UserAccount.id, UserAccount.person,
                                                UserAccount.person.email.as_alias("email")).where(
                    column.is_in(values[start:start + 5000])):
                rows[row["id"]] = {**row, "email": row["email"] or ""}
    return list(rows.values())


async def names_of_users(user_ids: Iterable[int]) -> dict[int, str]:
    """user id → the person's full name (history and logs name people, not user names)."""
    wanted = sorted({user_id for user_id in user_ids if user_id is not None})
    if not wanted:
        return {}
    rows = await UserAccount.raw(_NAMES_SQL.format(value_list(len(wanted))), *wanted)
    return {row["id"]: row["full_name"] for row in rows}


# A request's page names the people of its history: plain SQL, as Piccolo's building of this joined select
# took a fifth of the page (sampled, issue 12). Its {} takes `value_list(len(ids))`.
_NAMES_SQL = "SELECT u.id, p.full_name FROM user_account u LEFT JOIN person p ON p.id = u.person WHERE u.id IN ({})"


# --- users managed from pages: lists, accounts for existing people, passwords -----------------------

RESET_LINK_HOURS = 48
RESET_PATH = "/reset/"


async def list_users(actor: Principal, *, q: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Users of the agencies the actor administers: who, where, which roles, active, last sign-in."""
    scope = permission_scope(actor, "user.manage", UserAccount.person.agency.path)
    if scope is None and not actor.is_system:
        return []
    query = UserAccount.select(
        UserAccount.id, UserAccount.username, UserAccount.active, UserAccount.last_login_at, UserAccount.created_at,
        UserAccount.person.id.as_alias("person_id"), UserAccount.person.full_name.as_alias("full_name"),
        UserAccount.person.agency.code.as_alias("agency_code"), UserAccount.person.agency.name.as_alias("agency_name"),
        UserAccount.person.left_at.as_alias("left_at"),
    ).order_by(UserAccount.person.search_key).limit(limit)
    if scope is not None:
        query = query.where(scope)
    for word in search_words(q):
        query = query.where(UserAccount.person.search_key.like(f"%{word}%") | UserAccount.username.like(f"%{word}%"))
    users = await query
    grants = await RoleAssignment.select(
        RoleAssignment.user, RoleAssignment.role, RoleAssignment.agency.name.as_alias("agency_name"),
    ).where(RoleAssignment.user.is_in([u["id"] for u in users] or [0]) & RoleAssignment.revoked_at.is_null())
    for user in users:
        user["roles"] = [{"role": g["role"], "agency_name": g["agency_name"]} for g in grants if g["user"] == user["id"]]
    return users


async def grant_history(actor: Principal, username: str) -> list[dict[str, Any]]:
    """Every grant the user ever held, with when it began and ended."""
    user, _person = await _managed_user(actor, username)
    return await RoleAssignment.select(
        RoleAssignment.id, RoleAssignment.role, RoleAssignment.granted_at, RoleAssignment.revoked_at,
        RoleAssignment.agency.code.as_alias("agency_code"), RoleAssignment.agency.name.as_alias("agency_name"),
    ).where(RoleAssignment.user == user["id"]).order_by(RoleAssignment.id)


async def add_user_for_person(actor: Principal, *, person_id: int, username: str, roles: Iterable[str],
                              operator_agency: str | None = None) -> dict[str, Any]:
    """A user account for someone already in the registry, with no password yet: they set their own
    through a one-time link (`issue_reset_link`)."""
    username = check_username(username)
    role_list = check_roles(roles)
    async with db.transaction():
        person = await people.find_row(person_id)
        if person is None or not may(actor, "user.manage", person["agency_path"]):
            raise NotFound(f"no person with id {person_id}", code="person_not_found", params={"id": person_id})
        if person["left_at"] is not None:
            raise Conflict(f"{person['full_name']} has left", code="person_departed", params={"name": person["full_name"]})
        if await UserAccount.exists().where(UserAccount.person == person_id):
            raise Conflict(f"{person['full_name']} already has a user account", code="person_has_user",
                           params={"name": person["full_name"]})
        if await UserAccount.exists().where(UserAccount.username == username):
            raise Conflict(f"user name {username} is taken", code="username_taken", fields={"username": "is taken"},
                           params={"username": username})
        agency = await agencies.get_row(person["agency_code"])
        if OPERATOR_ROLE in role_list:
            await _check_operator_agency(agency, operator_agency)
        user = UserAccount(username=username, person=person_id, password_hash="", created_at=now())
        await user.save()
        grants = await _grant(user.id, role_list, agency)
        audit.record(actor, "user.create", "user", username,
                     after={"full_name": person["full_name"], "agency_code": agency["code"], "roles": grants})
    return await get_user_detail(actor, username)


async def issue_reset_link(actor: Principal, username: str) -> tuple[str, Any]:
    """A one-time link for the user to set their password; earlier unused links stop working. Returns the
    link's path (shown once, to hand to the user) and when it expires. The administrator never sees or
    sets a password."""
    plain = secrets.token_urlsafe(32)
    moment = now()
    expires = moment + timedelta(hours=RESET_LINK_HOURS)
    async with db.transaction():
        user, _person = await _managed_user(actor, username)
        if not user["active"]:
            raise Conflict(f"{username} is deactivated", code="user_inactive", params={"username": username})
        await PasswordReset.update({PasswordReset.used_at: moment}).where(
            (PasswordReset.user == user["id"]) & PasswordReset.used_at.is_null())
        await PasswordReset.insert(PasswordReset(user=user["id"], token_hash=digest(plain), created_at=moment,
                                                 created_by=actor.user_id, expires_at=expires))
        audit.record(actor, "user.reset_link", "user", user["username"], after={"expires_at": expires.isoformat()})
    return RESET_PATH + plain, expires


async def reset_link_user(plain: str) -> dict[str, Any]:
    """The user a still-valid link belongs to (404 for a spent, expired or unknown one)."""
    row = await PasswordReset.select(
        PasswordReset.id, PasswordReset.expires_at, PasswordReset.used_at,
        PasswordReset.user.id.as_alias("user_id"), PasswordReset.user.username.as_alias("username"),
        PasswordReset.user.active.as_alias("active"),
    ).where(PasswordReset.token_hash == digest(plain or "")).first()
    if row is None or row["used_at"] is not None or not row["active"] or to_vietnam(row["expires_at"]) <= now():
        raise NotFound("this link is spent, expired or unknown", code="reset_link_invalid")
    return row


async def reset_password(plain: str, password: str) -> str:
    """Set the password through a one-time link; every session of the user ends. Returns the user name."""
    check_password_strength(password)
    password_hash = await hash_password(password)
    async with db.transaction():
        link = await reset_link_user(plain)
        spent = await PasswordReset.update({PasswordReset.used_at: now()}).where(
            (PasswordReset.id == link["id"]) & PasswordReset.used_at.is_null()).returning(PasswordReset.id)
        if not spent:
            raise NotFound("this link is spent, expired or unknown", code="reset_link_invalid")
        await UserAccount.update({UserAccount.password_hash: password_hash}).where(UserAccount.id == link["user_id"])
        await AuthSession.update({AuthSession.revoked_at: now()}).where(
            (AuthSession.user == link["user_id"]) & AuthSession.revoked_at.is_null())
        audit.record(system_principal(f"reset-link:{link['username']}"), "auth.password_reset", "user", link["username"])
    return link["username"]


async def change_password(principal: Principal, current: str, new: str) -> None:
    """The user changes their own password, proving the current one; their other sessions end."""
    if principal.user_id is None:
        raise Forbidden("only a user has a password", code="not_permitted")
    user = await UserAccount.select(UserAccount.password_hash).where(UserAccount.id == principal.user_id).first()
    if user is None or not await verify_password(user["password_hash"] or None, current or ""):
        raise Invalid("the current password is wrong", code="wrong_password",
                      fields={"current_password": "is wrong"})
    check_password_strength(new)
    if new == current:
        raise Invalid("the new password is the current one", code="password_unchanged",
                      fields={"new_password": "is the current one"})
    password_hash = await hash_password(new)
    async with db.transaction():
        await UserAccount.update({UserAccount.password_hash: password_hash}).where(UserAccount.id == principal.user_id)
        others = AuthSession.revoked_at.is_null() & (AuthSession.user == principal.user_id)
        if principal.session_id is not None:
            others = others & (AuthSession.id != principal.session_id)
        await AuthSession.update({AuthSession.revoked_at: now()}).where(others)
        audit.record(principal, "auth.password_change", "user", principal.username)


async def username_of_person(person_id: int) -> str | None:
    row = await UserAccount.select(UserAccount.username).where(UserAccount.person == person_id).first()
    return row["username"] if row else None
