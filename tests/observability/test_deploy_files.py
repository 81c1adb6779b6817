"""deploy/: the Grafana dashboard and the Prometheus alert rules load, and every metric their
expressions name is one that ``/metrics`` serves (issue 11 item 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from modelsync.observability.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bmodelsync_[a-z0-9_]+\b")
BRACKETS = {"(": ")", "[": "]", "{": "}"}


def served_names() -> set[str]:
    """Every sample name a process serves once each family has a sample."""
    served = Metrics()
    served.run_finished("g", "changed", 0.1)
    served.changes("g", "added", 1)
    served.upstream_request("g", "200")
    served.gateway_state("g", models=1, breaker="closed", failures=0)
    served.webhook_delivery(202)
    served.purge_calls.labels("nextjs", "ok").inc()
    served.purge_queue.labels("nextjs").set(0)
    for counter in (served.cache_hits, served.cache_misses, served.cache_invalidations):
        counter.labels("local").inc()
    served.process_lag("p", store_version=1, applied=1, behind_s=0)
    names = set()
    for family in text_string_to_metric_families(served.render().decode()):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def balanced(expression: str) -> bool:
    """Brackets and quotes pair up (a cheap syntax check of PromQL)."""
    stack: list[str] = []
    quoted = False
    for char in expression:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in BRACKETS:
            stack.append(BRACKETS[char])
        elif char in BRACKETS.values() and (not stack or stack.pop() != char):
            return False
    return not stack and not quoted


def check_expression(expression: str, served: set[str]) -> list[str]:
    """What is wrong with one expression: unknown metrics, unbalanced brackets."""
    problems = [f"unbalanced: {expression}"] if not balanced(expression) else []
    named = METRIC.findall(expression)
    if not named:
        problems.append(f"names no modelsync metric: {expression}")
    problems += [f"unknown metric {name}" for name in named if name not in served]
    return problems


def dashboard_expressions(document: dict[str, Any]) -> list[str]:
    found = []
    for panel in document["panels"]:
        assert panel["title"]
        assert panel["gridPos"]
        found += [target["expr"] for target in panel["targets"]]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["query"])
    return found


def test_the_dashboard_loads_and_names_only_served_metrics() -> None:
    """Valid JSON, one uid, panels with targets; every expression names served metrics."""
    document = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    assert document["uid"] == "modelsync"
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    served = served_names()
    problems = [p for e in dashboard_expressions(document) for p in check_expression(e, served)]
    assert problems == []


def test_the_alert_rules_load_and_name_only_served_metrics() -> None:
    """Rule groups as Prometheus reads them; the four alerts the issue asks for are there."""
    document = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    served = served_names()
    problems = []
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "1m"))
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        problems += check_expression(rule["expr"], served)
    assert problems == []
    names = {rule["alert"] for rule in rules}
    assert {
        "ModelsyncGatewayFailing",
        "ModelsyncBreakerOpen",
        "ModelsyncProcessLagging",
        "ModelsyncPurgerFailing",
    } <= names


def test_the_checker_catches_a_misspelt_metric() -> None:
    """The check above is not vacuous: an unknown name or an open bracket is reported."""
    served = served_names()
    assert check_expression("rate(modelsync_sync_run_total[5m])", served) == [
        "unknown metric modelsync_sync_run_total"
    ]
    assert check_expression("sum(modelsync_gateway_models", served)[0].startswith("unbalanced")
