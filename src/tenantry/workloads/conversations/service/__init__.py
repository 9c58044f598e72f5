"""The conversations' use cases. Each runs in the transaction its route was given (the caller's
signed context), reads and writes through the repositories and answers response models."""
