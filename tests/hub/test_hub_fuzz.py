"""Property-based fuzzing of the hub's API from its own OpenAPI description: no server
errors, and no record upload accepted without a valid device signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from hub.api import create_app

from ..hubkit import seed_hub
from ..ledgerkit import NOW


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, object]]:
    hub_dir = Path(tmp_path_factory.mktemp("fuzz")) / "hub"
    seed_hub(hub_dir)
    with TestClient(create_app(hub_dir, heartbeat=0, clock=lambda: NOW)) as client:
        yield client, schemathesis.openapi.from_asgi("/openapi.json", client.app)


def operations(schema: object) -> list[object]:
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[attr-defined]


def test_every_operation_is_fuzzed(hub) -> None:
    client, schema = hub
    ops = operations(schema)
    assert {op.path for op in ops} >= {
        "/v1/status",
        "/v1/blocks",
        "/v1/enrol",
        "/v1/records",
        "/v1/conflicts",
    }
    for op in ops:
        fuzz_one(client, op)


def fuzz_one(client: TestClient, op: object) -> None:
    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=op.as_strategy())  # type: ignore[attr-defined]
    def fuzz(case: object) -> None:
        response = case.call(session=client)  # type: ignore[attr-defined]
        assert response.status_code < 500, (op.path, response.text)  # type: ignore[attr-defined]
        if op.path == "/v1/records":  # type: ignore[attr-defined]
            # Nothing fuzzed carries a valid device signature: never accepted.
            assert response.status_code in (401, 409, 422), response.text

    fuzz()
