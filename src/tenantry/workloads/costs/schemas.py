"""The costs API's request and response bodies."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from tenantry.workloads.costs.models import (
    MAX_THRESHOLDS,
    BudgetAlert,
    BudgetStatus,
    CostEvent,
    NewCostEvent,
    Recorded,
    Summary,
    Usage,
)

MAX_BATCH = 1000
MAX_METADATA_BYTES = 4096
SERVICE_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    # The table's CHECK, said before the database has to.
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise ValueError(f"at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


Service = Annotated[
    str, Field(pattern=SERVICE_PATTERN, description="What was used, e.g. llm, embedding, speech.")
]
Tokens = Annotated[int, Field(ge=0, le=10**12)]
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded)]


class CostEventIn(BaseModel):
    """One priced use of a model or service, as the app's integration reports it."""

    model_config = ConfigDict(extra="forbid")
    service: Service
    cost_usd: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=9)]
    occurred_at: Annotated[
        AwareDatetime | None,
        Field(description="When it happened (at most 400 days ago); now when left out."),
    ] = None
    model: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    units: Annotated[
        Decimal,
        Field(ge=0, max_digits=20, decimal_places=6, description="Other usage, e.g. seconds."),
    ] = Decimal(0)
    unit: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None
    app_user_id: Annotated[
        UUID | None, Field(description="The app's user the cost is attributed to.")
    ] = None
    idempotency_key: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="Unique per app: a retried record with the same key counts once.",
        ),
    ] = None
    metadata: Metadata = Field(default_factory=dict)

    def new(self) -> NewCostEvent:
        return NewCostEvent(**self.model_dump())


class CostEventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: Annotated[list[CostEventIn], Field(min_length=1, max_length=MAX_BATCH)]


class CostEventOut(BaseModel):
    id: UUID
    occurred_at: datetime
    recorded_at: datetime
    service: str
    model: str | None
    input_tokens: int
    output_tokens: int
    units: Decimal
    unit: str | None
    cost_usd: Decimal
    app_user_id: UUID | None
    idempotency_key: str | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, event: CostEvent) -> CostEventOut:
        return cls.model_validate(event, from_attributes=True)


class RecordedOut(CostEventOut):
    # True: the idempotency key was recorded before; this is that event, counted once.
    replayed: bool

    @classmethod
    def of_recorded(cls, recorded: Recorded) -> RecordedOut:
        return cls(**CostEventOut.of(recorded.event).model_dump(), replayed=recorded.replayed)


class BatchOut(BaseModel):
    recorded: int
    replayed: int
    # In the order of the request's events.
    ids: list[UUID]


class CostEventPage(BaseModel):
    items: list[CostEventOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: UUID | None


class UsageOut(BaseModel):
    events: int
    input_tokens: int
    output_tokens: int
    units: Decimal
    cost_usd: Decimal

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        return cls.model_validate(usage, from_attributes=True)


class SummaryRowOut(UsageOut):
    period: date
    app: str | None
    service: str | None


class SummaryOut(BaseModel):
    granularity: Literal["day", "week", "month"]
    since: date
    until: date
    group: str
    currency: Literal["USD"] = "USD"
    rows: list[SummaryRowOut]
    total: UsageOut

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        return cls(
            granularity=summary.range.granularity,
            since=summary.range.since,
            until=summary.range.until,
            group=summary.group,
            rows=[
                SummaryRowOut(
                    period=row.period,
                    app=row.app,
                    service=row.service,
                    **UsageOut.of(row.usage).model_dump(),
                )
                for row in summary.rows
            ],
            total=UsageOut.of(summary.total),
        )


class BudgetAlertOut(BaseModel):
    id: UUID
    period: date
    threshold_percent: int
    spent_usd: Decimal
    budget_usd: Decimal
    raised_at: datetime

    @classmethod
    def of(cls, alert: BudgetAlert) -> BudgetAlertOut:
        return cls.model_validate(alert, from_attributes=True)


class ThresholdOut(BaseModel):
    percent: int
    reached: bool
    alert: BudgetAlertOut | None


class BudgetOut(BaseModel):
    period: Annotated[str, Field(description="The month, YYYY-MM (UTC).")]
    budget_usd: Annotated[Decimal | None, Field(description="Null: the tenant has no budget.")]
    spent_usd: Decimal
    events: int
    percent: Decimal | None
    thresholds: list[ThresholdOut]

    @classmethod
    def of(cls, status: BudgetStatus) -> BudgetOut:
        return cls(
            period=status.period.strftime("%Y-%m"),
            budget_usd=status.budget_usd,
            spent_usd=status.spent_usd,
            events=status.events,
            percent=status.percent,
            thresholds=[
                ThresholdOut(
                    percent=state.percent,
                    reached=state.reached,
                    alert=BudgetAlertOut.of(state.alert) if state.alert else None,
                )
                for state in status.states()
            ],
        )


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percents: Annotated[
        list[Annotated[int, Field(ge=1, le=1000)]],
        Field(min_length=1, max_length=MAX_THRESHOLDS),
    ]
