"""Webhooks: a tenant's endpoints, signed deliveries (Standard Webhooks) and their health."""
