"""The product as the suites build it: its settings, the services over a test database, and
who the fixtures' changes are recorded as."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tests.support.database import ROLES

if TYPE_CHECKING:
    from tenantry.kit.db import Database
    from tenantry.services import Services
    from tests.support.database import Urls

PASSWORD = "violet-harbour-lantern-93"
METRICS_TOKEN = "metrics-token-for-tests"
# Who the fixtures' changes are recorded as.
FIXTURES = Actor("tests", "fixture")
# The operators' tenant of the control app (`control_app`, `operator`).
PLATFORM = "platform-ops"


def api_settings(urls: Urls, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": urls.admin,
        "role_prefix": ROLES.prefix,
        "public_url": "http://testserver",
        "login_free_failures": 3,
        "login_lockout_failures": 6,
        "login_lockout_seconds": 60,
        # The tests' OIDC issuer serves its keys over http on loopback.
        "external_issuers_allow_private": True,
        "metrics_token": METRICS_TOKEN,
        # Session-scoped fixtures sign in once; the longest lifetime keeps their tokens valid
        # through a whole run on a busy machine.
        "access_token_ttl_seconds": 900,
        **_pooled(urls),
        **overrides,
    }
    return Settings.model_validate(values)


def _pooled(urls: Urls) -> dict[str, object]:
    """Through PgBouncer, as docs/operations.md tells operators to configure it."""
    if not urls.pooled:
        return {}
    return {
        "pooler": "pgbouncer",
        "runtime_database_url": urls.runtime,
        "platform_database_url": urls.platform,
        "listen_database_url": urls.direct_platform,
    }


_SERVICES: dict[int, Services] = {}


def register_services(db: Database, services: Services) -> None:
    _SERVICES[id(db)] = services


def forget_services(db: Database) -> None:
    del _SERVICES[id(db)]


def services_for(db: Database) -> Services:
    """The services over a test database, wired as the app wires them: fixtures create
    tenants and users through them, never by writing rows themselves."""
    return _SERVICES[id(db)]
