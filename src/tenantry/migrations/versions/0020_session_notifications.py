"""Sessions that end are announced: a revoked, shortened or deleted session notifies its
tenant's invalidation scope (`kit.invalidation.CHANNEL`), in the transaction that ends it.

The gateway trusts a session it has seen live for a few seconds (`identity.liveness`); this
trigger is what makes it forget at once, whichever code path (or operator's statement) ended
the session.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION tenantry_private.session_ended() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog AS $$
        BEGIN
            -- Identical payloads in one transaction are delivered once.
            PERFORM pg_notify('tenantry_invalidate', OLD.tenant_id::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER sessions_ended AFTER UPDATE OF revoked_at, expires_at
            ON tenantry.sessions FOR EACH ROW
            WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
                  OR NEW.expires_at < OLD.expires_at)
            EXECUTE FUNCTION tenantry_private.session_ended()
        """
    )
    op.execute(
        """
        CREATE TRIGGER sessions_deleted AFTER DELETE ON tenantry.sessions
            FOR EACH ROW EXECUTE FUNCTION tenantry_private.session_ended()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER sessions_deleted ON tenantry.sessions")
    op.execute("DROP TRIGGER sessions_ended ON tenantry.sessions")
    op.execute("DROP FUNCTION tenantry_private.session_ended()")
