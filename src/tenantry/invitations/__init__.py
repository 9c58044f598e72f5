"""Invitations into an app with roles, and tenant administrators' deactivation of users."""
