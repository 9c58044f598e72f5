"""Tenantry on a Citus cluster: distribute a migrated database, isolate a big tenant.

`distribute` takes a database migrated on the coordinator (`tenantry db upgrade`) and makes it
a Citus one, in one transaction: every tenant table distributed by `tenant_id` and co-located
with the others (a tenant's rows of every table share a shard, so joins and foreign keys stay
on one node), every other table a reference table on every node, the policies in their Citus
form, each worker able to verify a context (`tenantry.isolation.citus_sql`). Run it again after
each `db upgrade`: tables already distributed are left as they are.

What changes on Citus: the residency guard (statement triggers reading transition tables,
which Citus cannot plan on a shard) is dropped, so tenants are not moved in or out of a Citus
placement with `tenants move`; Citus moves shards itself (`isolate`, shard moves). Citus cannot
hold a foreign key that sets a tenant table's column to NULL when its parent goes (`ON DELETE
SET NULL`, four optional links of the AI tables): those keys are left off, so such a column may
keep the id of a deleted parent. Triggers run on the shards (`citus.enable_unsafe_triggers`):
they read only the same tenant's co-located rows and reference tables, which Citus allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import conninfo

from tenantry.citus import repository as db
from tenantry.isolation.citus_sql import (
    DELEGATED,
    PROCEDURAL,
    UnknownPolicyShape,
    citus_form,
    coordinator_sync_sql,
    each_row_function,
    each_row_name,
    each_row_trigger,
    node_session,
    node_verifier_sql,
    procedural_form,
)
from tenantry.isolation.context_sql import ACCESSORS
from tenantry.kit.errors import ConfigurationError, NotFound

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.isolation.roles import Roles

SET_NULL = re.compile(r"ON DELETE SET (NULL|DEFAULT)")
# Tenant tables co-locate with this one (every tenant has its apps' rows).
ANCHOR = "tenantry.tenant_apps"


@dataclass
class Distribution:
    distributed: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    policies: int = 0
    workers: int = 0
    # Foreign keys Citus cannot hold (ON DELETE SET NULL on a distributed table).
    unenforced: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Isolation:
    tenant_id: UUID
    shard: int
    node: str


def _connect(admin_url: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(admin_url)
    if db.citus_version(conn) is None:
        conn.close()
        raise ConfigurationError("this database has no citus extension: not a Citus coordinator")
    return conn


def distribute(admin_url: str, roles: Roles) -> Distribution:
    done = Distribution()
    with _connect(admin_url) as conn:
        done.workers = len(db.workers(conn))
        if not done.workers:
            raise ConfigurationError("the coordinator has no active worker: citus_add_node first")
        plan = db.tables(conn, roles)
        if not any(name == ANCHOR for name, _, _ in plan):
            raise ConfigurationError("no Tenantry schema here: run `tenantry db upgrade` first")
        todo = [
            (name, by_tenant)
            for name, by_tenant, kind in plan
            if kind is None and name not in db.NODE_LOCAL
        ]
        names = [name for name, _ in todo]
        tenant_tables = [name for name, by_tenant in todo if by_tenant]
        # Each step commits: Citus copies new functions to the workers only once committed,
        # and a run after a failure takes up where it stopped.
        done.policies = _citus_forms(conn, roles, names, tenant_tables)
        _convert(conn, done, names, tenant_tables)
        db.forward_context(conn, roles, str(conninfo.conninfo_to_dict(admin_url)["dbname"]))
        db.hide_citus_views(conn)
        db.force_tenant_root(conn, force=True)  # after a shard move that did not finish
        conn.commit()
        for function, argument in DELEGATED:
            db.delegate(conn, function, argument, ANCHOR)
        conn.commit()
        # Triggers on shards call Tenantry's other functions: every worker gets them as they
        # are, once the tables (whose row types some take) exist there.
        functions = db.functions(conn, roles, [*ACCESSORS, "context_scope", "current_actor_id"])
        db.on_workers(conn, [*node_session(roles), *functions])
    return done


def _citus_forms(
    conn: psycopg.Connection[tuple[object, ...]],
    roles: Roles,
    names: list[str],
    tenant_tables: list[str],
) -> int:
    """Verifiers, policies and triggers as Citus runs them; the number of policies."""
    _verifiers(conn, roles)
    policies = _citus_policies(conn, names)
    for table, trigger in db.residency_triggers(conn, tenant_tables):
        db.drop_trigger(conn, table, trigger)
    per_row = _row_level_triggers(conn, roles, names)
    for function in PROCEDURAL:
        procedural = procedural_form(db.function_definition(conn, function))
        if procedural is not None:
            with db.as_owner(conn, roles):
                db.run(conn, [procedural])
    conn.commit()
    for function in per_row:
        db.propagate_function(conn, function)
    conn.commit()
    return policies


def _convert(
    conn: psycopg.Connection[tuple[object, ...]],
    done: Distribution,
    names: list[str],
    tenant_tables: list[str],
) -> None:
    """The tables made Citus ones, in one transaction. Foreign keys come off while tables
    change kind, in whatever order, and go back on."""
    db.converting(conn)
    keys = db.foreign_keys(conn, names)
    for table, name, _ in keys:
        db.drop_constraint(conn, table, name)
    done.reference = [name for name in names if name not in tenant_tables]
    for name in done.reference:
        db.make_reference(conn, name)
    # The anchor first: the others join its co-location group.
    done.distributed = sorted(tenant_tables, key=lambda name: name != ANCHOR)
    for name in done.distributed:
        db.distribute(conn, name, "default" if name == ANCHOR else ANCHOR)
    for table, name, definition in keys:
        if SET_NULL.search(definition):
            done.unenforced.append(f"{table}.{name}")
        else:
            db.add_constraint(conn, table, name, definition)


def _verifiers(conn: psycopg.Connection[tuple[object, ...]], roles: Roles) -> None:
    """Each node's verifier, and the coordinator's key table copying itself to the workers."""
    db.on_every_node(conn, node_verifier_sql(roles))
    with db.as_owner(conn, roles):
        db.run(conn, coordinator_sync_sql())
        db.copy_keys(conn)


def _row_level_triggers(
    conn: psycopg.Connection[tuple[object, ...]], roles: Roles, names: list[str]
) -> list[str]:
    """Statement triggers reading transition tables become per-row ones (the same body over
    the row): Citus cannot plan a query naming a transition table on a shard. Returns the
    new functions."""
    created = []
    for table, trigger, definition, function, new, old, fires_always in db.transition_triggers(
        conn, names
    ):
        with db.as_owner(conn, roles):
            db.run(conn, each_row_function(function, new, old))
        created.append(each_row_name(function))
        db.drop_trigger(conn, table, trigger)
        db.run(conn, [each_row_trigger(definition)])
        if fires_always:
            db.always(conn, table, trigger)
    return created


def _citus_policies(conn: psycopg.Connection[tuple[object, ...]], names: list[str]) -> int:
    found = db.policies(conn, names)
    for table, name, using, check in found:
        try:
            db.alter_policy(conn, table, name, citus_form(using), citus_form(check))
        except UnknownPolicyShape as exc:
            raise ConfigurationError(
                f"policy {name} on {table} has no Citus form ({exc}): write it with"
                " tenantry.current_tenant_id() and the other claim functions"
            ) from None
    return len(found)


def rewritten_tables(admin_url: str, roles: Roles) -> list[str]:
    """The tables `distribute` made Citus ones, their policies in Citus form; none when the
    database is not a distributed one."""
    with psycopg.connect(admin_url) as conn:
        if db.citus_version(conn) is None:
            return []
        return [name for name, _, kind in db.tables(conn, roles) if kind is not None]


def write_citus_policies(url: str, names: list[str]) -> None:
    """The named tables' policies in a migrated database rewritten as `distribute` rewrites
    them: what a Citus database's migrations amount to (`tenantry doctor` compares with it)."""
    with psycopg.connect(url) as conn:
        _citus_policies(conn, names)


def isolate(admin_url: str, slug: str, *, to_node: tuple[str, int] | None = None) -> Isolation:
    """The tenant's rows in shards of their own (all co-located tables), optionally moved to
    another worker: a big tenant no longer shares a node's shard with others."""
    with _connect(admin_url) as conn:
        tenant = db.tenant_id(conn, slug)
        if tenant is None:
            raise NotFound(f"no tenant {slug}")
        shard, host, port = db.shard_of(conn, ANCHOR, tenant)
        low, high = db.shard_tenants(conn, shard)
        conn.commit()  # isolate_tenant_to_new_shard runs outside a transaction block
        conn.autocommit = True
        if low != high:
            db.isolate(conn, ANCHOR, tenant)
            shard, host, port = db.shard_of(conn, ANCHOR, tenant)
        if to_node is not None and to_node != (host, port):
            if to_node not in db.workers(conn):
                raise NotFound(f"no active worker {to_node[0]}:{to_node[1]}")
            # Citus checks the copied rows' foreign keys as the tables' owner, whom the tenant
            # root's forced row-level security shows no tenant: lifted for the copy alone.
            db.force_tenant_root(conn, force=False)
            try:
                db.move_shard(conn, shard, (host, port), to_node)
            finally:
                db.force_tenant_root(conn, force=True)
            host, port = to_node
    return Isolation(tenant, shard, f"{host}:{port}")
