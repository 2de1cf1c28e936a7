"""The optional exact-match response cache for non-streamed chat completions.

Off unless the config has a ``[cache]`` section. A request is cached when it opts in with
``x-polymux-cache: on`` or its model is listed in ``[cache] models`` (``"*"``: every model;
``x-polymux-cache: off`` opts a request out). The entry is keyed by the caller's API key
name (answers are never shared between keys) and the request body with its fields in a
canonical order, less those that do not change the answer (``stream``, ``stream_options``,
``user``). A cached answer is the stored JSON, sent with ``x-polymux-cache: hit`` and logged
with ``cached = 1``; it charges no tokens or cost to the key's limits.

In memory (a bounded LRU of ``max_entries``) or, with ``[state] redis``, in Redis (``SET``
with the TTL), shared by every replica. A Redis error is a cache miss (logged).
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from ..asgi import header
from .connection import REDIS_ERRORS, Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..app import Call

__all__ = ["CACHE_HEADER", "MemoryCache", "RedisCache", "ResponseCache", "cache_key"]

CACHE_HEADER = b"x-polymux-cache"
_ON = frozenset({b"on", b"1", b"true", b"yes"})
_OFF = frozenset({b"off", b"0", b"false", b"no"})
#: Fields that do not change an answer.
_IGNORED = frozenset({"stream", "stream_options", "user"})


def cache_key(key_name: str | None, body: dict[str, Any]) -> str:
    """The entry's name: the API key and the normalized request."""
    kept = {k: v for k, v in body.items() if k not in _IGNORED}
    data = orjson.dumps([key_name, kept], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()


class ResponseCache(ABC):
    def __init__(self, ttl: float, models: tuple[str, ...]) -> None:
        self.ttl = ttl
        self._models = frozenset(models)

    def wanted(self, call: Call, body: dict[str, Any]) -> str | None:
        """The entry's name when this request is to be cached, else None."""
        asked = header(call.scope, CACHE_HEADER)
        if asked is not None:
            asked = asked.strip().lower()
            if asked in _OFF:
                return None
            if asked not in _ON:
                asked = None
        if asked is None and "*" not in self._models and body.get("model") not in self._models:
            return None
        return cache_key(call.key_name, body)

    @abstractmethod
    async def get(self, name: str) -> bytes | None: ...

    @abstractmethod
    async def put(self, name: str, value: bytes) -> None: ...


class MemoryCache(ResponseCache):
    """This process's cache: the ``max_entries`` most recently used answers."""

    def __init__(self, ttl: float, models: tuple[str, ...], max_entries: int = 1000) -> None:
        super().__init__(ttl, models)
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, name: str) -> bytes | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[name]
            return None
        self._entries.move_to_end(name)
        return entry[1]

    async def put(self, name: str, value: bytes) -> None:
        self._entries[name] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(name)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class RedisCache(ResponseCache):
    """The cache every replica shares."""

    def __init__(
        self, client: Redis, ttl: float, models: tuple[str, ...], *, prefix: str = "polymux:"
    ) -> None:
        super().__init__(ttl, models)
        self._client = client
        self._prefix = prefix + "cache:"
        self._outage = Outage()

    async def get(self, name: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + name)
        except REDIS_ERRORS as exc:
            self._outage.failed("response cache", exc, "answering without the cache")
            return None
        self._outage.ok()
        return value if isinstance(value, bytes) else None

    async def put(self, name: str, value: bytes) -> None:
        try:
            await self._client.set(self._prefix + name, value, px=max(1, int(self.ttl * 1000)))
        except REDIS_ERRORS as exc:
            self._outage.failed("response cache", exc, "answering without the cache")
