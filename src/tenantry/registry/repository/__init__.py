"""Every SQL statement of the app registry: the catalog (versions, routes) and tenants\x27 apps."""
