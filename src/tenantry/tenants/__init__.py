"""Tenants: the root of every tenant-scoped row."""
