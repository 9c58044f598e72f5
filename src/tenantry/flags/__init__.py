"""Feature flags: a global catalog, per-tenant and per-app overrides, rollouts and versions."""
