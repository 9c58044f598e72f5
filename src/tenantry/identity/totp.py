"""TOTP (RFC 6238) verification that accepts each code once.

A verifier must not accept the same one-time password twice (RFC 6238 §5.2): the caller stores
the time step a code matched and accepts only later steps (see `repository.users.use_totp_step`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pyotp

STEP_SECONDS = 30
# One step either side absorbs clock drift between the server and the authenticator.
WINDOW = 1


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals `code`, searched newest first; None if none does."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    candidate = code.strip().replace(" ", "")
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current + WINDOW, current - WINDOW - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), candidate):
            return step
    return None


def recovery_hash(code: str) -> bytes:
    """How a recovery code is stored: typed with or without its dash, in any case."""
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).digest()
