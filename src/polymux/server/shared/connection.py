"""The one Redis client of a gateway process, and how its outages are reported.

redis-py's asyncio client keeps a connection pool and reconnects on the next command after
the server went away, so recovery needs no restart. Short socket timeouts bound what an
unreachable Redis can add to a request: a feature that cannot reach it falls back (see
README, "Running several replicas") within about a second instead of hanging.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["REDIS_ERRORS", "Batcher", "Outage", "Script", "connect", "readiness_check"]

log = logging.getLogger("polymux.server")

#: Seconds to connect to Redis and to wait for one answer (or for a free connection).
TIMEOUT = 1.0
#: Connections each process opens to Redis at most: the batching below keeps a busy
#: gateway's needs low; callers beyond it wait for one (up to TIMEOUT).
MAX_CONNECTIONS = 32


def connect(url: str, *, password_env: str | None = None) -> Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``); connects lazily.
    ``password_env`` names the environment variable holding the password, if any."""
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError:
        raise ConfigurationError(
            "[state] redis needs redis-py: pip install 'polymux[redis]'"
        ) from None
    options: dict[str, Any] = {}
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise ConfigurationError(
                f"[state] redis_password_env names {password_env}, which is not set"
            )
        options["password"] = password
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            **options,
            max_connections=MAX_CONNECTIONS,
            timeout=TIMEOUT,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            health_check_interval=30,
        )
        return Redis.from_pool(pool)  # closing the client closes its pool
    except ValueError as exc:  # the URL's scheme or form; the message never holds a password
        raise ConfigurationError(f"[state] redis is not a Redis URL: {exc}") from None


def _errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - Redis is not configured then
        return (OSError,)
    return (RedisError, OSError)


#: What a Redis call raises when the server is away, slow or refuses (a full memory, a
#: read-only replica): the features fall back on any of these.
REDIS_ERRORS: tuple[type[BaseException], ...] = _errors()


def readiness_check(client: Redis) -> Callable[[], Awaitable[str | None]]:
    """The gateway's ``/ready`` check of Redis (server/readiness.py): None when it answers
    PING, else why not (no address or password: the route is public)."""

    async def check() -> str | None:
        try:
            await client.ping()
        except REDIS_ERRORS as exc:
            return f"Redis unreachable ({type(exc).__name__})"
        return None

    return check


class Outage:
    """Logs Redis going away and coming back once each, not once per request."""

    #: While Redis stays away, the error is logged again at most this often (seconds).
    REPEAT = 30.0

    def __init__(self) -> None:
        self.down = False
        self._logged = 0.0

    def failed(self, feature: str, exc: BaseException, fallback: str) -> None:
        now = time.monotonic()
        if not self.down or now - self._logged >= self.REPEAT:
            log.error(
                "Redis unreachable (%s: %s): %s %s", feature, type(exc).__name__, exc, fallback
            )
            self._logged = now
        self.down = True

    def ok(self) -> None:
        if self.down:
            log.warning("Redis reachable again: shared state is back in use")
            self.down = False


class Script:
    """A Lua script called through a ``Batcher``: ``await run(keys=[...], args=[...])``."""

    def __init__(self, batcher: Batcher, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._batcher = batcher

    def __call__(self, *, keys: Sequence[Any], args: Sequence[Any]) -> Awaitable[Any]:
        return self._batcher.call(self, keys, args)


class Batcher:
    """Sends the script calls made in one turn of the event loop as one pipeline.

    A redis-py call costs about 60 us of CPU, most of it the client's own bookkeeping (take
    a pooled connection, send, parse, give it back); in a pipeline of 8 calls it is about
    20 us each, of 32 about 13 (measured on the benchmark machine). A busy gateway starts
    many requests in one loop turn: their admissions share one pipeline, each caller still
    awaiting its own answer, none waiting longer than that one turn. (redis-py's asyncio
    client has no such automatic pipelining.)
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._pending: list[tuple[Script, Sequence[Any], Sequence[Any], asyncio.Future[Any]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    def script(self, source: str) -> Script:
        return Script(self, source)

    def call(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Awaitable[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            task = loop.create_task(self._flush())  # runs once this turn's callers queued
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        self._pending.append((script, keys, args, future))
        return future

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            results = await self._run(batch)
        except BaseException as exc:  # every caller gets the error (REDIS_ERRORS: fall back)
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, future), result in zip(batch, results):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(
        self, batch: list[tuple[Script, Sequence[Any], Sequence[Any], Any]]
    ) -> list[Any]:
        from redis.exceptions import NoScriptError

        pipe = self.client.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        results = list(await pipe.execute(raise_on_error=False))
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:  # a restarted (or flushed) Redis: load the scripts, run those calls again
            for source in {batch[i][0].source for i in missing}:
                await self.client.script_load(source)
            pipe = self.client.pipeline(transaction=False)
            for i in missing:
                script, keys, args, _ = batch[i]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            for i, result in zip(missing, await pipe.execute(raise_on_error=False)):
                results[i] = result
        return results
