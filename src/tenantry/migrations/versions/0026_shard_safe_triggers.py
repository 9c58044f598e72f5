"""Trigger functions that also run on a Citus shard.

On a Citus cluster (`tenantry citus distribute`) a tenant table's triggers fire on its shards,
where the table is `app_users_102008`, not `app_users`, and a row's type is the shard's. Three
functions assumed otherwise: the audit chain passed `NEW` to `audit_row_bytes`, which takes an
`audit_log` row; the seat limit and the access-grant guard compared `TG_TABLE_NAME` with a
table's name. They now pass the row as an `audit_log` and compare the name without a shard's
suffix. On a single server nothing changes: the same hashes, the same decisions.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-27
"""

from __future__ import annotations

import importlib
import re

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_TABLE_NAME = re.compile(r"TG_TABLE_NAME = '")


def _functions() -> list[str]:
    """The functions as their latest revisions wrote them."""
    audit = importlib.import_module("tenantry.migrations.versions.0023_audit_restore")
    seats = importlib.import_module("tenantry.migrations.versions.0016_licences")
    access = importlib.import_module("tenantry.migrations.versions.0009_access_control")
    return [audit.APPEND, seats._SEATS_FUNCTION, access.GUARD]  # noqa: SLF001 - a revision's own text


def _shard_safe(function: str) -> str:
    function = function.replace(
        "audit_row_bytes(NEW)", "audit_row_bytes(ROW(NEW.*)::tenantry.audit_log)"
    )
    # A shard of table `t` is `t_<shard id>`; no table's own name ends in `_<digits>`.
    return _TABLE_NAME.sub("regexp_replace(TG_TABLE_NAME, '_[0-9]+$', '') = '", function)


def _replace(function: str) -> str:
    return re.sub(r"CREATE (OR REPLACE )?FUNCTION", "CREATE OR REPLACE FUNCTION", function, count=1)


def upgrade() -> None:
    for function in _functions():
        op.execute(_replace(_shard_safe(function)))


def downgrade() -> None:
    for function in _functions():
        op.execute(_replace(function))
