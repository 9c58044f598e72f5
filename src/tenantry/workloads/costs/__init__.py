"""costs of the AI workloads."""
