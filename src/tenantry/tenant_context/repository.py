"""The tenant context's one statement: user, tenant, settings, apps, flags, privileges and the
app's licence entitlement."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg.rows import DictRow

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Requirement

CONTEXT_SQL = """
SELECT
  (SELECT row_to_json(u) FROM (
      SELECT id, email, display_name, email_verified, mfa_enabled FROM tenantry.app_users
       WHERE tenant_id = %s AND app_id = %s AND id = %s) u) AS user,
  (SELECT row_to_json(t) FROM (
      SELECT id, slug, name, status, plan FROM tenantry.tenants WHERE id = %s) t) AS tenant,
  (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM tenantry.tenant_settings
    WHERE tenant_id = %s) AS settings,
  (SELECT coalesce(jsonb_agg(a.slug ORDER BY a.slug), '[]') FROM tenantry.tenant_apps ta
     JOIN tenantry.apps a ON a.id = ta.app_id
    WHERE ta.tenant_id = %s AND ta.status = 'enabled') AS apps,
  (SELECT row_to_json(r) FROM (
      SELECT coalesce(ta.pinned_version, a.latest_version) AS version, ta.config
        FROM tenantry.tenant_apps ta JOIN tenantry.apps a ON a.id = ta.app_id
       WHERE ta.tenant_id = %s AND ta.app_id = %s) r) AS app_registry,
  (SELECT coalesce(jsonb_agg(jsonb_build_object(
            'key', f.key, 'default', f.default_value, 'status', f.status,
            'overrides', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'app_id', o.app_id, 'value', o.value,
                                'rollout_percent', o.rollout_percent)), '[]')
                            FROM tenantry.feature_flag_overrides o
                           WHERE o.tenant_id = %s AND o.flag_key = f.key
                             AND (o.app_id IS NULL OR o.app_id = %s)))), '[]')
     FROM tenantry.feature_flags f) AS flags,
  (SELECT coalesce(jsonb_agg(jsonb_build_array(e.privilege_key, e.scope_department_id)
                             ORDER BY e.privilege_key), '[]')
     FROM tenantry.effective_privileges(%s, %s, %s) e) AS privileges,
  (SELECT row_to_json(e) FROM (
      SELECT licence_id, plan, seats, features, limits, valid_from, valid_until, grace_until,
             read_only_until, state FROM tenantry.entitlements
       WHERE tenant_id = %s AND app_id = %s) e) AS entitlement
"""


async def load(db: Database, context: TenantContext, checks: list[Requirement]) -> DictRow:
    """One round trip as the runtime role in the caller's signed context."""
    tenant, app = context.tenant_id, context.app_id
    privileges = (tenant, app, context.app_user_id)
    rows = await db.read(
        context,
        CONTEXT_SQL,
        [
            *(tenant, app, context.app_user_id, tenant, tenant, tenant, tenant, app, tenant, app),
            *privileges,
            *(tenant, app),
        ],
        require=checks,
    )
    return rows[0]
