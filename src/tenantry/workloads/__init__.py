"""Tenantry's AI workloads, built on the public library API (`tenantry.library`) alone.

Chats and messages, meetings, widgets, personalities, preferences, memories and feedback
(`conversations`), knowledge documents with hybrid search (`knowledge`), and cost events, daily
summaries, budgets and alerts (`costs`). Installed as the `workloads` module (the
`tenantry.modules` entry point): its tables live in the `ai` schema.
"""

from pathlib import Path

from tenantry.library import Module

MODULE = Module(name="workloads", migrations=Path(__file__).parent / "migrations")
