"""SQL behind the admin pages. Runs on the platform path (the viewer is a platform admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


async def admin_session(
    tx: Transaction, session_id: UUID, platform_tenant: str
) -> dict[str, Any] | None:
    """The signed-in platform admin behind an admin cookie, if the session is still valid."""
    return await tx.fetch_one(
        """SELECT s.id AS session_id, s.app_user_id, u.email, t.id AS tenant_id, a.id AS app_id
             FROM tenantry.sessions s
             JOIN tenantry.app_users u
               ON u.tenant_id = s.tenant_id AND u.app_id = s.app_id AND u.id = s.app_user_id
             JOIN tenantry.tenants t ON t.id = s.tenant_id
             JOIN tenantry.apps a ON a.id = s.app_id
            WHERE s.id = %s AND t.slug = %s AND a.slug = 'admin' AND t.status = 'active'
              AND u.status = 'active' AND s.revoked_at IS NULL AND s.expires_at > now()""",
        [session_id, platform_tenant],
    )


async def tenants_by_status(tx: Transaction) -> list[dict[str, Any]]:
    return await tx.fetch_all(
        "SELECT status, count(*) AS n FROM tenantry.tenants GROUP BY status ORDER BY status"
    )


async def events_per_day(tx: Transaction, days: int) -> list[dict[str, Any]]:
    return await tx.fetch_all(
        """SELECT d::date AS day, count(e.id) AS n
             FROM generate_series(current_date - (%s - 1), current_date, interval '1 day') d
             LEFT JOIN tenantry.security_events e ON e.created_at::date = d::date
            GROUP BY d ORDER BY d""",
        [days],
    )


async def event(tx: Transaction, event_id: UUID) -> dict[str, Any] | None:
    """One security event of any tenant, named as the events list names it."""
    return await tx.fetch_one(
        """SELECT e.id, e.created_at, e.kind, e.severity, t.slug AS tenant_slug,
                  a.slug AS app_slug, e.app_user_id, e.ip, e.request_id, e.detail
             FROM tenantry.security_events e
             JOIN tenantry.tenants t ON t.id = e.tenant_id
             LEFT JOIN tenantry.apps a ON a.id = e.app_id
            WHERE e.id = %s""",
        [event_id],
    )


async def event_kinds(tx: Transaction) -> list[str]:
    rows = await tx.fetch_all("SELECT DISTINCT kind FROM tenantry.security_events ORDER BY kind")
    return [r["kind"] for r in rows]


async def server_version(tx: Transaction) -> str:
    row = await tx.fetch_one("SELECT current_setting('server_version') AS v")
    return str(row["v"]) if row else "?"


async def apps(tx: Transaction) -> list[dict[str, Any]]:
    return await tx.fetch_all(
        """SELECT a.slug, a.name, a.description, a.status, a.vendor, a.latest_version,
                  count(ta.tenant_id) FILTER (WHERE ta.status = 'enabled') AS tenants
             FROM tenantry.apps a LEFT JOIN tenantry.tenant_apps ta ON ta.app_id = a.id
            GROUP BY a.id ORDER BY a.slug"""
    )


async def policy_tables(tx: Transaction) -> list[dict[str, Any]]:
    """Every table in Tenantry's schemas with its kind, row-level security and policies."""
    return await tx.fetch_all(
        """SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
                  coalesce(s.scope, CASE WHEN c.relname = 'tenants' THEN 'tenant root'
                                         ELSE 'global' END) AS kind,
                  s.runtime_access, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                  coalesce((SELECT jsonb_agg(jsonb_build_object(
                               'name', p.policyname, 'command', p.cmd, 'roles', p.roles,
                               'using', p.qual, 'check', p.with_check) ORDER BY p.policyname)
                              FROM pg_policies p
                             WHERE p.schemaname = n.nspname AND p.tablename = c.relname),
                           '[]') AS policies
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN tenantry.scoped_tables s
               ON s.table_schema = n.nspname AND s.table_name = c.relname
            WHERE n.nspname = 'tenantry' AND c.relkind IN ('r', 'p')
            ORDER BY 2 DESC, 1""",
        [],
    )
