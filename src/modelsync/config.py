"""Settings, built explicitly by the CLI and ``create_app()`` (never at import) and passed down.

Environment variables carry the ``MODELSYNC_`` prefix, nested with ``__``
(``MODELSYNC_HTTP__READ_TIMEOUT_S=20``). The front end's names are read as they are:
``MODEL_WEBHOOK_SECRET``, ``SENTRY_DSN`` and each gateway's key variable (``GROQ_API_KEY``, ...).
An optional TOML file (``MODELSYNC_CONFIG_FILE``) configures gateways and tiers::

    [gateways.groq]
    interval_s = 600

    [gateways.my-gateway]          # any OpenAI-style /v1/models gateway, by configuration alone
    adapter = "openai_compat"
    base_url = "https://llm.example.com/v1/models"
    key_env = "MY_GATEWAY_KEY"
    tier = "low"

    [identity.pins]                # one offer -> its canonical id ("gateway:raw id" = "id")
    "vercel-ai-gateway:mistral/devstral-small" = "mistralai/devstral-small-2505"

    [identity.aliases]             # a canonical id -> the one it really is
    "mistralai/pixtral-12b" = "mistralai/pixtral-12b-2409"
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from modelsync.domain import Tier
from modelsync.errors import ConfigError
from modelsync.gateways.base import GatewayConfig, GatewaySpec
from modelsync.gateways.registry import ADAPTERS, DEFAULT_INTERVALS, builtin_specs
from modelsync.identity import IdentityOverrides

PLACEHOLDER_KEY = "modelsync-placeholder-key"
"""Sent as the key of a gateway without one when ``MODELSYNC_UPSTREAM`` points at a stand-in."""


MAX_BODY_BYTES = 200 * 1024 * 1024
"""The default limit of an upstream response body, decoded (``MODELSYNC_HTTP__MAX_BODY_BYTES``):
100,000 models (the default count bound of one snapshot) at 2 KiB each. OpenRouter's entries,
the largest of the shipped gateways' list APIs, are 1.2-1.7 KiB as served (the recorded
catalogs; ``tests/unit/test_body_limit.py``). Raise it with the count bound."""


class HttpSettings(BaseModel):
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    attempts: int = Field(4, ge=1, le=10)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_cap_s: float = Field(30.0, ge=0)
    retry_after_cap_s: float = Field(120.0, ge=0)
    attempt_timeout_s: float = Field(60.0, gt=0)
    """One attempt (connect, headers, whole body) ends within this, however the server trickles."""
    user_agent: str = "modelsync/0.1 (+https://github.com/modelsync)"


class GuardSettings(BaseModel):
    max_shrink: float = Field(0.5, gt=0, le=1)
    removal_misses: int = Field(2, ge=1)
    price_jump_factor: int = Field(10, ge=2)
    max_models: int = Field(100_000, ge=1)
    """A snapshot of one gateway holding more models than this is rejected."""
    max_quarantined: float = Field(0.05, ge=0, le=1)
    """Above this share of invalid entries (quarantined one by one) a snapshot is rejected."""


class RetentionSettings(BaseModel):
    runs_days: int = Field(30, ge=1)
    runs_keep_per_gateway: int = Field(1000, ge=1)
    changes_days: int = Field(365, ge=1)
    changes_keep: int = Field(1_000_000, ge=1)
    removed_models_days: int = Field(90, ge=1)


class SchedulerSettings(BaseModel):
    intervals_s: dict[Tier, int] = Field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    max_backoff_factor: int = Field(8, ge=1)
    breaker_threshold: int = Field(3, ge=1)
    full_resync_s: int = Field(24 * 60 * 60, ge=60)
    """Every run of a gateway at least this long after its last full resync is a full resync."""
    lease_ttl_s: float = Field(30.0, ge=1)
    """A run's lease, renewed every third of it while the run lasts (the database's clock): a
    process that dies holds its gateways for no longer than this."""
    run_deadline_s: float = Field(300.0, gt=0)
    """The most one run may take in all, fetch retries and Retry-After waits included."""
    concurrency: int = Field(32, ge=1)
    """The most runs the scheduler starts at once."""
    hint_debounce_s: float = Field(1.0, ge=0)
    """A webhook hint waits this long, so a burst of hints makes one verification sync."""
    hint_min_interval_s: float = Field(5.0, ge=0)
    """Verification syncs of one gateway start at least this far apart."""
    first_run_window_s: float | None = Field(3600.0, ge=0)
    """A gateway with no scheduled run yet (a fresh start) runs first at a random point of its
    interval or of this window, whichever is shorter (``None``: its interval)."""


class IdentitySettings(BaseModel):
    """The operator's corrections to the identity rules (:mod:`modelsync.identity.overrides`)."""

    pins: dict[str, str] = Field(default_factory=dict)
    """``"gateway:raw model id"`` -> the canonical id that offer is."""
    aliases: dict[str, str] = Field(default_factory=dict)
    """A canonical id -> the canonical id it really is."""

    def overrides(self) -> IdentityOverrides:
        """The parsed overrides; a malformed entry is a ConfigError naming it."""
        return IdentityOverrides.parse(self.pins, self.aliases)


class ServerSettings(BaseModel):
    """Bounds on what one client can hold of the server (``modelsync serve``)."""

    header_timeout_s: float = Field(10.0, gt=0)
    """A request's headers must be complete this long after the connection or its first byte."""
    max_header_bytes: int = Field(64 * 1024, ge=1024)
    """A request whose headers pass this size is cut off."""
    keep_alive_s: int = Field(5, ge=1)
    """An idle keep-alive connection is closed after this long."""
    max_connections: int = Field(2048, ge=1)
    """Connections past this many are closed as soon as they open."""
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    """Every request body but a webhook delivery's (which has its own limit of 1 MiB)."""


class CacheSettings(BaseModel):
    """The read API's response cache (``MODELSYNC_CACHE__*``; DESIGN section 7)."""

    enabled: bool = True
    backend: Literal["auto", "memory", "redis"] = "auto"
    """``auto``: Redis when ``MODELSYNC_REDIS_URL`` is set, else this process's memory."""
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """The in-process cache's bound (least recently used entries go first)."""
    ttl_s: float = Field(24 * 60 * 60, gt=0)
    """The longest an entry lives (Redis keys expire then); invalidation drops it before."""
    status_ttl_s: float = Field(2.0, gt=0)
    """``/api/sync/status`` also moves with time (next runs, breakers): its entries' lifetime."""
    max_age_s: int = Field(0, ge=0)
    """``Cache-Control: max-age`` for browsers."""
    s_maxage_s: int | None = Field(None, ge=0)
    """``Cache-Control: s-maxage`` for CDNs purged by tag (unset: not sent)."""
    stale_while_revalidate_s: int = Field(0, ge=0)
    """``Cache-Control: stale-while-revalidate``; off (0) by default."""
    redis_prefix: str = Field("modelsync:cache", min_length=1, max_length=200)


class AnalyticsSettings(BaseModel):
    """Where product analytics go (:mod:`modelsync.observability.analytics`): PostHog, a file."""

    posthog_host: str | None = None
    """PostHog's address (``MODELSYNC_ANALYTICS__POSTHOG_HOST``); events go to ``/batch/``."""
    posthog_key: SecretStr | None = None
    """The project API key (``MODELSYNC_ANALYTICS__POSTHOG_KEY``)."""
    file: Path | None = None
    """A JSON-lines file to append events to (``MODELSYNC_ANALYTICS__FILE``)."""
    batch_size: int = Field(100, ge=1, le=1000)
    flush_interval_s: float = Field(5.0, gt=0)
    max_queue: int = Field(10_000, ge=1)


class ProcessSettings(BaseModel):
    """This process in the fleet: its heartbeat and when it counts as lagging."""

    heartbeat_s: float = Field(5.0, gt=0)
    """How often the process records itself (and refreshes its gateway gauges)."""
    expire_after_s: float = Field(30.0, gt=0)
    """A process silent this long is dead: dropped from the status, its row deleted."""
    lag_threshold_s: float = Field(10.0, ge=0)
    """A process behind the store's catalog version for longer than this is lagging."""


class FeedSettings(BaseModel):
    """How a serving process tails the change log (:mod:`modelsync.bus`) and streams it."""

    poll_s: float = Field(0.5, gt=0, le=1)
    """SQLite (and PostgreSQL while its listening connection is down): the poll interval."""
    notified_poll_s: float = Field(5.0, gt=0)
    """PostgreSQL while notifications arrive: the safety-net poll interval."""
    subscriber_buffer: int = Field(10_000, ge=1)
    """Events a subscriber (a stream client) may fall behind before it is disconnected."""
    heartbeat_s: float = Field(15.0, gt=0)
    """The live stream sends a comment (SSE) or a ping (WebSocket) this often when idle."""
    send_timeout_s: float = Field(30.0, gt=0)
    """A stream client that takes no bytes for this long is disconnected."""


class WebhookSubscriber(BaseModel):
    """An outbound change-webhook subscriber: its URL and its Standard Webhooks secret."""

    url: str
    secret: SecretStr


class PurgeSettings(BaseModel):
    """The outbound purgers (:mod:`modelsync.purge`), each off until configured; checked at
    start (:func:`modelsync.purge.check_settings`)."""

    nextjs_url: str | None = None
    nextjs_secret: SecretStr | None = None
    nextjs_contract: Literal["tags", "gatewayz"] = "tags"
    fastly_service_id: str | None = None
    fastly_token: SecretStr | None = None
    fastly_soft: bool = False
    fastly_api_url: str = "https://api.fastly.com"
    cloudflare_zone: str | None = None
    cloudflare_token: SecretStr | None = None
    cloudflare_api_url: str = "https://api.cloudflare.com"
    cloudflare_batch: int = Field(100, ge=1, le=1000)
    webhooks: list[WebhookSubscriber] = Field(default_factory=list)
    """JSON: ``[{"url": "https://...", "secret": "whsec_..."}]``."""
    timeout_s: float = Field(5.0, gt=0)
    attempts: int = Field(5, ge=1, le=20)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_cap_s: float = Field(30.0, ge=0)
    queue_size: int = Field(100_000, ge=1)
    webhook_budget_s: float = Field(24 * 60 * 60, gt=0)
    """An outbound change webhook is retried for this long, then recorded as failed."""


class GatewaySettings(BaseModel):
    """Overrides for a shipped gateway, or the whole definition of a configured one."""

    adapter: str | None = None
    base_url: str | None = None
    key_env: str | None = None
    key_required: bool | None = None
    tier: Tier | None = None
    interval_s: int | None = Field(None, ge=10)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


class ReferenceSettings(BaseModel):
    """A reference price catalog (issue 9 item 3): fills the prices of offers whose gateway gives
    none. ``kind`` is its shape (``modelsdev`` or ``litellm``); sources enrich in name order."""

    enabled: bool = False
    kind: Literal["modelsdev", "litellm"] | None = None
    url: str | None = None
    interval_s: int = Field(6 * 60 * 60, ge=60)


REFERENCE_DEFAULTS: dict[str, tuple[str, str]] = {
    "modelsdev": ("modelsdev", "https://models.dev/api.json"),
    "litellm": (
        "litellm",
        "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    ),
}
"""The reference catalogs modelsync knows: name -> (kind, url)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODELSYNC_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str = "sqlite+aiosqlite:///./modelsync.db"
    database_wait_s: float = Field(30.0, ge=0)
    """``serve`` retries a database that does not answer at start for this long (with back-off,
    a log line per attempt) before it gives up; 0 gives up at once."""
    redis_url: str | None = None
    admin_token: SecretStr | None = None
    upstream: str | None = None
    log_level: str | None = None
    """``DEBUG`` is the troubleshooting mode; unset: INFO for the service, WARNING for commands."""
    config_file: Path | None = None
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("MODEL_WEBHOOK_SECRET", "MODELSYNC_WEBHOOK_SECRET")
    )
    sentry_dsn: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SENTRY_DSN", "MODELSYNC_SENTRY_DSN")
    )
    http: HttpSettings = Field(default_factory=HttpSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    purge: PurgeSettings = Field(default_factory=PurgeSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    process: ProcessSettings = Field(default_factory=ProcessSettings)
    gateways: dict[str, GatewaySettings] = Field(default_factory=dict)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    references: dict[str, ReferenceSettings] = Field(default_factory=dict)
    """Reference price catalogs by name (``modelsdev``, ``litellm`` or one of your own), each
    off unless ``enabled``: ``MODELSYNC_REFERENCES__MODELSDEV__ENABLED=true``."""
    api_keys: dict[str, SecretStr] = Field(default_factory=dict, exclude=True)
    """gateway -> key, read from each gateway's key variable by :func:`load_settings`."""

    @field_validator("admin_token", "webhook_secret", "sentry_dsn", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty or blank secret is not configured (``Bearer `` must never match it)."""
        return value if value is not None and value.get_secret_value().strip() else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            check_keys(read_config_file(path), Settings, path)
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def config_path() -> Path | None:
    """The TOML file ``MODELSYNC_CONFIG_FILE`` names, if any; a missing one is a ConfigError."""
    config_file = os.environ.get("MODELSYNC_CONFIG_FILE")
    if not config_file:
        return None
    path = Path(config_file)
    if not path.is_file():
        raise ConfigError(
            f"MODELSYNC_CONFIG_FILE names {config_file!r}, which is not a file: "
            "fix the path or unset the variable"
        )
    return path


def read_config_file(path: Path) -> dict[str, Any]:
    """The parsed TOML file; unreadable or malformed: a ConfigError naming the file and where."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({type(exc).__name__})") from exc


def _allowed(names: list[str], key: str) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}allowed: {', '.join(names)}"


def check_keys(data: Mapping[str, Any], model: type[BaseModel], path: Path, at: str = "") -> None:
    """Refuse a key ``model`` does not have (recursively, into tables of models): a typo is a
    ConfigError naming the file, the key and what is allowed, never silently ignored."""
    names = [name for name in model.model_fields if name != "api_keys"]
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None or key == "api_keys":
            raise ConfigError(f"{path}: unknown key {at + key!r}; {_allowed(names, key)}")
        if not isinstance(value, Mapping):
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            check_keys(value, annotation, path, f"{at}{key}.")
        elif get_origin(annotation) is dict:
            inner = get_args(annotation)[1]
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                for name, table in value.items():
                    if isinstance(table, Mapping):
                        check_keys(table, inner, path, f"{at}{key}.{name}.")


def _source_of(location: tuple[int | str, ...]) -> str:
    """Where a setting came from, for an error message: the file, the variable or a keyword."""
    keys = [str(part) for part in location]
    path = config_path()
    if path is not None:
        data: Any = read_config_file(path)
        for key in keys:
            data = data.get(key) if isinstance(data, Mapping) else None
        if data is not None:
            return f"{path}: {'.'.join(keys)}"
    variable = "MODELSYNC_" + "__".join(keys).upper()
    if variable in os.environ:
        return variable
    return "settings: " + ".".join(keys)


def one_line(exc: ValidationError) -> str:
    """The first problem of a settings ValidationError in one line (never the value itself)."""
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_source_of(tuple(first['loc']))}: {first['msg']}{more}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from keyword overrides, the environment, then the TOML file, in that priority."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc)) from exc
    settings.identity.overrides()  # a malformed pin or alias is refused when settings load
    keys = {
        spec.name: SecretStr(os.environ[spec.key_env])
        for spec in gateway_specs(settings).values()
        if spec.key_env and os.environ.get(spec.key_env)
    }
    return settings.model_copy(update={"api_keys": keys})


def gateway_specs(settings: Settings) -> dict[str, GatewaySpec]:
    """The shipped gateways with the configured overrides, plus configured gateways."""
    specs = builtin_specs()
    for name, override in settings.gateways.items():
        if override.adapter is not None and override.adapter not in ADAPTERS:
            raise ConfigError(
                f"{_source_of(('gateways', name, 'adapter'))}: unknown adapter "
                f"{override.adapter!r}; allowed: {', '.join(ADAPTERS)}"
            )
        shipped = specs.get(name)
        if shipped is None:
            if not (override.adapter and override.base_url):
                known = ", ".join(sorted(specs))
                raise ConfigError(
                    f"gateway {name!r} is not shipped (known: {known}); a new gateway needs "
                    "adapter and base_url"
                )
            specs[name] = GatewaySpec(
                name=name,
                adapter=override.adapter,
                tier=override.tier or Tier.LOW,
                base_url=override.base_url,
                key_env=override.key_env,
                key_required=bool(override.key_required),
                options=override.options,
            )
            continue
        specs[name] = GatewaySpec(
            name=name,
            adapter=override.adapter or shipped.adapter,
            tier=override.tier or shipped.tier,
            base_url=override.base_url or shipped.base_url,
            key_env=override.key_env or shipped.key_env,
            key_required=(
                shipped.key_required if override.key_required is None else override.key_required
            ),
            options={**shipped.options, **override.options},
            aliases=shipped.aliases,
        )
    return specs


@dataclass(frozen=True, slots=True)
class ResolvedGateway:
    """A gateway as this process runs it: spec, schedule, key, and why it is off (if it is)."""

    spec: GatewaySpec
    interval_s: int
    config: GatewayConfig
    disabled_reason: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None


def resolve_gateways(settings: Settings) -> dict[str, ResolvedGateway]:
    """Every known gateway, resolved against the settings, in registry order."""
    resolved: dict[str, ResolvedGateway] = {}
    for name, spec in gateway_specs(settings).items():
        override = settings.gateways.get(name, GatewaySettings())
        key_secret = settings.api_keys.get(name)
        key = key_secret.get_secret_value() if key_secret else None
        reason = None
        if not override.enabled:
            reason = "disabled in settings"
        elif key is None and spec.key_required:
            if settings.upstream:
                key = PLACEHOLDER_KEY
            else:
                reason = f"no API key: set {spec.key_env}"
        interval = override.interval_s or settings.scheduler.intervals_s.get(
            spec.tier, DEFAULT_INTERVALS[spec.tier]
        )
        resolved[name] = ResolvedGateway(
            spec=spec,
            interval_s=interval,
            config=GatewayConfig(
                name=name, base_url=spec.base_url, api_key=key, options=spec.options
            ),
            disabled_reason=reason,
        )
    return resolved


def selected_gateways(gateways: Mapping[str, ResolvedGateway], name: str) -> list[str]:
    """The names a command's GATEWAY argument selects: ``all`` of them, or the one it names
    (by name or alias; an unknown one is :func:`find_gateway`'s ConfigError)."""
    if name.strip().lower() == "all":
        return list(gateways)
    return [find_gateway(gateways, name).name]


def find_gateway(gateways: Mapping[str, ResolvedGateway], name: str) -> ResolvedGateway:
    """A gateway by name or alias; an unknown name is a ConfigError that lists the known ones."""
    wanted = name.strip().lower()
    for gateway in gateways.values():
        if wanted == gateway.name or wanted in gateway.spec.aliases:
            return gateway
    known = ", ".join(gateways)
    raise ConfigError(f"unknown gateway {name!r}; known gateways: {known}")
