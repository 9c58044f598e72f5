"""Who made a change, as every audit trail records it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """A principal (`Principal.actor`) or an operator at the terminal (`Actor.operator`).
    `on_behalf_of` names the user an impersonating administrator or a delegate acts for, so a
    trail always shows both."""

    kind: str
    name: str
    on_behalf_of: str | None = None

    @classmethod
    def operator(cls, login: str) -> Actor:
        return cls("cli", login)

    def __str__(self) -> str:
        label = f"{self.kind}:{self.name}"
        return f"{label} for {self.on_behalf_of}" if self.on_behalf_of else label
