"""Licences and entitlements: the domain types, the errors, and the state by time.

The state of an entitlement follows from its dates alone, so the request path decides it in
memory:

    valid      valid_from <= now <= valid_until
    grace      until valid_until + grace_days: everything works, responses carry a warning
    read_only  for READ_ONLY_DAYS after the grace: reads work, writes answer 403
               `licence_read_only`
    blocked    after that, before valid_from, or once the licence is revoked: every request
               answers 403 `licence_blocked`
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import Forbidden, InvalidInput

if TYPE_CHECKING:
    from uuid import UUID

FORMAT = "tenantry-licence/1"
# How long an expired licence keeps its data readable after the grace period.
READ_ONLY_DAYS = 30
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LicenceInvalid(InvalidInput):
    """A licence document that does not verify; `reason` is one stable word."""

    code = "licence_invalid"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"licence refused ({reason}): {message}")
        self.reason = reason


class FeatureNotLicensed(Forbidden):
    code = "feature_not_licensed"


class LicenceReadOnly(Forbidden):
    code = "licence_read_only"


class LicenceBlocked(Forbidden):
    code = "licence_blocked"


class LicenceState(enum.StrEnum):
    VALID = "valid"
    GRACE = "grace"
    READ_ONLY = "read_only"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Licence:
    """A verified licence's payload."""

    id: UUID
    tenant_id: UUID
    tenant_slug: str
    app: str
    plan: str
    seats: int | None
    features: tuple[str, ...]
    limits: dict[str, int]
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    grace_days: int
    issuer: str
    kid: str = ""

    @property
    def grace_until(self) -> datetime:
        return self.valid_until + timedelta(days=self.grace_days)


@dataclass(frozen=True, slots=True)
class Entitlement:
    """The snapshot of one tenant's licence for one app, as the request path reads it."""

    licence_id: UUID
    plan: str
    seats: int | None
    features: frozenset[str]
    limits: dict[str, int]
    valid_from: datetime
    valid_until: datetime
    grace_until: datetime
    read_only_until: datetime
    revoked: bool = False

    def state(self, now: datetime) -> LicenceState:
        if self.revoked or now < self.valid_from or now > self.read_only_until:
            return LicenceState.BLOCKED
        if now <= self.valid_until:
            return LicenceState.VALID
        if now <= self.grace_until:
            return LicenceState.GRACE
        return LicenceState.READ_ONLY

    def admit(self, method: str, now: datetime) -> LicenceState:
        """The state, or the refusal a request with `method` gets in it."""
        state = self.state(now)
        if state is LicenceState.BLOCKED:
            raise LicenceBlocked("this app's licence is no longer valid for this tenant")
        if state is LicenceState.READ_ONLY and method.upper() not in SAFE_METHODS:
            raise LicenceReadOnly("this app's licence has expired: its data is read-only")
        return state

    def as_context(self, now: datetime) -> dict[str, Any]:
        return {
            "licence_id": str(self.licence_id),
            "plan": self.plan,
            "seats": self.seats,
            "features": sorted(self.features),
            "limits": self.limits,
            "valid_until": self.valid_until.isoformat(),
            "grace_until": self.grace_until.isoformat(),
            "read_only_until": self.read_only_until.isoformat(),
            "state": self.state(now).value,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Entitlement:
        return cls(
            licence_id=row["licence_id"],
            plan=row["plan"],
            seats=row["seats"],
            features=frozenset(row["features"]),
            limits=dict(row["limits"]),
            valid_from=_instant(row["valid_from"]),
            valid_until=_instant(row["valid_until"]),
            grace_until=_instant(row["grace_until"]),
            read_only_until=_instant(row["read_only_until"]),
            revoked=row["state"] == "revoked",
        )


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class StoredLicence:
    licence: Licence
    status: str
    source: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoked_reason: str | None = None
    document: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class SeatUsage:
    tenant: str
    app: str
    plan: str
    seats: int | None
    active_users: int
    open_invitations: int
    state: str

    @property
    def used(self) -> int:
        return self.active_users + self.open_invitations


@dataclass(frozen=True, slots=True)
class LicenceKey:
    kid: str
    public_key: bytes
    created_at: datetime
    retired_at: datetime | None

    @property
    def active(self) -> bool:
        return self.retired_at is None
