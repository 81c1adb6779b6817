"""Join rate of canonical identity on the recorded captures (issue 9, "Measured").

The captures: OpenRouter, Groq, Together, Fireworks, Cerebras, Nebius, Vercel and xAI of
2025-07-25, and the Gemini capture, each through its adapter. The hand-checked list of the models
they really share is ``tests/fixtures/identity/shared_models.toml``. Printed:

* the join rate: the share of those shared models whose offers all get one canonical id;
* every shared model that got more than one id (a miss);
* every id holding offers of two different shared models (a wrong merge), and every id spanning
  two gateways that the list does not confirm (a merge nobody checked);
* the pairs the list calls unconfirmable, and whether they were kept apart;
* per gateway, the share of active offers with a prompt price as the gateway's own API gives it,
  and with the models.dev reference catalog (``--reference``, the 2026-06-13 capture) filling
  the offers without one, matched by gateway (its models.dev provider) and canonical id.

Measure an older checkout's rules with ``PYTHONPATH=<checkout>/src``:

    python benchmarks/bench_identity.py [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from identity_captures import capture_models, load_truth, score
from modelsync.domain import Model, ModelStatus
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter

REFERENCE = "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json"
PROVIDERS = {
    "openrouter": "openrouter", "groq": "groq", "together": "togetherai",
    "fireworks": "fireworks-ai", "cerebras": "cerebras", "nebius": "nebius",
    "vercel-ai-gateway": "vercel", "xai": "xai", "google": "google",
}  # fmt: skip
"""Gateway -> its provider id in models.dev."""


def reference_prices(fixtures: Path) -> dict[tuple[str, str], Model]:
    """models.dev's priced models by (models.dev provider, canonical id)."""
    import orjson  # noqa: PLC0415 - only this report reads the 4 MB catalog

    document = orjson.loads((fixtures / REFERENCE).read_bytes())
    priced: dict[tuple[str, str], Model] = {}
    for model in build_adapter("modelsdev", "modelsdev").parse([Page(document)]):
        provider = model.gateway_model_id.partition("/")[0]
        if model.pricing.prompt is not None:
            priced.setdefault((provider, model.id), model)
    return priced


def price_shares(models: list[Model], fixtures: Path) -> None:
    """Per gateway: active offers, the share with a prompt price, and with the reference."""
    reference = reference_prices(fixtures)
    print("active offers with a prompt price (gateway API -> with models.dev filling the rest):")
    by_gateway: dict[str, list[Model]] = defaultdict(list)
    for model in models:
        if model.status is ModelStatus.ACTIVE:
            by_gateway[model.gateway].append(model)
    for gateway, offers in sorted(by_gateway.items()):
        own = sum(1 for m in offers if m.pricing.prompt is not None)
        provider = PROVIDERS.get(gateway, gateway)
        filled = sum(
            1 for m in offers if m.pricing.prompt is None and (provider, m.id) in reference
        )
        total = len(offers)
        print(
            f"  {gateway:<18} {total:>4} offers: {own / total:6.1%} -> "
            f"{(own + filled) / total:6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    parser.add_argument("--fixtures", type=Path, default=default)
    args = parser.parse_args()
    models = capture_models(args.fixtures)
    truth = load_truth()
    report = score(models, truth)
    gateways: dict[str, set[str]] = defaultdict(set)
    for model in models:
        gateways[model.id].add(model.gateway)
    shared_ids = sum(1 for names in gateways.values() if len(names) > 1)
    print(f"offers: {len(models)}   canonical ids: {len(gateways)}   on 2+ gateways: {shared_ids}")
    print(f"join rate: {report.joined}/{report.groups} shared models = {report.rate:.1%}")
    for got in report.missed:
        print("  missed:", ", ".join(f"{g}:{raw} -> {i}" for (g, raw), i in sorted(got.items())))
    print(f"wrong merges (two different models under one id): {len(report.wrong)}")
    for model_id, offers in report.wrong:
        print(f"  {model_id}: {offers}")
    print(f"merges the list does not confirm: {len(report.unconfirmed)}")
    for model_id, offers in report.unconfirmed:
        print(f"  {model_id}: {offers}")
    ids = {(m.gateway, m.gateway_model_id): m.id for m in models}
    apart = [why for why, offers in truth.unsure if len({ids.get(o) for o in offers}) > 1]
    print(f"unconfirmable pairs kept apart: {len(apart)}/{len(truth.unsure)}")
    for why, offers in truth.unsure:
        if len({ids.get(o) for o in offers}) == 1:
            print(f"  merged: {sorted(offers)} ({why})")
    if report.unknown:
        print(f"offers of the list no capture has: {report.unknown}")
    if (args.fixtures / REFERENCE).exists():
        price_shares(models, args.fixtures)


if __name__ == "__main__":
    main()
