"""Invitations into an app with roles, user deactivation, and one person in several tenants."""
