"""Property-based fuzzing of the hub's API from its own OpenAPI description: no server
errors, no record upload accepted without a valid device signature, and no read of the
ledger or the conflicts without a signature or the operator's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from hub.api import create_app

from ..hubkit import operator_token, seed_hub
from ..ledgerkit import NOW

READS = {"/v1/blocks", "/v1/conflicts"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, object, str]]:
    hub_dir = Path(tmp_path_factory.mktemp("fuzz")) / "hub"
    seed_hub(hub_dir)
    token = operator_token(hub_dir)
    # A throttle that never bites, so enrolment is fuzzed past it (test_hub_enrolment
    # covers the throttle).
    app = create_app(hub_dir, heartbeat=0, clock=lambda: NOW, enrol_attempts=10**6)
    with TestClient(app) as client:
        yield client, schemathesis.openapi.from_asgi("/openapi.json", client.app), token


def operations(schema: object) -> list[object]:
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[attr-defined]


def test_every_operation_is_fuzzed(hub) -> None:
    client, schema, token = hub
    ops = operations(schema)
    assert {op.path for op in ops} >= {  # type: ignore[attr-defined]
        "/v1/status",
        "/v1/blocks",
        "/v1/enrol",
        "/v1/records",
        "/v1/conflicts",
    }
    for op in ops:
        fuzz_one(client, op, None)
        if op.path in READS:  # type: ignore[attr-defined]
            fuzz_one(client, op, {"Authorization": f"Bearer {token}"})  # past the door


def fuzz_one(client: TestClient, op: object, headers: dict[str, str] | None) -> None:
    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=op.as_strategy())  # type: ignore[attr-defined]
    def fuzz(case: object) -> None:
        response = case.call(session=client, headers=headers)  # type: ignore[attr-defined]
        path = op.path  # type: ignore[attr-defined]
        assert response.status_code < 500, (path, response.text)
        if path == "/v1/records":
            # Nothing fuzzed carries a valid device signature: never accepted.
            assert response.status_code in (401, 409, 422), response.text
        if path in READS and headers is None:
            # Nothing fuzzed is signed by an enrolled device or carries the token.
            assert response.status_code == 401, response.text

    fuzz()
