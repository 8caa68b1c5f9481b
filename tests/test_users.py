"""Administering users: granting and revoking roles, deactivating accounts — through the API and the
command line, each audited, each taking effect on the very next request."""

from __future__ import annotations

import subprocess
import sys

from registry.audit.tables import AuditEntry
from registry.auth.tables import RoleAssignment
from tests.helpers import CITY, CITY_FINANCE, FINANCE, WARD, new_personal, sign_in


async def test_a_granted_role_works_at_once_and_a_revoked_one_stops(client, province) -> None:
    staff = province.auth("city_staff")
    assert (await client.post("/api/v1/cert-requests", json=new_personal(agency=WARD), headers=staff)).status_code == 403
    granted = await client.post("/api/v1/users/city_staff/roles", json={"role": "clerk", "agency_code": CITY}, headers=province.auth("admin"))
    assert granted.status_code == 201, granted.text
    assert {"role": "clerk", "agency_code": CITY} in [{k: r[k] for k in ("role", "agency_code")} for r in granted.json()["roles"]]
    assert (await client.post("/api/v1/cert-requests", json=new_personal(agency=WARD), headers=staff)).status_code == 201
    again = await client.post("/api/v1/users/city_staff/roles", json={"role": "clerk", "agency_code": CITY}, headers=province.auth("admin"))
    assert again.status_code == 409
    revoked = await client.post("/api/v1/users/city_staff/roles/revoke", json={"role": "clerk"}, headers=province.auth("admin"))
    assert revoked.status_code == 200
    assert [r["role"] for r in revoked.json()["roles"]] == ["staff"]
    assert (await client.post("/api/v1/cert-requests", json=new_personal(agency=WARD, id_number="022188005555"), headers=staff)).status_code == 403
    # The grant is kept with its end date, and both changes are audited.
    kept = await RoleAssignment.select().where(RoleAssignment.role == "clerk").where(RoleAssignment.revoked_at.is_not_null())
    assert len(kept) == 1
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).where(AuditEntry.object_id == "city_staff")]
    assert "user.grant_role" in actions and "user.revoke_role" in actions


async def test_role_changes_are_refused_cleanly(client, province) -> None:
    admin = province.auth("admin")
    before = await AuditEntry.count()
    cases = [
        (("/api/v1/users/city_staff/roles", {"role": "emperor"}, admin), 422),
        (("/api/v1/users/nobody/roles", {"role": "clerk"}, admin), 404),
        (("/api/v1/users/city_staff/roles", {"role": "clerk", "agency_code": "000.00.99.H49"}, admin), 422),
        (("/api/v1/users/city_staff/roles", {"role": "operator"}, admin), 422),
        (("/api/v1/users/city_staff/roles/revoke", {"role": "head"}, admin), 404),
        (("/api/v1/users/city_staff/roles", {"role": "clerk"}, province.auth("city_head")), 403),
        (("/api/v1/users/admin/deactivate", {}, admin), 422),
    ]
    for (path, body, headers), status in cases:
        response = await client.post(path, json=body or None, headers=headers)
        assert response.status_code == status, (path, body, response.text)
    assert await AuditEntry.count() == before


async def test_deactivation_ends_sessions_and_tokens_at_once(client, province) -> None:
    await sign_in(client, "city_clerk")
    assert (await client.get("/me")).status_code == 200
    response = await client.post("/api/v1/users/city_clerk/deactivate", headers=province.auth("admin"))
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await client.get("/me", follow_redirects=False)).status_code == 303
    assert (await client.get("/api/v1/me", headers=province.auth("city_clerk"))).status_code == 401
    assert (await client.post("/api/v1/users/city_clerk/deactivate", headers=province.auth("admin"))).status_code == 409
    assert (await client.post("/api/v1/users/city_clerk/activate", headers=province.auth("admin"))).status_code == 200
    assert (await client.get("/api/v1/me", headers=province.auth("city_clerk"))).status_code == 200


def test_the_command_line_grants_revokes_and_deactivates(province, settings, tmp_path) -> None:
    env = {"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def registry(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "registry", *args], env=env, capture_output=True, text=True, timeout=120)

    granted = registry("user", "grant", "finance_head", "--role", "clerk", "--agency", FINANCE)
    assert granted.returncode == 0, granted.stderr
    assert f"clerk@{FINANCE}" in granted.stdout and f"head@{FINANCE}" in granted.stdout
    revoked = registry("user", "revoke", "finance_head", "--role", "clerk")
    assert revoked.returncode == 0 and "clerk@" not in revoked.stdout
    missing = registry("user", "revoke", "finance_head", "--role", "clerk")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    outside = registry("user", "grant", "city_staff", "--role", "operator", "--agency", CITY_FINANCE)
    assert outside.returncode == 2 and "operator agency" in outside.stderr
    deactivated = registry("user", "deactivate", "ward_head")
    assert deactivated.returncode == 0 and "(deactivated)" in deactivated.stdout
