"""Catalog mutations, applied to the raw entries in each gateway's own shape and units.

``add`` (a new id, cloned from an existing entry or given whole), ``reprice`` (prompt and
completion prices times a factor), ``rename`` (display name), ``remove``, ``restore`` and
``set_field``. A mutation without ``model_id`` picks a model with the state's seeded random source
(``add`` invents a plausible id), so scripts and the demo need not know the catalog. Bad input
raises :class:`AdminInputError` before anything changes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from modelsync.simulator.naming import display_name, invent_id, renamed
from modelsync.simulator.shapes import (
    PathError,
    as_decimal,
    entry_id,
    get_path,
    priced_paths,
    scale_price,
    set_entry_id,
    set_path,
    split_path,
)
from modelsync.simulator.state import AdminInputError, GatewayState, SimulatorState

Changes = dict[str, list[Any]]
"""``{field path: [old, new]}``; ``status`` moves between ``null``, ``present`` and ``removed``."""


def mutate(state: SimulatorState, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one mutation ``{"gateway", "op", ...}``; answers what changed."""
    gateway = state.gateway(payload.get("gateway"))
    op = payload.get("op")
    handler = OPS.get(op) if isinstance(op, str) else None
    if handler is None:
        raise AdminInputError(f"unknown op {op!r}; known: {', '.join(OPS)}")
    model_id = payload.get("model_id")
    if model_id is not None and (not isinstance(model_id, str) or not model_id.strip()):
        raise AdminInputError(f"model_id must be a non-empty string, got {model_id!r}")
    try:
        model_id, changes = handler(state, gateway, model_id, payload)
    except PathError as exc:
        raise AdminInputError(str(exc)) from None
    gateway.changed()
    record = {"op": op, "model_id": model_id, "changes": changes}
    gateway.log.append({"at": state.clock.now().isoformat(), **record})
    return {"gateway": gateway.name, **record, "model_count": len(gateway.entries)}


Op = Callable[[SimulatorState, GatewayState, str | None, Mapping[str, Any]], tuple[str, Changes]]


def _pick(state: SimulatorState, gateway: GatewayState, model_id: str | None) -> int:
    if model_id is None:
        if not gateway.entries:
            raise AdminInputError(f"{gateway.name} has no models to pick from", status=404)
        return state.rng.randrange(len(gateway.entries))
    index = gateway.index_of(model_id)
    if index is None:
        raise AdminInputError(f"{gateway.name} has no model {model_id!r}", status=404)
    return index


def _add(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    shape = gateway.shape
    value, source_id, name = payload.get("value"), payload.get("source"), payload.get("name")
    if value is not None and not isinstance(value, dict):
        raise AdminInputError("value must be an entry object in the gateway's shape")
    if source_id is not None and not isinstance(source_id, str):
        raise AdminInputError(f"source must be a model id, got {source_id!r}")
    if name is not None and not isinstance(name, str):
        raise AdminInputError(f"name must be a string, got {name!r}")
    if value is not None:
        entry = copy.deepcopy(value)
        model_id = model_id or (entry_id(shape, entry) if get_path(entry, shape.id_path) else None)
        if model_id is None:
            raise AdminInputError(f"give model_id or put the id in value.{shape.id_path}")
    else:
        if not gateway.entries:
            raise AdminInputError(f"{gateway.name} has no model to clone; give value", status=404)
        source = gateway.entries[_pick(state, gateway, source_id)]
        entry = copy.deepcopy(source)
        model_id = model_id or invent_id(entry_id(shape, source), set(gateway.ids()), state.rng)
    model_id = model_id.removeprefix(shape.id_prefix)
    if gateway.index_of(model_id) is not None:
        raise AdminInputError(f"{gateway.name} already has a model {model_id!r}")
    set_entry_id(shape, entry, model_id)
    if shape.name_path and (name is not None or value is None):
        set_path(entry, shape.name_path, name or display_name(model_id))
    if shape.created_path and value is None and get_path(entry, shape.created_path) is not None:
        now = state.clock.now()
        stamp = now.isoformat() if shape.created_iso else int(now.timestamp())
        set_path(entry, shape.created_path, stamp)
    gateway.removed.pop(model_id, None)
    gateway.entries.append(entry)
    return model_id, {"status": [None, "present"]}


def _reprice(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    shape = gateway.shape
    if not shape.has_prices:
        raise AdminInputError(
            f"{gateway.name}'s list API carries no prices: cannot reprice", status=400
        )
    factor = payload.get("factor")
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not math.isfinite(factor)
    ):
        raise AdminInputError(f"factor must be a number, got {factor!r}")
    if factor < 0:
        raise AdminInputError(f"factor must not be negative, got {factor!r}")
    if model_id is None:
        candidates = [
            i for i, entry in enumerate(gateway.entries) if _has_positive_price(entry, gateway)
        ]
        if not candidates:
            raise AdminInputError(f"{gateway.name} has no model with a price above 0", status=404)
        index = state.rng.choice(candidates)
    else:
        index = _pick(state, gateway, model_id)
    entry = gateway.entries[index]
    paths = priced_paths(shape, entry)
    if not paths:
        raise AdminInputError(
            f"{entry_id(shape, entry)!r} has no numeric price to reprice", status=400
        )
    changes: Changes = {}
    for path in paths:
        old = get_path(entry, path)
        new = scale_price(old, Decimal(repr(float(factor))), shape.price_unit)
        set_path(entry, path, new)
        changes[path] = [old, new]
    return entry_id(shape, entry), changes


def _has_positive_price(entry: Any, gateway: GatewayState) -> bool:
    paths = priced_paths(gateway.shape, entry)
    return any((as_decimal(get_path(entry, path)) or 0) > 0 for path in paths)


def _rename(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    shape = gateway.shape
    if shape.name_path is None:
        raise AdminInputError(
            f"{gateway.name}'s entries have no display name: cannot rename", status=400
        )
    name = payload.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise AdminInputError(f"name must be a non-empty string, got {name!r}")
    entry = gateway.entries[_pick(state, gateway, model_id)]
    old = get_path(entry, shape.name_path)
    new = name if name is not None else renamed(old if isinstance(old, str) else "")
    set_path(entry, shape.name_path, new)
    return entry_id(shape, entry), {shape.name_path: [old, new]}


def _remove(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    index = _pick(state, gateway, model_id)
    entry = gateway.entries.pop(index)
    removed_id = entry_id(gateway.shape, entry)
    gateway.removed[removed_id] = (index, entry)
    return removed_id, {"status": ["present", "removed"]}


def _restore(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    if model_id is None:
        if not gateway.removed:
            raise AdminInputError(f"{gateway.name} has no removed model to restore", status=404)
        model_id = next(reversed(gateway.removed))
    wanted = model_id.removeprefix(gateway.shape.id_prefix)
    if wanted not in gateway.removed:
        raise AdminInputError(f"{gateway.name} has no removed model {model_id!r}", status=404)
    index, entry = gateway.removed.pop(wanted)
    gateway.entries.insert(min(index, len(gateway.entries)), entry)
    return wanted, {"status": ["removed", "present"]}


def _set_field(
    state: SimulatorState, gateway: GatewayState, model_id: str | None, payload: Mapping[str, Any]
) -> tuple[str, Changes]:
    path = payload.get("field")
    if not isinstance(path, str):
        raise AdminInputError(f"field must be a dotted path string, got {path!r}")
    if split_path(path) == split_path(gateway.shape.id_path):
        raise AdminInputError("the id cannot be set; use add and remove")
    if "value" not in payload:
        raise AdminInputError("set_field needs a value (null is allowed)")
    entry = gateway.entries[_pick(state, gateway, model_id)]
    old = set_path(copy.deepcopy(entry), path, payload["value"])
    set_path(entry, path, payload["value"])
    return entry_id(gateway.shape, entry), {path: [old, payload["value"]]}


OPS: Mapping[str, Op] = {
    "add": _add,
    "reprice": _reprice,
    "rename": _rename,
    "remove": _remove,
    "restore": _restore,
    "set_field": _set_field,
}
"""Every mutation, by the name the admin API and scripts use."""
