"""The AI cost page's charts as SVG geometry, computed here so that the template only draws.

The admin UI allows no inline script or style: bars are SVG rectangles placed with attributes,
coloured by the `series-N` classes of the admin stylesheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from tenantry.workloads.costs.models import Usage

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

    from tenantry.workloads.costs.models import SummaryRow

# Colours in the stylesheet; the smallest series beyond them are drawn as one "other".
COLOURS = 8
WIDTH = 720
HEIGHT = 180
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    series: list[Series]
    peak: Decimal
    first: str
    last: str


def daily_by_series(rows: Sequence[SummaryRow], since: date, until: date) -> Chart:
    """One stacked column per day, a segment per app and service (largest series first)."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[_name(row)] = totals.get(_name(row), ZERO) + row.usage.cost_usd
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    kept = ranked[: COLOURS - 1] if len(ranked) > COLOURS else ranked
    css = {name: f"series-{i}" for i, name in enumerate(kept)}
    other = f"series-{COLOURS - 1}"
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    cells: dict[tuple[date, str], Decimal] = {}
    for row in rows:
        key = (row.period, _name(row) if _name(row) in css else "other")
        cells[key] = cells.get(key, ZERO) + row.usage.cost_usd
    per_day = {d: sum((v for (day, _), v in cells.items() if day == d), ZERO) for d in days}
    peak = max(per_day.values(), default=ZERO)
    step = WIDTH / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        base = float(HEIGHT)
        for name in [*kept, "other"]:
            value = cells.get((day, name), ZERO)
            if not value:
                continue
            height = _scaled(value, peak)
            base -= height
            bars.append(
                Bar(
                    x=round(i * step + 1, 1),
                    y=round(base, 1),
                    width=round(step - 2, 1),
                    height=round(height, 1),
                    css=css.get(name, other),
                    title=f"{day.isoformat()} {name}: {_usd(value)}",
                )
            )
    series = [Series(name, css[name], totals[name]) for name in kept]
    if len(ranked) > len(kept):
        rest = sum((totals[name] for name in ranked[len(kept) :]), ZERO)
        series.append(Series("other", other, rest))
    return Chart(WIDTH, HEIGHT, bars, series, peak, days[0].isoformat(), days[-1].isoformat())


def monthly(totals: Sequence[tuple[date, Decimal]], months: Sequence[date]) -> Chart:
    """One column per month."""
    by_month = dict(totals)
    peak = max(by_month.values(), default=ZERO)
    step = WIDTH / max(len(months), 1)
    bars = [
        Bar(
            x=round(i * step + 4, 1),
            y=round(HEIGHT - _scaled(by_month[month], peak), 1),
            width=round(step - 8, 1),
            height=round(_scaled(by_month[month], peak), 1),
            css="series-0",
            title=f"{month.strftime('%Y-%m')}: {_usd(by_month[month])}",
        )
        for i, month in enumerate(months)
        if by_month.get(month)
    ]
    first = months[0].strftime("%Y-%m") if months else ""
    last = months[-1].strftime("%Y-%m") if months else ""
    return Chart(WIDTH, HEIGHT, bars, [], peak, first, last)


@dataclass(frozen=True, slots=True)
class Line:
    app: str | None
    service: str | None
    usage: Usage


def breakdown(rows: Sequence[SummaryRow]) -> list[Line]:
    """Rows of many days added up per app and service, the costliest first."""
    added: dict[tuple[str | None, str | None], Usage] = {}
    for row in rows:
        key = (row.app, row.service)
        was = added.get(key, Usage(0, 0, 0, ZERO, ZERO))
        added[key] = Usage(
            was.events + row.usage.events,
            was.input_tokens + row.usage.input_tokens,
            was.output_tokens + row.usage.output_tokens,
            was.units + row.usage.units,
            was.cost_usd + row.usage.cost_usd,
        )
    ranked = sorted(added.items(), key=lambda item: (-item[1].cost_usd, str(item[0])))
    return [Line(app, service, usage) for (app, service), usage in ranked]


def _scaled(value: Decimal, peak: Decimal) -> float:
    # At least a pixel: a day that cost something never looks like one that cost nothing.
    return max(1.0, float(value / peak) * HEIGHT) if peak else 0.0


def _name(row: SummaryRow) -> str:
    return f"{row.app} · {row.service}"


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}" if amount >= 1 or not amount else f"${amount:,.4f}"
