"""The tenant context in one call: user, tenant, settings, enabled apps and effective flags.

Loaded by one SQL statement (one round trip, as the runtime role in the caller's signed
context), cached per tenant, app and user, and dropped when any write that affects the tenant
commits (see `tenantry.kit.invalidation`). Deprecated flags that a tenant still evaluates are
counted, so operators know who depends on them.
"""
