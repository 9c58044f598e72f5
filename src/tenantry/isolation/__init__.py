"""The isolation engine: roles, the policy generator and the database auditor."""
