"""SQL of placements: copying a tenant's rows, the registry, residency and the move journal."""
