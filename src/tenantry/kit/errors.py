"""Domain exceptions. Each carries a stable code; the HTTP layer maps them to problem+json."""

from __future__ import annotations


class TenantryError(Exception):
    code = "tenantry_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(TenantryError):
    code = "not_found"
    status = 404


class InvalidInput(TenantryError):
    code = "invalid_input"
    status = 422


class Conflict(TenantryError):
    code = "conflict"
    status = 409


class DatabaseUnavailable(TenantryError):
    code = "database_unavailable"
    status = 503


class ConfigurationError(TenantryError):
    code = "configuration_error"
    status = 500
