"""Schemathesis against the server's own OpenAPI schema: generated valid and invalid requests must never get a
5xx, and every response must match the schema (status codes, content types, bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from models.registry import ModelRegistry
from serving.app import create_app
from tests.serving.conftest import (
    RedisProcess,
    export_version,
    free_port,
    register_basket_version,
    register_c2rec,
    settings_for,
    write_users,
)
from tests.serving.journeys_helpers import register_journeys
from tests.serving.lens_fixtures import promote_tiny_lens

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    rp = RedisProcess(free_port())
    rp.start()
    try:
        registry = ModelRegistry(tmp / "registry")
        version = export_version(registry, tmp)
        registry.promote(version)
        promote_tiny_lens(registry)  # the next_basket family's champion (POST /next-basket)
        registry.promote(register_basket_version(registry))  # POST /basket/complete's family
        register_journeys(registry.root, tmp)  # the journeys family's champion (POST /journeys/simulate)
        registry.promote(register_c2rec(registry, tmp))  # channel "store" is served too
        write_users(rp.port)
        app = create_app(settings_for(rp.port, registry.root))
        yield schemathesis.openapi.from_asgi("/openapi.json", app)  # schemathesis runs the app's lifespan
        shutdown_lifespans()
    finally:
        rp.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_schema_conformance(api_schema: Any, mode: GenerationMode) -> None:
    # schemathesis' pytest integration (LazySchema) does not work with pytest 9, so drive hypothesis directly
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/recommend", "/healthz", "/readyz", "/metrics"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # no parameters or body to break

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, response.text
            if response.status_code == 413:  # oversized generated bodies are rejected before validation
                assert "too large" in response.text
                return
            case.validate_response(response)

        check()
