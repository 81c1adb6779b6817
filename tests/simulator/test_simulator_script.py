"""Scripted steps: parsing, running in order, the demo script, and the app's background task."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog.testing
from simulator_helpers import builtin_config, fetch, simulator

from modelsync.clock import ManualClock
from modelsync.errors import ConfigError
from modelsync.simulator import Step, create_simulator_app, demo_script, load_script
from modelsync.simulator.catalogs import load_seeds
from modelsync.simulator.mutations import OPS
from modelsync.simulator.script import apply_step, parse_step, run_script
from modelsync.simulator.shapes import SHAPES
from modelsync.simulator.state import SimulatorState


def _state() -> SimulatorState:
    return SimulatorState(load_seeds(None), clock=ManualClock(), seed=0)


async def test_steps_fire_in_order_after_their_pauses() -> None:
    """Each step waits its pause, then applies; the log shows them in order."""
    state = _state()
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    first = state.gateways["groq"].ids()[0]
    steps = [
        Step(0.5, "groq", "remove", {"model_id": first}),
        Step(1.0, "openrouter", "reprice", {"model_id": "openai/gpt-5", "factor": 2}),
        Step(0.0, "groq", "restore", {"model_id": first}),
        Step(2.5, "groq", "fault", {"kind": "http_500", "times": 1}),
    ]
    await run_script(state, steps, sleep=sleep)
    assert pauses == [0.5, 1.0, 0.0, 2.5]
    assert [entry["op"] for entry in state.gateways["groq"].log] == ["remove", "restore"]
    assert [fault.kind for fault in state.gateways["groq"].faults] == ["http_500"]
    assert state.gateways["openrouter"].log[0]["changes"]["pricing.prompt"][1] == "0.0000025"


async def test_a_failing_step_is_skipped() -> None:
    """A step that cannot apply is logged and skipped; later steps still run."""
    state = _state()
    steps = [
        Step(0, "groq", "remove", {"model_id": "no-such-model"}),
        Step(0, "groq", "reprice", {"factor": 2}),
        Step(0, "groq", "fault", {"kind": "bad_price"}),
        Step(0, "groq", "rename", {"model_id": "x"}),
        Step(0, "cerebras", "remove", {}),
    ]
    await run_script(state, steps, sleep=lambda _: asyncio.sleep(0))
    assert state.gateways["groq"].log == type(state.gateways["groq"].log)()
    assert len(state.gateways["cerebras"].log) == 1


async def test_real_pauses_keep_order() -> None:
    """With real (short) sleeps the steps land in order."""
    state = _state()
    steps = [Step(0.02, "near", "add", {"model_id": f"acme/step-{n}"}) for n in range(3)]
    await run_script(state, steps)
    assert state.gateways["near"].ids()[-3:] == [f"acme/step-{n}" for n in range(3)]


def test_clear_faults_step() -> None:
    """A clear_faults step drops the gateway's faults."""
    state = _state()
    apply_step(state, Step(0, "fal", "fault", {"kind": "http_500"}))
    assert apply_step(state, Step(0, "fal", "clear_faults")) == {"gateway": "fal", "faults": []}
    assert state.gateways["fal"].faults == []


def test_load_script(tmp_path: Path) -> None:
    """A JSON file of steps (a list, or under "steps") loads in order."""
    raw = [
        {"after_s": 1, "gateway": "groq", "op": "remove", "model_id": "x"},
        {"gateway": "fal", "op": "fault", "kind": "http_429", "retry_after": 3},
    ]
    listed, wrapped = tmp_path / "list.json", tmp_path / "wrapped.json"
    listed.write_bytes(orjson.dumps(raw))
    wrapped.write_bytes(orjson.dumps({"steps": raw}))
    expected = (
        Step(1.0, "groq", "remove", {"model_id": "x"}),
        Step(0.0, "fal", "fault", {"kind": "http_429", "retry_after": 3}),
    )
    assert load_script(listed) == load_script(str(wrapped)) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "cannot read"),
        (b'{"steps": 3}', "list of steps"),
        (b"[1]", "an object"),
        (b'[{"gateway": "nope", "op": "add"}]', "unknown gateway"),
        (b'[{"gateway": "groq", "op": "explode"}]', "unknown op"),
        (b'[{"after_s": -1, "gateway": "groq", "op": "add"}]', "after_s"),
    ],
)
def test_load_script_errors(tmp_path: Path, content: bytes, message: str) -> None:
    """A bad script file is a ConfigError that says what is wrong."""
    path = tmp_path / "script.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_script(path)


def test_load_script_missing_file(tmp_path: Path) -> None:
    """A missing script file is a ConfigError."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_script(tmp_path / "absent.json")


def test_parse_step_keeps_parameters() -> None:
    """Everything but after_s, gateway and op is a parameter of the step."""
    step = parse_step({"gateway": "xai", "op": "reprice", "factor": 2, "model_id": "grok-3"})
    assert step == Step(0.0, "xai", "reprice", {"factor": 2, "model_id": "grok-3"})


def test_demo_script_shows_changes_within_a_minute() -> None:
    """The demo starts within seconds and adds, reprices, renames and removes in a minute."""
    steps = list(itertools.islice(demo_script(7), 40))
    assert steps[0].after_s == 3.0
    assert all(4 <= step.after_s <= 8 for step in steps[1:])
    elapsed, seen = 0.0, set()
    for step in steps:
        elapsed += step.after_s
        if elapsed <= 60:
            seen.add(step.op)
    assert {"add", "reprice", "rename", "remove"} <= seen
    assert all(step.gateway in SHAPES and step.op in OPS for step in steps)
    assert list(itertools.islice(demo_script(7), 40)) == steps


def test_demo_steps_apply_cleanly() -> None:
    """Two hundred demo steps apply to the built-in catalogs without a single refusal."""
    state = _state()
    for step in itertools.islice(demo_script(3), 200):
        apply_step(state, step)
    assert sum(len(g.log) for g in state.gateways.values()) == 200
    assert all(g.entries for g in state.gateways.values())


async def test_the_app_runs_its_script_in_the_background() -> None:
    """The app's lifespan runs the configured script and the demo, and stops them on exit."""
    steps = (Step(0.01, "groq", "remove", {"model_id": "llama-3.1-8b-instant"}),)
    app = create_simulator_app(builtin_config(script=steps, demo=True))
    state: Any = app.state.simulator
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if state.gateways["groq"].log:
                break
            await asyncio.sleep(0.01)
    assert state.gateways["groq"].log[0]["model_id"] == "llama-3.1-8b-instant"


async def test_a_scripted_change_shows_in_the_list() -> None:
    """A step applied to the app's state changes the next response."""
    async with simulator() as (client, state):
        before = (await fetch(client, "xai")).json()["models"]
        apply_step(state, Step(0, "xai", "remove", {"model_id": before[0]["id"]}))
        after = (await fetch(client, "xai")).json()["models"]
    assert [m["id"] for m in after] == [m["id"] for m in before[1:]]


def test_the_demo_shows_a_removal_in_its_first_minutes() -> None:
    """The first removal comes within a minute and its model stays away for at least 40 s
    (a round later), long enough for the service's two missing polls to record it removed."""
    steps = list(itertools.islice(demo_script(7), 60))
    times = list(itertools.accumulate(step.after_s for step in steps))
    removals = [(at, step) for at, step in zip(times, steps, strict=True) if step.op == "remove"]
    first_at, first = removals[0]
    assert first_at <= 60
    restores = [
        at for at, step in zip(times, steps, strict=True)
        if step.op == "restore" and step.gateway == first.gateway and at > first_at
    ]  # fmt: skip
    assert not restores or restores[0] - first_at >= 40


def test_the_demo_restores_each_removal_it_made() -> None:
    """Played on the built-in catalogs, every restore brings back the model its round removed."""
    state = _state()
    removed: dict[str, str] = {}
    for step in itertools.islice(demo_script(5), 120):
        result = apply_step(state, step)
        if step.op == "remove":
            removed[step.gateway] = result["model_id"]
        elif step.op == "restore":
            assert result["model_id"] == removed.pop(step.gateway)


async def test_a_step_is_logged_as_one_readable_line() -> None:
    """``simulator.step`` carries one string (gateway, op, model, field changes), not a dict."""
    state = _state()
    steps = [Step(0, "groq", "remove", {"model_id": "llama-3.1-8b-instant"})]

    async def no_wait(seconds: float) -> None:
        return None

    with structlog.testing.capture_logs() as logs:
        await run_script(state, steps, sleep=no_wait)
    [entry] = [entry for entry in logs if entry["event"] == "simulator.step"]
    assert entry["change"] == "groq: remove llama-3.1-8b-instant (status: present -> removed)"
    assert set(entry) == {"event", "log_level", "step", "change"}
