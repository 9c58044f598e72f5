"""Conversations of the AI workloads: chat sessions and their messages (with streaming-friendly
appends), feedback, meetings, AI personalities, embeddable chat widgets, and each user's AI
preferences and memories. Built on `tenantry.library` alone; see docs/conversations.md.

- `api/`: the routes, one module per resource; `http.router` gathers them.
- `service/`: the use cases, each in the caller's transaction.
- `repository/`: every SQL statement, plain functions taking a `Transaction`.
- `schemas/`: request and response models.
"""
