"""Every SQL statement of the conversations, one module per table: plain async functions taking
the caller's `Transaction` (row-level security keeps it in the caller's tenant and app; the
statements name the tenant and app too, so each one walks the index it was written for)."""
