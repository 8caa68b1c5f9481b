"""Sign-in, sessions, CSRF, API tokens, password hashing, and the roles × scope matrix."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import argon2
import httpx
import pytest

from registry import db
from registry.agencies import service as agencies
from registry.agencies.tables import Agency
from registry.app import create_app
from registry.audit.tables import AuditEntry
from registry.auth.tables import ApiToken, AuthSession, LoginAttempt, UserAccount
from registry.people import service as people
from registry.people.tables import Person
from registry.settings import Settings
from registry.timeutil import now
from tests.helpers import (
    CITY,
    CITY_FINANCE,
    DOIT,
    FINANCE,
    PASSWORD,
    ROOT,
    SYSTEM,
    WARD,
    bearer,
    bind,
    form_csrf,
    set_cookie,
    sign_in,
)

SESSION_COOKIE = "registry_session"


# --- helpers ------------------------------------------------------------------------------------


async def post_login(client: httpx.AsyncClient, username: str, password: str, next_: str = "/") -> httpx.Response:
    """Open the login page (which sets its CSRF cookie), then submit the form like a browser."""
    page = await client.get("/login")
    assert page.status_code == 200
    return await client.post(
        "/login", data={"_csrf": form_csrf(page.text), "username": username, "password": password, "next": next_}
    )


async def table_counts() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in db.table_classes()}


def count_changes(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] != before.get(name)}


@contextlib.asynccontextmanager
async def another_app(settings: Settings, base_url: str = "http://testserver.local") -> AsyncIterator[httpx.AsyncClient]:
    """A second, independently created app on the same database: another worker, or the same server after
    a restart. The suite's own app gets the database back afterwards."""
    engine = db.current_engine()
    app = create_app(settings)
    for hook in app.on_startup:
        await hook()
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as other:
            yield other
    finally:
        for hook in app.on_shutdown:
            await hook()
        bind(engine)


# --- the login form ------------------------------------------------------------------------------


async def test_login_page_is_vietnamese_and_labelled(client) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert '<label for="username">Tên đăng nhập</label>' in page.text
    assert '<label for="password">Mật khẩu</label>' in page.text
    login_cookie = set_cookie(page, "registry_login_csrf")
    assert login_cookie.get("httponly") is True and login_cookie["path"] == "/login"


async def test_sign_in_sets_a_locked_down_session_cookie(client, province) -> None:
    response = await post_login(client, "city_clerk", PASSWORD, next_="/agencies")
    assert response.status_code == 303
    assert response.headers["location"] == "/agencies"
    cookie = set_cookie(response, SESSION_COOKIE)
    assert len(cookie["value"]) >= 32
    assert cookie.get("httponly") is True
    assert str(cookie.get("samesite")).lower() == "lax"
    assert cookie.get("path") == "/"
    assert "secure" not in cookie  # plain http, REGISTRY_COOKIE_SECURE unset ("auto")
    assert int(cookie["max-age"]) == 12 * 3600
    # The session is server-side: only a hash of the cookie's value is stored.
    sessions = await AuthSession.select()
    assert len(sessions) == 1
    assert sessions[0]["token_hash"] != cookie["value"] and cookie["value"] not in str(sessions)
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "city_clerk" and me.json()["via"] == "session"


async def test_session_cookie_is_secure_over_https(app, province) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://registry.example") as https_client:
        page = await https_client.get("/login")
        assert set_cookie(page, "registry_login_csrf").get("secure") is True
        response = await https_client.post(
            "/login", data={"_csrf": form_csrf(page.text), "username": "city_clerk", "password": PASSWORD}
        )
        assert response.status_code == 303
        assert set_cookie(response, SESSION_COOKIE).get("secure") is True


async def test_registry_cookie_secure_forces_the_flag_over_http(settings: Settings, province) -> None:
    forced = Settings.from_env({
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_SECRET_KEY": settings.secret_key,
        "REGISTRY_COOKIE_SECURE": "1",
    })
    async with another_app(forced) as other:
        # As behind a TLS-terminating proxy: the app sees http, the browser (here, by hand) uses https.
        page = await other.get("/login")
        login_cookie = set_cookie(page, "registry_login_csrf")
        assert login_cookie.get("secure") is True
        response = await other.post(
            "/login",
            data={"_csrf": form_csrf(page.text), "username": "city_clerk", "password": PASSWORD},
            headers={"Cookie": f"registry_login_csrf={login_cookie['value']}"},
        )
        assert response.status_code == 303
        assert set_cookie(response, SESSION_COOKIE).get("secure") is True


async def test_wrong_password_is_a_vietnamese_401_and_only_an_attempt_is_written(client, province) -> None:
    before = await table_counts()
    response = await post_login(client, "city_clerk", "not the password")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    assert 'value="city_clerk"' in response.text  # the user name is kept in the form
    assert SESSION_COOKIE not in response.cookies
    assert count_changes(before, await table_counts()) == {"login_attempt": 1}
    attempt = await LoginAttempt.select().first()
    assert attempt["username"] == "city_clerk" and attempt["success"] is False and attempt["ip"] == "127.0.0.1"


async def test_unknown_user_is_refused_like_a_wrong_password(client, province) -> None:
    before = await table_counts()
    response = await post_login(client, "nobody-here", PASSWORD)
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    assert count_changes(before, await table_counts()) == {"login_attempt": 1}


async def test_empty_fields_are_refused(client, province) -> None:
    response = await post_login(client, "", "")
    assert response.status_code == 401
    assert await AuthSession.count() == 0


async def test_five_failures_lock_the_user_name_until_the_window_passes(client, province) -> None:
    for attempt in range(5):
        response = await post_login(client, "city_head", f"wrong {attempt}")
        assert response.status_code == 401, attempt
    locked = await post_login(client, "city_head", PASSWORD)
    assert locked.status_code == 429
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60 + 1
    assert "tạm khóa" in locked.text
    assert await AuthSession.count() == 0
    # The lock is on the user name: another user at the same address still signs in.
    other = await post_login(client, "city_clerk", PASSWORD)
    assert other.status_code == 303
    client.cookies.clear()

    # Fifteen minutes later (the attempts' timestamps moved back), the right password works again.
    for row in await LoginAttempt.select().where(LoginAttempt.username == "city_head"):
        await LoginAttempt.update({LoginAttempt.at: row["at"] - timedelta(minutes=16)}).where(LoginAttempt.id == row["id"])
    unlocked = await post_login(client, "city_head", PASSWORD)
    assert unlocked.status_code == 303


async def test_a_success_resets_the_failure_count(client, province) -> None:
    for attempt in range(4):
        assert (await post_login(client, "city_head", f"wrong {attempt}")).status_code == 401
    assert (await post_login(client, "city_head", PASSWORD)).status_code == 303
    client.cookies.clear()
    for attempt in range(4):
        assert (await post_login(client, "city_head", f"wrong again {attempt}")).status_code == 401
    assert (await post_login(client, "city_head", PASSWORD)).status_code == 303


async def test_twenty_failures_from_one_address_lock_that_address(app, client, province) -> None:
    for attempt in range(20):
        response = await post_login(client, f"guess{attempt:02d}", "wrong password")
        assert response.status_code == 401, attempt
    refused = await post_login(client, "city_clerk", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as elsewhere:
        assert (await post_login(elsewhere, "city_clerk", PASSWORD)).status_code == 303


async def test_logout_ends_the_session_on_the_server(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    old_cookie = client.cookies[SESSION_COOKIE]
    response = await client.post("/logout", data={"_csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert set_cookie(response, SESSION_COOKIE)["value"] in ("", '""')
    session = await AuthSession.select().first()
    assert session["revoked_at"] is not None
    # Replaying the old cookie no longer works.
    client.cookies.clear()
    api = await client.get("/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={old_cookie}"})
    assert api.status_code == 401
    assert "session has ended" in api.json()["detail"]
    page = await client.get("/me", headers={"Cookie": f"{SESSION_COOKIE}={old_cookie}"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_logout_needs_the_csrf_token(client, province) -> None:
    await sign_in(client, "city_clerk")
    response = await client.post("/logout")
    assert response.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await AuthSession.select().first())["revoked_at"] is None


async def test_sessions_survive_a_restart(client, settings: Settings, province) -> None:
    await sign_in(client, "city_head")
    cookie = client.cookies[SESSION_COOKIE]
    async with another_app(settings) as restarted:
        response = await restarted.get("/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        assert response.status_code == 200
        assert response.json()["username"] == "city_head"
    # ... and the suite's app still serves the same session.
    assert (await client.get("/api/v1/me")).json()["username"] == "city_head"


async def test_expired_sessions_are_refused(client, province) -> None:
    await sign_in(client, "city_clerk")
    await AuthSession.update({AuthSession.expires_at: now() - timedelta(seconds=1)}).where(AuthSession.id > 0)
    # The session's end moved behind the registry's back: the process is told, as after a restore (a known
    # session's own end is checked on every use: tests/test_known_principals.py).
    db.note_write()
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_signed_in_users_visiting_login_go_to_next(client, province) -> None:
    await sign_in(client, "city_clerk")
    response = await client.get("/login", params={"next": "/agencies"})
    assert response.status_code in (302, 303) and response.headers["location"] == "/agencies"


# --- CSRF ---------------------------------------------------------------------------------------

NEW_AGENCY = {"code": "000.00.07.H49", "name": "Sở Xây dựng", "parent_code": ROOT}


async def test_cookie_writes_without_the_csrf_token_are_refused_and_write_nothing(client, province) -> None:
    await sign_in(client, "admin")
    before = await table_counts()
    response = await client.post("/api/v1/agencies", json=NEW_AGENCY)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "CSRF" in response.json()["detail"]
    wrong = await client.post("/api/v1/agencies", json=NEW_AGENCY, headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status_code == 403
    patch = await client.patch(f"/api/v1/agencies/{CITY}", json={"name": "Đổi tên"})
    assert patch.status_code == 403
    assert count_changes(before, await table_counts()) == {}


async def test_the_csrf_header_lets_cookie_writes_through(client, province) -> None:
    csrf = await sign_in(client, "admin")
    response = await client.post("/api/v1/agencies", json=NEW_AGENCY, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    entry = await AuditEntry.select().where(AuditEntry.object_id == NEW_AGENCY["code"]).first()
    assert entry["action"] == "agency.create" and entry["actor"] == "admin"


async def test_the_csrf_form_field_lets_cookie_form_posts_through(client, province) -> None:
    csrf = await sign_in(client, "city_staff")
    before = await ApiToken.count()
    refused = await client.post("/me/tokens", data={"name": "qlvb"})
    assert refused.status_code == 403
    assert "Không có quyền" in refused.text
    assert await ApiToken.count() == before
    created = await client.post("/me/tokens", data={"_csrf": csrf, "name": "qlvb"})
    assert created.status_code == 201
    assert await ApiToken.count() == before + 1


async def test_the_csrf_field_works_in_multipart_uploads(client, province) -> None:
    csrf = await sign_in(client, "operator")
    upload = {"file": ("agencies.csv", f"code,name,parent_code\n000.00.09.H49,Sở Y tế,{ROOT}\n".encode(), "text/csv")}
    refused = await client.post("/api/v1/agencies/import", files=upload)
    assert refused.status_code == 403
    assert await Agency.count().where(Agency.code == "000.00.09.H49") == 0
    accepted = await client.post("/api/v1/agencies/import", files=upload, data={"_csrf": csrf})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["created"] == 1


async def test_bearer_token_writes_need_no_csrf_token(client, province) -> None:
    response = await client.post("/api/v1/agencies", json=NEW_AGENCY, headers=province.auth("admin"))
    assert response.status_code == 201


async def test_login_form_without_its_csrf_cookie_is_refused(client, province) -> None:
    page = await client.get("/login")
    token = form_csrf(page.text)
    client.cookies.clear()
    before = await table_counts()
    response = await client.post("/login", data={"_csrf": token, "username": "city_clerk", "password": PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies
    assert "Phiên đăng nhập đã hết hạn" in response.text
    # With the cookie but another token in the form: refused too.
    await client.get("/login")
    mismatch = await client.post("/login", data={"_csrf": "forged", "username": "city_clerk", "password": PASSWORD})
    assert mismatch.status_code == 403
    assert count_changes(before, await table_counts()) == {}


# --- open redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "https:/evil.example",
    ],
)
async def test_next_never_leaves_the_site(client, province, target: str) -> None:
    response = await post_login(client, "city_clerk", PASSWORD, next_=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    again = await client.get("/login", params={"next": target})
    assert again.headers["location"] == "/"


async def test_next_keeps_a_local_path_with_its_query(client, province) -> None:
    page = await client.get("/login", params={"next": "/agencies?q=ha long"})
    assert 'name="next" value="/agencies?q=ha long"' in page.text
    response = await post_login(client, "city_clerk", PASSWORD, next_="/agencies?q=ha%20long")
    assert response.headers["location"] == "/agencies?q=ha%20long"


# --- API tokens ---------------------------------------------------------------------------------


async def all_stored_text() -> str:
    """Every value of every row of every table, as text."""
    parts = []
    for table in db.table_classes():
        for row in await table.select():
            parts.extend(str(value) for value in row.values())
    return "\n".join(parts)


async def test_tokens_are_stored_only_as_hashes(client, province) -> None:
    response = await client.post("/api/v1/tokens", json={"name": "QLVB", "expires_days": 30}, headers=province.auth("city_staff"))
    assert response.status_code == 201
    body = response.json()
    plain = body["token"]
    assert plain.startswith("rgt_") and len(plain) > 40
    assert body["prefix"] == plain[:10] and body["expires_at"].endswith("+07:00")
    stored = await all_stored_text()
    assert plain not in stored
    assert plain[4:] not in stored
    for fixture_token in province.tokens.values():
        assert fixture_token not in stored
    # The new token works.
    me = await client.get("/api/v1/me", headers=bearer(plain))
    assert me.status_code == 200 and me.json()["via"] == "token"


async def test_token_list_shows_prefixes_never_values(client, province) -> None:
    response = await client.get("/api/v1/tokens", headers=province.auth("city_staff"))
    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == 1
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"}
    assert listed[0]["prefix"] == province.tokens["city_staff"][:10]
    assert province.tokens["city_staff"] not in response.text
    page_client = client
    await sign_in(page_client, "city_staff")
    page = await page_client.get("/me")
    assert province.tokens["city_staff"][:10] in page.text and province.tokens["city_staff"] not in page.text


async def test_last_use_is_recorded(client, province) -> None:
    row = await ApiToken.select().where(ApiToken.user.username == "city_head").first()
    assert row["last_used_at"] is None
    assert (await client.get("/api/v1/me", headers=province.auth("city_head"))).status_code == 200
    used = await ApiToken.select().where(ApiToken.id == row["id"]).first()
    assert used["last_used_at"] is not None and used["last_used_at"] >= row["created_at"]
    listed = (await client.get("/api/v1/tokens", headers=province.auth("city_head"))).json()
    assert listed[0]["last_used_at"] is not None and listed[0]["last_used_at"].endswith("+07:00")


async def test_revoked_tokens_are_refused(client, province) -> None:
    token_id = (await client.get("/api/v1/tokens", headers=province.auth("city_clerk"))).json()[0]["id"]
    revoked = await client.post(f"/api/v1/tokens/{token_id}/revoke", headers=province.auth("city_clerk"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = await client.get("/api/v1/me", headers=province.auth("city_clerk"))
    assert after.status_code == 401
    assert after.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in after.json()["detail"]
    assert after.headers["www-authenticate"].startswith("Bearer")


async def test_revoking_twice_is_a_conflict(client, province) -> None:
    token_id = (await client.get("/api/v1/tokens", headers=province.auth("city_head"))).json()[0]["id"]
    assert (await client.post(f"/api/v1/tokens/{token_id}/revoke", headers=province.auth("admin"))).status_code == 200
    audit_before = await AuditEntry.count()
    again = await client.post(f"/api/v1/tokens/{token_id}/revoke", headers=province.auth("admin"))
    assert again.status_code == 409
    assert await AuditEntry.count() == audit_before


async def test_others_tokens_cannot_be_revoked_or_listed(client, province) -> None:
    token_id = (await client.get("/api/v1/tokens", headers=province.auth("city_head"))).json()[0]["id"]
    audit_before = await AuditEntry.count()
    refused = await client.post(f"/api/v1/tokens/{token_id}/revoke", headers=province.auth("city_staff"))
    assert refused.status_code == 404
    listing = await client.get("/api/v1/tokens", params={"username": "city_head"}, headers=province.auth("city_staff"))
    assert listing.status_code == 403
    assert (await ApiToken.select().where(ApiToken.id == token_id).first())["revoked_at"] is None
    assert await AuditEntry.count() == audit_before
    assert (await client.get("/api/v1/me", headers=province.auth("city_head"))).status_code == 200


async def test_expired_tokens_are_refused(client, province) -> None:
    await ApiToken.update({ApiToken.expires_at: now() - timedelta(minutes=1)}).where(
        ApiToken.user.is_in(UserAccount.select(UserAccount.id).where(UserAccount.username == "operator"))
    )
    response = await client.get("/api/v1/me", headers=province.auth("operator"))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    # A write with it changes nothing.
    before = await Agency.count()
    write = await client.post("/api/v1/agencies", json=NEW_AGENCY, headers=province.auth("operator"))
    assert write.status_code == 401
    assert await Agency.count() == before


@pytest.mark.parametrize(
    "header", ["Bearer rgt_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "rgt_without_scheme"]
)
async def test_bad_credentials_are_401(client, province, header: str) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"]


async def test_tokens_can_be_created_and_revoked_from_the_users_page(client, province) -> None:
    csrf = await sign_in(client, "city_clerk")
    created = await client.post("/me/tokens", data={"_csrf": csrf, "name": "Phần mềm QLVB", "expires_days": "7"})
    assert created.status_code == 201
    plain = created.text.split('data-testid="new-token">', 1)[1].split("<", 1)[0]
    assert (await client.get("/api/v1/me", headers=bearer(plain))).status_code == 200
    row = await ApiToken.select().where(ApiToken.name == "Phần mềm QLVB").first()
    revoked = await client.post(f"/me/tokens/{row['id']}/revoke", data={"_csrf": csrf})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/me", headers=bearer(plain))).status_code == 401


# --- passwords ----------------------------------------------------------------------------------


async def test_password_hashes_are_argon2id(province) -> None:
    rows = await UserAccount.select(UserAccount.username, UserAccount.password_hash)
    assert len(rows) == len(province.users)
    for row in rows:
        assert row["password_hash"].startswith("$argon2id$v=19$"), row["username"]
        assert PASSWORD not in row["password_hash"]
        assert argon2.PasswordHasher().verify(row["password_hash"], PASSWORD)
    assert len({row["password_hash"] for row in rows}) == len(rows)  # salted: same password, different hashes


async def test_users_api_is_for_admins_and_checks_passwords(client, province) -> None:
    body = {"username": "new.clerk", "full_name": "Vũ Thị Mới", "agency_code": WARD, "roles": ["clerk"], "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=body, headers=province.auth("operator"))).status_code == 403
    short = await client.post("/api/v1/users", json={**body, "password": "short"}, headers=province.auth("admin"))
    assert short.status_code == 422 and "password" in [e["field"] for e in short.json()["errors"]]
    bad_role = await client.post("/api/v1/users", json={**body, "roles": ["boss"]}, headers=province.auth("admin"))
    assert bad_role.status_code == 422 and "roles" in [e["field"] for e in bad_role.json()["errors"]]
    assert await UserAccount.count().where(UserAccount.username == "new.clerk") == 0
    created = await client.post("/api/v1/users", json=body, headers=province.auth("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == [{"role": "clerk", "agency_code": WARD}]
    duplicate = await client.post("/api/v1/users", json=body, headers=province.auth("admin"))
    assert duplicate.status_code == 409
    assert (await post_login(client, "new.clerk", PASSWORD)).status_code == 303


# --- roles × scope ------------------------------------------------------------------------------

DOIT_UNIT = "000.01.16.H49"  # under DoIT
STAFF_UNIT = "001.02.21.H49"  # under the city's finance office
OTHER_PROVINCE = "000.00.00.H22"  # another province's root: outside every grant of these users

# Each user's agency, one of its children, an agency beside it, and one in another province.
TARGETS: dict[str, dict[str, str]] = {
    "admin": {"own": DOIT, "child": DOIT_UNIT, "unrelated": FINANCE, "other_province": OTHER_PROVINCE},
    "operator": {"own": DOIT, "child": DOIT_UNIT, "unrelated": FINANCE, "other_province": OTHER_PROVINCE},
    "city_head": {"own": CITY, "child": WARD, "unrelated": FINANCE, "other_province": OTHER_PROVINCE},
    "city_clerk": {"own": CITY, "child": WARD, "unrelated": FINANCE, "other_province": OTHER_PROVINCE},
    "city_staff": {"own": CITY_FINANCE, "child": STAFF_UNIT, "unrelated": FINANCE, "other_province": OTHER_PROVINCE},
}
ROLE_OF = {"admin": "admin", "operator": "operator", "city_head": "head", "city_clerk": "clerk", "city_staff": "staff"}
# What each grant reaches: admin and operator the whole province, the city's head and clerk the city.
IN_SCOPE = {
    "admin": {"own", "child", "unrelated"},
    "operator": {"own", "child", "unrelated"},
    "city_head": {"own", "child"},
    "city_clerk": {"own", "child"},
    "city_staff": {"own", "child"},
}


def expected_statuses(username: str, target: str) -> dict[str, int]:
    role, reach = ROLE_OF[username], target in IN_SCOPE[username]
    agency_writer = role in ("admin", "operator") and reach
    person_reader = role in ("clerk", "head", "operator", "admin") and reach
    person_manager = role in ("clerk", "operator", "admin")
    return {
        "agency.read": 200,
        "agency.create": 201 if agency_writer else 403,
        "agency.update": 200 if agency_writer else 403,
        "person.read": 200 if person_reader else 404,
        "person.create": 201 if person_manager and reach else 403,
        # A manager outside their scope cannot see the person at all: 404, like reading.
        "person.update": (200 if reach else 404) if person_manager else 403,
    }


@pytest.fixture
async def scoped_province(province, templates) -> dict[str, int]:
    """The province plus a unit under DoIT, one under the city's finance office, another province, and a
    person (without an account) in every target agency. Returns agency code → that person's id."""

    async def make() -> dict[str, int]:
        await agencies.import_csv(SYSTEM, (
            "code,name,parent_code\n"
            f"{DOIT_UNIT},Trung tâm Công nghệ thông tin và Truyền thông,{DOIT}\n"
            f"{STAFF_UNIT},Tổ Ngân sách,{CITY_FINANCE}\n"
            f"{OTHER_PROVINCE},Ủy ban nhân dân tỉnh Lạng Sơn,\n"
        ).encode())
        persons = {}
        for code in (DOIT, DOIT_UNIT, FINANCE, OTHER_PROVINCE, CITY, WARD, CITY_FINANCE, STAFF_UNIT):
            created = await people.create_person(SYSTEM, {"full_name": f"Nhân sự {code}", "agency_code": code, "position": "Chuyên viên"})
            persons[code] = created["id"]
        return persons

    return await templates.start_from("scoped_province", make, base="province")


async def attempt_everything(client: httpx.AsyncClient, headers: dict[str, str], code: str, person_id: int) -> dict[str, int]:
    new_code = "000.00.90." + code.rsplit(".", 1)[1]
    results = {
        "agency.read": await client.get(f"/api/v1/agencies/{code}", headers=headers),
        "agency.create": await client.post(
            "/api/v1/agencies", json={"code": new_code, "name": "Đơn vị mới", "parent_code": code}, headers=headers
        ),
        "agency.update": await client.patch(f"/api/v1/agencies/{code}", json={"address": "Địa chỉ mới"}, headers=headers),
        "person.read": await client.get(f"/api/v1/people/{person_id}", headers=headers),
        "person.create": await client.post(
            "/api/v1/people", json={"full_name": "Người Mới", "agency_code": code}, headers=headers
        ),
        "person.update": await client.patch(f"/api/v1/people/{person_id}", json={"position": "Phó phòng"}, headers=headers),
    }
    for response in results.values():
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {action: response.status_code for action, response in results.items()}


@pytest.mark.parametrize("target", ["own", "child", "unrelated", "other_province"])
@pytest.mark.parametrize("username", list(TARGETS))
async def test_roles_and_scope_matrix(client, province, scoped_province, username: str, target: str) -> None:
    code = TARGETS[username][target]
    audit_before, agencies_before, people_before = await AuditEntry.count(), await Agency.count(), await Person.count()
    got = await attempt_everything(client, province.auth(username), code, scoped_province[code])
    want = expected_statuses(username, target)
    assert got == want, f"{username} on {target} ({code})"
    # Refusals write nothing; each success writes its row and exactly one audit entry.
    writes = [action for action in ("agency.create", "agency.update", "person.create", "person.update") if got[action] < 300]
    assert await AuditEntry.count() == audit_before + len(writes)
    assert await Agency.count() == agencies_before + ("agency.create" in writes)
    assert await Person.count() == people_before + ("person.create" in writes)


async def test_without_credentials_everything_is_401(client, province, scoped_province) -> None:
    got = await attempt_everything(client, {}, CITY, scoped_province[CITY])
    assert got == dict.fromkeys(got, 401)


async def test_what_does_not_exist_is_404(client, province) -> None:
    headers = province.auth("admin")
    assert (await client.get("/api/v1/agencies/000.00.99.H49", headers=headers)).status_code == 404
    assert (await client.patch("/api/v1/agencies/000.00.99.H49", json={"address": "x"}, headers=headers)).status_code == 404
    assert (await client.get("/api/v1/people/999999", headers=headers)).status_code == 404
    assert (await client.patch("/api/v1/people/999999", json={"position": "x"}, headers=headers)).status_code == 404


async def test_people_lists_stay_inside_the_scope(client, province, scoped_province) -> None:
    def names(response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        return {person["full_name"] for person in response.json()}

    city = names(await client.get("/api/v1/people", headers=province.auth("city_clerk")))
    assert {f"Nhân sự {code}" for code in (CITY, WARD, CITY_FINANCE, STAFF_UNIT)} <= city
    assert f"Nhân sự {FINANCE}" not in city and f"Nhân sự {DOIT}" not in city
    ward = names(await client.get("/api/v1/people", headers=province.auth("ward_head")))
    assert f"Nhân sự {WARD}" in ward and f"Nhân sự {CITY}" not in ward
    province_wide = names(await client.get("/api/v1/people", headers=province.auth("operator")))
    assert f"Nhân sự {FINANCE}" in province_wide and f"Nhân sự {OTHER_PROVINCE}" not in province_wide
    outside = await client.get("/api/v1/people", params={"agency": FINANCE}, headers=province.auth("city_clerk"))
    assert outside.status_code == 404
    staff = await client.get("/api/v1/people", headers=province.auth("city_staff"))
    assert staff.status_code == 403
