"""The settings a tenant can have: each key is typed and validated, with defaults per plan.

Adding a setting means adding a `SettingDefinition` here; values are validated by Pydantic, so a
bad value is refused with the reason before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from tenantry.kit.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class SettingDefinition:
    key: str
    type: Any
    default: Any
    description: str
    plan_defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.type))

    def validate(self, value: Any) -> Any:  # noqa: ANN401 - values are JSON
        adapter: TypeAdapter[Any] = object.__getattribute__(self, "_adapter")
        try:
            return adapter.validate_python(value, strict=False)
        except ValidationError as exc:
            message = "; ".join(e["msg"] for e in exc.errors())
            raise InvalidInput(f"invalid value for {self.key}: {message}") from exc

    def default_for(self, plan: str) -> Any:  # noqa: ANN401 - values are JSON
        return self.plan_defaults.get(plan, self.default)

    def json_schema(self) -> dict[str, Any]:
        adapter: TypeAdapter[Any] = object.__getattribute__(self, "_adapter")
        return adapter.json_schema()


DEFINITIONS: dict[str, SettingDefinition] = {
    d.key: d
    for d in (
        SettingDefinition(
            "display_name",
            Annotated[str, Field(min_length=1, max_length=200)] | None,
            None,
            "Name shown to the tenant's users; the tenant's name when empty.",
        ),
        SettingDefinition(
            "locale",
            Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")],
            "en-US",
            "Default locale for new users.",
        ),
        SettingDefinition(
            "timezone",
            Annotated[str, Field(min_length=1, max_length=64)],
            "UTC",
            "Default time zone (IANA name).",
        ),
        SettingDefinition(
            "max_users",
            Annotated[int, Field(ge=1, le=1_000_000)],
            5,
            "Users allowed across the tenant's apps.",
            {"business": 500, "enterprise": 100_000},
        ),
        SettingDefinition(
            "session_ttl_hours",
            Annotated[int, Field(ge=1, le=24 * 90)],
            24 * 30,
            "How long a session lasts without re-authentication.",
        ),
        SettingDefinition(
            "mfa_required",
            bool,
            False,  # noqa: FBT003 - the default value, not a flag argument
            "Require a second factor for every user.",
            {"enterprise": True},
        ),
        SettingDefinition(
            "data_region",
            Literal["eu", "us", "ap"],
            "eu",
            "Where the tenant's data is kept.",
        ),
        SettingDefinition(
            "impersonation_enabled",
            bool,
            False,  # noqa: FBT003 - the default value, not a flag argument
            "Let tenant and platform administrators impersonate this tenant's users (audited).",
        ),
        SettingDefinition(
            "impersonation_max_minutes",
            Annotated[int, Field(ge=5, le=8 * 60)],
            30,
            "The longest an impersonation may last.",
        ),
        SettingDefinition(
            "ai_monthly_budget_usd",
            Annotated[float, Field(ge=0, le=10_000_000, allow_inf_nan=False)] | None,
            50.0,
            "Monthly AI spending (USD) that budget alerts measure against; null for no budget.",
            {"business": 1000.0, "enterprise": 50_000.0, "internal": None},
        ),
        SettingDefinition(
            "audit_retention_days",
            Annotated[int, Field(ge=1, le=3650)],
            90,
            "How long the tenant's audit log is kept (`tenantry audit prune`).",
            {"business": 365, "enterprise": 2555, "internal": 3650},
        ),
    )
}


def definition(key: str) -> SettingDefinition:
    found = DEFINITIONS.get(key)
    if found is None:
        raise NotFound(f"no setting {key!r}")
    return found


def defaults_for(plan: str) -> dict[str, Any]:
    return {key: d.default_for(plan) for key, d in DEFINITIONS.items()}
