"""A fake of every built-in gateway, for the demo, tests and benchmarks (DESIGN section 11).

Each gateway answers under ``/<gateway>`` + the path of its registry base URL, in the real API's
shape and pagination, seeded from the recorded responses in ``shared/fixtures`` when found and from
small built-in catalogs otherwise. Mutations and faults are driven through ``/_admin`` or timed
scripts (:mod:`modelsync.simulator.script`).
"""

from __future__ import annotations

from modelsync.simulator.app import create_simulator_app, gateway_paths
from modelsync.simulator.config import SimulatorConfig
from modelsync.simulator.script import Step, demo_script, load_script
from modelsync.simulator.server import build_server, run_simulator, serve_simulator

__all__ = [
    "SimulatorConfig",
    "Step",
    "build_server",
    "create_simulator_app",
    "demo_script",
    "gateway_paths",
    "load_script",
    "run_simulator",
    "serve_simulator",
]
