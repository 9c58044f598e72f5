"""The conversations' routes, one module per resource (gathered by `conversations.http`)."""
