"""Security events: every cross-tenant or cross-app attempt, token misuse and lockout."""
