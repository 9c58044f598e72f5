"""Per-tenant statement timings: written by the service, read by `tenantry doctor --tenant`."""
