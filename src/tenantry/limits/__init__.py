"""Per-tenant fair share: rate limits per tenant and API token, the runtime pool's share and
statement timeouts, each with quotas per plan (docs/operations.md)."""
