"""Tenantry's public library API: what a team building on Tenantry imports.

Everything here is stable and typed; anything else under `tenantry.` is internal. Tenantry's own
AI workloads (`tenantry.workloads`) are built on this module alone, which CI enforces.

- Tables: `ScopedTable` (with `TableScope`, `Reference`, `RuntimeAccess`), created from your
  Alembic migrations with `tenantry.library.alembic.create_scoped_table`.
- Transactions: `Database.tenant_transaction(TenantContext(...))`, `Database.read(...)`.
- Routes: `TenantTransaction(*scopes)` yields a `Scoped` (principal + transaction),
  `TenantSession(*scopes)` a `ScopedSession` (principal + SQLAlchemy session);
  `Requires(*scopes)` and `RequiresPrivilege(name)` authorize without a transaction.
- ORM: `tenantry.library.orm.ContextSessions` (SQLAlchemy async sessions in a context).
- Submodules: `alembic` and `privileges` (for migrations), `orm`, `settings` (a tenant's
  settings), `notifications` (mail and events to a tenant's administrators), `cross_app`,
  `tenants`, `http`, `admin` (module pages in the admin UI), `knowledge` (search settings).
- Modules: `Module`, named under the `tenantry.modules` entry point, adds migrations, routers,
  admin pages, demo data and maintenance (`Maintenance`, run by `tenantry db maintain`) to a
  Tenantry service.
"""

from tenantry.http.auth import Requires, RequiresPrivilege
from tenantry.identity.principal import Principal, Scope
from tenantry.isolation.ddl import Reference, RuntimeAccess, ScopedTable
from tenantry.isolation.ddl import Scope as TableScope
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database, Transaction
from tenantry.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, TenantryError
from tenantry.kit.ids import uuid7
from tenantry.kit.modules import Maintenance, Module
from tenantry.library.dependencies import (
    Scoped,
    ScopedSession,
    TenantSession,
    TenantTransaction,
    database,
)

__all__ = [
    "Conflict",
    "Database",
    "Forbidden",
    "InvalidInput",
    "Maintenance",
    "Module",
    "NotFound",
    "Principal",
    "Reference",
    "Requires",
    "RequiresPrivilege",
    "RuntimeAccess",
    "Scope",
    "Scoped",
    "ScopedSession",
    "ScopedTable",
    "TableScope",
    "TenantContext",
    "TenantSession",
    "TenantTransaction",
    "TenantryError",
    "Transaction",
    "database",
    "uuid7",
]
