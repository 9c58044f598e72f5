"""Shared plumbing: configuration, ids, errors, signed context and database access."""
