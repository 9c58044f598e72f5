"""What each plan may use: request rates (token buckets) and a statement timeout.

The built-in quotas below are defaults; `plan_quotas` in the settings overrides them per plan
and per field. A plan without an entry of its own (built in or configured) gets `default`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_PLAN = "default"


class PlanQuota(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # A tenant's requests, all credentials together: sustained rate and burst.
    requests_per_second: float = Field(gt=0, le=1_000_000)
    burst: int = Field(ge=1, le=10_000_000)
    # One API token's requests (within the tenant's).
    token_requests_per_second: float = Field(gt=0, le=1_000_000)
    token_burst: int = Field(ge=1, le=10_000_000)
    # Statements of the tenant's transactions are cancelled past this; None: no limit.
    statement_timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)

    @property
    def statement_timeout_ms(self) -> int | None:
        seconds = self.statement_timeout_seconds
        return None if seconds is None else max(1, round(seconds * 1000))


BUILT_IN: dict[str, PlanQuota] = {
    DEFAULT_PLAN: PlanQuota(
        requests_per_second=50,
        burst=100,
        token_requests_per_second=25,
        token_burst=50,
        statement_timeout_seconds=30,
    ),
    "free": PlanQuota(
        requests_per_second=20,
        burst=40,
        token_requests_per_second=10,
        token_burst=20,
        statement_timeout_seconds=10,
    ),
    "business": PlanQuota(
        requests_per_second=100,
        burst=200,
        token_requests_per_second=50,
        token_burst=100,
        statement_timeout_seconds=30,
    ),
    "enterprise": PlanQuota(
        requests_per_second=500,
        burst=1000,
        token_requests_per_second=250,
        token_burst=500,
        statement_timeout_seconds=60,
    ),
    # The operators' own tenants: generous, and no statement timeout.
    "internal": PlanQuota(
        requests_per_second=1000,
        burst=2000,
        token_requests_per_second=1000,
        token_burst=2000,
    ),
}


class Quotas:
    """The quota of each plan: the built-in one with the configured fields over it."""

    def __init__(self, configured: Mapping[str, Mapping[str, float | None]]) -> None:
        self._plans = dict(BUILT_IN)
        # `default` first: the plans configured without a built-in quota start from it.
        for plan in sorted(configured, key=lambda name: name != DEFAULT_PLAN):
            fields = configured[plan]
            base = self._plans.get(plan, self._plans[DEFAULT_PLAN])
            try:
                self._plans[plan] = PlanQuota.model_validate({**base.model_dump(), **fields})
            except ValidationError as exc:
                reasons = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise ConfigurationError(f"plan_quotas.{plan}: {reasons}") from exc

    def for_plan(self, plan: str) -> PlanQuota:
        return self._plans.get(plan) or self._plans[DEFAULT_PLAN]

    @property
    def plans(self) -> dict[str, PlanQuota]:
        return dict(self._plans)
