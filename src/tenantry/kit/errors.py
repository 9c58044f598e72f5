"""Domain exceptions. Each carries a stable code; the HTTP layer maps them to problem+json."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class TenantryError(Exception):
    code = "tenantry_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(TenantryError):
    code = "not_found"
    status = 404


class InvalidInput(TenantryError):
    code = "invalid_input"
    status = 422


class Conflict(TenantryError):
    code = "conflict"
    status = 409


class SeatLimitReached(TenantryError):
    """Every seat of the tenant's licence for the app is taken (active identities and open
    invitations); raised by the database's seat trigger, so every path that adds someone gets
    it. Not a `Conflict`: callers that read a conflict as "already exists" must not catch it."""

    code = "seat_limit_reached"
    status = 409


class DatabaseUnavailable(TenantryError):
    code = "database_unavailable"
    status = 503


class ConfigurationError(TenantryError):
    code = "configuration_error"
    status = 500


class Unauthorized(TenantryError):
    code = "unauthorized"
    status = 401


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class MfaRequired(Unauthorized):
    code = "mfa_required"

    def __init__(self, mfa_token: str) -> None:
        super().__init__("a second factor is required")
        self.mfa_token = mfa_token


class ReauthenticationRequired(Unauthorized):
    """The route changes credentials and the session's sign-in is not recent (RFC 9470)."""

    code = "reauthentication_required"

    def __init__(self, message: str, max_age: int) -> None:
        super().__init__(message)
        self.max_age = max_age


class Forbidden(TenantryError):
    code = "forbidden"
    status = 403


class MfaEnrollmentRequired(Forbidden):
    """The tenant requires a second factor and the identity has none enrolled."""

    code = "mfa_enrollment_required"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


class InsufficientPrivilege(Forbidden):
    """The caller's roles do not give the privilege this needs (see `access`)."""

    code = "insufficient_privilege"


class AppMismatch(Forbidden):
    code = "app_mismatch"


class TenantMismatch(Forbidden):
    code = "tenant_mismatch"


class TenantInactive(Forbidden):
    code = "tenant_inactive"


class AppDisabled(Forbidden):
    """The tenant has the app but disabled it: unlike an app it never had (404), its data is
    kept and enabling it again brings everything back."""

    code = "app_disabled"


class RateLimited(TenantryError):
    code = "rate_limited"
    status = 429

    def __init__(
        self, message: str, retry_after: int, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # Sent with the problem, e.g. the RateLimit-* fields of the limit that refused.
        self.headers = dict(headers or {})


class ConcurrencyLimited(RateLimited):
    """The tenant kept its whole share of the database connections busy for longer than a
    request may wait for one (`kit.fairshare`)."""

    code = "concurrency_limited"


class DatabaseBusy(TenantryError):
    """Every runtime connection stayed in use for longer than a request may wait."""

    code = "database_busy"
    status = 503

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TenantMoving(DatabaseBusy):
    """The tenant is being moved to another placement (its writes wait for the switch), or
    this process had not yet learned where it moved: retry shortly."""

    code = "tenant_moving"


class StatementTimeout(TenantryError):
    """A statement ran past the tenant's plan's `statement_timeout` and PostgreSQL cancelled
    it; the transaction was rolled back."""

    code = "statement_timeout"
    status = 503
