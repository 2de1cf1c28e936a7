"""Provider health (cooldowns, the circuit breaker) kept in Redis, so a 429 one replica gets
makes every replica skip that upstream for the server's retry-after.

The same rules as ``InMemoryHealthStore`` (routing/health.py) with the same settings, one Lua
script per call, Redis's clock (replicas' clocks may differ). Living here, in the server
package, keeps redis out of the routing layer: the library takes any ``HealthStore``.

Two departures, for fewer Redis calls per request: a success deletes the provider's state
only when this process saw it unhealthy (its own failures, or a ``wait_time`` that found
state, which is how a half-open probe is handed out), so the common case, a healthy
upstream, costs no Redis call for the verdict; and a failure count started on another
replica is therefore reset by the next success seen there, not here. While Redis cannot be
reached, health falls back to this process's own memory (logged; README).
"""

from __future__ import annotations

from ...routing.health import HealthStore, InMemoryHealthStore
from .connection import REDIS_ERRORS, Batcher, Outage

__all__ = ["RedisHealthStore"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: the provider's hash (failures, open_until, probing_since). ARGV: probe timeout.
# Returns {seconds to wait (a string: Lua numbers become integers), 1 if there is state}.
_WAIT = (
    _NOW
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local exists = redis.call('EXISTS', KEYS[1])
if open_until == 0 then return {'0', exists} end
if now < open_until then return {tostring(open_until - now), 1} end
local probing = tonumber(redis.call('HGET', KEYS[1], 'probing_since') or '-1')
local timeout = tonumber(ARGV[1])
if probing >= 0 and now - probing < timeout then
  return {tostring(probing + timeout - now), 1}
end
redis.call('HSET', KEYS[1], 'probing_since', tostring(now))
return {'0', 1}
"""
)

# KEYS: the provider's hash. Returns the seconds it still cools down (a string).
_COOLING = (
    _NOW
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
return tostring(math.max(0, open_until - now))
"""
)

# KEYS: the provider's hash. ARGV: rate limited (1/0), seconds of a rate limit's cooldown,
# failure threshold, cooldown, seconds the state lives without news.
_FAIL = (
    _NOW
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local half_open = redis.call('HDEL', KEYS[1], 'probing_since') == 1
local threshold = tonumber(ARGV[3])
local seconds = nil
if ARGV[1] == '1' then
  seconds = tonumber(ARGV[2])
elseif half_open or (threshold > 0 and failures >= threshold) then
  seconds = tonumber(ARGV[4])
end
if seconds then
  local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
  redis.call('HSET', KEYS[1], 'open_until', tostring(math.max(open_until, now + seconds)))
  seconds = seconds + tonumber(ARGV[5])
else
  seconds = tonumber(ARGV[5])
end
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(seconds, redis.call('TTL', KEYS[1]))))
return 0
"""
)


class RedisHealthStore(HealthStore):
    """Provider health shared by every process using the same Redis and ``prefix``."""

    #: Seconds a provider's state outlives its cooldown without news (then it is closed).
    LINGER = 3600

    def __init__(self, batcher: Batcher, *, prefix: str = "polymux:") -> None:
        self._client = batcher.client
        self._prefix = prefix
        #: Same settings, and where health is kept while Redis is away.
        self.local = InMemoryHealthStore()
        self._wait = batcher.script(_WAIT)
        self._fail = batcher.script(_FAIL)
        self._cooling = batcher.script(_COOLING)
        self._seen: set[str] = set()  # providers this process saw unhealthy
        self._outage = Outage()

    def __repr__(self) -> str:
        return f"<RedisHealthStore prefix={self._prefix!r}>"

    def _key(self, provider: str) -> str:
        return f"{self._prefix}health:{provider}"

    def _failed(self, exc: BaseException) -> None:
        self._outage.failed("provider health", exc, "keeping cooldowns in this process")

    async def wait_time(self, provider: str) -> float:
        try:
            wait, exists = await self._wait(
                keys=[self._key(provider)], args=[self.local.probe_timeout]
            )
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return await self.local.wait_time(provider)
        self._outage.ok()
        if int(exists):
            self._seen.add(provider)
        else:
            self._seen.discard(provider)
        return max(0.0, float(wait))

    async def cooling_for(self, provider: str) -> float:
        try:
            seconds = await self._cooling(keys=[self._key(provider)], args=[])
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return await self.local.cooling_for(provider)
        self._outage.ok()
        return float(seconds)

    async def record_success(self, provider: str) -> None:
        await self.local.record_success(provider)
        if provider not in self._seen:
            return
        try:
            await self._client.delete(self._key(provider))
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return
        self._seen.discard(provider)

    async def record_failure(
        self, provider: str, *, rate_limited: bool = False, retry_after: float | None = None
    ) -> None:
        local = self.local
        seconds = local.cooldown if retry_after is None else min(retry_after, local.max_cooldown)
        self._seen.add(provider)
        try:
            await self._fail(
                keys=[self._key(provider)],
                args=[],
                varying=[
                    int(rate_limited),
                    seconds,
                    local.failure_threshold,
                    local.cooldown,
                    self.LINGER,
                ],
            )
        except REDIS_ERRORS as exc:
            self._failed(exc)
            await local.record_failure(provider, rate_limited=rate_limited, retry_after=retry_after)

    async def release(self, provider: str) -> None:
        await self.local.release(provider)
        if provider not in self._seen:
            return
        try:
            await self._client.hdel(self._key(provider), "probing_since")
        except REDIS_ERRORS as exc:
            self._failed(exc)
