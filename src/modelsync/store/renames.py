"""The identity migration inside one write transaction (``SqlStore.migrate_identities``).

When the rules that compute canonical ids change, the stored ids must follow without losing
history: each renamed model's row and every change it ever recorded move to the new id, and the
rename itself is recorded once (``updated``, ``{"id": [old, new]}``, source ``identity``), never as
a removal plus an addition. The transaction starts by storing the new fingerprint unless it is
stored (:data:`~modelsync.store.statements.CLAIM_IDENTITY_MIGRATION`): that write locks the
catalog_meta row, so runs applying plans wait for the migration, and a second process finds the
fingerprint stored and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from modelsync.domain import ChangeKind, ChangeRecord, ChangeSource, FieldDiff, Model, ModelChange
from modelsync.store import rows
from modelsync.store import statements as sql
from modelsync.store.base import IdentityMigration


def _renamed_fields(old: Model, new: Model) -> FieldDiff:
    diff: dict[str, tuple[Any, Any]] = {"id": (old.id, new.id)}
    if old.provider_slug != new.provider_slug:
        diff["provider_slug"] = (old.provider_slug, new.provider_slug)
    return diff


async def migrate_identities(
    conn: AsyncConnection,
    statements: sql.DialectStatements,
    *,
    fingerprint: str,
    identify: Callable[[Model], Model],
    now: datetime,
    sort_seqs: bool,
) -> IdentityMigration | None:
    """Re-identify every stored model (see ``Store.migrate_identities``); ``None``: up to date."""
    claimed = await conn.execute(sql.CLAIM_IDENTITY_MIGRATION, {"p_rules": fingerprint})
    if claimed.rowcount == 0:
        return None
    renames: list[tuple[Model, Model]] = []
    rewrites: list[Model] = []
    for _, _, data in (await conn.execute(sql.ALL_MODELS)).all():
        old = Model.from_json(data)
        new = identify(old)
        if new.id != old.id or new.provider_slug != old.provider_slug:
            renames.append((old, new))
        elif new.variants != old.variants:
            rewrites.append(new)
    if rewrites:
        await conn.execute(sql.REWRITE_MODEL_DATA, [_row(model) for model in rewrites])
    records: tuple[ChangeRecord, ...] = ()
    catalog_version = None
    if renames:
        names = sorted({new.gateway for _, new in renames})
        found = await conn.execute(sql.BUMP_GATEWAY_VERSIONS, {"p_names": names})
        versions: dict[str, int] = dict(found.all())
        catalog_version = (await conn.execute(sql.BUMP_CATALOG_VERSION)).scalar_one()
        await conn.execute(
            sql.RENAME_MODEL,
            [
                _row(new)
                | {
                    "p_model_id": new.id,
                    "p_provider": new.provider_slug,
                    "p_hash": new.content_hash,
                    "p_now": now,
                    "p_version": versions[new.gateway],
                }
                for _, new in renames
            ],
        )
        await conn.execute(sql.REKEY_HISTORY, [_row(new, data=False) for _, new in renames])
        changes = [
            ModelChange(
                kind=ChangeKind.UPDATED,
                gateway=new.gateway,
                gateway_model_id=new.gateway_model_id,
                id=new.id,
                fields=_renamed_fields(old, new),
            )
            for old, new in renames
        ]
        values = [
            rows.change_values(
                change,
                source=ChangeSource.IDENTITY,
                run_id=None,
                catalog_version=catalog_version,
                at=now,
            )
            for change in changes
        ]
        seqs = (await conn.execute(statements.insert_changes, values)).scalars().all()
        if sort_seqs:
            seqs = sorted(seqs)
        records = tuple(
            ChangeRecord(seq, change, ChangeSource.IDENTITY, None, catalog_version, now)
            for seq, change in zip(seqs, changes, strict=True)
        )
    return IdentityMigration(
        renamed=len(renames), rewritten=len(rewrites), catalog_version=catalog_version,
        changes=records,
    )  # fmt: skip


def _row(model: Model, *, data: bool = True) -> dict[str, Any]:
    values: dict[str, Any] = {
        "p_gateway": model.gateway,
        "p_id": model.gateway_model_id,
        "p_model_id": model.id,
    }
    if data:
        values["p_data"] = model.to_json()
    return values
