"""AI costs: cost events recorded by the apps' integrations, daily summaries and monthly totals
rolled up by the database as events arrive, budgets (the tenant setting `ai_monthly_budget_usd`)
with thresholds whose alerts are raised once per month, and the operators' AI cost page.
See docs/costs.md."""
