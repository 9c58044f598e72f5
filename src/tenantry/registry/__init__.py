"""The app registry: versioned, JSON-Schema-validated app manifests, each tenant's apps
(enabled, pinned version, configuration with history) and the gateway's routes."""
