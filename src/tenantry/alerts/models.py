"""The alert rules and an alert as the API and the admin pages read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class Rule:
    """`threshold` events of one of `kinds` from one source within one `window_seconds` window
    (fixed windows) raise one alert. `probing`: the rule points at cross-tenant probing, so the
    platform operators get a copy."""

    key: str
    title: str
    kinds: frozenset[str]
    threshold: int
    window_seconds: int
    severity: str
    probing: bool


RULES: tuple[Rule, ...] = (
    Rule(
        "cross_scope_probing",
        "Repeated attempts to use a credential in another tenant or app",
        frozenset({"app_mismatch", "tenant_mismatch"}),
        threshold=5,
        window_seconds=600,
        severity="critical",
        probing=True,
    ),
    Rule(
        "refresh_token_reuse",
        "A refresh token was used twice (a stolen token is likely)",
        frozenset({"refresh_token_reuse"}),
        threshold=1,
        window_seconds=3600,
        severity="critical",
        probing=False,
    ),
    Rule(
        "invalid_token_burst",
        "Many invalid or forged tokens from one address",
        frozenset({"invalid_token"}),
        threshold=20,
        window_seconds=300,
        severity="warning",
        probing=True,
    ),
    Rule(
        "impersonation_started",
        "An administrator started impersonating a user",
        frozenset({"impersonation_started"}),
        threshold=1,
        window_seconds=60,
        severity="info",
        probing=False,
    ),
)
RULES_BY_KEY = {rule.key: rule for rule in RULES}
STATUSES = ("open", "acknowledged", "resolved")


def rules_for(kind: str) -> list[Rule]:
    return [rule for rule in RULES if kind in rule.kinds]


@dataclass(frozen=True, slots=True)
class Alert:
    id: UUID
    tenant_id: UUID
    tenant_slug: str
    rule: str
    source: str
    window_start: datetime
    occurrences: int
    threshold: int
    severity: str
    last_kind: str
    first_event_at: datetime
    last_event_at: datetime
    raised_at: datetime
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None

    @property
    def title(self) -> str:
        rule = RULES_BY_KEY.get(self.rule)
        return rule.title if rule else self.rule
