"""Secrets: AES-256-GCM envelope encryption per tenant, versioned values and an access log."""
