"""Concurrency slots per upstream shared by every replica: ``max_concurrency = 4`` on a
provider means 4 calls in flight to it across all gateways on one Redis, not 4 each.

A slot is a lease in a sorted set (lease id -> expiry): taking one is one Lua script call
(free the expired leases, count, add), so a replica that dies holding slots gives them back
when their leases expire. A call that finds no free slot asks again every ``POLL`` seconds
(its total deadline bounds the wait). Giving a slot back is sent without waiting for its
answer: the router releases slots synchronously. While Redis cannot be reached, each process
keeps the limit on its own (an ``asyncio.Semaphore``), logged.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable
from types import TracebackType

from ...routing.limits import Slots
from .connection import REDIS_ERRORS, Batcher, Outage

__all__ = ["SLOT_LUA", "RedisSlots", "shared_slots"]

#: A Lua function the scripts that hand out leases share (per-key concurrency too).
SLOT_LUA = """
local function take_slot(key, limit, lease, seconds, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= limit then return false end
  redis.call('ZADD', key, now + seconds, lease)
  redis.call('EXPIREAT', key, math.ceil(now + seconds))
  return true
end
"""

# KEYS: the provider's leases. ARGV: limit, lease id, lease seconds. Returns 1 when taken.
_TAKE = (
    SLOT_LUA
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if take_slot(KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), now) then return 1 end
return 0
"""
)

# KEYS: the provider's leases. ARGV: the lease id.
_GIVE_BACK = "redis.call('ZREM', KEYS[1], ARGV[1]) return 0"

#: Seconds between two tries for a slot (with up to as much again at random, so waiting
#: replicas do not ask in step).
POLL = 0.02


class RedisSlots:
    """One provider's slots (``Slots``: what the router's semaphores offer)."""

    def __init__(
        self, batcher: Batcher, key: str, limit: int, *, lease_seconds: float, outage: Outage
    ) -> None:
        self._key = key
        self._limit = limit
        self._lease_seconds = lease_seconds
        self._take = batcher.script(_TAKE)
        self._give_back = batcher.script(_GIVE_BACK)
        self._outage = outage
        self._local = asyncio.Semaphore(limit)  # while Redis is away
        self._held: list[str | None] = []  # lease ids this process holds (None: local)

    async def acquire(self) -> bool:
        lease = secrets.token_hex(8)
        while True:
            try:
                taken = await self._take(
                    keys=[self._key], args=[], varying=[self._limit, lease, self._lease_seconds]
                )
            except REDIS_ERRORS as exc:
                self._outage.failed("upstream slots", exc, "limiting each process on its own")
                await self._local.acquire()
                self._held.append(None)
                return True
            self._outage.ok()
            if int(taken):
                self._held.append(lease)
                return True
            await asyncio.sleep(POLL * (1 + random.random()))

    def release(self) -> None:
        lease = self._held.pop() if self._held else None
        if lease is None:
            self._local.release()
            return
        self._give_back.send(keys=[self._key], args=[], varying=[lease], failed=self._not_given)

    def _not_given(self, exc: BaseException) -> None:  # the lease expires on its own
        self._outage.failed("upstream slots", exc, "a slot is given back when it expires")

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def shared_slots(
    batcher: Batcher, *, prefix: str, lease_seconds: float
) -> Callable[[str, int], Slots]:
    """``ConcurrencyLimits(semaphore=...)``: each provider's slots in Redis."""
    outage = Outage()

    def make(provider: str, limit: int) -> Slots:
        key = f"{prefix}slots:{provider}"
        return RedisSlots(batcher, key, limit, lease_seconds=lease_seconds, outage=outage)

    return make
