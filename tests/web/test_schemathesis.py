"""schemathesis over ``/openapi.json``: no 5xx, and every answer matches its documented schema.

The schema is the app's own ``/openapi.json`` document (building it opens nothing). The requests
go over loopback HTTP to the app under uvicorn in a thread of the module's own (its lifespan runs
there, as ``serve`` runs it), on a database of the module's own, the simulator as upstream and
the clock frozen (no scheduled sync fires). The admin token goes with every request, so admin
routes are exercised past their 401.

The app is not handed to schemathesis as ASGI: that runs its lifespan on schemathesis' one
process-wide portal thread, whose shutdown the main thread waits for without a bound (and again
at exit, through ``atexit``), so a shutdown that never completed hung the whole run, deaf to
Ctrl-C. Here the server is stopped like any uvicorn server and waited for with a bound; one that
does not stop fails the module's teardown with a message instead.
(``schemathesis.pytest.from_fixture`` would load the schema lazily, but its 4.32 wrapper sets
``node._nodeid``, which pytest 9 no longer has.)
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from modelsync.clock import ManualClock
from modelsync.web.app import create_app
from web.harness import ADMIN, START, GatedTransport, service_settings, simulator_app

EXAMPLES = int(os.environ.get("MODELSYNC_SCHEMATHESIS_EXAMPLES", "15"))
"""Examples per operation; raise it for a deeper run (the default keeps the module under ~10 s)."""
CONFIG = SchemathesisConfig.from_dict({"generation": {"max-examples": EXAMPLES}})
DOCUMENT = create_app(service_settings(Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(path="/api/changes/stream")
"""The live stream never ends by itself: ``test_stream.py`` tests it with a real HTTP client."""


STOP_WITHIN_S = 20.0
"""The server (its lifespan's shutdown included) must stop within this, or the module fails."""


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the app the requests go to; the server is stopped after the module."""
    settings = service_settings(tmp_path_factory.mktemp("schemathesis"))
    app = create_app(settings, clock=ManualClock(START), transport=GatedTransport(simulator_app()))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STOP_WITHIN_S
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True  # closes the app's scheduler, client and store
        thread.join(timeout=STOP_WITHIN_S)
        sock.close()
    assert not thread.is_alive(), f"the server did not stop within {STOP_WITHIN_S} s"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], live_url: str) -> None:
    """Generated requests to every operation: never a 5xx, always a documented answer."""
    case.call_and_validate(
        base_url=live_url,
        headers=ADMIN,
        timeout=30,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
