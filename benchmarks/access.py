"""Effective privileges at scale: cold (the one statement) and warm (the cached tenant context).

Seeds ≥ 1M assignment and membership rows across 1,000 tenants of varied size (60% small with
40 users, 30% medium with 400, 10% large with 2,000), each with a 50-department tree three levels
deep, every user in two departments and holding a role directly, a role on every department and
a delegated administrator per top department (a grant limited to that subtree).

cold      `tenantry.effective_privileges(tenant, app, user)` as the runtime role in a signed
          tenant context: one message (`access.repository.read_effective`)
context   the whole tenant context (user, tenant, settings, apps, flags, privileges) loaded with
          an empty cache, one statement
warm      the same tenant context from the cache (no credential re-check)

Each is measured for users of small, medium and large tenants.

  python benchmarks/access.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.access.repository import read_effective
from tenantry.identity.principal import Credential, Principal
from tenantry.kit.config import Settings
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services

SEED = """
SET synchronous_commit = off;
INSERT INTO tenantry.tenants (id, slug, name, status)
SELECT gen_random_uuid(), 'acc-' || g, 'Access ' || g, 'active' FROM generate_series(1, {tenants}) g;
INSERT INTO tenantry.tenant_apps (tenant_id, app_id)
SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
 WHERE t.slug LIKE 'acc-%' AND a.slug = 'thinktank';
CREATE TEMP TABLE sizes AS
SELECT t.id AS tenant_id, ta.app_id,
       CASE WHEN split_part(t.slug, '-', 2)::int % 10 < 6 THEN 'small'
            WHEN split_part(t.slug, '-', 2)::int % 10 < 9 THEN 'medium' ELSE 'large' END AS size
  FROM tenantry.tenants t JOIN tenantry.tenant_apps ta ON ta.tenant_id = t.id
 WHERE t.slug LIKE 'acc-%';
INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name, password_hash)
SELECT s.tenant_id, s.app_id, gen_random_uuid(), 'user' || g || '@example.com', 'User ' || g, 'x'
  FROM sizes s, generate_series(1, CASE s.size WHEN 'small' THEN 40 WHEN 'medium' THEN 400
                                              ELSE 2000 END) g;
INSERT INTO tenantry.roles (tenant_id, id, key, name, template_key)
SELECT s.tenant_id, gen_random_uuid(), k, k, CASE k WHEN 'members' THEN 'member'
                                                   WHEN 'admins' THEN 'admin' END
  FROM sizes s, unnest(ARRAY['members', 'readers', 'admins']) k;
INSERT INTO tenantry.role_privileges (tenant_id, id, role_id, privilege_key)
SELECT tenant_id, gen_random_uuid(), id, 'audit.read' FROM tenantry.roles WHERE key = 'readers';
-- Five top departments, three below each, two below those: 50 per tenant.
INSERT INTO tenantry.departments (tenant_id, id, name, path)
SELECT s.tenant_id, gen_random_uuid(), 'top ' || g, '{{}}' FROM sizes s, generate_series(1, 5) g;
INSERT INTO tenantry.departments (tenant_id, id, parent_id, name, path)
SELECT d.tenant_id, gen_random_uuid(), d.id, d.name || '.' || g, '{{}}'
  FROM tenantry.departments d, generate_series(1, 3) g WHERE d.parent_id IS NULL;
INSERT INTO tenantry.departments (tenant_id, id, parent_id, name, path)
SELECT d.tenant_id, gen_random_uuid(), d.id, d.name || '.' || g, '{{}}'
  FROM tenantry.departments d, generate_series(1, 2) g WHERE cardinality(d.path) = 2;
CREATE TEMP TABLE numbered AS
SELECT tenant_id, id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) - 1 AS n
  FROM tenantry.departments;
CREATE INDEX ON numbered (tenant_id, n);
ANALYZE numbered;
CREATE TEMP TABLE people AS
SELECT u.tenant_id, u.app_id, u.id, row_number() OVER (PARTITION BY u.tenant_id ORDER BY u.id) AS n
  FROM tenantry.app_users u JOIN sizes s ON s.tenant_id = u.tenant_id;
CREATE INDEX ON people (tenant_id, n);
ANALYZE people;
-- Every user in two departments.
INSERT INTO tenantry.department_members (tenant_id, id, department_id, user_app_id, app_user_id)
SELECT p.tenant_id, gen_random_uuid(), d.id, p.app_id, p.id
  FROM people p, generate_series(0, 1) k
  JOIN LATERAL (SELECT id FROM numbered d WHERE d.tenant_id = p.tenant_id
                 AND d.n = (p.n * 7 + k * 23) % 50) d ON true;
-- A role on every user, on every department, and a delegated administrator per top department.
INSERT INTO tenantry.role_assignments
       (tenant_id, id, role_id, subject_kind, subject_id, subject_app_id, granted_by)
SELECT p.tenant_id, gen_random_uuid(), r.id, 'user', p.id, p.app_id, 'seed'
  FROM people p JOIN tenantry.roles r ON r.tenant_id = p.tenant_id
 WHERE r.key = CASE WHEN p.n % 10 = 0 THEN 'readers' ELSE 'members' END;
INSERT INTO tenantry.role_assignments
       (tenant_id, id, role_id, subject_kind, subject_id, granted_by)
SELECT d.tenant_id, gen_random_uuid(), r.id, 'department', d.id, 'seed'
  FROM tenantry.departments d JOIN tenantry.roles r ON r.tenant_id = d.tenant_id
 WHERE r.key = 'readers';
INSERT INTO tenantry.role_assignments (tenant_id, id, role_id, subject_kind, subject_id,
       subject_app_id, scope_department_id, granted_by)
SELECT d.tenant_id, gen_random_uuid(), r.id, 'user', p.id, p.app_id, d.id, 'seed'
  FROM tenantry.departments d JOIN tenantry.roles r ON r.tenant_id = d.tenant_id
  JOIN numbered x ON x.id = d.id
  JOIN people p ON p.tenant_id = d.tenant_id AND p.n = 1 + x.n % 40
 WHERE r.key = 'admins' AND d.parent_id IS NULL;
"""
COUNTS = """
SELECT (SELECT count(*) FROM tenantry.role_assignments) AS assignments,
       (SELECT count(*) FROM tenantry.department_members) AS memberships,
       (SELECT count(*) FROM tenantry.app_users) AS users,
       (SELECT count(*) FROM tenantry.departments) AS departments
"""
# Users of each size: the delegated administrators (they hold the most) and ordinary members.
SAMPLE = """
SELECT s.size, p.tenant_id, p.app_id, p.id FROM people p JOIN sizes s USING (tenant_id)
 WHERE p.n BETWEEN 1 AND 8 ORDER BY s.size, p.tenant_id LIMIT 200000
"""


def seed(admin: str, tenants: int) -> tuple[dict[str, int], dict[str, list[tuple]], float]:
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(SEED.format(tenants=tenants))
        samples: dict[str, list[tuple]] = {}
        for size, tenant_id, app_id, user_id in conn.execute(SAMPLE).fetchall():
            if len(samples.setdefault(size, [])) < 400:
                samples[size].append((tenant_id, app_id, user_id))
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(COUNTS).fetchone()
        assert row is not None
        counts = dict(zip(("assignments", "memberships", "users", "departments"), row, strict=True))
    return counts, samples, time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered), 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99)], 1),
    }


async def measure(admin: str, samples: dict[str, list[tuple]], rounds: int) -> dict[str, object]:
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix)
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=4
    ) as db:
        services = build_services(settings, db, Metrics())
        await services.apps.reload()
        context = services.context
        results: dict[str, object] = {}
        for size, users in sorted(samples.items()):
            cold, loaded, warm, held = [], [], [], []
            for n in range(rounds):
                tenant_id, app_id, user_id = users[n % len(users)]
                signed = TenantContext(tenant_id, app_id, user_id)
                started = time.perf_counter()
                rows = await read_effective(db, signed)
                cold.append((time.perf_counter() - started) * 1e6)
                held.append(len(rows))
                principal = Principal(
                    tenant_id=tenant_id,
                    app_id=app_id,
                    app_slug="thinktank",
                    app_user_id=user_id,
                    credential=Credential.ACCESS_TOKEN,
                    scopes=frozenset(),
                )
                context.invalidate(str(tenant_id))
                started = time.perf_counter()
                await context.load(principal, [])
                loaded.append((time.perf_counter() - started) * 1e6)
                started = time.perf_counter()
                await context.load(principal, [])
                warm.append((time.perf_counter() - started) * 1e6)
            results[size] = {
                "cold": summary(cold),
                "context_cold": summary(loaded),
                "warm": summary(warm),
                "grants_per_user_p50": statistics.median(held),
            }
        return results


def run(admin: str, tenants: int, rounds: int) -> dict[str, object]:
    counts, samples, seconds = seed(admin, tenants)
    results = asyncio.run(measure(admin, samples, rounds))
    return {"rows": counts, "seed_seconds": round(seconds, 1), "by_tenant_size": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tenants, rounds = (100, 300) if args.quick else (1000, 1000)
    results = with_fresh_database(lambda admin: run(admin, tenants, rounds))
    report = {"benchmark": "access", "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    rows = results["rows"]
    print(
        f"Effective privileges: {tenants} tenants, {rows['assignments']:,} assignments, "
        f"{rows['memberships']:,} memberships, {rows['users']:,} users "
        f"(seeded in {results['seed_seconds']} s)"
    )
    for size, r in results["by_tenant_size"].items():
        for name in ("cold", "context_cold", "warm"):
            p = r[name]
            print(f"  {size:<7} {name:<13} p50 {p['p50_us']:>9.1f} µs   p99 {p['p99_us']:>9.1f} µs")


if __name__ == "__main__":
    main()
