"""Connection strings for the admin, runtime and platform roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import conninfo

from tenantry.isolation.roles import Roles
from tenantry.kit import embedded
from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from tenantry.kit.config import Settings


def server_url(settings: Settings) -> str:
    """The admin URL of the server: `TENANTRY_DATABASE_URL`, else the embedded server (started on
    demand)."""
    if settings.database_url:
        return settings.database_url
    return embedded.running_url(settings.pgdata) or embedded.start(settings.pgdata)


def admin_url(settings: Settings) -> str:
    """The admin URL pointed at Tenantry's database (for the embedded server, `database_name`)."""
    url = server_url(settings)
    if settings.database_url:
        return url
    return with_database(url, settings.database_name)


def with_database(url: str, database: str) -> str:
    return conninfo.make_conninfo(url, dbname=database)


def as_role(url: str, role: str, password: str = "") -> str:
    """The same server and database as `url`, logging in as `role`."""
    base = conninfo.conninfo_to_dict(url)
    for key in ("user", "password"):
        base.pop(key, None)
    return conninfo.make_conninfo(
        "", **{k: str(v) for k, v in base.items() if v is not None}, user=role, password=password
    )


def role_url(settings: Settings, role: str, password: str, explicit: str) -> str:
    return explicit or as_role(admin_url(settings), role, password)


def runtime_url(settings: Settings) -> str:
    roles = Roles(settings.role_prefix)
    return role_url(
        settings, roles.runtime, settings.runtime_password, settings.runtime_database_url
    )


def platform_url(settings: Settings) -> str:
    roles = Roles(settings.role_prefix)
    return role_url(
        settings, roles.platform, settings.platform_password, settings.platform_database_url
    )


def listen_url(settings: Settings) -> str:
    """The invalidation listener's URL: LISTEN keeps a session, which a transaction pooler
    does not give, so behind one it must be named (or Redis used alone: empty)."""
    if settings.listen_database_url:
        return settings.listen_database_url
    if settings.pooler != "none":
        if settings.redis_url:
            return ""
        raise ConfigurationError(
            "behind a transaction pooler LISTEN gets no session of its own: set "
            "TENANTRY_REDIS_URL, or TENANTRY_LISTEN_DATABASE_URL to a direct connection "
            "as the platform role"
        )
    return platform_url(settings)


def database_name(url: str) -> str:
    name = conninfo.conninfo_to_dict(url).get("dbname")
    if not name:
        raise ConfigurationError("the database URL names no database")
    return str(name)
