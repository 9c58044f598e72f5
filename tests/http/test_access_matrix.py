"""Every API route, called with every kind of credential, answers exactly the documented status.

The routes come from the OpenAPI document, so a new route is in the matrix the moment it exists;
its security requirement (the scopes declared with `http.auth.Requires`) decides what each
credential should get, by the rules in `http.auth`:

    no credential                          401 unauthorized
    another app's API token                401 unauthorized   (looked up in the route's app only)
    another app's session                  403 app_mismatch   (404 on /v1/platform)
    a suspended tenant's credential        403 tenant_inactive
    missing `admin` or `platform`          404 not_found
    any other missing scope                403 insufficient_scope
    a privilege, outside the admin app     404 not_found on a named object, else 403
                                           insufficient_privilege (no role was given)
    everything held                        the route's own answer

To tell "the route's own answer" apart from a guard's, an allowed call is sent with input the
route must reject (422) after authorization, or, for a route without input, answers its
documented success status. A route without a security requirement must be listed in `PUBLIC`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tests.support.accounts import User, login, make_tenant, signed_in, tenant_admin, transition
from tests.support.wiring import PASSWORD

PUBLIC = {
    ("POST", "/v1/apps/{app}/auth/signup"),
    ("POST", "/v1/apps/{app}/auth/verify-email"),
    ("POST", "/v1/apps/{app}/auth/login"),
    ("POST", "/v1/apps/{app}/auth/mfa"),
    ("POST", "/v1/apps/{app}/auth/refresh"),
    ("POST", "/v1/apps/{app}/auth/password-reset"),
    ("POST", "/v1/apps/{app}/auth/password-reset/confirm"),
    ("POST", "/v1/apps/{app}/auth/external"),
    ("POST", "/v1/apps/{app}/auth/token-exchange"),
    ("POST", "/v1/apps/{app}/invitations/accept"),
    ("GET", "/v1/apps/{app}/.well-known/jwks.json"),
    ("GET", "/v1/apps/{app}/.well-known/openid-configuration"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
# Routes whose call without input is itself a user mistake: the handler's answer.
ALLOWED_OVERRIDES = {
    ("GET", "/v1/apps/{app}/people"): 422,
    ("GET", "/v1/apps/{app}/knowledge/search"): 422,  # `q`, what to look for, is required
}
SESSION_SCOPES = {"profile", "sessions", "api_tokens", "account"}
HIDDEN = {"admin", "platform"}


@dataclass
class Credential:
    name: str
    app: str  # the app it belongs to
    scopes: set[str] = field(default_factory=set)
    header: dict[str, str] = field(default_factory=dict)
    present_at: str | None = None  # the app whose routes it is sent to, if not its own
    suspended: bool = False

    @property
    def is_api_token(self) -> bool:
        return self.header.get("Authorization", "").startswith("Bearer tenantry_pat_")

    @property
    def route_app(self) -> str:
        return self.present_at or self.app


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    scopes: frozenset[str] | None  # None: public
    path_params: dict[str, dict[str, Any]]
    has_body: bool
    success: int
    privileges: frozenset[str] = frozenset()


def invalid_value(name: str, schema: dict[str, Any]) -> str:
    """A path value the route's own validation must refuse."""
    if schema.get("format") == "uuid":
        return "not-a-uuid"
    if "pattern" in schema:
        return "NOT~VALID"
    if "maxLength" in schema:
        return "x" * (schema["maxLength"] + 1)
    if "enum" in schema:
        return "not-one-of-" + "-".join(schema["enum"])
    pytest.fail(
        f"path parameter {name!r} is unconstrained: give it a pattern, format, length or choices"
    )


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            security = op.get("security")
            # Privileges (dotted) ride beside the scopes; every admin-app credential below that
            # passes the scopes holds them (an administrator never assigned a role is the owner).
            scopes = (
                frozenset(s for req in security for s in req.get("HTTPBearer", []) if "." not in s)
                if security
                else None
            )
            params = {
                p["name"]: p["schema"]
                for p in op.get("parameters", [])
                if p["in"] == "path" and p["name"] != "app"
            }
            success = min(int(code) for code in op["responses"] if code.startswith("2"))
            privileges = frozenset(
                s for req in security or [] for s in req.get("HTTPBearer", []) if "." in s
            )
            found.append(
                Operation(
                    method.upper(), path, scopes, params, "requestBody" in op, success, privileges
                )
            )
    # Ending a session comes last, so every credential stays usable until then.
    return sorted(found, key=lambda o: o.path.endswith("/auth/logout"))


def guard_answer(op: Operation, credential: Credential) -> tuple[int, str] | None:
    """What the authorization dependency answers, or None when it lets the call through."""
    if op.scopes is None:
        return None
    platform_route = op.path.startswith("/v1/platform/")
    foreign = credential.app != ("admin" if platform_route else credential.route_app)
    missing = op.scopes - credential.scopes
    checks = (
        (not credential.header, (401, "unauthorized")),
        (foreign and credential.is_api_token, (401, "unauthorized")),
        (foreign and platform_route, (404, "not_found")),
        (foreign, (403, "app_mismatch")),
        (credential.suspended, (403, "tenant_inactive")),
        (bool(missing & HIDDEN), (404, "not_found")),
        (bool(missing), (403, "insufficient_scope")),
        # Only the admin app's users (owners when never assigned a role) hold privileges here.
        (
            bool(op.privileges) and credential.app != "admin",
            (404, "not_found") if op.path_params else (403, "insufficient_privilege"),
        ),
    )
    return next((answer for failed, answer in checks if failed), None)


def expected(op: Operation, credential: Credential) -> tuple[int, str | None]:
    denied = guard_answer(op, credential)
    if denied is not None:
        return denied
    if (op.method, op.path) in ALLOWED_OVERRIDES:
        return ALLOWED_OVERRIDES[(op.method, op.path)], None
    if op.path_params or op.has_body:
        return 422, "validation_failed"
    return op.success, None


async def token(client, user: User, scopes: list[str]) -> dict[str, str]:
    created = await client.post(
        f"/v1/apps/{user.app}/api-tokens", headers=user.auth, json={"name": "m", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


@pytest.fixture
async def credentials(control_client, control_app, db, operator) -> list[Credential]:
    home = await make_tenant(db, "thinktank", "launchboard", "admin")
    other = await make_tenant(db, "thinktank")
    frozen = await make_tenant(db, "thinktank")
    user = await signed_in(control_client, "thinktank", home, "matrix@example.com")
    neighbour = await signed_in(control_client, "launchboard", home, "matrix@example.com")
    stranger = await signed_in(control_client, "thinktank", other, "matrix@example.com")
    admin = await tenant_admin(control_client, db, home, "matrix-admin@example.com")
    suspended = await signed_in(control_client, "thinktank", frozen, "matrix@example.com")
    suspended_token = await token(control_client, suspended, ["profile"])
    # A fresh operator session of its own, since the matrix signs every session out at the end.
    ops = User("admin", operator.tenant, operator.email, PASSWORD)
    assert (await login(control_client, ops)).status_code == 200
    await transition(db, frozen, "suspend")
    admin_scopes = SESSION_SCOPES | {"admin"}
    return [
        Credential("anonymous", "thinktank"),
        Credential("app session", "thinktank", set(SESSION_SCOPES), user.auth),
        Credential(
            "app token: profile",
            "thinktank",
            {"profile"},
            await token(control_client, user, ["profile"]),
        ),
        Credential(
            "app token: no scope", "thinktank", set(), await token(control_client, user, [])
        ),
        Credential(
            "another app's session",
            "launchboard",
            set(SESSION_SCOPES),
            neighbour.auth,
            present_at="thinktank",
        ),
        Credential(
            "another app's token",
            "launchboard",
            {"profile"},
            await token(control_client, neighbour, ["profile"]),
            present_at="thinktank",
        ),
        Credential("another tenant's session", "thinktank", set(SESSION_SCOPES), stranger.auth),
        Credential(
            "another tenant's token",
            "thinktank",
            {"profile"},
            await token(control_client, stranger, ["profile"]),
        ),
        Credential("tenant admin session", "admin", set(admin_scopes), admin.auth),
        Credential(
            "tenant admin token: admin",
            "admin",
            {"admin"},
            await token(control_client, admin, ["admin"]),
        ),
        Credential("platform admin session", "admin", admin_scopes | {"platform"}, ops.auth),
        Credential(
            "platform admin token: platform",
            "admin",
            {"platform"},
            await token(control_client, ops, ["platform"]),
        ),
        Credential(
            "platform admin token: profile+admin",
            "admin",
            {"profile", "admin"},
            await token(control_client, ops, ["profile", "admin"]),
        ),
        Credential(
            "suspended tenant's session",
            "thinktank",
            set(SESSION_SCOPES),
            suspended.auth,
            suspended=True,
        ),
        Credential(
            "suspended tenant's token", "thinktank", {"profile"}, suspended_token, suspended=True
        ),
    ]


async def test_every_route_answers_each_credential_as_documented(
    control_client, control_app, credentials
) -> None:
    document = control_app.openapi()
    ops = operations(document)
    undeclared = [
        (o.method, o.path) for o in ops if o.scopes is None and (o.method, o.path) not in PUBLIC
    ]
    assert not undeclared, f"routes without a declared security requirement: {undeclared}"
    wrong = []
    for op in ops:
        for credential in credentials:
            path = op.path.replace("{app}", credential.route_app)
            for name, schema in op.path_params.items():
                path = path.replace(f"{{{name}}}", invalid_value(name, schema))
            response = await control_client.request(
                op.method, path, headers=credential.header, json=[] if op.has_body else None
            )
            status, code = expected(op, credential)
            got_code = (
                response.json().get("code")
                if response.headers.get("content-type", "").startswith("application/problem+json")
                else None
            )
            if response.status_code != status or (code is not None and got_code != code):
                wrong.append(
                    f"{op.method} {op.path} as {credential.name}: {response.status_code} {got_code}, expected {status} {code}"
                )
    assert not wrong, "\n".join(wrong)


def test_no_api_route_is_missing_from_the_openapi_document(control_app) -> None:
    """Routes hidden from the document would escape the matrix: only the admin UI (its own
    session and CSRF tests) and /metrics (its own token) may be hidden."""
    documented = {
        (method.upper(), path)
        for path, methods in control_app.openapi()["paths"].items()
        for method in methods
    }
    for route in control_app.routes:
        if (
            not isinstance(route, APIRoute)
            or route.path.startswith("/admin")
            or route.path == "/metrics"
        ):
            continue
        for method in route.methods:
            assert (method, route.path) in documented, (method, route.path)
