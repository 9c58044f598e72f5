"""`tenantry audit-db`: checks ARCHITECTURE §1's invariants against the live catalog.

Every check reads the catalog directly (never Tenantry's own idea of what it created), so a
table made by hand, an edited policy or a stray grant shows up here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import dict_row

from tenantry.isolation.audit import definers, grants, keys, policies
from tenantry.isolation.audit.catalog import Check, Conn, Finding, read_catalog
from tenantry.isolation.audit.keys import UNINDEXED_FOREIGN_KEYS

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

__all__ = ["CHECKS", "UNINDEXED_FOREIGN_KEYS", "Finding", "audit", "run_checks"]

CHECKS: tuple[Check, ...] = (
    policies.row_level_security,
    policies.policies,
    policies.partitions,
    policies.residency_guards,
    grants.declared_access,
    keys.keys_and_indexes,
    keys.foreign_keys,
    keys.leaky_expression_indexes,
    keys.unindexed_foreign_keys,
    keys.sequences,
    definers.views,
    definers.definer_views,
    keys.scope_key_statistics,
    grants.role_attributes,
    grants.excess_privileges,
    grants.runtime_reach,
    grants.activity_visibility,
    definers.security_definer_functions,
)


def audit(url: str, roles: Roles) -> list[Finding]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.read_only = True
        return run_checks(conn, roles)


def run_checks(conn: Conn, roles: Roles) -> list[Finding]:
    catalog = read_catalog(conn, roles)
    findings = [
        Finding("role_missing", name, "role does not exist")
        for name in (roles.runtime, roles.platform)
        if name not in catalog.role_oids
    ]
    for check in CHECKS:
        findings.extend(check(catalog))
    return sorted(findings, key=lambda f: (f.check, f.object))
