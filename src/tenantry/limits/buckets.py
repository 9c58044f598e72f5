"""Token buckets: the math, an in-process store, and a Redis store shared by every process.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; a request takes one
token from every bucket it counts against (its tenant's, its API token's), and only if each has
one, so a refused request costs no bucket anything. The Redis store runs the same math in one
Lua script (atomic, on Redis's own clock, so workers on several machines agree); when Redis does
not answer, requests are limited in-process until it does (each process then allows the full
rate on its own), and never refused for want of Redis.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger("tenantry.limits")
# In-process buckets kept at most (least recently used dropped first: a dropped bucket comes
# back full, which only ever errs towards allowing).
LOCAL_BUCKETS = 100_000
# After a failure, Redis is tried again this much later (requests meanwhile limit in-process,
# without paying a connection attempt each).
REDIS_RETRY_SECONDS = 5.0
REDIS_SOCKET_TIMEOUT = 0.25


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens a second
    burst: int  # the bucket's size


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float  # when `tokens` was counted


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # The bucket that binds: the one that refused, else the one with the fewest tokens left.
    binding: int
    limit: int  # its burst
    remaining: int  # whole tokens left in it
    retry_after: float  # seconds until it holds a token again (0 when allowed)
    reset: float  # seconds until it is full again


def level(bucket: Bucket | None, limit: Limit, now: float) -> float:
    """Tokens in `bucket` at `now`; a bucket never seen is full."""
    if bucket is None:
        return float(limit.burst)
    return min(float(limit.burst), bucket.tokens + max(0.0, now - bucket.at) * limit.rate)


def take(
    buckets: Sequence[Bucket | None], limits: Sequence[Limit], now: float
) -> tuple[Decision, list[Bucket]]:
    """Take one token from every bucket if each holds one, else from none; the decision and the
    buckets' new states."""
    levels = [level(b, lim, now) for b, lim in zip(buckets, limits, strict=True)]
    allowed = all(tokens >= 1 for tokens in levels)
    after = [tokens - 1 for tokens in levels] if allowed else levels
    if allowed:
        binding = min(range(len(after)), key=lambda i: after[i] / limits[i].burst)
    else:
        binding = max(range(len(levels)), key=lambda i: (1 - levels[i]) / limits[i].rate)
    lim, tokens = limits[binding], after[binding]
    decision = Decision(
        allowed=allowed,
        binding=binding,
        limit=lim.burst,
        remaining=max(0, math.floor(tokens)),
        retry_after=0.0 if allowed else (1 - tokens) / lim.rate,
        reset=(lim.burst - tokens) / lim.rate,
    )
    return decision, [Bucket(tokens, now) for tokens in after]


class BucketStore(Protocol):
    async def take(self, keys: Sequence[str], limits: Sequence[Limit]) -> Decision: ...


class LocalBuckets:
    """Buckets in this process's memory."""

    def __init__(
        self, max_buckets: int = LOCAL_BUCKETS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._max = max_buckets
        self._clock = clock

    async def take(self, keys: Sequence[str], limits: Sequence[Limit]) -> Decision:
        return self.take_now(keys, limits)

    def take_now(self, keys: Sequence[str], limits: Sequence[Limit]) -> Decision:
        decision, states = take([self._buckets.get(k) for k in keys], limits, self._clock())
        for key, state in zip(keys, states, strict=True):
            self._buckets[key] = state
            self._buckets.move_to_end(key)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return decision


# KEYS: the buckets; ARGV: rate and burst of each, in the same order. Returns the decision as
# strings (Redis truncates Lua numbers to integers). Time is Redis's own.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS
local levels, rates, bursts = {}, {}, {}
local allowed = 1
for i = 1, n do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = burst
  if state[1] then
    tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
  end
  levels[i], rates[i], bursts[i] = tokens, rate, burst
  if tokens < 1 then allowed = 0 end
end
local binding, worst = 1, nil
for i = 1, n do
  local score
  if allowed == 1 then
    levels[i] = levels[i] - 1
    score = -levels[i] / bursts[i]
  else
    score = (1 - levels[i]) / rates[i]
  end
  if worst == nil or score > worst then binding, worst = i, score end
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i]), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((bursts[i] / rates[i] + 1) * 1000))
end
local tokens, rate, burst = levels[binding], rates[binding], bursts[binding]
local retry = 0
if allowed == 0 then retry = (1 - tokens) / rate end
return {allowed, binding - 1, tostring(burst), tostring(math.max(0, math.floor(tokens))),
        tostring(retry), tostring((burst - tokens) / rate)}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every process that uses the same URL and prefix; limits
    in-process (`fallback`) while Redis does not answer."""

    def __init__(
        self,
        url: str,
        prefix: str,
        fallback: LocalBuckets,
        *,
        on_fallback: Callable[[], None] | None = None,
        retry_seconds: float = REDIS_RETRY_SECONDS,
        timeout_seconds: float = REDIS_SOCKET_TIMEOUT,
    ) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - optional backend
        from redis.asyncio.retry import Retry  # noqa: PLC0415 - optional backend
        from redis.backoff import NoBackoff  # noqa: PLC0415 - optional backend

        # No retries: a request waits at most one short timeout before limiting in-process.
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
        )
        self._script: Any = self._redis.register_script(TAKE_SCRIPT)
        self._prefix = prefix
        self._fallback = fallback
        self._on_fallback = on_fallback
        self._retry_seconds = retry_seconds
        self._retry_at = 0.0
        self._failing = False

    @property
    def failing(self) -> bool:
        """Whether the last attempt found Redis unreachable."""
        return self._failing

    async def take(self, keys: Sequence[str], limits: Sequence[Limit]) -> Decision:
        from redis.exceptions import RedisError  # noqa: PLC0415 - optional backend

        if self._failing and time.monotonic() < self._retry_at:
            return self._local(keys, limits)
        args = [v for lim in limits for v in (lim.rate, lim.burst)]
        try:
            raw = await self._script(keys=[f"{self._prefix}:{k}" for k in keys], args=args)
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning(
                    "rate limits: Redis unreachable, limiting in each process until it answers",
                    extra={"error": type(exc).__name__},
                )
            self._failing = True
            self._retry_at = time.monotonic() + self._retry_seconds
            return self._local(keys, limits)
        if self._failing:
            log.warning("rate limits: Redis answers again; limits are shared once more")
            self._failing = False
        return Decision(
            allowed=int(raw[0]) == 1,
            binding=int(raw[1]),
            limit=int(float(raw[2])),
            remaining=int(float(raw[3])),
            retry_after=float(raw[4]),
            reset=float(raw[5]),
        )

    def _local(self, keys: Sequence[str], limits: Sequence[Limit]) -> Decision:
        if self._on_fallback is not None:
            self._on_fallback()
        return self._fallback.take_now(keys, limits)

    async def close(self) -> None:
        await self._redis.aclose()
