"""Password hashing (argon2id) and policy."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn import zxcvbn

from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable", resists an offline slow-hash attack

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the account does not exist, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("tenantry-timing-equaliser-password")


def check_policy(password: str, context: Iterable[str]) -> None:
    """Reject short, common and context-derived passwords (email, names, tenant, app)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters")
    words = [w for item in context for w in _context_words(item)]
    result = zxcvbn(password[:100], user_inputs=words)
    if result["score"] < MIN_SCORE:
        hint = result["feedback"]["warning"] or "it is too easy to guess"
        raise InvalidInput(f"password rejected: {hint}")


def _context_words(item: str) -> list[str]:
    parts = [item, *item.replace("@", " ").replace(".", " ").replace("-", " ").split()]
    return [p.lower() for p in parts if len(p) >= 3]  # noqa: PLR2004 - shorter parts match too much


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(valid, new hash when the parameters changed and the hash should be replaced)."""
    if stored is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_hasher.verify_and_update, password, stored)
