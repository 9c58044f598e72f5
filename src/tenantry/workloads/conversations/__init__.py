"""conversations of the AI workloads."""
