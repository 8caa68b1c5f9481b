"""Schemathesis against /schema/openapi.json (issue 7, point 5): every operation under /api/v1, fed
schema-valid and schema-breaking input by a real `registry serve` on the province's database, signed in
as an admin who is also an operator. A bounded, reproducible run (few examples, a fixed seed, no
example database) with the conformance checks: never a server error, only documented status codes and
content types, and every response matching the schema documented for its status."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry import db
from registry.auth import service as auth
from registry.settings import Settings
from tests.helpers import DOIT, SYSTEM, Province
from tests.live_server import LiveServer, clean_env

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 20261130
MAX_EXAMPLES = int(os.environ.get("REGISTRY_SCHEMATHESIS_EXAMPLES", "8"))


@pytest.fixture
async def live_registry(province: Province, settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    """`registry serve` on this test's copy of the province, and a token of its admin, who is made an
    operator too so that every operation is reachable."""
    await auth.grant_role(SYSTEM, "admin", "operator", agency_code=DOIT, operator_agency=DOIT)
    token, _ = await auth.create_token(SYSTEM, "admin", name="schemathesis")
    await db.close_pool(db.current_engine())
    env = clean_env({"REGISTRY_DATABASE_URL": settings.database_url, "REGISTRY_DATA_DIR": str(tmp_path / "data"),
                     "REGISTRY_SECRET_KEY": "schemathesis-key", "REGISTRY_DEV_CA": "1"})
    with LiveServer(cwd=tmp_path / "serve", args=[], env=env) as server:
        yield server, token


def _conformance_failures(base_url: str, token: str) -> list[str]:
    """Run every operation's cases; the failures, one line each (operation, mode, what failed)."""
    api = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json").include(path_regex=r"^/api/v1/")
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(SEED)
            @settings(max_examples=MAX_EXAMPLES, database=None, deadline=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                       checks=CHECKS, timeout=30)

            try:
                run()
            except Unsatisfiable:
                # Nothing in this operation's input can break its schema (no parameters, or only strings
                # any value of which is valid): there is no negative case to send.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as error:  # a check failed: keep going, to report all at once
                found = getattr(error, "exceptions", None) or (error,)
                described = "; ".join(
                    " ".join(f"{getattr(f, 'title', type(f).__name__)}: {getattr(f, 'message', f)}".split())[:400]
                    for f in found
                )
                failures.append(f"{operation.label} [{mode.value}]: {described}")
    return failures


def test_the_api_conforms_to_its_openapi_document(live_registry: tuple[LiveServer, str]) -> None:
    server, token = live_registry
    failures = _conformance_failures(server.url, token)
    assert not failures, "\n\n".join(failures)
