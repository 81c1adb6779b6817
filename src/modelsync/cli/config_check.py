"""``modelsync config check``: the configuration as this process resolves it, secrets masked.

Loading the settings already refuses what cannot work (a malformed file, an unknown key or
adapter, a bad value), each as one line; this prints what they resolve to: where the database is,
which secrets are set, and every gateway's adapter, tier, interval, endpoint and key.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from rich.console import Console

from modelsync.cli.status_view import every
from modelsync.config import Settings, config_path, resolve_gateways
from modelsync.store.engine import database_url


def mask(secret: SecretStr | None) -> str:
    """``"set (…1234)"`` for a secret of 12 characters or more, ``"set"`` below, or
    ``"not set"``."""
    if secret is None:
        return "not set"
    value = secret.get_secret_value()
    return f"set (…{value[-4:]})" if len(value) >= 12 else "set"


def resolved_config(settings: Settings) -> dict[str, Any]:
    """The resolved configuration as JSON (no secret's value: only whether it is set)."""
    path = config_path()
    url = database_url(settings.database_url).render_as_string(hide_password=True)
    gateways = [
        {
            "gateway": gateway.name,
            "adapter": gateway.spec.adapter,
            "tier": gateway.spec.tier.value,
            "interval_s": gateway.interval_s,
            "base_url": gateway.spec.base_url,
            "key_env": gateway.spec.key_env,
            "key": mask(settings.api_keys.get(gateway.name)),
            "enabled": gateway.enabled,
            "disabled_reason": gateway.disabled_reason,
        }
        for gateway in resolve_gateways(settings).values()
    ]
    return {
        "config_file": str(path) if path else None,
        "database_url": url,
        "database_wait_s": settings.database_wait_s,
        "upstream": settings.upstream,
        "admin_token": mask(settings.admin_token),
        "webhook_secret": mask(settings.webhook_secret),
        "sentry_dsn": mask(settings.sentry_dsn),
        "tiers": {tier.value: seconds for tier, seconds in settings.scheduler.intervals_s.items()},
        "gateways": gateways,
    }


def render_config(console: Console, report: dict[str, Any]) -> None:
    """The report for people: the settings, then one row per gateway."""
    tiers = ", ".join(f"{tier} every {every(seconds)}" for tier, seconds in report["tiers"].items())
    for label, value in (
        ("config file", report["config_file"] or "none (MODELSYNC_CONFIG_FILE is not set)"),
        ("database", report["database_url"]),
        ("upstream", report["upstream"] or "each gateway's own API"),
        ("admin token", report["admin_token"]),
        ("webhook secret", report["webhook_secret"]),
        ("sentry", report["sentry_dsn"]),
        ("tiers", tiers),
    ):
        console.print(f"{label + ':':16}{value}", highlight=False, markup=False, soft_wrap=True)
    console.print("gateways:", highlight=False)
    for row in report["gateways"]:
        status = "enabled" if row["enabled"] else f"off ({row['disabled_reason']})"
        console.print(
            f"  {row['gateway']:18} {row['adapter']:13} {row['tier']:6} every "
            f"{every(row['interval_s']):7} key {row['key_env'] or '-'}: {row['key']}; {status}; "
            f"{row['base_url']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print("configuration OK", style="green")
