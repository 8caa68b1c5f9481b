"""Users and roles managed from pages (issue 11, point 2): administrators create user accounts for people,
grant and revoke roles over subtrees, deactivate and reactivate, see the last sign-in; they issue one-time
links instead of ever seeing a password; users change their own password."""

from __future__ import annotations

import httpx

from registry.audit.tables import AuditEntry
from registry.auth.tables import PasswordReset
from tests.helpers import CITY_FINANCE, PASSWORD, form_csrf, sign_in


async def _new_person(client, province) -> int:
    created = await client.post("/api/v1/people", json={"full_name": "Trần Văn Mới", "agency_code": CITY_FINANCE,
                                                          "email": "moi.tv@quangninh.gov.vn"}, headers=province.auth("admin"))
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_an_admin_creates_a_user_for_a_person_and_the_user_sets_the_password(client, app, province) -> None:
    person_id = await _new_person(client, province)
    csrf = await sign_in(client, "admin")
    person_page = await client.get(f"/people/{person_id}")
    assert f'href="/admin/users/new?person_id={person_id}"' in person_page.text
    bad = await client.post(f"/admin/users/new?person_id={person_id}", data={"_csrf": csrf, "username": "X Y"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    created = await client.post(f"/admin/users/new?person_id={person_id}",
                                data={"_csrf": csrf, "username": "moi.tv", "roles": ["staff", "clerk"]})
    assert created.status_code == 303 and created.headers["location"] == "/admin/users/moi.tv?created=1"
    page = await client.get("/admin/users/moi.tv")
    assert "Trần Văn Mới" in page.text and "Chưa đăng nhập" in page.text and "Văn thư" in page.text

    issued = await client.post("/admin/users/moi.tv/reset-link", data={"_csrf": csrf})
    link = issued.text.split('data-testid="reset-link">', 1)[1].split("<", 1)[0]
    assert link.startswith("/reset/")
    # Only the link's hash is kept; the audit log records that a link was issued, never the link.
    stored = await PasswordReset.select(PasswordReset.token_hash).first()
    assert link.rsplit("/", 1)[1] not in stored["token_hash"]
    assert not any(link.rsplit("/", 1)[1] in str(e) for e in await AuditEntry.select())

    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as user:
        form = await user.get(link)
        assert form.status_code == 200 and "Đặt mật khẩu cho moi.tv" in form.text
        short = await user.post(link, data={"new_password": "short", "confirm_password": "short"})
        assert short.status_code == 422 and short.headers["content-type"].startswith("text/html")
        differ = await user.post(link, data={"new_password": "một mật khẩu dài", "confirm_password": "khác hẳn đi"})
        assert differ.status_code == 422
        done = await user.post(link, data={"new_password": "một mật khẩu dài", "confirm_password": "một mật khẩu dài"})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
        spent = await user.get(link)
        assert spent.status_code == 404
        await sign_in(user, "moi.tv", "một mật khẩu dài")
        assert (await user.get("/me")).status_code == 200

    listing = await client.get("/admin/users?q=tran van moi")
    assert "moi.tv" in listing.text and "Chưa đăng nhập" not in listing.text.split("moi.tv", 1)[1].split("</tr>", 1)[0]


async def test_roles_are_granted_revoked_and_kept_with_dates(client, province) -> None:
    csrf = await sign_in(client, "admin")
    granted = await client.post("/admin/users/city_staff/grant", data={"_csrf": csrf, "role": "clerk", "agency_code": CITY_FINANCE})
    assert granted.status_code == 200 and "Đã giao vai trò" in granted.text
    operator = await client.post("/admin/users/city_staff/grant", data={"_csrf": csrf, "role": "operator", "agency_code": CITY_FINANCE})
    assert operator.status_code == 422  # the operator role is for the operator agency's staff
    revoked = await client.post("/admin/users/city_staff/revoke", data={"_csrf": csrf, "role": "clerk", "agency_code": CITY_FINANCE})
    assert revoked.status_code == 200 and "lịch sử vẫn được lưu" in revoked.text
    assert revoked.text.count("Văn thư") >= 1  # the revoked grant stays listed with its end date
    locked = await client.post("/admin/users/city_staff/deactivate", data={"_csrf": csrf})
    assert "Đã khóa tài khoản" in locked.text
    assert (await client.get("/api/v1/me", headers=province.auth("city_staff"))).status_code == 401
    await client.post("/admin/users/city_staff/activate", data={"_csrf": csrf})
    assert (await client.get("/api/v1/me", headers=province.auth("city_staff"))).status_code == 200


async def test_only_admins_manage_users(client, province) -> None:
    await sign_in(client, "city_head")
    assert (await client.get("/admin/users")).status_code == 403
    assert (await client.post("/api/v1/users/city_staff/reset-link", headers=province.auth("city_head"))).status_code == 403
    assert (await client.get("/api/v1/users", headers=province.auth("operator"))).status_code == 403
    users = await client.get("/api/v1/users", headers=province.auth("admin"))
    assert users.status_code == 200 and {"city_staff", "admin"} <= {u["username"] for u in users.json()}


async def test_a_user_changes_their_own_password(client, province) -> None:
    csrf = await sign_in(client, "city_staff")
    wrong = await client.post("/me/password", data={"_csrf": csrf, "current_password": "nope",
                                                     "new_password": "mật khẩu mới dài", "confirm_password": "mật khẩu mới dài"})
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    done = await client.post("/me/password", data={"_csrf": csrf, "current_password": PASSWORD,
                                                    "new_password": "mật khẩu mới dài", "confirm_password": "mật khẩu mới dài"})
    assert done.status_code == 200 and "Đã đổi mật khẩu" in done.text
    client.cookies.clear()
    api = await client.post("/api/v1/password-reset", json={"token": "x" * 40, "new_password": "whatever long"})
    assert api.status_code == 404
    login = await client.get("/login")
    assert form_csrf(login.text)
