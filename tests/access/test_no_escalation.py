"""No escalation, as a property: random department trees, random delegated administrators and
random grant attempts by them. Whatever the service accepts, nobody ends up holding a privilege
outside the subtree a legitimate grantor held it in, and a subtree's administrator never
touches a user outside it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantry.kit.errors import TenantryError
from tests.access.support import department, person, subject, tenant_with_apps
from tests.support.wiring import FIXTURES, services_for


def _under(paths: dict[int, tuple[int, ...]], node: int, root: int) -> bool:
    return root in paths[node]


async def _check_holdings(services, people, ids, paths, roots) -> None:
    # What the admin template gives, read from the catalog (features add privileges to it).
    admin_template = set((await services.privileges.templates())["admin"])
    for someone, where in people:
        held = await services.access.my_privileges(someone)
        assert not held.tenant_wide, "only the owner hands out tenant-wide privileges here"
        for grant in held.grants:
            node = ids.index(grant.department_id)
            assert grant.privilege in admin_template
            assert any(_under(paths, node, r) for r in roots)
        if not any(_under(paths, where, r) for r in roots):
            assert not held.grants, "a user outside every subtree was given something"


def _spread(authority, admins, paths, target, target_node, scope, to_department) -> None:
    """An accepted admin grant gives the administrators it reaches authority over `scope`."""
    for admin, where in admins:
        reached = _under(paths, where, target_node) if to_department else target == subject(admin)
        if reached:
            authority[admin.app_user_id].add(scope)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_grant_escapes_its_grantors_subtree(db, data) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    await services.access.create_role(
        owner, "managers", "Managers", template=None, privileges=["roles.manage"], by=FIXTURES
    )
    await services.access.create_role(
        owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    # A random forest: each department's parent is an earlier one, or none.
    size = data.draw(st.integers(2, 6), label="departments")
    parents = [None] + [
        data.draw(st.one_of(st.none(), st.integers(0, i - 1)), label=f"parent of {i}")
        for i in range(1, size)
    ]
    ids, paths = [], {}
    for i, parent in enumerate(parents):
        created = await services.departments.create(
            owner, f"d{i}", None if parent is None else ids[parent], by=FIXTURES
        )
        ids.append(created.id)
        paths[i] = (*(paths[parent] if parent is not None else ()), i)
    users = []
    for _ in range(data.draw(st.integers(2, 4), label="users")):
        user = await person(db, tenant, "thinktank")
        where = data.draw(st.integers(0, size - 1), label="user's department")
        await services.departments.add_member(
            owner, ids[where], user.app_id, user.app_user_id, by=FIXTURES
        )
        users.append((user, where))
    admins = []
    for _ in range(data.draw(st.integers(1, 3), label="delegated admins")):
        admin = await person(db, tenant)
        root = data.draw(st.integers(0, size - 1), label="admin's subtree")
        await services.departments.add_member(
            owner, ids[root], admin.app_id, admin.app_user_id, by=FIXTURES
        )
        await services.access.delegate(owner, subject(admin), ids[root], by=FIXTURES)
        admins.append((admin, root))
    people = users + admins
    # Where each administrator may act: their delegated subtree, plus the subtrees of admin
    # roles other administrators legitimately granted them on the way (directly, or through a
    # department that contains theirs).
    authority = {admin.app_user_id: {root} for admin, root in admins}
    # Random attempts by the delegated administrators.
    for n in range(data.draw(st.integers(1, 10), label="attempts")):
        actor, _ = data.draw(st.sampled_from(admins), label=f"actor {n}")
        role = data.draw(st.sampled_from(["admin", "auditors", "managers"]), label=f"role {n}")
        scope = data.draw(st.one_of(st.none(), st.integers(0, size - 1)), label=f"scope {n}")
        to_department = data.draw(st.booleans(), label=f"to a department {n}")
        if to_department:
            target_node = data.draw(st.integers(0, size - 1), label=f"department {n}")
            target = department(ids[target_node])
            target_nodes = [target_node]
        else:
            someone, where = data.draw(st.sampled_from(people), label=f"subject {n}")
            target = subject(someone)
            target_nodes = [where]
        try:
            await services.access.assign(
                actor,
                role,
                target,
                scope_department_id=None if scope is None else ids[scope],
                by=FIXTURES,
            )
        except TenantryError:
            continue
        # Accepted: the subject and the grant's reach lie inside a subtree the actor holds, and
        # the role hands out nothing the actor lacked.
        held = authority[actor.app_user_id]
        assert any(_under(paths, node, r) for node in target_nodes for r in held)
        assert scope is not None
        assert any(_under(paths, scope, r) for r in held)
        assert role != "managers"
        if role == "admin":
            _spread(authority, admins, paths, target, target_nodes[0], scope, to_department)
    # Every grant anyone holds traces back to a delegation the owner made.
    await _check_holdings(services, people, ids, paths, {root for _, root in admins})
