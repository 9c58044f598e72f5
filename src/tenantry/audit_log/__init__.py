"""The tenant audit log: who did what to which object, hash-chained per tenant."""
