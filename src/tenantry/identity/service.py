"""Identity: sign-up, login with throttling and MFA, sessions with rotating refresh tokens,
email verification, password reset, API tokens and external identities.

Every identity lives in one tenant AND one app: the same email in two apps is two accounts with
their own passwords, MFA and sessions. All reads and writes run in that tenant/app's signed
context, so row-level security backs every check made here.

Each use case lives in its own module with only the collaborators it needs; `IdentityService`
puts them behind the one name the edges call (`services.identity.login(…)`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.account import Account
from tenantry.identity.authentication import Authenticator
from tenantry.identity.federation import Federation
from tenantry.identity.login import Login, SessionStarter
from tenantry.identity.people import People
from tenantry.identity.recovery import Recovery
from tenantry.identity.signup import SignUp

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tenantry.apps.service import AppDirectory
    from tenantry.identity.access_tokens import TokenService
    from tenantry.identity.external import JwksCache
    from tenantry.identity.people import TenantSettings
    from tenantry.identity.tenancy import TenantGate
    from tenantry.identity.throttle import LoginThrottle
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database
    from tenantry.security_events.service import SecurityEvents


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        apps: AppDirectory,
        tenants: TenantGate,
        tokens: TokenService,
        throttle: LoginThrottle,
        events: SecurityEvents,
        jwks: JwksCache,
        tenant_by_domain: Callable[[str], Awaitable[str | None]],
        tenant_settings: TenantSettings,
    ) -> None:
        auth = Authenticator(db, settings, apps, tenants, tokens, events)
        starter = SessionStarter(tokens, settings.session_ttl_seconds)
        signup = SignUp(db, tenants)
        login = Login(db, apps, tenants, tokens, throttle, events, starter, auth, tenant_by_domain)
        account = Account(db, auth)
        recovery = Recovery(db, tenants)
        federation = Federation(db, tenants, jwks, starter, settings.clock_skew_seconds)
        people = People(db, apps, tenants, tokens, throttle, events, starter, auth, tenant_settings)
        # Requests
        self.authenticator = auth
        self.authenticate = auth.authenticate
        self.transaction = auth.transaction
        self.credential_checks = auth.credential_checks
        # Sign-up and sign-in
        self.signup = signup.signup
        self.verify_email = signup.verify_email
        self.login = login.login
        self.complete_mfa = login.complete_mfa
        self.refresh = login.refresh
        self.logout = login.logout
        self.request_password_reset = recovery.request_password_reset
        self.reset_password = recovery.reset_password
        # The signed-in user's own account
        self.me = account.me
        self.sessions = account.sessions
        self.revoke_session = account.revoke_session
        self.start_totp = account.start_totp
        self.confirm_totp = account.confirm_totp
        self.change_password = account.change_password
        self.create_api_token = account.create_api_token
        self.api_tokens = account.api_tokens
        self.revoke_api_token = account.revoke_api_token
        # External identities and cross-app people
        self.external_login = federation.external_login
        self.trust_issuer = federation.trust_issuer
        self.identities = federation.identities
        # One person in several tenants of an app
        self.my_tenants = people.tenants
        self.exchange_token = people.exchange
