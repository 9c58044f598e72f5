"""Demo data: two tenants, several apps each, and the same email as separate identities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.passwords import hash_password
from tenantry.kit.actor import Actor

if TYPE_CHECKING:
    from tenantry.services import Services

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
SEEDER = Actor("demo", "seed")


async def seed_demo(services: Services) -> dict[str, int]:
    """Create the demo tenants, apps and users if missing. Safe to run again."""
    created = {"tenants": 0, "users": 0}
    password_hash = await hash_password(DEMO_PASSWORD)
    if await services.tenants.by_slug(services.settings.platform_tenant) is None:
        created["tenants"] += 1
    await services.tenant_admin.add_platform_admin(
        PLATFORM_ADMIN, password_hash, by=SEEDER, exist_ok=True
    )
    for (slug, name, plan), apps_users in DEMO.items():
        if await services.tenants.by_slug(slug) is None:
            created["tenants"] += 1
        tenant, apps = await services.tenant_admin.ensure_tenant(
            slug, name, plan, apps_users, by=SEEDER
        )
        for app_slug, emails in apps_users.items():
            app_id = apps[app_slug].id
            for email in emails:
                if await services.users.find(tenant.id, app_id, email) is not None:
                    continue
                await services.users.add(
                    tenant.id,
                    app_id,
                    email,
                    email.split("@")[0].title(),
                    password_hash=password_hash,
                    preferences={"theme": f"{app_slug}-light"},
                )
                created["users"] += 1
    return created
