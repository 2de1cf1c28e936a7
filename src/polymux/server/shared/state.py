"""Everything the gateway shares between workers and replicas, built from the config in one
place: Redis when ``[state] redis`` is set, else each piece's in-process implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...routing.health import HealthStore
from ...routing.limits import ConcurrencyLimits, LimitsSpec
from ..config import GatewayConfig
from .cache import MemoryCache, RedisCache, ResponseCache
from .connection import Batcher, Outage, connect
from .counters import Counters, MemoryCounters, RedisCounters
from .enforce import KeyLimiter
from .health import RedisHealthStore
from .slots import shared_slots

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedState", "shared_state"]


@dataclass(slots=True)
class SharedState:
    #: The process's one Redis client (None: nothing shared).
    redis: Redis | None
    #: Its pipelining of script calls, drained before the client closes.
    batcher: Batcher | None
    limiter: KeyLimiter
    #: The response cache, when [cache] is configured.
    cache: ResponseCache | None
    #: For the gateway's AsyncClient: provider health and per-upstream slots.
    health: HealthStore | None
    concurrency: LimitsSpec

    async def aclose(self) -> None:
        if self.batcher is not None:  # settlements still queued are sent first
            await self.batcher.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def shared_state(config: GatewayConfig) -> SharedState:
    redis = connect(config.redis, password_env=config.redis_password_env) if config.redis else None
    batcher = Batcher(redis) if redis is not None else None
    prefix = config.redis_prefix
    counters: Counters = MemoryCounters()
    outage = Outage()  # of the limits: admissions and settlements
    health: HealthStore | None = None
    by_name = {p.name: p.max_concurrency for p in config.providers if p.max_concurrency}
    concurrency: LimitsSpec = by_name or None
    if batcher is not None:
        # A request's slot outlives the longest it may take, then frees itself.
        lease = config.body_timeout + config.upstream_timeout + 60.0
        counters = RedisCounters(batcher, prefix=prefix, lease_seconds=lease, outage=outage)
        health = RedisHealthStore(batcher, prefix=prefix)
        if by_name:  # an upstream's max_concurrency holds across replicas
            slots = shared_slots(batcher, prefix=prefix, lease_seconds=lease)
            concurrency = ConcurrencyLimits(by_name, semaphore=slots)
    cache: ResponseCache | None = None
    if config.cache_ttl is not None:
        cache = (
            RedisCache(redis, config.cache_ttl, config.cache_models, prefix=prefix)
            if redis is not None
            else MemoryCache(config.cache_ttl, config.cache_models, config.cache_max_entries)
        )
    return SharedState(
        redis=redis,
        batcher=batcher,
        limiter=KeyLimiter(
            counters,
            on_error="closed" if config.limits_on_redis_error == "closed" else "open",
            outage=outage,
        ),
        cache=cache,
        health=health,
        concurrency=concurrency,
    )
