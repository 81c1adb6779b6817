"""Timed, scripted changes: a list of steps ``{"after_s", "gateway", "op", ...}`` run in order in
a background task of the simulator, and the endless demo script behind ``modelsync serve --demo``.

``after_s`` is the pause before a step, counted from the previous step (or from the start). A
step's ``op`` is a mutation (see :mod:`modelsync.simulator.mutations`), ``fault`` (the fault's
fields alongside: ``kind``, ``times``, ...) or ``clear_faults``. A step that fails (say, the model
it names is gone) is logged and skipped; the script goes on.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from modelsync.errors import ConfigError
from modelsync.simulator.faults import FaultError, parse_fault
from modelsync.simulator.mutations import OPS, mutate
from modelsync.simulator.shapes import SHAPES
from modelsync.simulator.state import AdminInputError, SimulatorState

FAULT_OPS = ("fault", "clear_faults")

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted change, ``after_s`` seconds after the previous one."""

    after_s: float
    gateway: str
    op: str
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_step(raw: Any) -> Step:
    """A step from its JSON object; ConfigError names what is wrong."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a script step must be an object, got {raw!r}")
    after = raw.get("after_s", 0)
    gateway, op = raw.get("gateway"), raw.get("op")
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not after >= 0:
        raise ConfigError(f"after_s must be a number >= 0, got {after!r}")
    if gateway not in SHAPES:
        raise ConfigError(f"step names unknown gateway {gateway!r}; known: {', '.join(SHAPES)}")
    if op not in OPS and op not in FAULT_OPS:
        known = ", ".join([*OPS, *FAULT_OPS])
        raise ConfigError(f"step has unknown op {op!r}; known: {known}")
    params = {key: value for key, value in raw.items() if key not in ("after_s", "gateway", "op")}
    return Step(float(after), str(gateway), str(op), params)


def load_script(path: Path | str) -> tuple[Step, ...]:
    """Steps from a JSON file holding a list of step objects (or ``{"steps": [...]}``)."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read simulator script {str(path)!r}: {exc}") from exc
    if isinstance(document, dict):
        document = document.get("steps")
    if not isinstance(document, list):
        raise ConfigError(f"simulator script {str(path)!r} must hold a list of steps")
    return tuple(parse_step(raw) for raw in document)


def apply_step(state: SimulatorState, step: Step) -> dict[str, Any]:
    """Apply one step now; raises AdminInputError (or FaultError) when it cannot apply."""
    if step.op == "fault":
        gateway = state.gateway(step.gateway)
        fault = parse_fault(step.params, gateway=gateway.name)
        gateway.faults.append(fault)
        return {"gateway": gateway.name, "fault": fault.describe()}
    if step.op == "clear_faults":
        state.gateway(step.gateway).faults.clear()
        return {"gateway": step.gateway, "faults": []}
    return mutate(state, {**step.params, "gateway": step.gateway, "op": step.op})


def describe_step(result: Mapping[str, Any]) -> str:
    """PURE: one applied step as one readable line, ``groq: reprice m (pricing.prompt: 1 -> 2)``."""
    gateway = result.get("gateway", "?")
    if "fault" in result:
        return f"{gateway}: fault {result['fault']}"
    if "faults" in result:
        return f"{gateway}: faults cleared"
    changes = result.get("changes") or {}
    fields = "; ".join(f"{name}: {old} -> {new}" for name, (old, new) in changes.items())
    text = f"{gateway}: {result.get('op')} {result.get('model_id')}"
    return f"{text} ({fields})" if fields else text


async def run_script(
    state: SimulatorState,
    steps: Iterable[Step],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_applied: Callable[[dict[str, Any]], Awaitable[object]] | None = None,
) -> None:
    """Run the steps in order, each after its pause; returns when the steps run out.

    ``on_applied`` is awaited with each applied step's result (the webhook sender).
    """
    for number, step in enumerate(steps, start=1):
        await sleep(step.after_s)
        try:
            result = apply_step(state, step)
        except (AdminInputError, FaultError) as exc:
            log.warning(
                "simulator step skipped",
                step=number,
                gateway=step.gateway,
                op=step.op,
                error=str(exc),
            )
        else:
            log.info("simulator.step", step=number, change=describe_step(result))
            if on_applied is not None:
                await on_applied(result)


DEMO_ROUND = ("add", "reprice", "remove", "rename", "add", "reprice", "restore")
"""A round's steps. ``restore`` brings back the *previous* round's removal (the first round's
restores nothing), so a removed model stays away for about eleven steps (a minute): long enough
for the service's two missing polls to record it ``removed``."""
DEMO_FACTORS = (0.5, 0.8, 0.9, 1.2, 1.5, 2.0)


def demo_script(
    seed: int = 0, *, first_s: float = 3.0, every_s: tuple[float, float] = (4, 8)
) -> Iterator[Step]:
    """An endless demo: every few seconds a new model somewhere, a price change, a rename, a
    removal (brought back a round later). Models are picked when a step applies, with the
    state's random source, so the steps need not know the catalogs."""
    rng = random.Random(seed)  # noqa: S311 - simulated data, not security
    names = sorted(SHAPES)
    priced = [name for name in names if SHAPES[name].has_prices]
    named = [name for name in names if SHAPES[name].name_path]
    pause = first_s
    previous: str | None = None
    while True:
        # never the gateway whose removal this round restores: its restore must find that one
        removed = rng.choice([name for name in names if name != previous])
        for op in DEMO_ROUND:
            params: dict[str, Any] = {}
            if op == "reprice":
                gateway = rng.choice(priced)
                params["factor"] = rng.choice(DEMO_FACTORS)
            elif op == "rename":
                gateway = rng.choice(named)
            elif op == "remove":
                gateway = removed
            elif op == "restore":
                if previous is None:
                    continue
                gateway = previous
            else:
                gateway = rng.choice(names)
            yield Step(pause, gateway, op, params)
            pause = rng.uniform(*every_s)
        previous = removed
