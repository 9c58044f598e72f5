"""The apps catalog and which apps each tenant has enabled."""
