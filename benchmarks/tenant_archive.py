"""Tenant archive: export a tenant of 1M rows from one installation and import it into another.

    python benchmarks/tenant_archive.py [--rows N] [--quick] [--json]
    (default: 1,000,000 audit log rows; --quick: 50,000)

Two installations, each its own embedded PostgreSQL server, freshly migrated. The source's
tenant gets N audit log rows (with a JSON metadata document each) and a handful of rows in the
other tables; `TenantArchives.export` writes the archive (one snapshot, JSON Lines, SHA-256 per
file) and `TenantArchives.import_` verifies it and writes the tenant into the other
installation in one transaction, as the platform role. Afterwards the audit log's row count and
content (seq, time, actor, action, object, metadata) must be equal on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, fresh_database, machine, role_url, stop
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import Services, build_services

BY = Actor("benchmark", "archive")
SEED_CHUNK = 100_000
SEED = """
INSERT INTO tenantry.audit_log (tenant_id, actor, action, object_type, object_id, metadata)
SELECT %s, 'benchmark:seed', 'bench.seed', 'thing', g::text,
       jsonb_build_object('n', g, 'note', 'a row of a large tenant', 'ok', g %% 2 = 0)
  FROM generate_series(1, %s) g
"""
PASSPHRASE = "benchmark passphrase, long enough"


def services_on(admin: str, data_dir: Path) -> tuple[Database, Services]:
    db = Database(role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), max_size=4)
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix, data_dir=data_dir)
    return db, build_services(settings, db, Metrics())


def seed(db: Database, admin: str, tenant_id: object, rows: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(role_url(admin, ROLES.platform)) as conn:
        for done in range(0, rows, SEED_CHUNK):
            conn.execute(
                "SELECT set_config('tenantry.context', %s, true)", [db.signer.sign_platform()]
            )
            conn.execute(SEED, [tenant_id, min(SEED_CHUNK, rows - done)])
            conn.commit()
    return time.perf_counter() - started


def audit_digest(admin: str, tenant_id: object) -> tuple[int, str]:
    """The tenant's audit entries up to the export, as content (seq, time, actor, action,
    object, metadata): the hashes themselves differ wherever an entry names an app, whose id
    differs between the installations."""
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            """SELECT count(*), md5(string_agg(md5(row(seq, created_at, actor, action,
                      object_type, object_id, metadata::text)::text), '' ORDER BY seq))
                 FROM tenantry.audit_log
                WHERE tenant_id = %s AND action NOT IN ('tenant.exported', 'tenant.imported')""",
            [tenant_id],
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


async def run(rows: int, work: Path) -> dict[str, Any]:
    source, target = fresh_database(), fresh_database()
    try:
        db, services = services_on(source.admin, work / "source")
        other_db, other = services_on(target.admin, work / "target")
        async with db, other_db:
            tenant, _ = await services.tenant_admin.ensure_tenant(
                "large", "Large Co", "enterprise", ["thinktank"], by=BY
            )
            seeded = seed(db, source.admin, tenant.id, rows)
            path = work / "large.tar"
            started = time.perf_counter()
            manifest = await services.archives.export(
                "large", path, by=BY, passphrase=PASSPHRASE, secrets=True
            )
            exported = time.perf_counter() - started
            started = time.perf_counter()
            report = await other.archives.import_(path, by=BY, passphrase=PASSPHRASE)
            imported = time.perf_counter() - started
            before = audit_digest(source.admin, tenant.id)
            after = audit_digest(target.admin, tenant.id)
        total = sum(t.rows for t in manifest.tables)
        return {
            "rows": total,
            "tables": len(manifest.tables),
            "seed_s": round(seeded, 1),
            "export_s": round(exported, 1),
            "export_rows_per_s": round(total / exported),
            "archive_mb": round(path.stat().st_size / 2**20, 1),
            "import_s": round(imported, 1),
            "import_rows_per_s": round(sum(report.rows.values()) / imported),
            "audit_log_equal": before == after,
            "audit_log_rows": after[0],
        }
    finally:
        for bench in (source, target):
            stop(bench)
            shutil.rmtree(bench.data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tenantry-archive-bench-") as work:
        result = asyncio.run(run(50_000 if args.quick else args.rows, Path(work)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if not result["audit_log_equal"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
