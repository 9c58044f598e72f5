"""Every SQL statement of the events feature, one module per aggregate."""
