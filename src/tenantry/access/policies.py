"""A tenant's policy towards guests from, and its users' visits to, other tenants.

Each tenant decides alone: `guests_in` lets members of other tenants join its groups as guests,
`guests_out` lets its own users be guests elsewhere, both only in `guest_apps` (never the admin
app), and a guest here never holds more than the `guest_max_role` template gives. No policy
written means the defaults, which deny everything. Reading and writing it needs
`policies.manage`, held for the whole tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.audit import record
from tenantry.access.models import OWNER, TenantPolicy
from tenantry.access.repository import policies, roles
from tenantry.access.service import holdings_in
from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.errors import InsufficientPrivilege, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from tenantry.access.guests import GuestService
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

MANAGE = "policies.manage"


class PolicyService:
    def __init__(self, db: Database, apps: AppDirectory, guests: GuestService) -> None:
        self._db = db
        self._apps = apps
        self._guests = guests

    async def get(self, principal: Principal) -> TenantPolicy:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            return await policies.get_policy(tx, principal.tenant_id)

    async def set(
        self,
        principal: Principal,
        *,
        guests_in: bool,
        guests_out: bool,
        guest_apps: Iterable[str],
        guest_max_role: str,
        by: Actor,
    ) -> TenantPolicy:
        policy = TenantPolicy(
            guests_in, guests_out, frozenset(self._app_ids(guest_apps)), guest_max_role
        )
        # The platform path: the guests this tenant hosts and sends follow the new policy in
        # the same transaction, on both sides (the other tenant's half is not in this context).
        async with self._db.platform_transaction() as tx:
            await _require(tx, principal)
            if guest_max_role == OWNER or not await roles.template_exists(tx, guest_max_role):
                raise InvalidInput(f"no role template {guest_max_role!r} a guest may hold")
            await policies.put_policy(tx, principal.tenant_id, policy, str(by))
            meta = {
                "guests_in": guests_in,
                "guests_out": guests_out,
                "guest_apps": sorted(self.slugs(policy.guest_apps)),
                "guest_max_role": guest_max_role,
            }
            await record(
                tx, principal, "tenant.policy_changed", "tenant", principal.tenant_id, by, meta
            )
            await self._guests.follow_in(tx, principal.tenant_id)
            # Guests' contexts are decided with the policy: forget cached ones at once.
            await notify_in(tx, str(principal.tenant_id))
            return policy

    def slugs(self, app_ids: Iterable[UUID]) -> list[str]:
        return sorted(self._apps.slugs_by_id.get(a, str(a)) for a in app_ids)

    def _app_ids(self, slugs: Iterable[str]) -> list[UUID]:
        found = []
        for slug in slugs:
            if slug == ADMIN_APP:
                raise InvalidInput("guests never enter the admin app")
            try:
                found.append(self._apps.by_slug(slug).id)
            except NotFound as exc:
                raise InvalidInput(f"no app {slug!r}") from exc
        return found


async def _require(tx: Transaction, principal: Principal) -> None:
    held = await holdings_in(tx, principal, principal.app_id)
    if MANAGE not in held.tenant_wide:
        raise InsufficientPrivilege(f"this needs {MANAGE} for the whole tenant")
