"""Per-app user identities."""
