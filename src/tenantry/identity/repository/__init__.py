"""Every SQL statement of the identity feature, one module per aggregate: plain functions that
take a `Transaction` (or, for one-message reads, the `Database`).

Tenant transactions are confined by row-level security to the context's tenant and app; the
explicit filters keep plans tight. `throttle`, `keys`, the outbox delivery and cross-app reads
run on the platform path.
"""
