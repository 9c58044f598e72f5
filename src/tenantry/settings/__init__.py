"""Typed tenant settings with per-plan defaults and a change history."""
