"""Licences: Ed25519-signed documents per tenant and app, and the entitlements they grant,
enforced at request time."""
