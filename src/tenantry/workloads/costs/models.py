"""What the costs area reads and writes: cost events, summaries, budget status and alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from tenantry.library import InvalidInput

if TYPE_CHECKING:
    from uuid import UUID

Granularity = Literal["day", "week", "month"]
# Percentages of the monthly budget that raise an alert when a tenant stores none of its own.
DEFAULT_THRESHOLDS = (80, 100)
MAX_THRESHOLDS = 10
# How far back an event may be recorded (late usage reports), and ahead (clock skew).
MAX_AGE = timedelta(days=400)
MAX_SKEW = timedelta(minutes=5)
# The widest range one summary request may ask for, per granularity.
MAX_SPAN_DAYS: dict[str, int] = {"day": 366, "week": 731, "month": 1827}
# What a summary covers when the caller does not say: the last 30 days, 12 weeks or 12 months.
DEFAULT_PERIODS: dict[str, int] = {"day": 30, "week": 12, "month": 12}
# The days a summary may name.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True, slots=True)
class NewCostEvent:
    service: str
    cost_usd: Decimal
    occurred_at: datetime | None = None  # None: when it is recorded
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    units: Decimal = Decimal(0)
    unit: str | None = None
    app_user_id: UUID | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CostEvent:
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


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as a record call answers it; `replayed`: its idempotency key was recorded
    before, and this is that earlier event, counted once."""

    event: CostEvent
    replayed: bool


@dataclass(frozen=True, slots=True)
class Usage:
    events: int
    input_tokens: int
    output_tokens: int
    units: Decimal
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class SummaryRow:
    period: date  # the first day of the day, week (Monday) or month
    app: str | None  # app slug, when grouped by app
    service: str | None  # when grouped by service
    usage: Usage


@dataclass(frozen=True, slots=True)
class Range:
    """Whole days, UTC, both ends included; `since` is the start of its week or month."""

    granularity: Granularity
    since: date
    until: date

    @classmethod
    def of(cls, granularity: Granularity, since: date | None, until: date | None) -> Range:
        for name, day in (("since", since), ("until", until)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise InvalidInput(f"{name}: a day between {EARLIEST} and {LATEST}")
        end = until or datetime.now(UTC).date()
        start = period_start(granularity, since or default_since(granularity, end))
        if start > end:
            raise InvalidInput("since must not be after until")
        if (end - start).days >= MAX_SPAN_DAYS[granularity]:
            raise InvalidInput(
                f"at most {MAX_SPAN_DAYS[granularity]} days at a time by {granularity}"
            )
        return cls(granularity, start, end)


@dataclass(frozen=True, slots=True)
class Summary:
    range: Range
    group: str
    rows: list[SummaryRow]
    total: Usage


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    id: UUID
    period: date
    threshold_percent: int
    spent_usd: Decimal
    budget_usd: Decimal
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class ThresholdState:
    percent: int
    reached: bool
    alert: BudgetAlert | None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    period: date
    budget_usd: Decimal | None  # None: the tenant has no budget
    spent_usd: Decimal
    events: int
    thresholds: tuple[int, ...]
    alerts: list[BudgetAlert]

    def states(self) -> list[ThresholdState]:
        """Each threshold (and any alert raised under an older choice of thresholds), lowest
        first: whether this month's spending reached it, and its alert."""
        raised = {a.threshold_percent: a for a in self.alerts}
        return [
            ThresholdState(p, self.reached(p), raised.get(p))
            for p in sorted({*self.thresholds, *raised})
        ]

    def reached(self, percent: int) -> bool:
        if self.budget_usd is None or self.spent_usd <= 0:
            return False
        return self.spent_usd * 100 >= self.budget_usd * percent

    @property
    def percent(self) -> Decimal | None:
        """Spent as a percentage of the budget; None without a budget (or with a zero one,
        which every spending crosses)."""
        if not self.budget_usd:
            return None
        return (self.spent_usd * 100 / self.budget_usd).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Overview:
    days: Summary
    months: list[date]  # the first day of each of the last 12 months, oldest first
    month_totals: list[tuple[date, Decimal]]
    budget: BudgetStatus
    alerts: list[BudgetAlert]


def month_of(moment: date) -> date:
    return moment.replace(day=1)


def period_start(granularity: Granularity, day: date) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return month_of(day)
    return day


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after (or before) `day`'s."""
    month = day.year * 12 + day.month - 1 + months
    return date(month // 12, month % 12 + 1, 1)


def default_since(granularity: Granularity, until: date) -> date:
    count = DEFAULT_PERIODS[granularity]
    if granularity == "day":
        return until - timedelta(days=count - 1)
    if granularity == "week":
        return until - timedelta(weeks=count - 1)
    return add_months(until, 1 - count)
