"""A module of the tests' own, as an outside team would write one: an Alembic folder (env.py
and one revision) that declares tables with `tenantry.library`, and a router on
`TenantTransaction`. `write_module` puts the folder on disk; `libtest_module` names it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenantry.library import Conflict, Module, Scope, Scoped, TenantTransaction, uuid7
from tenantry.library.dependencies import ScopedSession, TenantSession

NAME = "libtest"

ENV = """from tenantry.library.alembic import run_migrations

run_migrations("libtest")
"""

# `items` is app-scoped and names its author (a user of the app); `labels` is tenant-wide.
# A deferred constraint trigger refuses one label at commit, so that tests can see a commit
# fail after every statement of the request succeeded.
REVISION = '''"""libtest tables.

Revision ID: lt0001
Revises:
"""

from tenantry.library import Reference, ScopedTable, TableScope
from tenantry.library.alembic import (
    create_scoped_table,
    create_tenant_schema,
    drop_scoped_table,
    drop_tenant_schema,
)
from alembic import op

revision = "lt0001"
down_revision = None
branch_labels = None
depends_on = None

ITEMS = ScopedTable(
    name="items",
    schema="libtest",
    scope=TableScope.APP,
    columns=(
        "author_id uuid",
        "label text NOT NULL CHECK (length(label) BETWEEN 1 AND 200)",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(
        Reference(("app_id", "author_id"), "tenantry.app_users", ("app_id", "id"), "CASCADE"),
    ),
    indexes=("created_at, id",),
)
LABELS = ScopedTable(
    name="labels",
    schema="libtest",
    scope=TableScope.TENANT,
    columns=("name text NOT NULL",),
    unique=("name",),
)

REFUSE = """
CREATE FUNCTION libtest.refuse_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF NEW.label = 'refused at commit' THEN
        RAISE EXCEPTION 'this label is refused at commit' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    create_tenant_schema("libtest")
    create_scoped_table(ITEMS)
    create_scoped_table(LABELS)
    op.execute(REFUSE)
    op.execute(
        "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON libtest.items "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION libtest.refuse_at_commit()"
    )


def downgrade() -> None:
    drop_scoped_table(LABELS)
    drop_scoped_table(ITEMS)
    op.execute("DROP FUNCTION libtest.refuse_at_commit()")
    drop_tenant_schema("libtest")
'''

REFUSED_AT_COMMIT = "refused at commit"


def write_module(folder: Path) -> Path:
    """The module's Alembic folder under `folder`."""
    migrations = folder / NAME
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(ENV)
    (migrations / "versions" / "lt0001_tables.py").write_text(REVISION)
    return migrations


class Base(DeclarativeBase):
    pass


class Item(Base):
    """`libtest.items` for the ORM."""

    __tablename__ = "items"
    __table_args__ = {"schema": "libtest"}  # noqa: RUF012 - SQLAlchemy's declarative form

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid7)
    app_id: Mapped[UUID]
    author_id: Mapped[UUID | None]
    label: Mapped[str]


class ItemIn(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    # Raise after the insert: the transaction must roll back.
    fail_after_write: bool = False


router = APIRouter(tags=["libtest"])


@router.post("/v1/apps/{app}/libtest/items", status_code=201)
async def add_item(
    body: ItemIn, scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE)]
) -> dict[str, Any]:
    principal = scoped.principal
    item_id = uuid7()
    await scoped.tx.execute(
        "INSERT INTO libtest.items (tenant_id, app_id, id, author_id, label) "
        "VALUES (%s, %s, %s, %s, %s)",
        [principal.tenant_id, principal.app_id, item_id, principal.app_user_id, body.label],
    )
    if body.fail_after_write:
        raise Conflict("refused after the write")
    return {"id": str(item_id), "label": body.label}


@router.get("/v1/apps/{app}/libtest/items")
async def list_items(
    scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)],
) -> list[dict[str, Any]]:
    rows = await scoped.tx.fetch_all(
        "SELECT id, label FROM libtest.items WHERE tenant_id = %s AND app_id = %s "
        "ORDER BY created_at, id",
        [scoped.principal.tenant_id, scoped.principal.app_id],
    )
    return [{"id": str(r["id"]), "label": r["label"]} for r in rows]


@router.post("/v1/apps/{app}/libtest/orm-items", status_code=201)
async def add_item_with_the_orm(
    body: ItemIn, orm: Annotated[ScopedSession, TenantSession(Scope.PROFILE)]
) -> dict[str, Any]:
    principal = orm.principal
    item = Item(
        tenant_id=principal.tenant_id,
        app_id=principal.app_id,
        author_id=principal.app_user_id,
        label=body.label,
    )
    orm.session.add(item)
    if body.fail_after_write:
        await orm.session.flush()
        raise Conflict("refused after the write")
    return {"id": str(item.id), "label": body.label}


def libtest_module(migrations: Path) -> Module:
    return Module(NAME, migrations, routers=lambda: (router,))
