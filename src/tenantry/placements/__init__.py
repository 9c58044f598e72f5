"""Where tenants live: portable tenant archives (export and import)."""
