"""PURE: the store's values to table rows and back (column names follow the dataclass fields).

A stored model's ``data`` column is :meth:`Model.to_json`, so :meth:`Model.from_json` rebuilds it
exactly: prices as ``Decimal``, lists as tuples, ``extra`` as it came.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson

from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    ChangeRecord,
    ChangeSource,
    Model,
    ModelChange,
    ModelStatus,
    Presence,
    RunOutcome,
    SyncPlan,
    ValuePool,
)
from modelsync.store.base import (
    GatewayRegistration,
    GatewayState,
    RunRecord,
    ServedGateway,
    StoredModel,
    StoredRun,
    WebhookDelivery,
)

Values = dict[str, Any]


def registration_values(gateway: GatewayRegistration) -> Values:
    """A new gateway row: the configuration, and every piece of state at its start."""
    return {
        **asdict(gateway),
        "consecutive_failures": 0,
        "model_count": 0,
        "version": 0,
        "fencing_token": 0,
    }


OUTCOMES = {outcome.value: outcome for outcome in RunOutcome}
SOURCES = {source.value: source for source in ChangeSource}
"""Enum members by value: a dict lookup, where calling the enum costs several (status pages
build a state per gateway)."""


def state_from_row(row: Mapping[Any, Any]) -> GatewayState:
    """A ``gateways`` row as a GatewayState."""
    values = dict(row)
    outcome = values["last_outcome"]
    values["last_outcome"] = OUTCOMES[outcome] if outcome is not None else None
    return GatewayState(**values)


def run_values(run: RunRecord, catalog_version: int | None) -> Values:
    """A ``sync_runs`` row."""
    values = {name: getattr(run, name) for name in RunRecord.__dataclass_fields__}
    values["trigger"] = run.trigger.value
    values["outcome"] = run.outcome.value
    values["catalog_version"] = catalog_version
    if run.quarantined is not None:
        values["quarantined"] = dict(run.quarantined)
    values["filtered"] = dict(run.filtered)
    return values


def run_update_params(run: RunRecord, model_count: int | None) -> Values:
    """The bind parameters of ``statements.run_update`` (the lease's are added beside them)."""
    return {
        "p_gateway": run.gateway,
        "p_started_at": run.started_at,
        "p_finished_at": run.finished_at,
        "p_outcome": run.outcome.value,
        "p_etag": run.etag,
        "p_last_modified": run.last_modified,
        "p_body_hash": run.body_hash,
        "p_model_count": model_count,
        "p_error": run.error,
        "p_next_run_at": run.next_run_at,
        "p_quarantined": dict(run.quarantined) if run.quarantined is not None else None,
    }


OUTCOME_FIELDS = tuple(
    index for index, name in enumerate(ServedGateway._fields) if name.endswith("outcome")
)
TRIGGER_FIELD = ServedGateway._fields.index("run_trigger")


def served_gateway(values: list[Any]) -> ServedGateway:
    """A typed row of ``queries.gateway_statuses`` (after its catalog version), enums made."""
    for index in OUTCOME_FIELDS:
        if values[index] is not None:
            values[index] = OUTCOMES[values[index]]
    if values[TRIGGER_FIELD] is not None:
        values[TRIGGER_FIELD] = SOURCES[values[TRIGGER_FIELD]]
    return ServedGateway._make(values)


def run_from_row(row: Mapping[Any, Any]) -> StoredRun:
    """A ``sync_runs`` row as a StoredRun."""
    values = dict(row)
    run_id = values.pop("id")
    catalog_version = values.pop("catalog_version")
    values["trigger"] = SOURCES[values["trigger"]]
    values["outcome"] = OUTCOMES[values["outcome"]]
    values["filtered"] = values.get("filtered") or {}
    return StoredRun(run_id, RunRecord(**values), catalog_version)


def model_values(model: Model, *, version: int, now: datetime) -> Values:
    """A present ``models`` row with the columns every schema since 0001 has (runs stage their
    models instead; migration tests build rows of older schemas with it)."""
    return {
        "gateway": model.gateway,
        "gateway_model_id": model.gateway_model_id,
        "model_id": model.id,
        "name": model.name,
        "provider_slug": model.provider_slug,
        "presence": Presence.PRESENT.value,
        "status": model.status.value,
        "miss_count": 0,
        "content_hash": model.content_hash,
        "data": model.to_json(),
        "first_seen_at": now,
        "last_seen_at": now,
        "updated_at": now,
        "version": version,
    }


StagedRow = tuple[Any, ...]


def staged_models(plan: SyncPlan, token: int) -> Iterator[StagedRow]:
    """The plan's upserts as ``staged_models`` rows (``statements.STAGED_MODEL_COLUMNS``)."""
    for model in plan.upserts:
        yield (
            plan.gateway,
            token,
            model.gateway_model_id,
            model.id,
            model.name,
            model.provider_slug,
            model.status.value,
            model.content_hash,
            orjson.dumps(model.to_json()).decode(),
        )


def staged_changes(plan: SyncPlan, token: int) -> Iterator[StagedRow]:
    """The plan's changes as ``staged_changes`` rows, numbered in the plan's order."""
    for ord_, change in enumerate(plan.changes):
        fields = orjson.dumps(dict(change.fields)).decode()
        anomalies = orjson.dumps(change.anomalies).decode()
        yield (
            plan.gateway,
            token,
            ord_,
            change.gateway_model_id,
            change.id,
            change.kind.value,
            fields,
            anomalies,
            change_head(change, fields, anomalies),
        )


def change_head(change: ModelChange, fields: str, anomalies: str) -> str:
    """PURE: a change's JSON members known before its run publishes (``fields`` and
    ``anomalies`` as JSON text): the start of ``changes.doc``."""
    gateway, gateway_model_id, model_id = (
        orjson.dumps(text).decode() for text in (change.gateway, change.gateway_model_id, change.id)
    )
    return (
        f'"gateway":{gateway},"gateway_model_id":{gateway_model_id},"id":{model_id},'
        f'"kind":"{change.kind.value}","fields":{fields},"anomalies":{anomalies}'
    )


def change_tail(source: ChangeSource, catalog_version: int, at: datetime) -> str:
    """PURE: the rest of ``changes.doc``, known when the run publishes (``at`` aware)."""
    return (
        f',"source":"{source.value}","catalog_version":{catalog_version},'
        f'"at":"{at.astimezone(UTC).isoformat()}"}}'
    )


def entry_from_row(
    data: Mapping[str, Any],
    presence: str,
    miss_count: int,
    *,
    pool: ValuePool | None = None,
) -> CatalogEntry:
    """A stored model with its presence, as the diff's previous side (compared values only);
    its values shared with the other entries of ``pool`` (:meth:`CatalogEntry.shared`)."""
    entry = CatalogEntry.of(Model.from_json(data), Presence(presence), miss_count)
    return entry if pool is None else entry.shared(pool)


def stored_model_from_row(row: Mapping[Any, Any]) -> StoredModel:
    """A row of ``queries.MODEL_COLUMNS[DOMAIN]`` as a StoredModel (``last_seen_at`` as served:
    see ``queries.LAST_SEEN``)."""
    return StoredModel(
        model=Model.from_json(row["data"]),
        status=ModelStatus(row["status"]),
        miss_count=row["miss_count"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        updated_at=row["updated_at"],
        content_hash=row["content_hash"],
    )


def change_values(
    change: ModelChange,
    *,
    source: ChangeSource,
    run_id: int | None,
    catalog_version: int,
    at: datetime,
) -> Values:
    """A ``changes`` row (``fields`` as ``{name: [old, new]}``), its ``doc`` written."""
    fields = dict(change.fields)
    anomalies = list(change.anomalies)
    head = change_head(change, orjson.dumps(fields).decode(), orjson.dumps(anomalies).decode())
    return {
        "doc": head + change_tail(source, catalog_version, at),
        "gateway": change.gateway,
        "gateway_model_id": change.gateway_model_id,
        "model_id": change.id,
        "kind": change.kind.value,
        "fields": fields,
        "anomalies": anomalies,
        "source": source.value,
        "run_id": run_id,
        "catalog_version": catalog_version,
        "at": at,
    }


def change_from_row(row: Mapping[Any, Any]) -> ChangeRecord:
    """A ``changes`` row as a ChangeRecord."""
    change = ModelChange(
        kind=ChangeKind(row["kind"]),
        gateway=row["gateway"],
        gateway_model_id=row["gateway_model_id"],
        id=row["model_id"],
        fields={name: (pair[0], pair[1]) for name, pair in row["fields"].items()},
        anomalies=tuple(row["anomalies"]),
    )
    return ChangeRecord(
        seq=row["seq"],
        change=change,
        source=ChangeSource(row["source"]),
        run_id=row["run_id"],
        catalog_version=row["catalog_version"],
        at=row["at"],
    )


def delivery_values(delivery: WebhookDelivery) -> Values:
    """A ``webhook_deliveries`` row."""
    return {
        "key": delivery.key,
        "scheme": delivery.scheme,
        "gateway": delivery.gateway,
        "event_types": list(delivery.event_types),
        "model_count": delivery.model_count,
        "received_at": delivery.received_at,
        "expires_at": delivery.expires_at,
        "detail": dict(delivery.detail),
    }


def sqlite_datetime(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive, microseconds)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_delivery_params(delivery: WebhookDelivery) -> tuple[Any, ...]:
    """A delivery as the driver-level parameters of ``statements.sqlite_record_deliveries``."""
    return (
        delivery.key,
        delivery.scheme,
        delivery.gateway,
        orjson.dumps(list(delivery.event_types)).decode(),
        delivery.model_count,
        sqlite_datetime(delivery.received_at),
        sqlite_datetime(delivery.expires_at),
        orjson.dumps(dict(delivery.detail)).decode(),
    )


def last_webhook_params(
    deliveries: Sequence[WebhookDelivery], stored: Collection[str]
) -> list[Values]:
    """The :data:`statements.LAST_WEBHOOK` parameters: each gateway's newest new delivery."""
    newest: dict[str, WebhookDelivery] = {}
    for delivery in deliveries:
        if delivery.key not in stored:
            continue
        for gateway in delivery.detail.get("gateways") or [delivery.gateway]:
            if gateway and (
                gateway not in newest or newest[gateway].received_at <= delivery.received_at
            ):
                newest[gateway] = delivery
    return [
        {
            "p_gateway": gateway,
            "p_at": delivery.received_at,
            "p_info": {
                "received_at": delivery.received_at.isoformat(),
                "event_types": list(delivery.event_types),
                "models": delivery.model_count,
                "scheme": delivery.scheme,
                **({"process": delivery.detail["process"]} if "process" in delivery.detail else {}),
            },
        }
        for gateway, delivery in newest.items()
    ]


def delivery_from_row(row: Mapping[Any, Any]) -> WebhookDelivery:
    """A ``webhook_deliveries`` row as a WebhookDelivery."""
    values = dict(row)
    values.pop("id", None)
    values["event_types"] = tuple(values["event_types"])
    return WebhookDelivery(**values)
