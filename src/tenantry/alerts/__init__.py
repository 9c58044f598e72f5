"""Alerts: rules over security events that tell administrators about probing and abuse."""
