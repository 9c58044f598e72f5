"""The composition root: every service built once, wired together, shared by every request.

The only module that knows every feature; features reach each other through the services
they are given here, and the HTTP, admin and CLI edges reach them through `Services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from tenantry.access.catalog import PrivilegeCatalog
from tenantry.access.departments import DepartmentService
from tenantry.access.groups import GroupService
from tenantry.access.guests import GuestService
from tenantry.access.invited import InvitedRoles
from tenantry.access.policies import PolicyService
from tenantry.access.service import AccessService
from tenantry.alerts.delivery import MailNotifier
from tenantry.alerts.service import AlertService
from tenantry.apps.service import AppDirectory
from tenantry.audit_log.service import AuditLog
from tenantry.events.service import Events
from tenantry.flags.deprecation import DeprecationRecorder
from tenantry.flags.service import FlagService
from tenantry.identity.access_tokens import TokenService
from tenantry.identity.acting import ActingService
from tenantry.identity.directory import UserDirectory
from tenantry.identity.external import JwksCache
from tenantry.identity.keys import KeyRing
from tenantry.identity.liveness import SessionLiveness
from tenantry.identity.service import IdentityService
from tenantry.identity.throttle import LoginThrottle, ThrottlePolicy
from tenantry.invitations.deactivation import UserAdministration
from tenantry.invitations.service import Invitations
from tenantry.kit import dsn
from tenantry.kit.invalidation import EVERYTHING, KEYS, BackgroundTasks, Listener
from tenantry.licensing.entitlements import Entitlements
from tenantry.licensing.service import Licences
from tenantry.limits.metrics import limit_metrics
from tenantry.limits.quotas import Quotas
from tenantry.limits.service import Governor, RateLimiter, bucket_store, fair_share
from tenantry.placements.archives import TenantArchives
from tenantry.placements.moves import TenantMoves
from tenantry.placements.service import Placements
from tenantry.registry.service import AppRegistry
from tenantry.registry.tenant_apps import TenantApps
from tenantry.secrets.keys import load_master_keys
from tenantry.secrets.service import Secrets
from tenantry.security_events.service import SecurityEvents
from tenantry.settings.service import SettingsService
from tenantry.tenant_context.service import ContextService
from tenantry.tenants.domains import DnsTxtResolver, DomainService
from tenantry.tenants.lifecycle import TenantService
from tenantry.tenants.service import TenantDirectory
from tenantry.webhooks.delivery import WebhookDeliverer
from tenantry.webhooks.notify import DisabledMail
from tenantry.webhooks.sealing import SecretSealer
from tenantry.webhooks.service import WebhookService
from tenantry.webhooks.subscriptions import EventSubscriptions

if TYPE_CHECKING:
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database
    from tenantry.kit.metrics import Metrics
    from tenantry.tenants.domains import TxtResolver


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    apps: AppDirectory
    tenants: TenantDirectory
    keys: KeyRing
    events: SecurityEvents
    identity: IdentityService
    acting: ActingService
    users: UserDirectory
    jwks: JwksCache
    tenant_admin: TenantService
    settings_admin: SettingsService
    flags: FlagService
    domains: DomainService
    context: ContextService
    listener: Listener
    deprecations: DeprecationRecorder
    access: AccessService
    departments: DepartmentService
    privileges: PrivilegeCatalog
    invitations: Invitations
    user_admin: UserAdministration
    audit: AuditLog
    groups: GroupService
    policies: PolicyService
    guests: GuestService
    alerts: AlertService
    registry: AppRegistry
    tenant_apps: TenantApps
    licences: Licences
    entitlements: Entitlements
    # Sessions recently confirmed live, for the gateway (`identity.liveness`).
    liveness: SessionLiveness
    secrets: Secrets
    webhooks: WebhookService
    # The worker's deliverer for `webhook:<endpoint id>` consumers.
    webhook_deliverer: WebhookDeliverer
    # Published app events (the outbox); `events` is the security events' stream.
    outbox: Events
    # Rate limits per tenant and API token (`limits`); `db.governor` holds the pool's share.
    limits: RateLimiter
    # Tenant export and import (`placements.archives`).
    archives: TenantArchives
    # Where tenants live, and moving them (`placements`).
    placements: Placements
    moves: TenantMoves


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hand-off
    # that cost more than everything else in an authenticated request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def build_services(
    settings: Settings, db: Database, metrics: Metrics, resolver: TxtResolver | None = None
) -> Services:
    apps = AppDirectory(db)
    audit = AuditLog(db, platform_tenant=settings.platform_tenant)
    tenants = TenantDirectory(db)
    keys = KeyRing(db)
    events = SecurityEvents(db, metrics)
    alerts = AlertService(db)
    events.observe(alerts.on_event)
    domains = DomainService(
        db, events, resolver or DnsTxtResolver(settings.dns_nameservers or None), audit
    )
    jwks = JwksCache(allow_private=settings.external_issuers_allow_private)
    tokens = TokenService(
        keys, settings.public_url, settings.access_token_ttl_seconds, settings.clock_skew_seconds
    )
    throttle = LoginThrottle(
        db,
        ThrottlePolicy(
            free_failures=settings.login_free_failures,
            lockout_failures=settings.login_lockout_failures,
            window_seconds=settings.login_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
        ),
    )
    settings_admin = SettingsService(db, tenants, audit)
    identity = IdentityService(
        db=db,
        settings=settings,
        apps=apps,
        tenants=tenants,
        tokens=tokens,
        throttle=throttle,
        events=events,
        jwks=jwks,
        tenant_by_domain=domains.tenant_slug_for,
        tenant_settings=settings_admin,
    )
    acting = ActingService(
        db,
        identity.authenticator,
        tenants,
        settings_admin,
        tokens,
        events,
        settings.access_token_ttl_seconds,
    )
    listener = Listener(dsn.listen_url(settings), settings.redis_url)
    deprecations = DeprecationRecorder(db)
    context = ContextService(db, deprecations)
    listener.subscribe(tenants.invalidate_scope)
    listener.subscribe(context.invalidate)
    outbox = Events(db)
    listener.subscribe(outbox.invalidate)
    registry = AppRegistry(db, apps, on_published=outbox.register_types_in)
    listener.subscribe(registry.invalidate)
    entitlements = Entitlements(db, required=settings.licences_required)
    listener.subscribe(entitlements.invalidate)
    # On Citus, triggers run on the workers and their notifications stay there.
    liveness = SessionLiveness(
        settings.gateway_session_recheck_seconds,
        lambda: listener.hears_triggers() and not db.distributed,
    )
    listener.subscribe(liveness.invalidate)

    def keys_changed(scope: str) -> None:
        if scope in (KEYS, EVERYTHING):
            tasks.spawn(keys.reload())
            tasks.spawn(db.reload_signing_key())

    placements = Placements(db)
    listener.subscribe(db.placements.invalidate)

    def catalog_changed(scope: str) -> None:
        # A published manifest may add an app: every process learns of it, not only the one
        # that published it; silos get their copies of the catalogs again.
        if scope == EVERYTHING:
            tasks.spawn(apps.reload())
            if db.placements.has_silos:
                tasks.spawn(placements.sync())

    tasks = BackgroundTasks()
    listener.subscribe(keys_changed)
    listener.subscribe(catalog_changed)
    users = UserDirectory(db)
    access = AccessService(db)
    guests = GuestService(db, users)
    alerts.add_notifier(
        MailNotifier(db, apps, tenants, users, platform_tenant=settings.platform_tenant)
    )
    secrets = Secrets(db, apps, tenants, audit, load_master_keys(settings.data_dir))
    sealer = SecretSealer(secrets.box)
    hooks_feed = EventSubscriptions(outbox, apps)
    limits = _limits(settings, db, metrics, tenants)
    return Services(
        settings,
        db,
        metrics,
        apps,
        tenants,
        keys,
        events,
        identity,
        acting,
        users,
        jwks,
        tenant_admin=TenantService(
            db,
            settings_admin,
            apps,
            users,
            audit,
            purge_grace_days=settings.purge_grace_days,
            platform_tenant=settings.platform_tenant,
            on_status=guests.follow_in,
        ),
        settings_admin=settings_admin,
        flags=FlagService(db, apps, tenants, audit),
        domains=domains,
        context=context,
        listener=listener,
        deprecations=deprecations,
        access=access,
        departments=DepartmentService(db),
        privileges=PrivilegeCatalog(db),
        audit=audit,
        invitations=Invitations(db, apps, tenants, users, audit=audit, roles=InvitedRoles(db)),
        user_admin=UserAdministration(db, apps, tenants, users, audit, guests),
        groups=GroupService(db),
        policies=PolicyService(db, apps, guests),
        guests=guests,
        alerts=alerts,
        registry=registry,
        tenant_apps=TenantApps(db, apps, tenants, audit),
        licences=Licences(db, apps, tenants, audit),
        entitlements=entitlements,
        liveness=liveness,
        secrets=secrets,
        webhooks=WebhookService(
            db, sealer, hooks_feed, allow_private=settings.webhooks_allow_private
        ),
        webhook_deliverer=WebhookDeliverer(
            db,
            sealer,
            subscriptions=hooks_feed,
            notifier=DisabledMail(apps, users),
            allow_private=settings.webhooks_allow_private,
        ),
        outbox=outbox,
        limits=limits,
        archives=TenantArchives(db, secrets.box.kek),
        placements=placements,
        moves=TenantMoves(db),
    )


def _limits(
    settings: Settings, db: Database, metrics: Metrics, tenants: TenantDirectory
) -> RateLimiter:
    """The rate limiter, and the runtime pool's governor (fair share, statement timeouts) set
    on `db`: a database shared by several apps runs with the last one's."""
    counted = limit_metrics(metrics)
    quotas = Quotas(settings.plan_quotas)
    share = fair_share(
        db.runtime_pool.max_size,
        settings.tenant_pool_share,
        settings.tenant_pool_wait_seconds,
        counted,
    )
    db.governor = Governor(quotas, tenants.cached_plan, counted, share)
    redis_url = settings.rate_limit_redis_url or settings.redis_url
    store = bucket_store(
        redis_url if settings.rate_limits else "", f"{settings.role_prefix}:ratelimit", counted
    )
    return RateLimiter(quotas, store, counted, enabled=settings.rate_limits)
