"""Demo data: two tenants, several apps each, and the same email as separate identities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.apps import repository as apps
from tenantry.identity import correlation
from tenantry.identity import repository as users
from tenantry.identity.passwords import hash_password
from tenantry.kit.context import TenantContext
from tenantry.tenants import repository as tenants

if TYPE_CHECKING:
    from tenantry.kit.db import Database
from tenantry.kit.errors import NotFound

# Every demo user signs in with this password (demo data only).
DEMO_PASSWORD = "correct horse battery staple 42"

# The operator tenant (settings.platform_tenant) with one platform administrator.
PLATFORM_ADMIN = "ops@tenantry.localhost"

DEMO = {
    ("acme", "Acme Corporation", "business"): {
        "admin": ["admin@acme.test"],
        "thinktank": ["alice@example.com", "bob@acme.test"],
        "launchboard": ["alice@example.com", "dana@acme.test"],
        "alwaysme": ["erin@acme.test"],
    },
    ("globex", "Globex Industries", "free"): {
        "admin": ["admin@globex.test"],
        "thinktank": ["alice@example.com", "hank@globex.test"],
        "mechanicalmaker": ["hank@globex.test", "ivy@globex.test"],
    },
}


async def seed_demo(db: Database, platform_tenant: str = "platform") -> dict[str, int]:
    """Create the demo tenants, apps and users if missing. Safe to run again."""
    created = {"tenants": 0, "users": 0}
    password_hash = await hash_password(DEMO_PASSWORD)
    tenants_and_users = {
        **DEMO,
        (platform_tenant, "Platform operators", "internal"): {"admin": [PLATFORM_ADMIN]},
    }
    for (slug, name, plan), apps_users in tenants_and_users.items():
        async with db.platform_transaction() as tx:
            tenant = await tenants.get_by_slug(tx, slug)
            if tenant is None:
                tenant = await tenants.create(tx, slug=slug, name=name, status="active", plan=plan)
                created["tenants"] += 1
            app_ids = {}
            for app_slug in apps_users:
                app = await apps.get_by_slug(tx, app_slug)
                if app is None:
                    raise NotFound(f"app {app_slug} missing from the catalog")
                await tenants.enable_app(tx, tenant.id, app.id)
                app_ids[app_slug] = app.id
        seeded: list[users.AppUser] = []
        for app_slug, emails in apps_users.items():
            context = TenantContext(tenant_id=tenant.id, app_id=app_ids[app_slug])
            async with db.tenant_transaction(context) as tx:
                for email in emails:
                    existing = await users.get_by_email(tx, tenant.id, app_ids[app_slug], email)
                    if existing is not None:
                        seeded.append(existing)
                        continue
                    user = await users.create(
                        tx,
                        tenant.id,
                        app_ids[app_slug],
                        email,
                        email.split("@")[0].title(),
                        password_hash=password_hash,
                        email_verified=True,
                    )
                    await users.set_preference(tx, user, "theme", f"{app_slug}-light")
                    seeded.append(user)
                    created["users"] += 1
        # The same person across apps, as sign-up records it (the admin people view reads it).
        async with db.platform_transaction() as tx:
            for user in seeded:
                await correlation.correlate(tx, user.tenant_id, user.app_id, user.id, user.email)
    return created
