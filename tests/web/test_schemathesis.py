"""schemathesis over ``/openapi.json``: no 5xx, and every answer matches its documented schema.

The schema is the app's own ``/openapi.json`` document (building it opens nothing). The requests
go in process (ASGI) to an app whose lifespan schemathesis starts on the first call, on a
database of the module's own, the simulator as upstream and the clock frozen (no scheduled sync
fires). The admin token goes with every request, so admin routes are exercised past their 401.
(``schemathesis.pytest.from_fixture`` would load the schema lazily, but its 4.32 wrapper sets
``node._nodeid``, which pytest 9 no longer has.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from modelsync.clock import ManualClock
from modelsync.web.app import create_app
from web.harness import ADMIN, START, GatedTransport, service_settings, simulator_app

EXAMPLES = int(os.environ.get("MODELSYNC_SCHEMATHESIS_EXAMPLES", "15"))
"""Examples per operation; raise it for a deeper run (the default keeps the module under ~10 s)."""
CONFIG = SchemathesisConfig.from_dict({"generation": {"max-examples": EXAMPLES}})
DOCUMENT = create_app(service_settings(Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app the requests go to; its lifespan is shut down after the module."""
    settings = service_settings(tmp_path_factory.mktemp("schemathesis"))
    app = create_app(settings, clock=ManualClock(START), transport=GatedTransport(simulator_app()))
    try:
        yield app
    finally:
        shutdown_lifespans()  # closes the app's scheduler, client and store


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], live_app: FastAPI) -> None:
    """Generated requests to every operation: never a 5xx, always a documented answer."""
    case.call_and_validate(
        app=live_app,
        headers=ADMIN,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
