"""What a raised budget alert tells the tenant's administrators: a mail each and the admin
app's `ai.budget.threshold_crossed` event, in the transaction that raised it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.library.notifications import Notice, notify_tenant_admins_in
from tenantry.workloads.costs.models import BudgetAlert

if TYPE_CHECKING:
    from decimal import Decimal
    from uuid import UUID

    from tenantry.library import Database, Transaction

__all__ = ["EVENT_TYPE", "BudgetAlert", "notice", "tell_administrators"]

# Declared in the admin app's manifest (registry/manifests/admin.json).
EVENT_TYPE = "ai.budget.threshold_crossed"


def notice(alert: BudgetAlert) -> Notice:
    month = alert.period.strftime("%B %Y")
    share = f"{alert.spent_usd * 100 / alert.budget_usd:.1f} %" if alert.budget_usd else "all"
    severity = "critical" if alert.threshold_percent >= 100 else "warning"  # noqa: PLR2004 - the whole budget
    subject = (
        f"[{severity}] AI spending reached {alert.threshold_percent} % of the budget for {month}"
    )
    body = (
        f"AI spending for {month} has reached {share} of the monthly budget: "
        f"{_usd(alert.spent_usd)} of {_usd(alert.budget_usd)} "
        f"(alert threshold {alert.threshold_percent} %).\n\n"
        "Spending is not stopped. See the AI costs page of the admin console for where it "
        "went, or ask your operator to change the budget (setting ai_monthly_budget_usd).\n\n"
        f"Alert {alert.id}."
    )
    payload = {
        "alert_id": str(alert.id),
        "period": alert.period.strftime("%Y-%m"),
        "threshold_percent": alert.threshold_percent,
        "spent_usd": str(alert.spent_usd),
        "budget_usd": str(alert.budget_usd),
    }
    return Notice(subject, body, EVENT_TYPE, payload, key=f"ai-budget:{payload['period']}")


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


async def tell_administrators(
    db: Database, tx: Transaction, tenant_id: UUID, alert: BudgetAlert
) -> None:
    await notify_tenant_admins_in(db, tx, tenant_id, notice(alert))
