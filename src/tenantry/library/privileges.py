"""Privileges a module adds to the catalog, from its own Alembic migrations.

    from tenantry.library.privileges import Privilege, register_privileges, unregister_privileges

    MANAGE = Privilege("notes.manage", "Manage an app's shared notes", templates=("admin",))

    def upgrade() -> None:
        register_privileges(MANAGE)

    def downgrade() -> None:
        unregister_privileges(MANAGE)

Routes then require it with `RequiresPrivilege("notes.manage", Scope.PROFILE)`: deny by
default, a tenant's administrators hand it out with a role. The `owner` template always gets
it (owners hold every privilege); `templates` adds it to other role templates (e.g. `admin`).
Unregistering removes the privilege from every role and template that held it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

__all__ = ["Privilege", "register_privileges", "unregister_privileges"]

# The catalog's own rule (revision 0009): dotted lowercase names, two to five parts.
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")
OWNER = "owner"
_PRIVILEGES = sa.table("privileges", sa.column("key"), sa.column("description"), schema="tenantry")
_TEMPLATES = sa.table(
    "role_template_privileges",
    sa.column("template_key"),
    sa.column("privilege_key"),
    schema="tenantry",
)


@dataclass(frozen=True, slots=True)
class Privilege:
    key: str
    description: str
    templates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not KEY.match(self.key):
            raise ValueError(f"not a privilege key (dotted lowercase names): {self.key!r}")
        if len(self.description) > 500:  # noqa: PLR2004 - the catalog's limit
            raise ValueError("a privilege's description has at most 500 characters")


def register_privileges(*privileges: Privilege) -> None:
    """Add `privileges` to the catalog, to the owner template and to the templates each names."""
    op.bulk_insert(_PRIVILEGES, [{"key": p.key, "description": p.description} for p in privileges])
    grants = [
        {"template_key": template, "privilege_key": p.key}
        for p in privileges
        for template in dict.fromkeys((OWNER, *p.templates))
    ]
    op.bulk_insert(_TEMPLATES, grants)


def unregister_privileges(*privileges: Privilege) -> None:
    """Remove `privileges`; grants of them in roles and templates go with them (cascade)."""
    keys = [p.key for p in privileges]
    op.execute(_PRIVILEGES.delete().where(_PRIVILEGES.c.key.in_(keys)))
