"""Principals known from earlier requests (registry/auth/known.py): never used past a change of who someone
is, whichever process made it, nor past their credential's end."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from registry.auth.known import MAX_AGE, Known, KnownPrincipals
from registry.auth.principal import Principal
from registry.settings import Settings
from registry.timeutil import now
from tests.helpers import SYSTEM, registry_command, sign_in
from tests.live_server import clean_env

TIMEOUT = 120


@pytest.fixture
def cli_env(migrated: str, settings: Settings, tmp_path: Path) -> dict[str, str]:
    return clean_env({"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path / "data")})


def other_process(env: dict[str, str], *args: str) -> None:
    """A change made by another process (the command line), which this process hears nothing of."""
    result = subprocess.run([*registry_command(), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


def known(marker: object = 1, *, read_ago: timedelta = timedelta(0), ends_in: timedelta | None = None,
          left_in: timedelta | None = None, moment: datetime | None = None) -> Known:
    moment = moment or now()
    return Known(Principal(user_id=1, username="a", via="token"), marker, read_at=moment - read_ago, credential_id=1,
                 touched_at=moment, ends_at=None if ends_in is None else moment + ends_in,
                 left_at=None if left_in is None else moment + left_in)


def test_a_known_principal_is_used_only_while_the_data_and_the_credential_are_as_they_were() -> None:
    moment = now()
    assert known(moment=moment).usable(1, moment)
    assert not known(moment=moment).usable(2, moment), "the data changed"
    assert known(read_ago=MAX_AGE - timedelta(seconds=1), moment=moment).usable(1, moment)
    assert not known(read_ago=MAX_AGE, moment=moment).usable(1, moment), "read too long ago"
    assert known(ends_in=timedelta(seconds=5), moment=moment).usable(1, moment)
    assert not known(ends_in=timedelta(0), moment=moment).usable(1, moment), "the token or session ended"
    assert not known(left_in=timedelta(0), moment=moment).usable(1, moment), "the person left today"


def test_what_is_no_longer_usable_is_forgotten_and_the_oldest_goes_first() -> None:
    principals = KnownPrincipals(capacity=2)
    principals.put("a", known())
    principals.put("b", known())
    assert principals.get("a", 2, now()) is None and len(principals) == 1
    principals.put("c", known())
    principals.put("d", known())
    assert principals.get("b", 1, now()) is None and principals.get("c", 1, now()) is not None
    assert len(principals) == 2


async def test_a_token_revoked_by_another_process_is_refused_at_once(client, province, cli_env) -> None:
    assert (await client.get("/api/v1/me", headers=province.auth("city_clerk"))).status_code == 200
    token_id = (await client.get("/api/v1/tokens", headers=province.auth("city_clerk"))).json()[0]["id"]
    other_process(cli_env, "token", "revoke", str(token_id))
    refused = await client.get("/api/v1/me", headers=province.auth("city_clerk"))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


async def test_a_role_revoked_by_another_process_is_gone_at_once(client, province, cli_env) -> None:
    before = (await client.get("/api/v1/me", headers=province.auth("city_head"))).json()
    assert [grant["role"] for grant in before["roles"]] == ["head"]
    assert (await client.get("/api/v1/inbox", headers=province.auth("city_head"))).status_code == 200
    other_process(cli_env, "user", "revoke", "city_head", "--role", "head")
    after = (await client.get("/api/v1/me", headers=province.auth("city_head"))).json()
    assert after["roles"] == []
    assert (await client.get("/api/v1/inbox", headers=province.auth("city_head"))).status_code == 403


async def test_a_session_of_a_user_deactivated_by_another_process_ends_at_once(client, province, cli_env) -> None:
    await sign_in(client, "city_clerk")
    assert (await client.get("/api/v1/me")).json()["username"] == "city_clerk"
    other_process(cli_env, "user", "deactivate", "city_clerk")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_role_granted_through_the_api_counts_at_once(client, province) -> None:
    assert (await client.get("/api/v1/inbox", headers=province.auth("city_staff"))).status_code == 403
    granted = await client.post("/api/v1/users/city_staff/roles", json={"role": "head"},
                                headers=province.auth("admin"))
    assert granted.status_code in (200, 201), granted.text
    assert (await client.get("/api/v1/inbox", headers=province.auth("city_staff"))).status_code == 200


async def test_a_burst_of_requests_with_a_new_token_reads_it_once_and_notes_its_use_once(client, province,
                                                                                       monkeypatch) -> None:
    """The first requests of a new token, arriving together, wait for one read of it and write its last use
    once: each writing it would queue them all for SQLite's write lock."""
    from registry import db
    from registry.auth import service as auth
    from registry.auth.tables import ApiToken

    token, _row = await auth.create_token(SYSTEM, "city_clerk", name="burst")
    reads, notes = [], []
    real_read, real_note = auth._read_token, db.best_effort

    async def counted_read(*args):
        reads.append(args)
        return await real_read(*args)

    async def counted_note(write, what):
        notes.append(what)
        await real_note(write, what)

    monkeypatch.setattr(auth, "_read_token", counted_read)
    monkeypatch.setattr(db, "best_effort", counted_note)
    answers = await asyncio.gather(*(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                                     for _ in range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    assert {answer.json()["username"] for answer in answers} == {"city_clerk"}
    assert len(reads) == 1 and notes == ["token last use"]
    row = await ApiToken.select(ApiToken.last_used_at).where(ApiToken.token_hash == auth.digest(token)).first()
    assert row["last_used_at"] is not None


async def test_requests_sharing_a_read_of_a_refused_token_are_all_refused(client, province) -> None:
    from registry.auth import service as auth

    token, row = await auth.create_token(SYSTEM, "city_clerk", name="revoked at once")
    await auth.revoke_token(SYSTEM, row["id"])
    answers = await asyncio.gather(*(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                                     for _ in range(10)))
    assert [answer.status_code for answer in answers] == [401] * 10
    assert all("revoked" in answer.json()["detail"] for answer in answers)


async def test_what_is_derived_for_a_principal_is_read_once_by_requests_arriving_together() -> None:
    principal = Principal(user_id=1, username="a", via="token")
    reads = []

    async def read() -> list[str]:
        reads.append(1)
        await asyncio.sleep(0.01)
        return ["đơn vị"]

    answers = await asyncio.gather(*(principal.derive_read("options", read) for _ in range(8)))
    assert answers == [["đơn vị"]] * 8 and len(reads) == 1
    assert await principal.derive_read("options", read) == ["đơn vị"] and len(reads) == 1


async def test_a_derived_read_that_failed_is_tried_again() -> None:
    principal = Principal(user_id=1, username="a", via="token")
    attempts = []

    async def read() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the database went away")
        return 7

    failed = await asyncio.gather(principal.derive_read("count", read), principal.derive_read("count", read),
                                  return_exceptions=True)
    assert all(isinstance(answer, RuntimeError) for answer in failed) and len(attempts) == 1
    assert await principal.derive_read("count", read) == 7 and len(attempts) == 2
