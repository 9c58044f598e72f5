"""SQL for tenants, one module per aggregate."""
