"""Access control: privileges, roles, assignments, departments and delegated administration."""
