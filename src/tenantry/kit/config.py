"""Settings from `TENANTRY_*` environment variables and an optional `tenantry.toml`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_ROLE_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _valid_role_prefix(value: str) -> str:
    if not _ROLE_PREFIX.match(value):
        raise ValueError(
            "must be lowercase letters, digits and underscores, starting with a letter"
        )
    return value


class Settings(BaseSettings):
    """Tenantry's configuration. Every field maps to `TENANTRY_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_",
        toml_file="tenantry.toml",
        extra="ignore",
    )

    # Admin (superuser or owner) URL for migrations and role management. Empty means the
    # embedded PostgreSQL under `data_dir`.
    database_url: str = ""
    # URLs the service connects with; when empty, `database_url` with the role's user name.
    runtime_database_url: str = ""
    platform_database_url: str = ""
    # Passwords given to the runtime and platform roles by `tenantry db upgrade` (servers that do
    # not use trust or peer authentication need them).
    runtime_password: str = ""
    platform_password: str = ""
    database_name: str = "tenantry"
    role_prefix: Annotated[str, AfterValidator(_valid_role_prefix)] = "tenantry"
    data_dir: Path = Path(".tenantry")
    # Lifetime of a signed database context. A context is signed per transaction, so this only
    # bounds how long a leaked context could be replayed.
    context_ttl_seconds: int = Field(default=300, ge=5, le=3600)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    # How long a request waits for a database connection before it answers 503
    # `database_unavailable` (with Retry-After).
    pool_timeout_seconds: float = Field(default=1.5, gt=0, le=60)
    # `pgbouncer`: the runtime and platform URLs go through a pooler in transaction mode
    # (PgBouncer before 1.21 keeps no prepared statements across transactions, so none are
    # made; docs/operations.md). LISTEN needs a session of its own there: set `redis_url` or
    # `listen_database_url`.
    pooler: Literal["none", "pgbouncer"] = "none"
    # The invalidation listener's connection (LISTEN), as the platform role; empty: the
    # platform URL.
    listen_database_url: str = ""

    # HTTP service
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # The externally visible origin; token issuers are `<public_url>/v1/apps/<app>`.
    public_url: str = "http://127.0.0.1:8000"
    # When set, `thinktank.<base_domain>` serves app thinktank's routes without the path prefix.
    base_domain: str = ""
    access_token_ttl_seconds: int = Field(default=600, ge=30, le=900)
    session_ttl_seconds: int = Field(default=30 * 86400, ge=300)
    # Credential changes (password, MFA, new API tokens) need a sign-in at most this old;
    # older sessions are asked to sign in again (401 `reauthentication_required`).
    reauthentication_max_age_seconds: int = Field(default=900, ge=60, le=86400)
    # `/metrics` answers only with `Authorization: Bearer <metrics_token>`; empty turns it off.
    metrics_token: str = ""
    # Tenants with a metrics label of their own (the busiest); the rest are counted as `other`.
    metrics_tenant_labels: int = Field(default=50, ge=0, le=1000)
    # OpenTelemetry traces: `none` (no SDK loaded), `console` or `otlp` (the OTEL_* variables
    # name the endpoint): docs/operations.md, "Observability".
    otel_exporter: Literal["none", "otlp", "console"] = "none"
    # Per-tenant statement timings (`tenantry doctor --tenant`): written to the database every
    # this many seconds (0 turns them off), at most `max_entries` pairs of tenant and statement
    # between two writes, kept for `retention_hours`.
    query_stats_flush_seconds: float = Field(default=60, ge=0, le=3600)
    query_stats_max_entries: int = Field(default=10_000, ge=10, le=1_000_000)
    query_stats_retention_hours: int = Field(default=48, ge=1, le=24 * 90)
    # Allowed clock skew when verifying tokens.
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    # Login throttling: failures in a window before delays start, and the lockout after that.
    login_free_failures: int = Field(default=5, ge=1)
    login_lockout_failures: int = Field(default=10, ge=2)
    login_window_seconds: int = Field(default=900, ge=60)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # Mail: with an SMTP URL (smtp://user:pass@host:port), `tenantry mail deliver` sends the
    # outbox; empty keeps mail in the outbox table.
    smtp_url: str = ""
    # Cache invalidation goes through Redis pub/sub when set, else PostgreSQL LISTEN/NOTIFY.
    redis_url: str = ""
    # Fair share and rate limits (docs/operations.md, "Fair share and rate limits").
    # Token buckets per tenant and per API token, with each plan's quotas (`plan_quotas`
    # overrides the built-in ones per plan and field, e.g. {"free": {"requests_per_second": 5}}).
    rate_limits: bool = False
    plan_quotas: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    # Buckets shared by every worker and instance through this Redis; empty: `redis_url`, and
    # without either, each process limits on its own.
    rate_limit_redis_url: str = ""
    # The share of the runtime pool one tenant may hold at once (1: no cap), and how long a
    # request waits for a connection beyond it before a 429 (a full pool: 503).
    tenant_pool_share: float = Field(default=1.0, gt=0, le=1)
    tenant_pool_wait_seconds: float = Field(default=5.0, gt=0, le=120)
    # External issuers' JWKS may live on private or loopback addresses, and over plain http
    # (development and tests only: in production it would let tenant admins probe the network).
    external_issuers_allow_private: bool = False
    # Webhook endpoints may be on private or loopback addresses, and plain http (development
    # and tests only, like the external issuers' allowance above).
    webhooks_allow_private: bool = False
    # The gateway trusts a session it saw live for this long, unless told sooner that it
    # ended (`identity.liveness`); 0 checks the database on every forwarded call.
    gateway_session_recheck_seconds: float = Field(default=5, ge=0, le=60)
    # Users of the admin app in this tenant are platform administrators.
    platform_tenant: str = "platform"
    # Days a deprovisioned tenant's data is kept before `tenantry tenants purge` may delete it.
    purge_grace_days: int = Field(default=30, ge=0, le=3650)
    # `host:port` name servers for domain verification; empty uses the system's resolvers.
    dns_nameservers: list[str] = Field(default_factory=list)
    # Apps for which a tenant holds no licence are blocked (else unrestricted): docs/licences.md.
    licences_required: bool = False
    mail_from: str = "no-reply@tenantry.localhost"
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files, by design
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
