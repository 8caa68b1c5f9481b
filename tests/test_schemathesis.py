"""Schemathesis against /schema/openapi.json (issue 7, point 5): every operation under /api/v1, fed
schema-valid and schema-breaking input by a real `registry serve` on the province's database, signed in
as an admin who is also an operator. A bounded, reproducible run (few examples, a fixed seed, no
example database) with the conformance checks: never a server error, only documented status codes and
content types, and every response matching the schema documented for its status."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


# Each operation runs as a Hypothesis test of its own, here, rather than through schemathesis's pytest
# integration (`schemathesis.pytest.from_fixture`), which does not run under pytest 9.
def _conformance_failures(base_url: str, token: str) -> tuple[int, list[str]]:
    """Run every operation's cases: how many operations, and the failures, one line each (operation,
    mode, what failed), all reported at once."""
    api = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json").include(path_regex=r"^/api/v1/")
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(SEED)
            @settings(max_examples=MAX_EXAMPLES, database=None, deadline=None,
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
    return operations, failures


def test_the_api_conforms_to_its_openapi_document(live_registry: tuple[LiveServer, str]) -> None:
    server, token = live_registry
    operations, failures = _conformance_failures(server.url, token)
    assert operations >= 60, operations  # the whole API was exercised, not a part the filter let through
    assert not failures, "\n\n".join(failures)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_operation_documents_its_success_schema_and_its_problems(app) -> None:
    """What a client generator needs from /schema/openapi.json: for each operation under /api/v1, the
    schema of its success (an object with named properties, or a list of such; files as binary) and its
    errors as problem+json with the registry's `code`."""
    document = app.openapi_schema.to_schema()
    checked = 0
    for path, item in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            responses = operation["responses"]
            success = [status for status in responses if status.startswith("2")]
            assert success, label
            for status in success:
                for media_type, content in responses[status]["content"].items():
                    schema = _resolve(document, content["schema"])
                    if schema.get("type") == "array":
                        schema = _resolve(document, schema["items"])
                    if schema.get("format") != "binary":  # a file (an export) is binary whatever its type
                        assert media_type == "application/json", f"{label} {status} {media_type}"
                        assert schema.get("properties"), f"{label} {status}: untyped {schema}"
            errors = [status for status in responses if status.startswith("4")]
            assert "400" in errors and len(errors) >= 2, f"{label}: {errors}"
            for status in errors:
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], f"{label} {status}"
                problem = _resolve(document, content["application/problem+json"]["schema"])
                assert {"code", "title", "detail", "status"} <= set(problem["required"]), f"{label} {status}"
            checked += 1
    assert checked >= 60
