"""knowledge of the AI workloads."""
